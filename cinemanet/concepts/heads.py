"""Small trained heads: a standardised linear (softmax) classifier with temperature.

A head is one ``.npz`` file: weights, the standardisation it was trained with, the names of
its outputs, which feature extractors build its input, and metadata (data hashes, metrics).
Inference is NumPy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..perception import Evidence
from ..util.files import atomic_path
from .features import build_features


@dataclass
class LinearHead:
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]  # feature extractor names, concatenated in this order
    W: np.ndarray  # (n_outputs, n_features)
    b: np.ndarray  # (n_outputs,)
    mean: np.ndarray  # (n_features,)
    scale: np.ndarray  # (n_features,)
    temperature: float = 1.0
    meta: dict = field(default_factory=dict)

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, np.float32))
        return ((x - self.mean) / self.scale) @ self.W.T + self.b

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x) / self.temperature
        if len(self.outputs) == 1:  # binary head: P(output)
            p = 1.0 / (1.0 + np.exp(-z))
            return p
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def __call__(self, ev: Evidence) -> dict[str, float]:
        p = self.predict_proba(build_features(ev, self.inputs))[0]
        return dict(zip(self.outputs, map(float, p)))

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta, outputs=list(self.outputs), inputs=list(self.inputs), temperature=self.temperature)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(
                tmp,
                W=self.W.astype(np.float32),
                b=self.b.astype(np.float32),
                mean=self.mean.astype(np.float32),
                scale=self.scale.astype(np.float32),
                meta=np.array(json.dumps(meta, sort_keys=True)),
            )

    @classmethod
    def load(cls, path: Path) -> "LinearHead":
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                outputs=tuple(meta.pop("outputs")),
                inputs=tuple(meta.pop("inputs")),
                W=z["W"],
                b=z["b"],
                mean=z["mean"],
                scale=z["scale"],
                temperature=float(meta.pop("temperature")),
                meta=meta,
            )
