"""Calibration and abstention: temperatures, per-label thresholds, and what they buy.

A threshold is chosen per label on held-out predictions so that, among the images where the
label is the group's best answer and its probability reaches the threshold, at least
``target`` are right; a label that cannot reach it is never emitted (threshold above 1).
"At least" is a one-sided Wilson lower bound, not the observed rate: the cut with the most
coverage that just reaches ``target`` is the luckiest of many, so on new images it falls short.
"""

from __future__ import annotations

import numpy as np

NEVER = 1.01  # a threshold no probability reaches


def softmax(z: np.ndarray, T: float = 1.0) -> np.ndarray:
    z = np.asarray(z, np.float64) / T
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


#: one-sided 90% confidence for "right at least target of the time"
WILSON_Z = 1.2816


def wilson_lower(hits: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    """Wilson score lower bound of a proportion ``hits / n``."""
    n = np.asarray(n, np.float64)
    p = np.asarray(hits, np.float64) / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


def label_thresholds(
    P: np.ndarray, y: np.ndarray, target: float = 0.9, min_emitted: int = 10, z: float = WILSON_Z
) -> np.ndarray:
    """Per column k of ``P``: the smallest t such that the rows with argmax k and P[:, k] >= t
    number at least ``min_emitted`` and are right (y == k) at least ``target`` of the time, by
    the Wilson lower bound at ``z`` (0: the observed rate)."""
    pred = P.argmax(1)
    out = np.full(P.shape[1], NEVER)
    for k in range(P.shape[1]):
        sel = pred == k
        p = P[sel, k]
        ok = y[sel] == k
        order = np.argsort(-p, kind="stable")
        p, ok = p[order], ok[order]
        hits = np.cumsum(ok)
        n = np.arange(1, len(p) + 1)
        good = (n >= min_emitted) & (wilson_lower(hits, n, z) >= target - 1e-12)
        # only cut where the next image has a lower probability (ties go together)
        cut = np.r_[p[1:] < p[:-1], True] if len(p) else np.zeros(0, bool)
        idx = np.flatnonzero(good & cut)
        if idx.size:
            out[k] = float(p[idx.max()])
    return out


def emitted(P: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> dict:
    """Precision and coverage of the answers a group would give with ``thresholds``."""
    pred = P.argmax(1)
    keep = P[np.arange(len(P)), pred] >= thresholds[pred]
    n = int(keep.sum())
    return {
        "coverage": float(keep.mean()) if len(P) else float("nan"),
        "precision": float((pred[keep] == y[keep]).mean()) if n else float("nan"),
        "n_emitted": n,
    }
