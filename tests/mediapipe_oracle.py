"""The MediaPipe 0.10.14 ``mp.solutions`` graphs that CinemaNet used before it ran their models
itself (``cinemanet.perception.blaze``): kept only as the parity tests' oracle.

``available()`` is False (with the reason) where mediapipe is not importable; it is not a
dependency of cinemanet. Each function returns what the matching ``blaze`` pipeline returns.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from functools import cache

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)


def available() -> tuple[bool, str]:
    try:
        import mediapipe  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means "no oracle here"
        return False, f"mediapipe (the parity oracle) is not importable: {type(e).__name__}: {e}"
    return True, ""


@contextlib.contextmanager
def _quiet_stderr():
    fd = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


@cache
def _graph(kind: str):
    import mediapipe as mp

    with _quiet_stderr():
        if kind == "faces":
            return mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        if kind == "pose":
            return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)
        if kind == "hands":
            return mp.solutions.hands.Hands(
                static_image_mode=True, model_complexity=0, max_num_hands=4, min_detection_confidence=0.5
            )
        if kind == "mask":
            return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
    raise ValueError(kind)


def faces(rgb: np.ndarray) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """[(relative box xmin, ymin, w, h), score, 6x2 keypoints)]"""
    res = _graph("faces").process(rgb)
    out = []
    for d in res.detections or ():
        bb = d.location_data.relative_bounding_box
        kps = np.array([(k.x, k.y) for k in d.location_data.relative_keypoints], np.float32)
        out.append((np.array([bb.xmin, bb.ymin, bb.width, bb.height], np.float32), float(d.score[0]), kps))
    return out


def pose(rgb: np.ndarray) -> np.ndarray | None:
    """33 x (x, y, z, visibility) or None"""
    res = _graph("pose").process(rgb)
    if res.pose_landmarks is None:
        return None
    return np.array([(p.x, p.y, p.z, p.visibility) for p in res.pose_landmarks.landmark], np.float32)


def hands(rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """[(21 x 3 landmarks, handedness score)]"""
    res = _graph("hands").process(rgb)
    out = []
    for lms, hd in zip(res.multi_hand_landmarks or (), res.multi_handedness or ()):
        out.append((np.array([(p.x, p.y, p.z) for p in lms.landmark], np.float32), float(hd.classification[0].score)))
    return out


def mask(rgb: np.ndarray) -> np.ndarray:
    """The full-size float mask"""
    return _graph("mask").process(rgb).segmentation_mask
