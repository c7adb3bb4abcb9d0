"""Deterministic held-out splits that keep near-duplicate images on one side.

Near-duplicates (the same frame re-encoded, resized or lightly cropped) are found with a
64-bit difference hash; each connected group of them goes wholly to train or to test,
chosen by a hash of its content, so the split never depends on file order or names.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..datasets.phash import dhash, near_duplicate_clusters
from .sources import Item


def duplicate_groups(items: list[Item]) -> np.ndarray:
    """Group id per item: items joined when identical bytes or near-identical pictures (dHash)."""
    return near_duplicate_clusters([dhash(it.path) for it in items], [it.sha256 for it in items])


def holdout_mask(items: list[Item], groups: np.ndarray, test_fraction: float = 0.2) -> np.ndarray:
    """True for items in the held-out test split."""
    key = {}
    for it, g in zip(items, groups):
        key[g] = min(key.get(g, it.sha256), it.sha256)
    cut = int(test_fraction * 2**32)
    test_groups = {g for g, k in key.items() if int(hashlib.sha256(k.encode()).hexdigest()[:8], 16) < cut}
    return np.array([g in test_groups for g in groups])


def bounded_clusters(hashes: list[int], keys: list[str], max_size: int = 30, distance: int = 6) -> np.ndarray:
    """Near-duplicate clusters whose transitive chains cannot swallow whole classes: on 17,000
    small photos, dHash chains (sunsets, seas, skies differ by a few bits from each other)
    join over a thousand different pictures into one component. A component larger than
    ``max_size`` is re-clustered with a stricter distance, down to identical hashes."""
    from ..datasets.phash import near_duplicate_clusters

    out = near_duplicate_clusters(hashes, keys, distance)
    next_id = int(out.max()) + 1 if len(out) else 0
    todo = [
        (np.flatnonzero(out == c), distance - 1) for c, n in zip(*np.unique(out, return_counts=True)) if n > max_size
    ]
    while todo:
        idx, d = todo.pop()
        sub = near_duplicate_clusters([hashes[i] for i in idx], [keys[i] for i in idx], max(d, 0))
        for c, n in zip(*np.unique(sub, return_counts=True)):
            members = idx[sub == c]
            out[members] = next_id
            next_id += 1
            if n > max_size and d > 0:
                todo.append((members, d - 1))
    return out
