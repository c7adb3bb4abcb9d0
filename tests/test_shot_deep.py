"""``fast -D cuts=deep``: the CNN confirmation of doubtful cut candidates. Its option, the
backbone at a low input size (no ``onnx`` package), and known answers on generated material
(synthetic textures, so no ../shared): a cut between two framings of one scene in a dark flat
grade is found, a dark shape crossing the lens and a blurred whip pan are not cuts."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import videos
from cinemanet.media.video import iter_frames
from cinemanet.perception.backbone import PACKAGED
from cinemanet.video.detectors import DetectorOptionError, create_detector, parse_options
from cinemanet.video.detectors.deep import PICTURE_SIDE, Embedder, deep_features, deep_model, resized_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import videogen  # noqa: E402


def test_deep_option_parses():
    assert parse_options("fast", ["cuts=deep"]) == {"cuts": "deep"}
    # the band and the confirming threshold come with the weights, not as options (a new
    # option would re-analyse every sidecar)
    for bad in ("cuts=deeper", "deep_prob=0.4"):
        with pytest.raises(DetectorOptionError):
            parse_options("fast", [bad])
    doc = deep_model().doc
    assert 0 <= doc["band"][0] < doc["band"][1] <= 1 and 0 < doc["threshold"] < 1


def test_backbone_at_a_low_input_size():
    raw = PACKAGED["lite0"].read_bytes()
    assert resized_model(raw, 224) == raw  # its own size: the file as it is
    e = Embedder(112)
    assert e.sess.get_inputs()[0].shape[2:] == [112, 112]
    rgb = np.random.default_rng(0).integers(0, 256, (126, 224, 3), np.uint8)
    f, cells = e(rgb)
    assert f.shape == (1280,) and abs(float(np.linalg.norm(f)) - 1) < 1e-4
    assert cells.shape == (4, 320)  # at 112 px only 4 cells of the 3x3 grid hold data
    # the same image gives the same embedding; deep_features of a still shot are all small
    assert np.allclose(e(rgb)[0], f)
    d = deep_features([(f, cells)] * 4)
    assert abs(float(d[0])) < 1e-5 and abs(float(d[3])) < 1e-5


W, H = 320, 180


def _scene(seed):
    return videos._texture(np.random.default_rng(seed), 2 * H, 2 * W)


def _view(tex, t, cx, cy, zoom, pan=1.5, grade=None):
    """Frame t of a camera looking at ``tex`` from (cx, cy): a slow pan, some grain."""
    m = cv2.getRotationMatrix2D((float(cx + pan * t), float(cy)), 0.0, zoom)
    m[0, 2] += W / 2 - (cx + pan * t)
    m[1, 2] += H / 2 - cy
    f = cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    if grade is not None:  # a dark, flat grade: contrast and level pressed down
        f = grade[0] + (f - 128.0) * grade[1]
    f += np.random.default_rng(t).normal(0, 2.0, f.shape)
    return np.clip(f, 0, 255).astype(np.uint8)


def _run(frames, tmp_path, name, asked=None, **opts):
    """Encode, decode as the product does, and feed ``fast`` with the pictures; the cut
    frames. ``asked`` collects the frames the CNN looked at."""
    path = tmp_path / f"{name}.mp4"
    videos.write_video(path, frames)
    det = create_detector("fast", **opts)
    if asked is not None:
        det.deep_sink = lambda i, *_: asked.append(i)
    out = []
    for f in iter_frames(path):
        out += det.process(f.index, f.time, f.small, picture=f.rgb(PICTURE_SIDE))
    out += det.flush()
    return [b.frame for b in out if b.kind == "cut"]


# every gated candidate goes to the CNN here, so these answers are the confirming model's own
# (on this material the learned score alone gets them right too; the rules take the whip pan for a cut)
ALL = {"cuts": "deep", "deep_lo": 0.0, "deep_hi": 1.0}


def test_deep_finds_a_similar_shot_cut_in_a_dark_grade(tmp_path):
    tex = _scene(3)
    g = (40.0, 0.25)
    a = [_view(tex, t, 300, 170, 1.1, grade=g) for t in range(40)]
    b = [_view(tex, t, 360, 200, 1.5, grade=g) for t in range(40)]  # the same scene, closer, elsewhere
    asked = []
    cuts = _run(a + b, tmp_path, "similar", asked, **ALL)
    assert any(abs(c - 40) <= 1 for c in cuts), cuts
    assert all(abs(c - 40) <= 1 for c in cuts), cuts
    assert any(abs(c - 40) <= 1 for c in asked), asked  # the CNN's verdict


def test_deep_rejects_a_shape_crossing_the_lens_and_a_blurred_whip_pan(tmp_path):
    tex = _scene(5)
    frames = []
    cross = (30, 6, 20, 90)  # (first frame, frames, luma, radius): a dark body sweeping past
    for t in range(80):
        f = _view(tex, t, 300, 170, 1.1)
        mask = videogen.crossing_mask(cross, t, H, W)
        if mask is not None:
            f = (f * (1 - mask) + cross[2] * mask).astype(np.uint8)
        frames.append(f)
    x = 300 + 1.5 * 80
    for t in range(80, 120):  # then a whip pan, up to 60 px a frame, smeared over 8 sub-frame renders
        v = min(60.0, 8.0 * (t - 79))
        sub = [_view(tex, t, x + v * k / 8, 170, 1.1, pan=0.0).astype(np.float32) for k in range(8)]
        frames.append(np.clip(sum(sub) / 8, 0, 255).astype(np.uint8))
        x += v
    asked = []
    assert _run(frames, tmp_path, "crossing", asked, **ALL) == []
    assert asked  # candidates the CNN turned down


def test_deep_without_pictures_is_the_learned_score(tmp_path):
    path = tmp_path / "hard.mp4"
    videos.synthetic_hard_cuts(path, n_shots=4)
    learned = videos.detect(path, create_detector("fast", cuts="learned"))
    assert videos.detect(path, create_detector("fast", cuts="deep")) == learned
