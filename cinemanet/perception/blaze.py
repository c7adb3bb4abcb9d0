"""MediaPipe 0.10.14's legacy face, pose, hand and selfie-segmentation graphs, in numpy + ONNX Runtime.

The networks are MediaPipe's own ``.tflite`` files converted once to ONNX
(``tools/convert_mediapipe.py``; they ship in ``perception/models/``, see ``MANIFEST.json``).
What the MediaPipe graphs do around them is reimplemented here, calculator by calculator,
with MediaPipe's options for each graph:

- ``ImageToTensorCalculator`` (OpenCV path): a rotated region of interest, padded to the
  tensor's aspect ratio when ``keep_aspect_ratio``, warped with ``cv2.warpPerspective``
  (bilinear) on the uint8 image, then scaled to the tensor's float range;
- ``SsdAnchorsCalculator`` and ``TensorsToDetectionsCalculator`` (box and keypoint decoding
  around fixed-size anchors, sigmoid scores clipped at +-100);
- ``NonMaxSuppressionCalculator`` in its WEIGHTED mode (IoU > 0.3 clusters averaged by score);
- ``DetectionLetterboxRemovalCalculator``, ``AlignmentPointsRectsCalculator`` /
  ``DetectionsToRectsCalculator`` (a rotated ROI from two keypoints),
  ``RectTransformationCalculator`` (shift, square, scale);
- ``TensorsToLandmarksCalculator``, ``RefineLandmarksFromHeatmapCalculator`` (pose),
  ``LandmarkProjectionCalculator``; ``AssociationNormRectCalculator`` (hands);
- ``TensorsToSegmentationCalculator`` (the mask resized bilinearly to the image).

``tests/test_blaze_parity.py`` compares every pipeline with MediaPipe's own output on real
frames where mediapipe is importable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from ._ort import session

MODELS = Path(__file__).parent / "models"


def model_path(name: str) -> Path:
    path = MODELS / f"{name}.onnx"
    if not path.is_file():
        raise RuntimeError(f"the {name} model is missing from the package ({path}): reinstall cinemanet")
    return path


# --- geometry -----------------------------------------------------------------------------


@dataclass
class Rect:
    """MediaPipe's NormalizedRect: centre, size (fractions of the image) and rotation (radians)."""

    cx: float
    cy: float
    w: float
    h: float
    rotation: float = 0.0


