"""Deep confirmation of ambiguous cut candidates (``fast -D cuts=deep``; a prototype).

The learned cut score's 22 hand features of the 36x64 copy cannot tell a cut between two
moments of one fight from the fight's own motion. A pretrained CNN embedding is far less
sensitive to motion blur and small displacement, yet changes when the camera set-up does. It
is too slow to run on every frame, so only candidates whose learned score lies in a middle
band (``DeepCutModel.band``) are looked at: the packaged EfficientNet-Lite0 (ImageNet) embeds
frames c-2, c-1 | c, c+1 at a low input size, ``DEEP_FEATURES`` compare them across and within
the boundary, and a small model over those, the 22 hand features and the learned score
decides. Weights: ``data/fast_deep.json`` (``benchmarks/train_deep_cuts.py``). numpy and
onnxruntime only.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ...perception._ort import session
from ._mlp import Mlp

DEEP_SIZE = 112  # CNN input side: ~3x cheaper than the native 224 (docs/SHOTS.md)
PICTURE_SIDE = 224  # long side of the RGB copy asked of the decoder (then squashed to DEEP_SIZE)

#: the CNN's part of the confirming model's inputs, after ``CUT_FEATURES`` and the learned score
DEEP_FEATURES = (
    "d_cross",  # embedding distance (1 - cos) from frame c-1 to c
    "d_before",  # c-2 to c-1: the motion before
    "d_after",  # c to c+1: the motion after
    "d_cross_min",  # least distance of c-2, c-1 to c, c+1 (a flash or shape comes back)
    "cross_vs_within",  # log of d_cross_min over the larger within-side distance
    "d_wide",  # c-2 to c+1
    "lay_cross",  # layout grid: median cell distance c-1 to c
    "lay_cross_min",  # ... its least cell (a cut changes every cell)
    "lay_within",  # larger median cell distance within either side
    "lay_vs_within",  # log ratio of the two
)

FEATURE_FILE = Path(__file__).with_name("data") / "fast_deep.json"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def _enc(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes):
    """(field, start, payload start, end) of each top-level entry of a protobuf message."""
    i = 0
    while i < len(buf):
        start = i
        key, i = _varint(buf, i)
        wt = key & 7
        if wt == 0:
            _, i = _varint(buf, i)
            yield key >> 3, start, i, i
            continue
        if wt == 2:
            n, p = _varint(buf, i)
            i = p + n
            yield key >> 3, start, p, i
            continue
        i += {1: 8, 5: 4}[wt]
        yield key >> 3, start, i, i


def _sub(buf: bytes, field: int, fn, nth: int = 0) -> bytes:
    """``buf`` with the ``nth`` length-delimited entry of ``field`` replaced by ``fn(payload)``."""
    k = 0
    for f, s, p, e in _fields(buf):
        if f == field:
            if k == nth:
                new = fn(buf[p:e])
                return buf[:s] + _enc(field << 3 | 2) + _enc(len(new)) + new + buf[e:]
            k += 1
    raise ValueError(f"protobuf field {field} #{nth} not found")


def resized_model(model: bytes, size: int) -> bytes:
    """The packaged backbone's ONNX with its fixed 224x224 input set to ``size``: the graph is
    size-agnostic (convolutions, global means), only the declared input shape is fixed, and
    rewriting it needs no ``onnx`` package (ModelProto.graph.input[0].type.tensor_type.shape.dim)."""
    dim = _enc(1 << 3 | 0) + _enc(size)  # Dimension{dim_value: size}

    def shape(b):
        b = _sub(b, 1, lambda _: dim, 2)
        return _sub(b, 1, lambda _: dim, 3)

    return _sub(
        model, 7, lambda g: _sub(g, 11, lambda v: _sub(v, 2, lambda t: _sub(t, 1, lambda tt: _sub(tt, 2, shape))))
    )


@lru_cache(maxsize=2)
def _session(size: int):
    from ...perception.backbone import PACKAGED  # (not at import: fast.py must stay light)

    return session(resized_model(PACKAGED["lite0"].read_bytes(), size), 1)


class Embedder:
    """Frame -> (L2-normalised 1280-d embedding, layout cells: k x 320, each L2-normalised).
    At 112 px the last block is 4x4, so of the 3x3 grid only the 4 upper-left overlapping cells
    hold data; empty cells are dropped."""

    def __init__(self, size: int = DEEP_SIZE):
        self.size = size
        self.sess = _session(size)

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.batch([rgb])[0]

    def batch(self, rgbs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        s = self.size
        x = np.stack([cv2.resize(r, (s, s), interpolation=cv2.INTER_AREA) for r in rgbs]).astype(np.float32)
        x = np.ascontiguousarray((x * (2.0 / 255.0) - 1.0).transpose(0, 3, 1, 2))
        feats, _, layout = self.sess.run(None, {"image": x})
        out = []
        for f, lay in zip(feats, layout):
            cells = lay.reshape(-1, 9).T  # channel-major in the export: [c0 cell0..8, c1 ...]
            norm = np.linalg.norm(cells, axis=1)
            cells = cells[norm > 1e-6] / norm[norm > 1e-6, None]
            out.append((f / max(float(np.linalg.norm(f)), 1e-6), cells.astype(np.float32)))
        return out


def deep_features(e: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``DEEP_FEATURES`` of the embeddings of frames c-2, c-1, c, c+1 (in that order)."""
    v = [x[0] for x in e]

    def d(a, b):
        return max(0.0, 1.0 - float(v[a] @ v[b]))

    def lay(a, b):
        la, lb = e[a][1], e[b][1]
        k = min(len(la), len(lb))
        if k == 0:
            return np.zeros(1, np.float32)
        return np.maximum(0.0, 1.0 - (la[:k] * lb[:k]).sum(axis=1))

    cross, before, after = d(1, 2), d(0, 1), d(2, 3)
    cmin = min(d(a, b) for a in (0, 1) for b in (2, 3))
    within = max(before, after)
    lc = lay(1, 2)
    lw = max(float(np.median(lay(0, 1))), float(np.median(lay(2, 3))))
    return np.array(
        [
            cross,
            before,
            after,
            cmin,
            math.log((cmin + 0.01) / (within + 0.01)),
            d(0, 3),
            float(np.median(lc)),
            float(lc.min()),
            lw,
            math.log((float(np.median(lc)) + 0.01) / (lw + 0.01)),
        ],
        np.float32,
    )


class DeepCutModel(Mlp):
    """The confirming score: a small MLP (or logistic) over ``CUT_FEATURES``, the learned
    score's logit and ``DEEP_FEATURES``, standardised; numpy only. ``band``: the learned
    scores (lo, hi) that are confirmed; under lo no cut, from hi on the learned score stands."""

    def __init__(self, doc: dict):
        super().__init__(doc)
        self.band = tuple(doc["band"])
        self.threshold = float(doc["threshold"])
        self.size = int(doc.get("size", DEEP_SIZE))


@lru_cache(maxsize=1)
def deep_model() -> DeepCutModel:
    return DeepCutModel(json.loads(FEATURE_FILE.read_text()))


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))
