"""Execution engines: the Ray engine gives byte-identical shot lists to the local one, streams
progress, and survives a worker killed mid-video (retried, nothing duplicated in the catalog).
Skipped with the reason where Ray is not installed or cannot start."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cinemanet.catalog import open_catalog
from cinemanet.engines import ENGINES
from cinemanet.interfaces.cli import app
from cinemanet.video.batch import analyze_paths
from videos import synthetic_hard_cuts

runner = CliRunner()


@pytest.fixture(scope="module")
def ray_cluster():
    """A small local Ray (2 CPUs, 200 MB object store, no dashboard), shut down after the module."""
    if "ray" not in ENGINES:
        pytest.skip("Ray is not installed (pip install ray)")
    import ray

    try:
        ray.init(
            address="local",
            num_cpus=2,
            object_store_memory=200 * 1024 * 1024,
            include_dashboard=False,
            log_to_driver=False,
        )
    except Exception as e:  # noqa: BLE001 - any failure to start is a reason to skip
        pytest.skip(f"cannot start a local Ray: {e}")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    for i in range(3):
        synthetic_hard_cuts(d / f"clip{i}.mp4", n_shots=4 + i, seed=i)
    return d


def _shots(folder: Path) -> dict[str, str]:
    """Each sidecar's shot list, serialised: byte-for-byte comparable."""
    out = {}
    for sc in sorted(folder.glob("*.cinemanet.json")):
        doc = json.loads(sc.read_text())
        out[sc.name] = json.dumps(doc["shots"], sort_keys=True)
    return out