@dataclass
class Detection:
    """Relative box (xmin, ymin, width, height), score, relative keypoints (K x 2)."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray


@dataclass
class Tensor:
    data: np.ndarray  # 1 x H x W x 3 float32
    padding: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # left, top, right, bottom


def normalize_radians(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def image_to_tensor(
    rgb: np.ndarray,
    out_w: int,
    out_h: int,
    value_range: tuple[float, float],
    roi: Rect | None = None,
    keep_aspect_ratio: bool = True,
    border_zero: bool = True,
) -> Tensor:
    """ImageToTensorCalculator (OpenCV converter)."""
    ih, iw = rgb.shape[:2]
    if roi is None:
        cx, cy, w, h, rot = 0.5 * iw, 0.5 * ih, float(iw), float(ih), 0.0
    else:
        cx, cy, w, h, rot = roi.cx * iw, roi.cy * ih, roi.w * iw, roi.h * ih, roi.rotation
    pad = (0.0, 0.0, 0.0, 0.0)
    if keep_aspect_ratio:
        tensor_ar = out_h / out_w
        roi_ar = h / w
        if tensor_ar > roi_ar:
            vp = (1.0 - roi_ar / tensor_ar) / 2.0
            h = w * tensor_ar
            pad = (0.0, vp, 0.0, vp)
        else:
            hp = (1.0 - tensor_ar / roi_ar) / 2.0
            w = h / tensor_ar
            pad = (hp, 0.0, hp, 0.0)
    src = cv2.boxPoints(((cx, cy), (w, h), rot * 180.0 / math.pi)).astype(np.float32)
    dst = np.array([[0, out_h], [0, 0], [out_w, 0], [out_w, out_h]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    border = cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE
    img = cv2.warpPerspective(rgb, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
    lo, hi = value_range
    x = img.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
    return Tensor(np.ascontiguousarray(x[None]), pad)


@cache
def ssd_anchors(size: int, strides: tuple[int, ...], interpolated: float = 1.0) -> np.ndarray:
    """SsdAnchorsCalculator with fixed_anchor_size (every anchor 1x1): N x 2 centres (x, y)."""
    n = len(strides)
    out = []
    layer = 0
    while layer < n:
        count = 0
        last = layer
        while last < n and strides[last] == strides[layer]:
            count += 1  # aspect ratio 1.0
            if interpolated > 0:
                count += 1
            last += 1
        fm = math.ceil(size / strides[layer])
        ys, xs = np.mgrid[0:fm, 0:fm]
        centres = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, count, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(out).astype(np.float32)


def decode(raw_boxes, raw_scores, anchors, size, num_keypoints, min_score) -> list[Detection]:
    """TensorsToDetectionsCalculator (reverse_output_order, sigmoid scores clipped at 100)."""
    raw_boxes = raw_boxes.reshape(len(anchors), -1)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = np.nonzero(scores >= min_score)[0]
    dets = []
    for i in keep:
        r = raw_boxes[i]
        ax, ay = anchors[i]
        xc, yc = r[0] / size + ax, r[1] / size + ay
        w, h = r[2] / size, r[3] / size
        if w < 0 or h < 0:
            continue
        kps = r[4 : 4 + 2 * num_keypoints].reshape(-1, 2) / size + anchors[i]
        dets.append(Detection(np.array([xc - w / 2, yc - h / 2, w, h], np.float32), float(scores[i]), kps))
    return dets


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def weighted_nms(dets: list[Detection], threshold: float = 0.3, max_n: int = 0) -> list[Detection]:
    """NonMaxSuppressionCalculator, algorithm WEIGHTED, overlap IoU."""
    remaining = sorted(dets, key=lambda d: -d.score)
    out = []
    while remaining:
        top = remaining[0]
        cands = [d for d in remaining if _iou(d.box, top.box) > threshold]
        remaining = [d for d in remaining if _iou(d.box, top.box) <= threshold]
        if cands:
            s = np.array([d.score for d in cands], np.float32)
            corners = np.array([[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]] for d in cands])
            c = (corners * s[:, None]).sum(0) / s.sum()
            kps = (np.stack([d.keypoints for d in cands]) * s[:, None, None]).sum(0) / s.sum()
            top = Detection(np.array([c[0], c[1], c[2] - c[0], c[3] - c[1]], np.float32), top.score, kps)
        out.append(top)
        if max_n and len(out) >= max_n:
            break
    return out


def remove_letterbox(d: Detection, pad) -> Detection:
    left, top, right, bottom = pad
    sx, sy = 1.0 - left - right, 1.0 - top - bottom
    b = d.box
    box = np.array([(b[0] - left) / sx, (b[1] - top) / sy, b[2] / sx, b[3] / sy], np.float32)
    kps = (d.keypoints - np.array([left, top], np.float32)) / np.array([sx, sy], np.float32)
    return Detection(box, d.score, kps)


def rotation(kps: np.ndarray, start: int, end: int, size: tuple[int, int], target_deg: float = 90.0) -> float:
    w, h = size
    x0, y0 = kps[start, 0] * w, kps[start, 1] * h
    x1, y1 = kps[end, 0] * w, kps[end, 1] * h
    return normalize_radians(math.radians(target_deg) - math.atan2(-(y1 - y0), x1 - x0))


def transform_rect(r: Rect, size: tuple[int, int], scale: float, shift_y: float = 0.0) -> Rect:
    """RectTransformationCalculator with square_long (shift_x = 0)."""
    iw, ih = size
    cx, cy, w, h = r.cx, r.cy, r.w, r.h
    if shift_y:
        if r.rotation == 0.0:
            cy += h * shift_y
        else:
            cx += (-ih * h * shift_y * math.sin(r.rotation)) / iw
            cy += (ih * h * shift_y * math.cos(r.rotation)) / ih
    long_side = max(w * iw, h * ih)
    return Rect(cx, cy, long_side / iw * scale, long_side / ih * scale, r.rotation)


def project(lms: np.ndarray, r: Rect) -> np.ndarray:
    """LandmarkProjectionCalculator: ROI-relative (x, y, z, ...) -> image-relative."""
    out = lms.copy()
    x, y = lms[:, 0] - 0.5, lms[:, 1] - 0.5
    c, s = math.cos(r.rotation), math.sin(r.rotation)
    out[:, 0] = (c * x - s * y) * r.w + r.cx
    out[:, 1] = (s * x + c * y) * r.h + r.cy
    out[:, 2] = lms[:, 2] * r.w
    return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class _Net:
    def __init__(self, name: str, threads: int = 1):
        self.sess = session(model_path(name), threads)
        self.input = self.sess.get_inputs()[0].name
        self.outputs = [o.name for o in self.sess.get_outputs()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.outputs, self.sess.run(None, {self.input: x})))


# --- face detection (full range) ------------------------------------------------------------


class FaceDetector:
    """face_detection_full_range graph: 192x192 letterboxed input in [-1, 1], 2304 anchors."""

    size = 192
    graph_min_score = 0.6  # the graph's own decoder threshold: only these are averaged by the NMS

    def __init__(self, min_score: float = 0.5, threads: int = 1):
        self.net = _Net("face_detection_full_range", threads)
        self.min_score = min_score
        self.anchors = ssd_anchors(self.size, (4,), interpolated=0.0)

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        t = image_to_tensor(rgb, self.size, self.size, (-1.0, 1.0))
        out = self.net(t.data)
        dets = decode(out["Identity"], out["Identity_1"], self.anchors, self.size, 6, self.graph_min_score)
        return [remove_letterbox(d, t.padding) for d in weighted_nms(dets) if d.score >= self.min_score]


# --- selfie segmentation (landscape) --------------------------------------------------------


class SelfieSegmenter:
    """selfie_segmentation graph, landscape model: the frame squashed to 256x144 in [0, 1]."""

    def __init__(self, threads: int = 1):
        self.net = _Net("selfie_segmentation_landscape", threads)

    def small(self, rgb: np.ndarray) -> np.ndarray:
        """The 144x256 mask as the network gives it."""
        t = image_to_tensor(rgb, 256, 144, (0.0, 1.0), keep_aspect_ratio=False)
        return next(iter(self.net(t.data).values()))[0, :, :, 0]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """The mask at the image's size (bilinear), as MediaPipe returns it."""
        h, w = rgb.shape[:2]
        return cv2.resize(self.small(rgb), (w, h), interpolation=cv2.INTER_LINEAR)


