"""Convert between the shot contract (``cinemanet.shot/1``) and catalog rows.

Compact encodings, chosen for a catalog of a million shots:

- label scores: float16 in the catalog's label order (3 significant digits, 2 bytes a label);
- the chosen label per group (``picks``): uint16 label id (``NO_LABEL`` for null) and float16
  confidence, in the catalog's group order;
- tags: uint16 label ids;
- embedding: int8 scaled so the largest component is 127, plus that scale (cosine similarity
  of the dequantised vectors agrees with float32 to about 1e-3; 1,280 bytes instead of 5,120).

``brightness`` (0..1) is the mean Rec. 709 luma of the shot's dominant colours weighted by their
share; ``confidence`` is the mean confidence of the shot's chosen labels (nulls left out).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..contracts import SHOT_SCHEMA

NO_LABEL = 0xFFFF
PICK_DTYPE = np.dtype([("label", "<u2"), ("confidence", "<f2")])


class RecordError(ValueError):
    """A sidecar's shot cannot be stored: the message names the field and why."""


@dataclass(frozen=True)
class LabelSpace:
    """The catalog's label order (blob positions) and group order."""

    keys: tuple[str, ...]
    groups: tuple[str, ...]
    label_group: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pos", {k: i for i, k in enumerate(self.keys)})

    def pos(self, key: str) -> int | None:
        return self._pos.get(key)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.keys)


def _hex_luma(hex_color: str) -> float:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def brightness(colors: Sequence[dict] | None) -> float:
    total = w = 0.0
    for c in colors or ():
        try:
            f = float(c.get("fraction", 0.0))
            total += f * _hex_luma(str(c["hex"]))
            w += f
        except (KeyError, ValueError, TypeError):
            continue
    return round(total / w, 4) if w > 0 else 0.0


def quantize_embedding(vec: Sequence[float] | np.ndarray) -> tuple[bytes, float]:
    v = np.asarray(vec, dtype=np.float32).ravel()
    if not np.all(np.isfinite(v)):
        raise RecordError("embedding has non-finite values")
    m = float(np.abs(v).max()) if v.size else 0.0
    scale = m / 127.0 if m > 0 else 1.0
    return np.round(v / scale).astype(np.int8).tobytes(), scale


def dequantize_embedding(blob: bytes, scale: float) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.int8).astype(np.float32) * float(scale)


def _num(shot: dict, key: str, default: float | None = None) -> float:
    v = shot.get(key, default)
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RecordError(f"shot {shot.get('shot', '?')}: {key} is not a number") from None
    if not math.isfinite(f):
        raise RecordError(f"shot {shot.get('shot', '?')}: {key} is not finite")
    return f


def shot_row(shot: dict, space: LabelSpace) -> dict[str, Any]:
    """The column values of one ``cinemanet.shot/1`` object (``media_id`` is added by the caller)."""
    if not isinstance(shot, dict):
        raise RecordError("a shot is not a JSON object")
    groups = shot.get("groups")
    if not isinstance(groups, dict):
        raise RecordError(f"shot {shot.get('shot', '?')}: no 'groups' object")
    picks = np.zeros(len(space.groups), PICK_DTYPE)
    picks["label"] = NO_LABEL
    confs = []
    pos_of = space._pos  # type: ignore[attr-defined]  # hot loop: ~230 labels a shot
    idx: list[int] = []
    vals: list[float] = []
    for gi, g in enumerate(space.groups):
        p = groups.get(g)
        if not isinstance(p, dict):
            continue
        sc = p.get("scores")
        if isinstance(sc, dict):
            for k, v in sc.items():
                i = pos_of.get(k)
                if i is not None and type(v) in (int, float):
                    idx.append(i)
                    vals.append(v)
        lab = p.get("label")
        i = space.pos(lab) if isinstance(lab, str) else None
        conf = p.get("confidence")
        conf = float(conf) if isinstance(conf, (int, float)) and math.isfinite(conf) else 0.0
        picks[gi] = (NO_LABEL if i is None else i, conf)
        if i is not None:
            confs.append(conf)
    scores = np.zeros(len(space), np.float16)
    if idx:
        v = np.array(vals, np.float64)
        ok = np.isfinite(v)
        scores[np.array(idx)[ok]] = np.clip(v[ok], 0.0, 1.0)
    tags = np.array([space.pos(t) for t in shot.get("tags") or () if space.pos(t) is not None], np.uint16)
    start, end = _num(shot, "start_time"), _num(shot, "end_time")
    emb, scale = None, None
    if shot.get("embedding") is not None:
        emb, scale = quantize_embedding(shot["embedding"])
    extra = {
        "start_timecode": shot.get("start_timecode"),
        "end_timecode": shot.get("end_timecode"),
        "keyframes": shot.get("keyframes") or [],
        "keyframe_times": shot.get("keyframe_times") or [],
        "dominant_colors": shot.get("dominant_colors") or [],
        "transition": shot.get("transition"),
    }
    return {
        "shot": int(_num(shot, "shot")),
        "start_frame": int(_num(shot, "start_frame")),
        "end_frame": int(_num(shot, "end_frame")),
        "start_time": start,
        "end_time": end,
        "duration": max(0.0, end - start),
        "brightness": brightness(shot.get("dominant_colors")),
        "motion": _num(shot, "motion", 0.0),
        "confidence": round(sum(confs) / len(confs), 4) if confs else 0.0,
        "description": str(shot.get("description") or ""),
        "picks": picks.tobytes(),
        "tags": tags.tobytes(),
        "scores": scores.tobytes(),
        "embedding": emb,
        "emb_scale": scale,
        "extra": json.dumps(extra, ensure_ascii=False, separators=(",", ":")),
    }


