"""Feature extractors that turn :class:`Evidence` into vectors for trained heads.

Training and inference call the same functions, so a head always sees the features it
was trained on. Register new extractors with :func:`feature`.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..perception import Evidence
from ..perception.evidence import POSE_ANKLES, POSE_FACE, POSE_FEET, POSE_HANDS, POSE_HIPS, POSE_KNEES, POSE_SHOULDERS

_EXTRACTORS: dict[str, tuple[Callable[[Evidence], np.ndarray], tuple[str, ...]]] = {}


def feature(name: str, needs: tuple[str, ...]):
    def deco(fn: Callable[[Evidence], np.ndarray]):
        _EXTRACTORS[name] = (fn, needs)
        return fn

    return deco


def _extractors() -> dict:
    # extractors that live beside their predictors (e.g. "measured") register when those load
    from .base import PREDICTORS

    PREDICTORS.load()
    return _EXTRACTORS


def feature_needs(names: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for n in names:
        out += _extractors()[n][1]
    return tuple(dict.fromkeys(out))


def build_features(ev: Evidence, names: Iterable[str]) -> np.ndarray:
    cache = ev.__dict__.setdefault("_features", {})  # heads that share an extractor share the work
    parts = []
    for n in names:
        if n not in cache:
            try:
                fn = _extractors()[n][0]
            except KeyError:
                raise KeyError(f"unknown feature extractor {n!r}; known: {', '.join(_EXTRACTORS)}") from None
            cache[n] = np.asarray(fn(ev), np.float32).ravel()
        parts.append(cache[n])
    return np.concatenate(parts)


@feature("backbone", needs=("backbone",))
def backbone_features(ev: Evidence) -> np.ndarray:
    if ev.features is None:
        raise ValueError("backbone features missing: the 'backbone' analyzer did not run")
    return ev.features


@feature("layout", needs=("backbone",))
def layout_features(ev: Evidence) -> np.ndarray:
    """The last backbone block pooled on a 3x3 grid: where things are in the frame."""
    if ev.layout is None:
        raise ValueError("layout features missing: the 'backbone' analyzer did not run")
    return ev.layout


GEOMETRY_NAMES = (
    "faces",
    "face_h",
    "face_w",
    "face_cy",
    "face2_ratio",
    "pose",
    "vis_face",
    "vis_shoulders",
    "vis_hands",
    "vis_hips",
    "vis_knees",
    "vis_ankles",
    "vis_feet",
    "body_h",
    "mask_area",
    "mask_bottom",
    "mask_top",
)


@feature("geometry", needs=("faces", "pose", "person_mask"))
def geometry_features(ev: Evidence) -> np.ndarray:
    """How much of a person the frame shows: face size, visible body parts, mask extent."""
    faces = ev.faces or []
    f0 = faces[0] if faces else None
    f1 = faces[1] if len(faces) > 1 else None
    out = [
        min(len(faces), 4) / 4.0,
        f0.h if f0 else 0.0,
        f0.w if f0 else 0.0,
        f0.cy if f0 else 0.5,
        (f1.area / f0.area) if (f0 and f1) else 0.0,
    ]
    p = ev.pose
    if p is not None:
        lm = p.landmarks
        vis = [
            p.visibility(g)
            for g in (POSE_FACE, POSE_SHOULDERS, POSE_HANDS, POSE_HIPS, POSE_KNEES, POSE_ANKLES, POSE_FEET)
        ]
        seen = lm[:, 3] > 0.5
        ys = np.clip(lm[seen, 1], 0, 1) if seen.any() else np.zeros(1)
        out += [1.0, *vis, float(ys.max() - ys.min())]
    else:
        out += [0.0] * 9
    m = ev.person_mask
    if m is not None and m.size:
        on = m > 0.5
        rows = np.flatnonzero(on.any(axis=1))
        out += [
            float(on.mean()),
            float(on[-1].mean()),
            float(rows[0] / on.shape[0]) if rows.size else 1.0,
        ]
    else:
        out += [0.0, 0.0, 1.0]
    return np.array(out, np.float32)