# --- pose (detector + full landmark model) --------------------------------------------------


class PoseLandmarker:
    """pose_landmark_cpu graph in static-image mode at model_complexity=1: the pose detector
    (224x224, 2254 anchors), the most confident body's rotated ROI (hip centre to the
    full-body circle's edge, x1.25), the 256x256 landmark model, heatmap refinement and
    projection back to the image. Returns 33 x (x, y, z, visibility) or None."""

    det_size, lm_size = 224, 256

    def __init__(self, min_score: float = 0.5, min_presence: float = 0.5, threads: int = 1):
        self.det = _Net("pose_detection", threads)
        self.lm = _Net("pose_landmark_full", threads)
        self.min_score = min_score
        self.min_presence = min_presence
        self.anchors = ssd_anchors(self.det_size, (8, 16, 32, 32, 32))

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        t = image_to_tensor(rgb, self.det_size, self.det_size, (-1.0, 1.0))
        out = self.det(t.data)
        dets = decode(out["Identity"], out["Identity_1"], self.anchors, self.det_size, 4, self.min_score)
        return [remove_letterbox(d, t.padding) for d in weighted_nms(dets)]

    def roi(self, d: Detection, size: tuple[int, int]) -> Rect:
        iw, ih = size
        k = d.keypoints
        x0, y0, x1, y1 = k[0, 0] * iw, k[0, 1] * ih, k[1, 0] * iw, k[1, 1] * ih
        box = math.hypot(x1 - x0, y1 - y0) * 2.0
        r = Rect(x0 / iw, y0 / ih, box / iw, box / ih, rotation(k, 0, 1, size))
        return transform_rect(r, size, 1.25)

    def landmarks(self, rgb: np.ndarray, r: Rect) -> np.ndarray | None:
        t = image_to_tensor(rgb, self.lm_size, self.lm_size, (0.0, 1.0), roi=r, border_zero=False)
        out = self.lm(t.data)
        if float(out["Identity_1"].reshape(-1)[0]) < self.min_presence:
            return None
        raw = out["Identity"].reshape(39, 5)
        lms = np.empty((39, 4), np.float32)
        lms[:, 0] = raw[:, 0] / self.lm_size
        lms[:, 1] = raw[:, 1] / self.lm_size
        lms[:, 2] = raw[:, 2] / self.lm_size
        lms[:, 3] = _sigmoid(raw[:, 3])
        refine_from_heatmap(lms, out["Identity_3"][0])
        left, top, right, bottom = t.padding  # zero for a square ROI; kept for exactness
        lms[:, 0] = (lms[:, 0] - left) / (1.0 - left - right)
        lms[:, 1] = (lms[:, 1] - top) / (1.0 - top - bottom)
        lms[:, 2] = lms[:, 2] / (1.0 - left - right)
        return project(lms, r)[:33]

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        dets = self.detect(rgb)
        if not dets:
            return None
        h, w = rgb.shape[:2]
        return self.landmarks(rgb, self.roi(dets[0], (w, h)))