def scores_array(blob: bytes, n_labels: int) -> np.ndarray:
    """float32 scores in label order; blobs written before the taxonomy grew are padded."""
    a = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
    if len(a) < n_labels:
        a = np.concatenate([a, np.zeros(n_labels - len(a), np.float32)])
    return a[:n_labels]


_GROUP_POS: dict = {}


def _group_positions(space: LabelSpace, tax) -> list:
    """Per catalog group: (group, taxonomy label keys, their blob positions); cached."""
    key = (space.keys, space.groups, id(tax))
    out = _GROUP_POS.get(key)
    if out is None:
        out = []
        for g in space.groups:
            try:
                keys = tax.group(g).keys
            except KeyError:
                out.append((g, None, None))
                continue
            out.append((g, keys, [space.pos(k) for k in keys]))
        _GROUP_POS.clear()
        _GROUP_POS[key] = out
    return out


def shot_contract(row: dict, media_path: str, space: LabelSpace, taxonomy=None) -> dict:
    """Rebuild the ``cinemanet.shot/1`` object of a catalog row (scores at float16 precision)."""
    from ..taxonomy import get_taxonomy

    tax = taxonomy or get_taxonomy()
    # rounded once as a list: per-label Python rounding was most of the cost of a page
    scores = np.round(scores_array(row["scores"], len(space)).astype(np.float64), 4).tolist()
    picks = np.frombuffer(row["picks"], dtype=PICK_DTYPE)
    groups: dict[str, dict] = {}
    for gi, (g, keys, pos) in enumerate(_group_positions(space, tax)):
        if keys is None:
            continue
        lab, conf = (int(picks[gi]["label"]), float(picks[gi]["confidence"])) if gi < len(picks) else (NO_LABEL, 0.0)
        groups[g] = {
            "label": space.keys[lab] if lab != NO_LABEL and lab < len(space) else None,
            "confidence": round(conf, 4),
            "scores": {k: (scores[i] if i is not None else 0.0) for k, i in zip(keys, pos)},
        }
    extra = json.loads(row["extra"])
    return {
        "schema": SHOT_SCHEMA,
        "path": media_path,
        "shot": row["shot"],
        "start_frame": row["start_frame"],
        "end_frame": row["end_frame"],
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "start_timecode": extra.get("start_timecode"),
        "end_timecode": extra.get("end_timecode"),
        "groups": groups,
        "tags": [space.keys[i] for i in np.frombuffer(row["tags"], dtype=np.uint16) if i < len(space)],
        "description": row["description"],
        "keyframes": extra.get("keyframes", []),
        "keyframe_times": extra.get("keyframe_times", []),
        "dominant_colors": extra.get("dominant_colors", []),
        "motion": row["motion"],
        "transition": extra.get("transition"),
    }