def test_ray_gives_the_same_shots_as_local(ray_cluster, clips, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "ray"
    local.mkdir(), remote.mkdir()
    a = list(analyze_paths([clips], out_dir=local, engine="local"))
    events = []
    b = list(analyze_paths([clips], out_dir=remote, engine="ray", progress=lambda v, d, t: events.append((v, d, t))))
    assert [r.status for r in a] == [r.status for r in b] == ["done"] * 3
    assert [r.path for r in a] == [r.path for r in b]  # input order
    sa, sb = _shots(local), _shots(remote)
    assert len(sa) == 3 and sa == sb
    assert {v for v, _, _ in events} == {r.path for r in b}  # progress streamed back for every video
    assert all(d <= t for _, d, t in events) and any(d == t for _, d, t in events)


def test_killed_worker_is_retried_and_nothing_duplicated(ray_cluster, clips, tmp_path, monkeypatch):
    out, marks = tmp_path / "out", tmp_path / "marks"
    out.mkdir(), marks.mkdir()
    monkeypatch.setenv("CINEMANET_TEST_RAY_DIE", "clip1")
    monkeypatch.setenv("CINEMANET_TEST_RAY_DIE_DIR", str(marks))
    cat = tmp_path / "cat.sqlite"
    res = runner.invoke(
        app,
        [
            "analyze",
            str(clips),
            "--engine",
            "ray",
            "--out",
            str(out),
            "--catalog",
            str(cat),
            "--format",
            "jsonl",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(list(marks.iterdir())) == 1  # the worker did die on clip1 once
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.cinemanet.json"))]
    assert len(docs) == 3
    with open_catalog(str(cat)) as c:
        assert c.counts() == (3, sum(len(d["shots"]) for d in docs))
        assert c.integrity() == []
    local = tmp_path / "local"
    local.mkdir()
    list(analyze_paths([clips], out_dir=local, engine="local"))
    assert _shots(out) == _shots(local)


def test_ray_address_needs_the_ray_engine(clips):
    res = runner.invoke(app, ["analyze", str(clips), "--ray-address", "127.0.0.1:1", "--quiet"])
    assert res.exit_code == 2 and "--ray-address needs --engine ray" in res.output


def test_unknown_engine_lists_the_choices(clips):
    res = runner.invoke(app, ["analyze", str(clips), "--engine", "nope"])
    assert res.exit_code == 2 and "local" in res.output and "ray" in res.output
    assert os.path.isdir(clips)


def test_tag_over_a_folder_on_ray_matches_local(ray_cluster, tmp_path):
    import shutil

    src = Path(__file__).resolve().parents[1] / "examples" / "images"
    imgs = tmp_path / "imgs"
    shutil.copytree(src, imgs)
    (imgs / "broken.jpg").write_bytes(b"not an image")  # reported, and the batch goes on
    out = {}
    for eng in ("local", "ray"):
        res = runner.invoke(
            app,
            [
                "tag",
                str(imgs),
                "--format",
                "jsonl",
                "--engine",
                eng,
                "--jobs",
                "2",
                "-o",
                str(tmp_path / f"{eng}.jsonl"),
            ],
        )
        assert res.exit_code == 1 and "broken.jpg" in res.output  # one input failed
        out[eng] = (tmp_path / f"{eng}.jsonl").read_text()
    assert out["local"] == out["ray"] and out["ray"].count("\n") == len(list(imgs.iterdir()))


def test_joins_a_running_cluster_by_address(clips, tmp_path):
    """`ray start --head` (as the README says), then `analyze --engine ray --ray-address`; the
    head runs with --block so that ending it ends every process it started."""
    import socket
    import subprocess
    import sys
    import time

    if "ray" not in ENGINES:
        pytest.skip("Ray is not installed (pip install ray)")
    ray_cli = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "head.log", "w")  # a file, not a pipe: a full pipe would stall the head
    head = subprocess.Popen(
        [
            *ray_cli,
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--object-store-memory",
            str(200 * 1024 * 1024),
            "--disable-usage-stats",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        t0 = time.monotonic()
        while "Ray runtime started" not in (tmp_path / "head.log").read_text() and time.monotonic() - t0 < 120:
            time.sleep(0.5)
        out, cat = tmp_path / "out", tmp_path / "cat.sqlite"
        out.mkdir()
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "cinemanet",
                "analyze",
                str(clips),
                "--engine",
                "ray",
                "--ray-address",
                f"127.0.0.1:{port}",
                "--out",
                str(out),
                "--catalog",
                str(cat),
                "--format",
                "jsonl",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(list(out.glob("*.cinemanet.json"))) == 3
        with open_catalog(str(cat)) as c:
            assert c.counts()[0] == 3
    finally:
        head.terminate()
        head.wait(timeout=60)
        log.close()


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Cuts, fades and dissolves with a keyframe every 12 frames: split into many ranges."""
    import numpy as np

    from videos import SyntheticShot, compose, random_transitions, shot_lengths_for, write_video

    d = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(3)
    trs = random_transitions(rng, 8, gradual=True)
    lengths = shot_lengths_for(trs, rng, 16, 40)
    frames, _ = compose([SyntheticShot(3000 + i, n, 160, 96) for i, n in enumerate(lengths)], trs)
    write_video(d / "longclip.mp4", frames, gop=12)
    synthetic_hard_cuts(d / "short.mp4", n_shots=2, seed=9)  # and a short one, not split
    return d


def test_split_video_on_ray_matches_local_one_pass(ray_cluster, long_clip, tmp_path):
    from cinemanet.engines import create_engine
    from cinemanet.video.batch import BatchOptions
    from cinemanet.media import discover
    from cinemanet.media.video import VIDEO_EXTENSIONS

    local, remote = tmp_path / "local", tmp_path / "ray"
    local.mkdir(), remote.mkdir()
    list(analyze_paths([long_clip], out_dir=local, engine="local"))  # one pass each
    events = []
    eng = create_engine("ray")
    opts = BatchOptions(str(remote), progress=lambda v, d, t: events.append((v, d, t)), split_seconds=2.0)
    res = list(eng.analyze(list(discover([long_clip], VIDEO_EXTENSIONS, kind="videos")), opts))
    assert [r.status for r in res] == ["done", "done"]
    assert _shots(local) == _shots(remote)
    long = str(long_clip / "longclip.mp4")
    assert list(eng.splits) == [long] and eng.splits[long]["ranges"] >= 6  # only the long one split
    mine = [(d, t) for v, d, t in events if v == long]
    assert {v for v, _, _ in events} == {r.path for r in res}  # one bar per video, ranges summed
    assert len({t for _, t in mine}) == 1 and mine[-1][0] == mine[-1][1]


def test_killed_worker_range_is_retried(ray_cluster, long_clip, tmp_path, monkeypatch):
    out, marks = tmp_path / "out", tmp_path / "marks"
    out.mkdir(), marks.mkdir()
    monkeypatch.setenv("CINEMANET_TEST_RAY_DIE", "longclip")
    monkeypatch.setenv("CINEMANET_TEST_RAY_DIE_DIR", str(marks))
    cat = tmp_path / "cat.sqlite"
    args = ["analyze", str(long_clip), "--engine", "ray", "--split", "2", "--out", str(out)]
    res = runner.invoke(app, [*args, "--catalog", str(cat), "--format", "jsonl", "--quiet"])
    assert res.exit_code == 0, res.output
    # died once at the start of the video's task (before the plan), once half-way through range 1
    assert sorted(p.name.split(".", 1)[-1] for p in marks.iterdir()) == ["1.range.died", "died"]
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.cinemanet.json"))]
    with open_catalog(str(cat)) as c:
        assert c.counts() == (2, sum(len(d["shots"]) for d in docs))
        assert c.integrity() == []
    local = tmp_path / "local"
    local.mkdir()
    list(analyze_paths([long_clip], out_dir=local, engine="local"))
    assert _shots(out) == _shots(local)


def test_training_features_on_ray_match_local(ray_cluster, tmp_path, monkeypatch):
    """Training's feature cache computed through the engine: the same rows, in order, an
    unreadable image reported by path; the cache is written by the driver either way."""
    import numpy as np

    from cinemanet.training.featurecache import FeatureRun, compute_features
    from cinemanet.training.sources import Item

    src = sorted((Path(__file__).resolve().parents[1] / "examples" / "images").glob("*.jpg"))[:5]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"no image")
    items = [Item(p, "x", f"{i:064x}") for i, p in enumerate([*src, bad])]
    rows, runs = {}, {}
    for eng in ("local", "ray"):
        monkeypatch.setenv("CINEMANET_CACHE", str(tmp_path / eng))
        runs[eng] = FeatureRun()
        rows[eng] = compute_features(items, ["measured"], jobs=2, run=runs[eng], engine=eng)
        assert (tmp_path / eng / "features").is_dir()
    assert np.array_equal(rows["local"], rows["ray"], equal_nan=True) and rows["ray"].shape[0] == len(items)
    assert np.isfinite(rows["ray"][:-1]).all() and np.isnan(rows["ray"][-1]).all()
    assert [p for p, _ in runs["ray"].failed] == [str(bad)]


def test_train_ray_address_needs_the_ray_engine(tmp_path):
    res = runner.invoke(app, ["train", "--dataset", "x", "--out", str(tmp_path / "m"), "--ray-address", "1.2.3.4:1"])
    assert res.exit_code == 2 and "--ray-address needs --engine ray" in res.output
