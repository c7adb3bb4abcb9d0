"""Multi-task linear heads over shared backbone features, fitted with masked losses.

Every task (framing, over-the-shoulder, interior/exterior, place, texture, time of day) is a
softmax layer over the same standardised features; an image labelled for some tasks only
contributes to those (the others are masked). With a linear layer per task the parameters of
different tasks are disjoint, so the masked joint objective is minimised exactly by fitting
each task on its own rows: that is what :func:`fit_tasks` does, one L-BFGS run per task,
class-balanced cross-entropy plus an L2 penalty. Torch is used for fitting only; inference is
NumPy (:class:`cinemanet.concepts.heads.LinearHead`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..extras import torch as require_torch


@dataclass
class Fit:
    W: np.ndarray  # (k, d) on standardised inputs
    b: np.ndarray  # (k,)


def standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(0, dtype=np.float64).astype(np.float32)
    scale = (X.std(0, dtype=np.float64) + 1e-3).astype(np.float32)
    return mean, scale


def fit_softmax(
    Z: np.ndarray,
    y: np.ndarray,
    k: int,
    wd: float,
    seed: int = 0,
    iters: int = 150,
    weights: np.ndarray | None = None,
    smoothing: float = 0.0,
) -> Fit:
    """Class-balanced softmax regression on standardised ``Z`` (rows), L2 strength ``wd``.

    ``weights`` (per row) multiply the class balance; :func:`source_balanced_weights` gives
    weights under which every (class, source) cell weighs the same within its class.
    ``smoothing`` is label smoothing (the target puts ``smoothing`` on the other classes)."""
    torch = require_torch("training heads")

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    Zt = torch.from_numpy(np.ascontiguousarray(Z, np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    counts = np.bincount(y, minlength=k).astype(np.float64)
    cw = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0)
    w = cw[y] * (weights if weights is not None else 1.0)
    wt = torch.from_numpy((w / w.sum()).astype(np.float32))
    W = torch.zeros(k, Z.shape[1], requires_grad=True)
    b = torch.zeros(k, requires_grad=True)
    opt = torch.optim.LBFGS(
        [W, b],
        lr=1,
        max_iter=iters,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
    )

    def closure():
        opt.zero_grad()
        logits = Zt @ W.T + b
        loss = (
            torch.nn.functional.cross_entropy(logits, yt, reduction="none", label_smoothing=smoothing) * wt
        ).sum() + wd * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return Fit(W.detach().numpy().copy(), b.detach().numpy().copy())


def source_balanced_weights(y: np.ndarray, sources: list[str]) -> np.ndarray:
    """Row weights under which, within each class, every source that has the class counts the
    same in total (a source with 7,000 photos of a class weighs as much as one with 50), scaled so
    that, after :func:`fit_softmax`'s class balance, each class still weighs the same."""
    y = np.asarray(y)
    cells = Counter(zip(y.tolist(), sources))
    per_class = Counter(c for c, _ in cells)
    counts = np.bincount(y)
    return np.array([counts[c] / (per_class[c] * cells[(c, s)]) for c, s in zip(y.tolist(), sources)], dtype=np.float64)


def logits(fit: Fit, Z: np.ndarray) -> np.ndarray:
    return Z @ fit.W.T + fit.b


def grouped_folds(clusters: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold id per row: whole near-duplicate clusters (and so every view of an image) per fold,
    assigned by a seeded hash of the cluster id."""
    u = np.unique(clusters)
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(u.tolist(), rng.permutation(len(u)) % k))
    return np.array([fold_of[c] for c in clusters.tolist()])
