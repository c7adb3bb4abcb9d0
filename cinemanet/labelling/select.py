"""Which items to label: uncertainty (the model's margin or entropy), diversity (k-center
greedy on embeddings) or random, plus a share of gold items whose answer is known.

All three take the same inputs (per-item class probabilities and/or embeddings) and return
indices into the pool, most wanted first.
"""

from __future__ import annotations

import numpy as np

STRATEGIES = ("uncertainty", "diversity", "random")
MAX_KCENTER_DIMS = 64  # k-center distances in a random projection: N*k*64 instead of N*k*1280


def margin_uncertainty(probs: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2): 1 when the top two classes tie, 0 when one class has all the mass."""
    p = np.sort(np.asarray(probs, np.float64), axis=1)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    return 1.0 - (p[:, -1] - p[:, -2])


def entropy_uncertainty(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy divided by log(K): 1 for a uniform distribution."""
    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    p = p / p.sum(1, keepdims=True)
    k = p.shape[1]
    return -(p * np.log(p)).sum(1) / (np.log(k) if k > 1 else 1.0)


def select_uncertainty(probs_per_group: list[np.ndarray], n: int, measure: str = "margin") -> np.ndarray:
    """The ``n`` items the model is least sure about, averaged over the project's groups."""
    f = margin_uncertainty if measure == "margin" else entropy_uncertainty
    u = np.mean([f(p) for p in probs_per_group], axis=0)
    return np.argsort(-u, kind="stable")[:n]


def k_center_greedy(emb: np.ndarray, n: int, seed: int = 0, already: np.ndarray | None = None) -> np.ndarray:
    """Greedy k-center (Sener & Savarese 2018): each pick is the item farthest from every item
    picked so far (and from ``already``, items labelled before). Starts at a random item."""
    X = np.asarray(emb, np.float32)
    N = len(X)
    n = min(n, N)
    if n <= 0:
        return np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    if X.shape[1] > MAX_KCENTER_DIMS and N * n > 2_000_000:
        # Johnson-Lindenstrauss: distances survive a random projection well enough to rank them
        R = rng.standard_normal((X.shape[1], MAX_KCENTER_DIMS)).astype(np.float32) / np.sqrt(MAX_KCENTER_DIMS)
        X = X @ R
    sq = (X * X).sum(1)

    def dist_to(i: int) -> np.ndarray:
        return np.maximum(sq + sq[i] - 2.0 * (X @ X[i]), 0.0)

    d = np.full(N, np.inf, np.float32)
    picks: list[int] = []
    if already is not None and len(already):
        for i in already:
            d = np.minimum(d, dist_to(int(i)))
        d[np.asarray(already, int)] = -1.0
    else:
        first = int(rng.integers(N))
        picks.append(first)
        d = dist_to(first)
        d[first] = -1.0
    while len(picks) < n:
        i = int(np.argmax(d))
        if d[i] < 0:
            break
        picks.append(i)
        d = np.minimum(d, dist_to(i))
        d[picks] = -1.0
    return np.array(picks, np.int64)


def select_random(n_pool: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n_pool)[:n]


def select(
    strategy: str,
    n: int,
    *,
    probs_per_group: list[np.ndarray] | None = None,
    embeddings: np.ndarray | None = None,
    n_pool: int | None = None,
    seed: int = 0,
    measure: str = "margin",
) -> np.ndarray:
    if strategy == "uncertainty":
        if not probs_per_group:
            raise ValueError("uncertainty selection needs the model's scores")
        return select_uncertainty(probs_per_group, n, measure)
    if strategy == "diversity":
        if embeddings is None:
            raise ValueError("diversity selection needs embeddings")
        return k_center_greedy(embeddings, n, seed)
    if strategy == "random":
        return select_random(
            n_pool if n_pool is not None else len(embeddings if embeddings is not None else probs_per_group[0]), n, seed
        )
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
