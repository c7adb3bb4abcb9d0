"""Shot-boundary detection: accuracy of the default detector on generated videos with known
boundaries, no false alarms on motion and flashes, the detector interface, bounded memory and
cost, and (where ../shared/media exists) the three CC-BY clips against inspected ground truth."""

from __future__ import annotations

import os
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import videos
from cinemanet.video.detectors import Boundary, ShotDetector, create_detector, detector_names

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CINEMANET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MEDIA = SHARED / "media"
KINDS = {"cut", "fade", "dissolve"}


@pytest.fixture(scope="module")
def hard_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("shots") / "hard.mp4"
    truth = videos.synthetic_hard_cuts(path)  # 10 moving synthetic shots, 9 cuts, 320x180
    return path, truth


@pytest.fixture(scope="module")
def gradual_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("shots") / "gradual.mp4"
    truth = videos.synthetic_gradual(path)  # dissolves 12-36 frames, fades to black/white, cuts
    return path, truth


def test_fast_is_the_default_and_always_there():
    assert "fast" in detector_names()
    assert create_detector("fast").name == "fast"


def test_fast_hard_cuts_frame_exact(hard_video):
    path, truth = hard_video
    out = videos.detect(path, create_detector("fast"))
    r = videos.f1(out, truth)
    assert r["f1"] == 1.0, (r, out, truth)
    assert r["exact"] == 1.0  # every cut on exactly the first frame of the new shot
    assert all(b.kind == "cut" for b in out)


def test_fast_gradual(gradual_video):
    path, truth = gradual_video
    assert {t.kind for t in truth} == KINDS
    out = videos.detect(path, create_detector("fast"))
    r = videos.f1(out, truth)
    assert r["f1"] >= 0.9, (r, out, truth)
    # fades are reported as fades, with the boundary frame inside the fade
    for di, ti in videos.match(out, truth):
        if truth[ti].kind == "fade":
            assert out[di].kind == "fade" and truth[ti].start <= out[di].frame <= truth[ti].end


def test_no_false_positive_on_fast_pan_and_zoom(tmp_path):
    path = tmp_path / "pan.mp4"
    videos.pan_zoom(path)
    assert videos.detect(path, create_detector("fast")) == []


def test_no_false_positive_on_white_flashes(tmp_path):
    path = tmp_path / "flash.mp4"
    videos.flash(path)  # a one-frame and a two-frame flash inside one moving shot
    assert videos.detect(path, create_detector("fast")) == []


def test_fade_out_then_in_is_one_boundary_in_the_black(tmp_path):
    shots = [videos.SyntheticShot(11, 40), videos.SyntheticShot(12, 40)]
    frames, truth = videos.compose(shots, [videos.Transition("fade", out=12, hold=6, into=12, color=0)])
    path = tmp_path / "fade.mp4"
    videos.write_video(path, frames)
    out = videos.detect(path, create_detector("fast"))
    assert len(out) == 1 and out[0].kind == "fade"
    black = range(truth[0].start + 12, truth[0].start + 18)
    assert out[0].frame in black and out[0].start <= out[0].frame <= out[0].end


def _check_boundaries(out, n_frames):
    assert isinstance(out, list)
    for b in out:
        assert isinstance(b, Boundary)
        assert b.kind in KINDS
        assert 0 <= b.start <= b.frame <= b.end < n_frames
        if b.kind == "cut":
            assert b.start == b.frame == b.end


@pytest.mark.parametrize("name", detector_names())
def test_every_detector_satisfies_the_interface(name, hard_video):
    import torch

    det_flag = torch.are_deterministic_algorithms_enabled()
    det = create_detector(name)
    assert isinstance(det, ShotDetector) and det.name == name and det.summary
    assert torch.are_deterministic_algorithms_enabled() == det_flag  # nothing process-wide changed
    path, truth = hard_video
    from cinemanet.media.video import iter_frames

    for _ in range(2):  # the same object serves a second video after flush()
        out, n = [], 0
        for f in iter_frames(path):
            got = det.process(f.index, f.time, f.small)
            _check_boundaries(got, f.index + 1)
            out += got
            n += 1
        got = det.flush()
        _check_boundaries(got, n)
        out += got
        assert len({b.frame for b in out}) == len(out)  # each boundary reported once
        assert [b.frame for b in out] == sorted(b.frame for b in out)  # in order (the analyzer relies on it)
        assert videos.f1(out, truth)["recall"] >= 0.5  # it does find the cuts
    assert torch.are_deterministic_algorithms_enabled() == det_flag


