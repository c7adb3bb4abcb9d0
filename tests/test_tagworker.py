"""The tagging process of `cinemanet analyze`: its settings, prestarting, and a clean exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cinemanet.video import tagworker
from cinemanet.video.analyze import VideoAnalyzer

from videos import synthetic_hard_cuts


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("tw") / "cuts.mp4"
    synthetic_hard_cuts(path, n_shots=3, width=320, height=180, seed=5, lo=20, hi=30)
    return path


def _child(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_module_is_light_so_thread_settings_come_before_numpy():
    """Importing it (as the spawned child does to find its target) loads neither numpy nor
    OpenCV, so the thread variables set by configure_worker are read when they load."""
    out = _child("import sys, cinemanet.video.tagworker; print('numpy' in sys.modules, 'cv2' in sys.modules)")
    assert out.split() == ["False", "False"]


def test_worker_settings_applied():
    out = _child(
        "import os\n"
        "from cinemanet.video.tagworker import configure_worker; configure_worker()\n"
        "import cv2, numpy\n"
        "print(cv2.getNumThreads(), os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'])"
    )
    assert out.split() == ["1", "1", "1"]


def test_prestarted_tagger_is_claimed_once_by_a_matching_analyzer(clip):
    tagworker.prestart("default", True)
    t = tagworker._prestarted
    try:
        assert tagworker.claim("default", False) is None  # another configuration: not this one
        with VideoAnalyzer(tagging="process") as a:
            doc = a.analyze(clip)
            assert a._tagger is t and tagworker._prestarted is None
        assert len(doc["shots"]) == 3 and all(s["tags"] is not None for s in doc["shots"])
        assert t.proc.exitcode == 0  # it flushed its results and left without an error
        tagworker.prestart()
        other = tagworker._prestarted
        tagworker.discard()  # nobody claimed it: stopped
        assert tagworker._prestarted is None and not other.proc.is_alive()
    finally:
        tagworker.discard()
        t.close()


def test_cli_prestart_is_discarded_when_nothing_needs_tagging(tmp_path, clip):
    """A second run finds the sidecar up to date: the prestarted process is stopped, not left."""
    cmd = [sys.executable, "-m", "cinemanet", "analyze", str(clip), "--out", str(tmp_path), "-q"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    again = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)
    assert ": skipped, 3 shots" in again.stderr