def refine_from_heatmap(lms: np.ndarray, heatmap: np.ndarray, kernel: int = 7, min_conf: float = 0.5) -> None:
    """RefineLandmarksFromHeatmapCalculator: x, y moved to the confidence-weighted centre of a
    kernel x kernel window of the (sigmoid) heatmap around each landmark, where it is confident."""
    hh, hw, _ = heatmap.shape
    off = (kernel - 1) // 2
    for i in range(lms.shape[0]):
        col, row = int(lms[i, 0] * hw), int(lms[i, 1] * hh)
        if col < 0 or col >= hw or row < 0 or col >= hh:  # sic: MediaPipe tests col against the height
            continue
        r0, r1 = max(0, row - off), min(hh, row + off + 1)
        c0, c1 = max(0, col - off), min(hw, col + off + 1)
        conf = _sigmoid(heatmap[r0:r1, c0:c1, i].astype(np.float32))
        total = float(conf.sum())
        if conf.size and float(conf.max()) >= min_conf and total > 0:
            rows, cols = np.mgrid[r0:r1, c0:c1]
            lms[i, 0] = float((cols * conf).sum()) / hw / total
            lms[i, 1] = float((rows * conf).sum()) / hh / total


# --- hands (palm detector + lite landmark model) --------------------------------------------


class HandLandmarker:
    """hand_landmark_tracking_cpu in static-image mode, model_complexity=0: palm detector
    (192x192 in [0, 1], 2016 anchors), rotated ROI per palm (x2.6, shifted up by half), overlapping ROIs
    merged, the 224x224 landmark model. Returns [(21 x 3 landmarks, handedness score)]."""

    det_size, lm_size = 192, 224

    def __init__(self, max_hands: int = 4, min_score: float = 0.5, min_presence: float = 0.5, threads: int = 1):
        self.det = _Net("palm_detection_lite", threads)
        self.lm = _Net("hand_landmark_lite", threads)
        self.max_hands, self.min_score, self.min_presence = max_hands, min_score, min_presence
        self.anchors = ssd_anchors(self.det_size, (8, 16, 16, 16))

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        t = image_to_tensor(rgb, self.det_size, self.det_size, (0.0, 1.0))  # [0, 1], unlike the others
        out = self.det(t.data)
        dets = decode(out["Identity"], out["Identity_1"], self.anchors, self.det_size, 7, self.min_score)
        return [remove_letterbox(d, t.padding) for d in weighted_nms(dets, max_n=self.max_hands)]

    def rois(self, dets: list[Detection], size: tuple[int, int]) -> list[Rect]:
        rects: list[Rect] = []
        for d in dets:
            b = d.box
            r = Rect(b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3], rotation(d.keypoints, 0, 2, size))
            r = transform_rect(r, size, 2.6, shift_y=-0.5)
            # AssociationNormRectCalculator (threshold 0.5): a new rect replaces those it overlaps
            rects = [q for q in rects if _iou(_aabb(q), _aabb(r)) <= 0.5]
            rects.append(r)
        return rects

    def landmarks(self, rgb: np.ndarray, r: Rect) -> tuple[np.ndarray, float] | None:
        t = image_to_tensor(rgb, self.lm_size, self.lm_size, (0.0, 1.0), roi=r, border_zero=False)
        out = self.lm(t.data)
        if float(out["Identity_1"].reshape(-1)[0]) < self.min_presence:
            return None
        p = float(out["Identity_2"].reshape(-1)[0])
        lms = out["Identity"].reshape(21, 3) / self.lm_size
        return project(lms.astype(np.float32), r), max(p, 1.0 - p)

    def __call__(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        h, w = rgb.shape[:2]
        found = (self.landmarks(rgb, r) for r in self.rois(self.detect(rgb), (w, h)))
        return [f for f in found if f is not None]


def _aabb(r: Rect) -> np.ndarray:
    return np.array([r.cx - r.w / 2, r.cy - r.h / 2, r.w, r.h], np.float32)