def test_unknown_detector_names_the_choices():
    with pytest.raises(KeyError, match="fast"):
        create_detector("nope")


def test_fast_parameters_are_constructor_arguments():
    det = create_detector("fast", cut_threshold=12.0, dissolves=False)
    assert det.cut_threshold == 12.0 and det.dissolves is False
    default = create_detector("fast")
    assert default.cut_threshold == 9.0 and default.min_gap == 6
    assert default.cuts == "rules" and default.cut_prob == 0.2


@pytest.mark.parametrize("cuts", ["learned", "rules", "both"])
def test_every_cut_mode_finds_the_hard_cuts_frame_exact(hard_video, cuts):
    path, truth = hard_video
    out = videos.detect(path, create_detector("fast", cuts=cuts))
    r = videos.f1(out, truth)
    assert r["f1"] == 1.0 and r["exact"] == 1.0, (cuts, r, out)


def _two_scenes(k: int, dissolve: int | None) -> list:
    """Two textured scenes, slowly panning, joined at frame 40 by a cross-dissolve of
    ``dissolve`` frames (None: a hard cut), every frame held ``k`` times (animation on twos)."""
    import cv2

    rng = np.random.default_rng(3)
    tex = [videos._texture(rng, 360, 640) for _ in range(2)]
    out = []
    for t0 in range(140):
        t = t0 - t0 % k
        w = float(t >= 40) if dissolve is None else min(max((t - 39) / dissolve, 0.0), 1.0)
        m = cv2.getRotationMatrix2D((300.0 + 1.5 * t, 170.0), 0.0, 1.1)
        m[0, 2] += 160 - (300 + 1.5 * t)
        m[1, 2] += 90 - 170
        fa, fb = (cv2.warpAffine(x, m, (320, 180), borderMode=cv2.BORDER_REFLECT).astype(np.float32) for x in tex)
        f = (1 - w) * fa + w * fb + np.random.default_rng(t).normal(0, 2.0, fa.shape)
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


class _TurnsDown:
    """A learned score that calls nothing a cut."""

    def score(self, x):
        return 0.0


def test_learned_keeps_a_dissolve_the_rules_would_keep_as_a_cut(tmp_path):
    """cuts=learned: a short dissolve held on twos makes the rules fire cuts inside it, which
    the learned score turns down; a dissolve cluster too weak to stand alone (here every one:
    ``dissolve_support`` 100) is kept when it holds such a jump. Without one it is still motion,
    and a hard cut stays a cut."""
    from cinemanet.video.detectors.fast import FastDetector

    weak = {"dissolve_support": 100, "dissolve_sure_linearity": 0.0}  # no cluster stands alone
    held = tmp_path / "held.mp4"
    videos.write_video(held, _two_scenes(2, 12))  # the dissolve spans frames 40-51
    rules = videos.detect(held, FastDetector(cuts="rules", **weak))
    assert rules and all(b.kind == "cut" and 40 <= b.frame <= 51 for b in rules), rules
    for cuts in ("learned", "deep"):  # (deep without the pictures: the learned score decides)
        out = videos.detect(held, FastDetector(cuts=cuts, **weak))
        assert [b.kind for b in out] == ["dissolve"] and 38 <= out[0].frame <= 53, (cuts, out)
    plain = tmp_path / "plain.mp4"
    videos.write_video(plain, _two_scenes(1, 12))  # no rules cut inside: the weak cluster is dropped
    assert videos.detect(plain, FastDetector(cuts="learned", **weak)) == []
    cut = tmp_path / "cut.mp4"
    videos.write_video(cut, _two_scenes(2, None))
    out = videos.detect(cut, FastDetector(cuts="learned", **weak))
    assert [(b.kind, b.frame) for b in out] == [("cut", 40)], out
    det = FastDetector(cuts="learned", **weak)
    det.model = _TurnsDown()  # a cut the score turns down is not made a dissolve
    assert videos.detect(cut, det) == []


