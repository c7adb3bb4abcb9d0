"""Text evidence: the PP-OCRv4 text *detector* from ``rapidocr-onnxruntime`` 1.4.4 (no recognition).

The ONNX file is copied unchanged out of that wheel into ``perception/models/`` (see its
MANIFEST.json), so rapidocr itself (and its second OpenCV wheel) is not needed.

Run on a small (192 px) copy of the frame to keep tagging fast: title cards and large captions
and signs survive it; subtitle-sized text (under about a tenth of the frame height) does not.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..media import Frame
from ._ort import session
from .analyzer import Analyzer, register_analyzer
from .evidence import Box, Evidence, TextEvidence

DET_LONG_SIDE = 192
BIN_THRESHOLD = 0.3  # rapidocr's defaults for this model
BOX_THRESHOLD = 0.6


def detector_path() -> Path:
    """The detector's ONNX file, shipped in the package."""
    from .blaze import model_path

    return model_path("text_detection_ppocrv4")


@register_analyzer("text")
class TextAnalyzer(Analyzer):
    provides = ("text",)

    def __init__(self, threads: int = 1, long_side: int = DET_LONG_SIDE):
        self.sess = session(detector_path(), threads)
        self.input = self.sess.get_inputs()[0].name
        self.long_side = long_side

    def probability_map(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = self.long_side / max(h, w)
        # the network wants sides that are multiples of 32
        tw, th = (max(32, int(round(w * s / 32)) * 32), max(32, int(round(h * s / 32)) * 32))
        x = cv2.resize(rgb[..., ::-1], (tw, th), interpolation=cv2.INTER_AREA)  # trained on BGR
        x = (x.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[None]
        return self.sess.run(None, {self.input: np.ascontiguousarray(x)})[0][0, 0]

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        ev.text = boxes_from_map(self.probability_map(frame.rgb))


def boxes_from_map(prob: np.ndarray) -> TextEvidence:
    """Connected regions of the text-probability map, kept where their mean score is high."""
    mh, mw = prob.shape
    binary = (prob > BIN_THRESHOLD).astype(np.uint8)
    binary = cv2.dilate(binary, np.ones((2, 2), np.uint8))
    n, labels, st, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return TextEvidence()
    sums = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=n)
    boxes = []
    for i in range(1, n):
        x, y, w, h, area = st[i]
        if area < 6 or h < 3 or w < 4:
            continue
        score = float(sums[i] / area)
        if score < BOX_THRESHOLD:
            continue
        boxes.append(Box(x / mw, y / mh, w / mw, h / mh, score))
    if not boxes:
        return TextEvidence()
    covered = float(sum(b.area for b in boxes))
    return TextEvidence(boxes=boxes, area=min(1.0, covered), score=max(b.score for b in boxes))
