"""People evidence from MediaPipe 0.10.14's models: faces, body pose, hands, person mask.

The networks are MediaPipe's own (face detection full range, pose model_complexity=1, hands
model_complexity=0, selfie segmentation landscape), converted once to ONNX and shipped in the
package; ``blaze`` runs them with ONNX Runtime and reimplements MediaPipe's graphs around them,
so mediapipe itself is not needed (tests/test_blaze_parity.py holds the two side by side).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..media import Frame
from . import blaze
from .analyzer import Analyzer, register_analyzer
from .evidence import Box, Evidence, Face, Pose

MASK_PERSON_AREA = 0.003  # share of the frame the person mask must cover to count as "someone"


def person_seen(ev: Evidence) -> bool:
    """Cheap evidence that someone is in frame: a face, or some person-mask area."""
    if ev.faces:
        return True
    return ev.person_mask is not None and float((ev.person_mask > 0.5).mean()) > MASK_PERSON_AREA


@register_analyzer("faces")
class FaceAnalyzer(Analyzer):
    """Faces with MediaPipe's full-range detector (finds faces down to a few % of frame height)."""

    provides = ("faces",)

    def __init__(self, min_score: float = 0.5):
        self.detector = blaze.FaceDetector(min_score=min_score)

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        faces = []
        for d in self.detector(frame.rgb):
            bx, by, bw, bh = (float(v) for v in d.box)
            x, y = max(0.0, bx), max(0.0, by)
            w = min(1.0, bx + bw) - x
            h = min(1.0, by + bh) - y
            if w > 0 and h > 0:
                faces.append(Face(x, y, w, h, d.score, keypoints=d.keypoints.astype(np.float32)))
        faces.sort(key=lambda f: -f.area)
        ev.faces = faces


@register_analyzer("pose")
class PoseAnalyzer(Analyzer):
    """The most prominent body's 33 landmarks (MediaPipe tracks one person per image).

    The pose model is the most expensive analyzer, so with ``gated`` it runs only where the
    face detector or the person mask saw someone (on film stills it then skips about a quarter
    of frames and misses under 2% of bodies), and not on close-ups, where a face fills so much
    of the frame that no body below the shoulders can show (the hand model covers hands there)."""

    provides = ("pose",)
    after = ("faces", "person_mask")

    def __init__(
        self, min_score: float = 0.5, gated: bool = True, closeup_face_height: float = 0.3, long_side: int = 320
    ):
        self.gated = gated
        self.long_side = long_side  # the graph's own crops work from this; 480 px costs 15% more
        self.closeup_face_height = closeup_face_height
        self.landmarker = blaze.PoseLandmarker(min_score=min_score)

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        if self.gated and (not person_seen(ev) or (ev.faces and ev.faces[0].h > self.closeup_face_height)):
            ev.pose = None
            return
        lm = self.landmarker(frame.view(self.long_side))
        ev.pose = None if lm is None else Pose(lm.astype(np.float32))


@register_analyzer("hands")
class HandAnalyzer(Analyzer):
    """Hands (palm detector + landmarks). With ``only_without_body`` it runs only when someone
    is seen (face or person mask) but the pose model found no body and no face fills the
    frame: a found body already reports its hands, so the hand model is for inserts of hands."""

    provides = ("hands",)
    after = ("pose", "faces", "person_mask")

    def __init__(self, only_without_body: bool = True, min_score: float = 0.5, closeup_face_height: float = 0.3):
        self.only_without_body = only_without_body
        self.closeup_face_height = closeup_face_height
        self.min_score = min_score
        self._landmarker = None  # built on first need: most frames never run it

    @property
    def landmarker(self) -> blaze.HandLandmarker:
        if self._landmarker is None:
            self._landmarker = blaze.HandLandmarker(max_hands=4, min_score=self.min_score)
        return self._landmarker

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        if self.only_without_body and (
            ev.pose is not None or not person_seen(ev) or (ev.faces and ev.faces[0].h > self.closeup_face_height)
        ):
            return  # ev.hands stays None: hands come from the body's landmarks, or it is a face close-up
        hands = []
        for lms, score in self.landmarker(frame.rgb):
            pts = lms[:, :2]
            x0, y0 = np.clip(pts.min(0), 0, 1)
            x1, y1 = np.clip(pts.max(0), 0, 1)
            if x1 > x0 and y1 > y0:
                hands.append(Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0), float(score)))
        ev.hands = hands


@register_analyzer("person_mask")
class PersonMaskAnalyzer(Analyzer):
    """Soft person segmentation (selfie segmentation, landscape model), kept at 1/3 size."""

    provides = ("person_mask",)

    def __init__(self):
        self.segmenter = blaze.SelfieSegmenter()

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        m = self.segmenter(frame.rgb)
        h, w = m.shape[:2]
        ev.person_mask = cv2.resize(m, (max(1, w // 3), max(1, h // 3)), interpolation=cv2.INTER_AREA)
