"""cinemanet's ONNX people pipelines (perception/blaze.py) against MediaPipe 0.10.14's own graphs.

The oracle (tests/mediapipe_oracle.py) needs mediapipe, which the development environment
installs (requirements/nodeps.txt) and a plain ``pip install cinemanet`` does not: those tests
skip with the reason there. The others check what ships without it (the models' manifest, the
graph arithmetic) and run everywhere.

Tolerances, from benchmarks/bench_people.py over the 4 stills and 32 clip frames (measured:
faces, masks and hands agree to 1e-4 or better; pose landmarks median 1.3e-4, p95 5.7e-3,
max 0.041 of the frame): the converted networks differ from TFLite's by at most 4.5e-3 pixel
in the landmark tensor, which is nothing for boxes and masks; the pose graph then refines each
landmark on a 64x64 heatmap (1/64 = 0.016 of the ROI per cell), so a tiny difference can move
a landmark's 7x7 window by a cell: the pose bounds are on the median and 95th percentile, with
a loose maximum. What the predictors read (face boxes and scores, mask area, pose
visibilities, hand scores) is held to 1e-3.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

import mediapipe_oracle as oracle
from cinemanet.media.images import load_image
from cinemanet.perception import blaze
from conftest import EXAMPLES, SHARED

ORACLE, WHY = oracle.available()
needs_oracle = pytest.mark.skipif(not ORACLE, reason=WHY)
MODELS = Path(blaze.__file__).parent / "models"


def _frames():
    out = [(p.name, load_image(p)) for p in sorted(EXAMPLES.glob("*.jpg"))]
    media = SHARED / "media"
    if media.is_dir():
        import av

        for clip in sorted(media.glob("*.mp4")):
            with av.open(str(clip)) as c:
                s = c.streams.video[0]
                want = {int((s.frames or 200) * f) for f in (0.3, 0.7)}
                for i, f in enumerate(c.decode(s)):
                    if i in want:
                        out.append((f"{clip.stem}#{i}", load_image(f.to_ndarray(format="rgb24"))))
                    if i >= max(want):
                        break
    return out


@pytest.fixture(scope="module")
def frames():
    return _frames()


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# --- what ships --------------------------------------------------------------------------


def test_manifest_names_every_model_with_its_sha256_and_source():
    man = json.loads((MODELS / "MANIFEST.json").read_text())
    files = {p.stem for p in MODELS.glob("*.onnx")}
    assert set(man["models"]) == files
    for name, m in man["models"].items():
        data = (MODELS / f"{name}.onnx").read_bytes()
        assert hashlib.sha256(data).hexdigest() == m["sha256"], name
        assert m["bytes"] == len(data)
        assert m["license"] == "Apache-2.0" and m["source"]["requirement"] and m["source"]["sha256"]
    mp = {n for n, m in man["models"].items() if m["source"]["requirement"] == "mediapipe==0.10.14"}
    assert mp == {
        "face_detection_full_range",
        "selfie_segmentation_landscape",
        "pose_detection",
        "pose_landmark_full",
        "palm_detection_lite",
        "hand_landmark_lite",
    }
    assert sum(p.stat().st_size for p in MODELS.glob("*.onnx")) < 45e6  # 40.1 MB, Lite0 18.6 of it


def test_shipped_text_detector_is_the_rapidocr_wheels_file_unchanged():
    import importlib.util

    man = json.loads((MODELS / "MANIFEST.json").read_text())["models"]["text_detection_ppocrv4"]
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None:
        assert man["source"]["sha256"] == man["sha256"]  # copied, not converted
        return
    wheel_file = Path(spec.submodule_search_locations[0]) / "models" / "ch_PP-OCRv4_det_infer.onnx"
    assert hashlib.sha256(wheel_file.read_bytes()).hexdigest() == man["sha256"]


def test_no_people_or_text_analyzer_imports_mediapipe_rapidocr_or_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cinemanet.perception import people, text, backbone\n"
        "people.FaceAnalyzer(); people.PoseAnalyzer(); people.PersonMaskAnalyzer(); people.HandAnalyzer().landmarker\n"
        "text.TextAnalyzer(); backbone.BackboneAnalyzer()\n"
        "print(sorted(m for m in ('mediapipe', 'rapidocr_onnxruntime', 'torch', 'tensorflow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_anchor_counts_match_the_graphs():
    assert len(blaze.ssd_anchors(192, (4,), 0.0)) == 2304  # face full range
    assert len(blaze.ssd_anchors(224, (8, 16, 32, 32, 32))) == 2254  # pose detector
    assert len(blaze.ssd_anchors(192, (8, 16, 16, 16))) == 2016  # palm detector
    a = blaze.ssd_anchors(192, (8, 16, 16, 16))
    assert np.allclose(a[0], [0.5 / 24, 0.5 / 24]) and np.allclose(a[1], a[0])  # 2 per cell, row-major
    assert np.allclose(a[1152], [0.5 / 12, 0.5 / 12]) and np.allclose(a[1152:1158], a[1152])  # 6 per cell


def test_letterbox_padding_and_removal_round_trip():
    rgb = np.zeros((360, 640, 3), np.uint8)
    rgb[100:200, 300:340] = 255
    t = blaze.image_to_tensor(rgb, 192, 192, (-1.0, 1.0))
    left, top, right, bottom = t.padding
    assert left == right == 0 and math.isclose(top, (1 - 360 / 640) / 2, rel_tol=1e-6) and top == bottom
    on = np.argwhere(t.data[0, :, :, 0] > 0)  # the white box in tensor pixels
    y0, x0 = on.min(0) / 192
    box = blaze.Detection(np.array([x0, y0, 0.1, 0.1], np.float32), 1.0, np.zeros((1, 2), np.float32))
    back = blaze.remove_letterbox(box, t.padding)
    assert abs(back.box[0] - 300 / 640) < 0.01 and abs(back.box[1] - 100 / 360) < 0.01


def test_weighted_nms_averages_overlapping_boxes_by_score_and_keeps_the_top_score():
    kp = np.zeros((1, 2), np.float32)
    a = blaze.Detection(np.array([0.0, 0.0, 1.0, 1.0], np.float32), 0.9, kp + 1)
    b = blaze.Detection(np.array([0.1, 0.0, 1.0, 1.0], np.float32), 0.3, kp + 2)
    c = blaze.Detection(np.array([5.0, 5.0, 1.0, 1.0], np.float32), 0.5, kp)
    out = blaze.weighted_nms([b, c, a])
    assert [d.score for d in out] == [0.9, 0.5]
    assert np.isclose(out[0].box[0], 0.1 * 0.3 / 1.2) and np.isclose(out[0].box[2], 1.0)
    assert np.isclose(out[0].keypoints[0, 0], (0.9 * 1 + 0.3 * 2) / 1.2)


def test_rotated_roi_warp_and_projection_are_inverse():
    """A landmark at a known image point, seen through a rotated ROI, projects back onto it."""
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[148:153, 248:253] = 255  # a dot at (250, 150)
    r = blaze.Rect(0.6, 0.5, 0.5, 0.5 * 400 / 300, rotation=0.7)
    t = blaze.image_to_tensor(rgb, 256, 256, (0.0, 1.0), roi=r, border_zero=False)
    yx = np.argwhere(t.data[0, :, :, 0] > 0.5).mean(0)
    lm = np.array([[yx[1] / 256, yx[0] / 256, 0.0]], np.float32)
    x, y = blaze.project(lm, r)[0, :2]
    assert abs(x * 400 - 250) < 1.5 and abs(y * 300 - 150) < 1.5


# --- against MediaPipe ------------------------------------------------------------------------


@needs_oracle
def test_faces_match_mediapipe(frames):
    fd = blaze.FaceDetector()
    n = 0
    for name, fr in frames:
        ref, got = oracle.faces(fr.rgb), fd(fr.rgb)
        assert len(ref) == len(got), name
        for box, score, kps in ref:
            best = max(got, key=lambda d: _iou(box, d.box))
            assert _iou(box, best.box) > 0.99, name
            assert abs(score - best.score) < 1e-3 and np.abs(kps - best.keypoints).max() < 1e-3, name
            n += 1
    assert n >= 3  # the stills alone hold three faces


@needs_oracle
def test_person_mask_matches_mediapipe(frames):
    seg = blaze.SelfieSegmenter()
    for name, fr in frames:
        ref, got = oracle.mask(fr.rgb), seg(fr.rgb)
        assert ref.shape == got.shape, name
        assert ((ref > 0.5) == (got > 0.5)).mean() > 0.999, name
        assert np.abs(ref - got).mean() < 1e-3, name


@needs_oracle
def test_pose_matches_mediapipe(frames):
    pose = blaze.PoseLandmarker()
    dists, vis, found = [], [], 0
    for name, fr in frames:
        v = fr.view(320)  # what PoseAnalyzer gives the graph
        ref, got = oracle.pose(v), pose(v)
        assert (ref is None) == (got is None), name
        if ref is not None:
            found += 1
            dists.extend(np.hypot(*(ref[:, :2] - got[:, :2]).T))
            vis.extend(np.abs(ref[:, 3] - got[:, 3]))
    assert found >= 4
    d = np.asarray(dists)
    assert np.median(d) < 2e-3 and np.percentile(d, 95) < 0.015 and d.max() < 0.08
    assert max(vis) < 0.02


@needs_oracle
def test_hands_match_mediapipe(frames):
    hands = blaze.HandLandmarker()
    n = 0
    for name, fr in frames:
        ref, got = oracle.hands(fr.rgb), hands(fr.rgb)
        assert len(ref) == len(got), name
        for (la, sa), (lb, sb) in zip(sorted(ref, key=lambda h: h[0][0, 0]), sorted(got, key=lambda h: h[0][0, 0])):
            assert abs(sa - sb) < 1e-3 and np.abs(la[:, :2] - lb[:, :2]).max() < 1e-3, name
            n += 1
    assert n >= 1  # the bridge still has a hand in view


class _OracleFaces:
    def __call__(self, rgb):
        return [blaze.Detection(b, s, k) for b, s, k in oracle.faces(rgb)]


@needs_oracle
def test_default_model_gives_the_same_labels_as_with_mediapipes_graphs():
    """The whole default model on the stills: every emitted label and the description are the
    same whether the people analyzers run MediaPipe's graphs or cinemanet's pipelines."""
    from cinemanet import CinemaNet

    ours = CinemaNet()
    theirs = CinemaNet()
    for a in theirs.perception.analyzers:
        if a.name == "faces":
            a.detector = _OracleFaces()
        elif a.name == "pose":
            a.landmarker = oracle.pose
        elif a.name == "hands":
            a._landmarker = oracle.hands
        elif a.name == "person_mask":
            a.segmenter = oracle.mask
    for p in sorted(EXAMPLES.glob("*.jpg")):
        x, y = ours.tag(p).to_dict(), theirs.tag(p).to_dict()
        assert x["tags"] == y["tags"], p.name
        assert x["description"] == y["description"], p.name
        for g in x["groups"]:
            sx, sy = x["groups"][g]["scores"], y["groups"][g]["scores"]
            assert max(abs(sx[k] - sy[k]) for k in sx) < 0.005, (p.name, g)
