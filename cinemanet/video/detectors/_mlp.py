"""The small standardised MLP both learned cut scores run (``fast_cuts.json``, ``fast_deep.json``):
tanh hidden layers, a sigmoid output; numpy only."""

from __future__ import annotations

import math

import numpy as np


class Mlp:
    """``doc``: ``mean`` and ``scale`` (standardisation), ``layers`` ([weights, bias] each) and,
    optionally, ``columns``: the inputs of a longer feature row it reads."""

    def __init__(self, doc: dict):
        self.doc = doc
        cols = doc.get("columns")
        self.columns = None if cols is None else np.asarray(cols, np.intp)
        self.mean = np.asarray(doc["mean"], np.float32)
        self.inv = 1.0 / np.asarray(doc["scale"], np.float32)
        self.layers = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in doc["layers"]]

    def score(self, x: np.ndarray) -> float:
        if self.columns is not None:
            x = x[self.columns]
        h = (x - self.mean) * self.inv
        for w, b in self.layers[:-1]:
            h = np.tanh(h @ w + b)
        w, b = self.layers[-1]
        z = float((h @ w + b)[0])
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
