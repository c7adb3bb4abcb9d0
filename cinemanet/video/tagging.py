"""Tagging a shot's sampled frames: the work of the tagging process (``tagworker``) or thread.

Kept apart from ``analyze``, whose imports (the sidecar's pydantic records, the detectors) the
tagging process does not need: importing them there cost about 0.1 s of CPU a run.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..results import _r

# Evidence looked for once per shot, on its middle sample, and shared by its other samples:
# people (faces, mask, body, hands) and on-screen text change little within a shot and cost
# most of the time; colour, light, focus and the backbone are measured on every sample.
ONCE_PER_SHOT = ("faces", "person_mask", "pose", "hands", "text")


def dominant_colors(frames: list[np.ndarray], k: int = 5) -> list[dict]:
    """The k main colours of the sampled frames (k-means in Lab on a pixel sample)."""
    px = np.concatenate([cv2.resize(f, (48, 27), interpolation=cv2.INTER_AREA).reshape(-1, 3) for f in frames])
    lab = cv2.cvtColor(px.reshape(-1, 1, 3), cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float32)
    # distinct colours counted as packed 24-bit ints: np.unique(px, axis=0) sorts rows, 6x slower
    packed = (px[:, 0].astype(np.int32) << 16) | (px[:, 1].astype(np.int32) << 8) | px[:, 2]
    k = min(k, len(np.unique(packed)))
    if k <= 1:
        c = px[0]
        return [{"hex": "#%02x%02x%02x" % tuple(int(v) for v in c), "fraction": 1.0}]
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, labels, _ = cv2.kmeans(lab, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    out = []
    for i in np.argsort(-np.bincount(labels, minlength=k)):
        sel = labels == i
        if not sel.any():
            continue
        c = px[sel].mean(0)
        out.append({"hex": "#%02x%02x%02x" % tuple(int(round(v)) for v in c), "fraction": _r(sel.mean())})
    return out


def tag_shot(net, frames: list, embeddings: bool = True) -> dict:
    """Tag a shot's sampled frames (``media.Frame``, middle sample first) and average them.

    People (faces, mask, body, hands) and text are looked for on the first (middle) sample only
    and shared with the others."""
    group_keys = net.taxonomy.group_keys
    total = None
    embs, rgbs = [], []
    primary = None
    for frame in frames:
        ev = net.perception.perceive(frame, reuse=primary, reuse_names=ONCE_PER_SHOT)
        primary = primary or ev
        scores = net.concepts.scores(ev)
        if total is None:
            total = {g: dict(scores[g]) for g in group_keys}
        else:
            for g in group_keys:
                for k, v in scores[g].items():
                    total[g][k] += v
        if ev.embedding is not None:
            embs.append(ev.embedding)
        rgbs.append(frame.rgb)
    n = len(frames)
    mean = {g: {k: v / n for k, v in total[g].items()} for g in group_keys}
    emb = None
    if embs and embeddings:
        e = np.mean(embs, axis=0)
        emb = e / max(float(np.linalg.norm(e)), 1e-6)
    res = net.result_from_scores(mean, frames[0].width, frames[0].height, path=frames[0].path)
    return {
        "groups": {g: p.to_dict() for g, p in res.groups.items()},
        "tags": res.tags,
        "description": res.description,
        "embedding": [round(x, 6) for x in emb.tolist()] if emb is not None else None,  # tolist: no numpy scalars
        "dominant_colors": dominant_colors(rgbs),
    }


__all__ = ["ONCE_PER_SHOT", "dominant_colors", "tag_shot"]
