"""The plug-in registry: one idiom for every kind, duplicates and broken plug-ins named,
and a third-party package (built and installed here) used end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cinemanet.plugins import KINDS, PluginError, Registry, installed, registry

from videos import synthetic_hard_cuts

ROOT = Path(__file__).resolve().parents[1]


def test_every_kind_has_builtins():
    got = {k: {i.name for i in installed((k,)) if i.status == "ok"} for k in KINDS}
    assert {"backbone", "measure"} <= got["analyzers"]
    assert "shot.framing/head" in got["predictors"]
    assert "fast" in got["detectors"]
    assert {"csv", "edl", "otio", "fcpxml", "jpg"} <= got["exporters"]
    assert got["catalogs"] >= {"sqlite"}
    assert got["engines"] >= {"local"}


def test_existing_decorators_register_through_the_registries():
    from cinemanet.perception import analyzer_class
    from cinemanet.perception.analyzer import ANALYZERS
    from cinemanet.video.detectors import DETECTORS, create_detector, detector_names

    assert registry("detectors") is DETECTORS and registry("analyzers") is ANALYZERS
    assert detector_names() == sorted(DETECTORS)
    assert create_detector("fast").name == "fast"
    assert analyzer_class("measure") is ANALYZERS["measure"]


def test_duplicate_name_is_an_error_naming_both():
    reg: Registry = Registry("things")

    class A:
        pass

    class B:
        pass

    reg.add("x", A)
    reg.add("x", A)  # the same object again is fine
    with pytest.raises(PluginError, match=r"'x' registered twice: by .*A.* and by .*B"):
        reg.add("x", B)


def test_duplicate_detector_through_the_decorator():
    from cinemanet.video.detectors import ShotDetector, register_detector

    with pytest.raises(PluginError, match="fast.*registered twice.*FastDetector"):

        @register_detector
        class Impostor(ShotDetector):
            name = "fast"


def _package(tmp: Path, name: str, body: str) -> Path:
    pkg = tmp / "pkgs" / name
    (pkg / name).mkdir(parents=True)
    (pkg / name / "__init__.py").write_text("")
    (pkg / name / "plugin.py").write_text(textwrap.dedent(body))
    return pkg


def test_broken_builtin_module_is_named(tmp_path, monkeypatch):
    pkg = tmp_path / "brokenpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text("")
    (pkg / "bad.py").write_text("from .good import nothing_here\n")
    (pkg / "optional.py").write_text("import surely_not_installed_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry = Registry("things", package="brokenpkg")
    with pytest.raises(PluginError, match=r"brokenpkg\.bad failed to import.*nothing_here"):
        reg.load()
    status = {i.where: i.status for i in reg.info()}
    assert status["brokenpkg.optional"].startswith("unavailable: No module named 'surely_not_installed_pkg'")
    assert any(s.startswith("error:") and "brokenpkg.bad" in s for s in status.values())


@pytest.fixture(scope="module")
def third_party(tmp_path_factory):
    """A third-party package with a detector, built and pip-installed into a target folder."""
    tmp = tmp_path_factory.mktemp("plugin")
    src = _package(
        tmp,
        "cnplug_every",
        '''
        """Every N frames is a cut: a plug-in only a test would ship."""
        from cinemanet.video.detectors import Boundary, ShotDetector, register_detector


        @register_detector
        class EveryN(ShotDetector):
            name = "every-n"
            summary = "a cut every n frames (test plug-in)"

            def __init__(self, n: int = 25):
                self.n = n

            def process(self, index, time, small):
                if index and index % self.n == 0:
                    return [Boundary(index, "cut", index, index)]
                return []
    ''',
    )
    (src / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "cnplug-every"
        version = "0.1.0"

        [project.entry-points."cinemanet.detectors"]
        every-n = "cnplug_every.plugin:EveryN"
    """)
    )
    target = tmp / "site"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"could not build the test plug-in with pip: {r.stderr.strip().splitlines()[-1:]}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT)]))
    return target, env


def _cli(env, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "cinemanet", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_third_party_plugin_is_listed(third_party):
    _, env = third_party
    r = _cli(env, "plugins", "--kind", "detectors", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["every-n"]["origin"] == "cnplug-every 0.1.0"
    assert rows["every-n"]["status"] == "ok"
    assert rows["fast"]["origin"] == "builtin"
    helptext = _cli(env, "analyze", "--help").stdout
    assert "every-n" in helptext


def test_third_party_detector_end_to_end(third_party, tmp_path):
    _, env = third_party
    video = tmp_path / "cuts.mp4"
    synthetic_hard_cuts(video, n_shots=3, width=160, height=90, seed=5, lo=30, hi=40)
    r = _cli(env, "analyze", video, "--detector", "every-n", "--format", "jsonl", "--out", tmp_path / "sc", "-q")
    assert r.returncode == 0, r.stderr
    shots = [json.loads(line) for line in r.stdout.splitlines()]
    starts = [s["start_frame"] for s in shots]
    assert starts == list(range(0, starts[-1] + 1, 25)) and len(starts) >= 3
    doc = json.loads(next((tmp_path / "sc").iterdir()).read_text())
    assert doc["model"]["detector"] == "every-n"


def test_broken_third_party_plugin_is_a_clear_error(tmp_path):
    src = _package(tmp_path, "cnplug_broken", "raise RuntimeError('this plug-in is broken')\n")
    (src / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "cnplug-broken"
        version = "0.2.0"
        [project.entry-points."cinemanet.exporters"]
        broken = "cnplug_broken.plugin"
    """)
    )
    target = tmp_path / "site"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip("could not build the test plug-in with pip")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT)]))
    r = _cli(env, "plugins", "--kind", "exporters")
    assert r.returncode == 1
    assert "'broken' from cnplug-broken 0.2.0" in r.stdout and "this plug-in is broken" in r.stdout
    r = _cli(env, "export", tmp_path / "none.cinemanet.json", "--to", "edl")
    assert "cnplug-broken" in r.stderr
