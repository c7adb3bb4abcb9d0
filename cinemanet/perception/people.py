"""People evidence from MediaPipe 0.10.14's bundled models: faces, body pose, hands, person mask.

Only the legacy ``mp.solutions`` graphs ship their weights inside the wheel; the pose graph
is used at model_complexity=1, the only one bundled (0 and 2 would try to download).
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np

from ..media import Frame
from .analyzer import Analyzer, register_analyzer
from .evidence import Box, Evidence, Face, Pose

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# MediaPipe 0.10.14 calls a protobuf API that protobuf 4.25 deprecates, on every frame
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence TFLite's C++ start-up chatter ("Created TensorFlow Lite XNNPACK delegate")."""
    try:
        fd = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


def _mp():
    try:
        import mediapipe as mp
    except ImportError as e:  # pragma: no cover - install problem
        raise RuntimeError(
            "MediaPipe is missing: pip install --no-deps mediapipe==0.10.14 (see requirements/nodeps.txt)"
        ) from e
    return mp


def _warm(graph, rgb_shape=(64, 64, 3)) -> None:
    graph.process(np.zeros(rgb_shape, np.uint8))


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
        mp = _mp()
        with _quiet_stderr():
            self.graph = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_score
            )
            _warm(self.graph)

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        res = self.graph.process(frame.rgb)
        faces = []
        for d in res.detections or ():
            bb = d.location_data.relative_bounding_box
            kps = np.array([(k.x, k.y) for k in d.location_data.relative_keypoints], np.float32)
            x, y = max(0.0, bb.xmin), max(0.0, bb.ymin)
            w = min(1.0, bb.xmin + bb.width) - x
            h = min(1.0, bb.ymin + bb.height) - y
            if w > 0 and h > 0:
                faces.append(Face(x, y, w, h, float(d.score[0]), keypoints=kps))
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
        mp = _mp()
        self.gated = gated
        self.long_side = long_side  # the graph's own crops work from this; 480 px costs 15% more
        self.closeup_face_height = closeup_face_height
        with _quiet_stderr():
            self.graph = mp.solutions.pose.Pose(
                static_image_mode=True, model_complexity=1, min_detection_confidence=min_score
            )
            _warm(self.graph)

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        if self.gated and (not person_seen(ev) or (ev.faces and ev.faces[0].h > self.closeup_face_height)):
            ev.pose = None
            return
        res = self.graph.process(frame.view(self.long_side))
        if res.pose_landmarks is None:
            ev.pose = None
            return
        lm = np.array([(p.x, p.y, p.z, p.visibility) for p in res.pose_landmarks.landmark], np.float32)
        ev.pose = Pose(lm)


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
        self._graph = None  # built on first need: most frames never run it

    @property
    def graph(self):
        if self._graph is None:
            mp = _mp()
            with _quiet_stderr():
                self._graph = mp.solutions.hands.Hands(
                    static_image_mode=True, model_complexity=0, max_num_hands=4, min_detection_confidence=self.min_score
                )
                _warm(self._graph)
        return self._graph

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        if self.only_without_body and (
            ev.pose is not None or not person_seen(ev) or (ev.faces and ev.faces[0].h > self.closeup_face_height)
        ):
            return  # ev.hands stays None: hands come from the body's landmarks, or it is a face close-up
        res = self.graph.process(frame.rgb)
        hands = []
        for lms, hd in zip(res.multi_hand_landmarks or (), res.multi_handedness or ()):
            pts = np.array([(p.x, p.y) for p in lms.landmark], np.float32)
            x0, y0 = np.clip(pts.min(0), 0, 1)
            x1, y1 = np.clip(pts.max(0), 0, 1)
            if x1 > x0 and y1 > y0:
                hands.append(
                    Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0), float(hd.classification[0].score))
                )
        ev.hands = hands


@register_analyzer("person_mask")
class PersonMaskAnalyzer(Analyzer):
    """Soft person segmentation (selfie segmentation, landscape model), kept at 1/3 size."""

    provides = ("person_mask",)

    def __init__(self):
        mp = _mp()
        with _quiet_stderr():
            self.graph = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
            _warm(self.graph)

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        import cv2

        m = self.graph.process(frame.rgb).segmentation_mask
        h, w = m.shape[:2]
        ev.person_mask = cv2.resize(m, (max(1, w // 3), max(1, h // 3)), interpolation=cv2.INTER_AREA)
