"""Fit, calibrate and evaluate a linear head on cached features.

scikit-learn does the fitting; the result is stored as a :class:`LinearHead` (NumPy only at
inference). Regularisation is picked by grouped cross-validation on the training split, and
the temperature on out-of-fold predictions, so the held-out split is never used for tuning.
"""

from __future__ import annotations

import numpy as np

from ..concepts.heads import LinearHead
from .metrics import expected_calibration_error, fit_temperature

C_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)


def _folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int):
    from sklearn.model_selection import StratifiedGroupKFold

    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def _model(C: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)


def fit_head(
    X: np.ndarray,
    y: np.ndarray,
    outputs: list[str],
    inputs: tuple[str, ...],
    groups: np.ndarray,
    seed: int = 0,
    folds: int = 5,
    binary_output: str | None = None,
) -> tuple[LinearHead, dict]:
    """Fit on (X, y) where y indexes ``outputs``. With ``binary_output`` the head has a single
    sigmoid output: P(outputs[1]) (named ``binary_output``)."""
    mean = X.mean(0)
    scale = X.std(0) + 1e-6
    Z = (X - mean) / scale
    # small data sets: never more folds than the rarest class has images
    folds = int(max(2, min(folds, np.bincount(y, minlength=len(outputs))[np.unique(y)].min())))
    splits = _folds(y, groups, folds, seed)
    # C ascending, each fold's model warm-started from the previous C: same optimum, far fewer
    # solver iterations than fitting every C from zero
    oofs = {C: np.zeros((len(y), len(outputs))) for C in C_GRID}
    for tr, va in splits:
        m = _model(C_GRID[0], seed)
        m.warm_start = True
        for C in C_GRID:
            m.C = C
            m.fit(Z[tr], y[tr])
            oofs[C][va] = m.predict_log_proba(Z[va]) if len(outputs) > 2 else _two_col(m.decision_function(Z[va]))
    best = None
    for C in C_GRID:
        acc = float(np.mean(oofs[C].argmax(1) == y))
        if best is None or acc > best[1] + 1e-9:
            best = (C, acc, oofs[C])
    C, cv_acc, oof_logits = best
    T = fit_temperature(oof_logits, y)
    m = _model(C, seed).fit(Z, y)
    # scikit-learn keeps one weight row for two classes: that is P(outputs[1]), a sigmoid head
    head_outputs = (binary_output,) if binary_output else tuple(outputs)
    W, b = m.coef_.astype(np.float32), m.intercept_.astype(np.float32)
    if len(outputs) == 2 and not binary_output:
        # a two-label softmax head: logits (-z/2, z/2) give softmax = (1 - sigmoid(z), sigmoid(z))
        W, b = np.concatenate([-W / 2, W / 2]), np.concatenate([-b / 2, b / 2])
    head = LinearHead(head_outputs, tuple(inputs), W, b, mean.astype(np.float32), scale.astype(np.float32), float(T))
    info = {
        "C": C,
        "cv_accuracy": cv_acc,
        "temperature": float(T),
        "oof_ece_before": expected_calibration_error(_softmax(oof_logits), y),
        "oof_ece_after": expected_calibration_error(_softmax(oof_logits / T), y),
        "n_train": int(len(y)),
        "folds": folds,
        "seed": seed,
    }
    return head, info


def _two_col(d: np.ndarray) -> np.ndarray:
    """Binary decision values -> two-column logits (0, d)."""
    return np.stack([np.zeros_like(d), d], axis=1)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def head_proba(head: LinearHead, X: np.ndarray) -> np.ndarray:
    """Class-probability matrix (binary heads expanded to two columns)."""
    p = head.predict_proba(X)
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    return p