def test_the_learned_cut_model_file_says_what_it_was_trained_on():
    """The weights are data: the features they expect, the tune-split files they were trained
    on (with hashes), the command that re-trains them, and the threshold chosen on validation."""
    import json

    from cinemanet.video.detectors import fast

    doc = json.loads(fast.MODEL_FILE.read_text())
    assert tuple(doc["features"]) == fast.CUT_FEATURES
    assert doc["threshold"] == create_detector("fast").cut_prob  # the option's default is the chosen one
    assert "benchmarks/train_cuts.py" in doc["command"]
    names = [t["file"] for t in doc["trained_on"]]
    assert names and all(len(t["sha256"]) == 64 for t in doc["trained_on"])
    # never the held-out film (Sintel: clips 03, 04 and videos derived from them)
    assert not any("heldout" in n or "sintel" in n.lower() for n in names + doc["validation"]["videos"])
    x = np.zeros(len(fast.CUT_FEATURES), np.float32)
    assert 0.0 <= fast.cut_model().score(x) <= 1.0


@pytest.mark.parametrize("cuts", ["rules", "learned"])
def test_fast_needs_no_torch_and_holds_still_pictures_that_step(cuts):
    """fast runs on numpy and OpenCV alone, learned score included (torch stays an option, for
    transnet); a still picture that jumps a pixel every 4 frames (animation held on fours) is
    one shot."""
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "from cinemanet.video.detectors import create_detector\n"
        f"d = create_detector('fast', cuts={cuts!r})\n"
        "rng = np.random.default_rng(0)\n"
        "import cv2\n"
        "a, b = (cv2.resize(rng.integers(16, 236, (6, 8, 3), dtype=np.uint8), (64, 36)) for _ in range(2))\n"
        "out = []\n"
        "for i in range(80):\n"
        "    out += d.process(i, i / 24, np.roll(a if i < 40 else b, i // 4, axis=1))\n"
        "out += d.flush()\n"
        "assert [x.frame for x in out] == [40], out\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _shot_frames(n_shots: int, per_shot: int, seed: int = 0):
    """Cheap 36x64 YUV frames: static-ish shots (a drifting pattern) joined by cuts."""
    rng = np.random.default_rng(seed)
    bases = [rng.integers(16, 236, (36, 64, 3), dtype=np.uint8) for _ in range(8)]
    for k in range(n_shots):
        base = bases[k % len(bases)]
        for t in range(per_shot):
            yield np.roll(base, t // 4, axis=1)


def test_fast_memory_is_bounded():
    det = create_detector("fast")
    found = 0
    tracemalloc.start()
    try:
        for i, f in enumerate(_shot_frames(50, 30)):  # 1500 frames
            found += len(det.process(i, i / 24, f))
        early, _ = tracemalloc.get_traced_memory()
        for i, f in enumerate(_shot_frames(200, 30), start=1500):  # 6000 more
            found += len(det.process(i, i / 24, f))
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    found += len(det.flush())
    assert found >= 240  # nearly every one of the 249 cuts
    assert late - early < 64 * 1024, (early, late)  # no growth with the length of the video


@pytest.mark.shared
@pytest.mark.skipif(not MEDIA.is_dir(), reason=f"needs the CC-BY clips in {MEDIA} (../shared is not in a fresh clone)")
def test_fast_on_the_shared_clips_against_inspected_truth():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import videogen  # the inspected ground truth lives there, with how it was established

    results = []
    for clip, cuts in videogen.CLIP_TRUTH.items():
        if not (MEDIA / clip).is_file():
            pytest.skip(f"{MEDIA / clip} missing")
        out = videos.detect(MEDIA / clip, create_detector("fast"))
        r = videos.f1(out, videogen.clip_truth(clip))
        results.append(r)
        assert r["exact"] in (None, 1.0), (clip, out, cuts)
    tp, fp, fn = (sum(r[k] for r in results) for k in ("tp", "fp", "fn"))
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.95, results
