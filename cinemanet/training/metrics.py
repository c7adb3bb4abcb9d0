"""Classification metrics used by training reports (NumPy only)."""

from __future__ import annotations

import numpy as np


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    m = np.zeros((k, k), np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) == np.asarray(pred))) if len(y) else float("nan")


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    m = confusion(y, pred, k)
    tp = np.diag(m).astype(float)
    prec = np.divide(tp, m.sum(0), out=np.zeros(k), where=m.sum(0) > 0)
    rec = np.divide(tp, m.sum(1), out=np.zeros(k), where=m.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
    present = m.sum(1) > 0
    return float(f1[present].mean()) if present.any() else float("nan")


def within_one(y: np.ndarray, pred: np.ndarray, order: list[int]) -> float:
    """Share of predictions at most one step from the truth on an ordered scale."""
    rank = {c: i for i, c in enumerate(order)}
    return float(np.mean([abs(rank[a] - rank[b]) <= 1 for a, b in zip(y, pred)]))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 confidence, equal-width bins."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood (grid, then refine)."""

    def nll(T: float) -> float:
        z = logits / T
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 80))
    T = min(grid, key=nll)
    for step in (1.1, 1.02):
        T = min((T / step, T, T * step), key=nll)
    return float(T)


def per_class(y: np.ndarray, pred: np.ndarray, k: int) -> dict[str, list[float]]:
    """Precision, recall, F1 and support per class (0 where undefined)."""
    m = confusion(y, pred, k)
    tp = np.diag(m).astype(float)
    prec = np.divide(tp, m.sum(0), out=np.zeros(k), where=m.sum(0) > 0)
    rec = np.divide(tp, m.sum(1), out=np.zeros(k), where=m.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
    return {"precision": prec.tolist(), "recall": rec.tolist(), "f1": f1.tolist(), "support": m.sum(1).tolist()}


def log_probs(p: np.ndarray) -> np.ndarray:
    """Probabilities as logits for temperature scaling (softmax(log p / T) = p^(1/T), renormalised)."""
    return np.log(np.clip(p, 1e-12, 1.0))


def crossfit_temperature_ece(
    probs: np.ndarray, y: np.ndarray, folds: int = 2, seed: int = 0
) -> tuple[float, list[float]]:
    """ECE after temperature scaling, without tuning on the images scored: the temperature for
    each fold is fitted on the other folds. Returns (ECE, temperatures)."""
    n = len(y)
    if n < 2 * folds:
        return float("nan"), []
    idx = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(idx, folds)
    z = log_probs(probs)
    scaled = np.zeros_like(probs)
    temps = []
    for i, va in enumerate(parts):
        tr = np.concatenate([p for j, p in enumerate(parts) if j != i])
        T = fit_temperature(z[tr], y[tr])
        temps.append(T)
        e = np.exp((z[va] - z[va].max(1, keepdims=True)) / T)
        scaled[va] = e / e.sum(1, keepdims=True)
    return expected_calibration_error(scaled, y), temps


def classification_report(
    y: np.ndarray, probs: np.ndarray, labels: list[str], order: list[str] | tuple[str, ...] | None = None
) -> dict:
    """Accuracy, macro-F1, confusion matrix, per-class scores, ECE (and within-one accuracy
    for an ordered group: ``order`` lists the labels from one end of the scale to the other)."""
    y = np.asarray(y)
    pred = probs.argmax(1)
    k = len(labels)
    out = {
        "n_test": int(len(y)),
        "labels": list(labels),
        "accuracy": accuracy(y, pred),
        "macro_f1": macro_f1(y, pred, k),
        "ece": expected_calibration_error(probs, y),
        "confusion": confusion(y, pred, k).tolist(),
        "per_class": per_class(y, pred, k),
    }
    if order:
        ranked = [labels.index(o) for o in order if o in labels]
        if len(ranked) == k:
            out["within_one"] = within_one(y, pred, ranked)
    return out
