"""Deterministic held-out splits that keep near-duplicate images on one side.

Near-duplicates (the same frame re-encoded, resized or lightly cropped) are found with a
64-bit difference hash; each connected group of them goes wholly to train or to test,
chosen by a hash of its content, so the split never depends on file order or names.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from .sources import Item

DUP_DISTANCE = 6  # Hamming distance (of 64 bits) under which two images count as the same picture


def dhash(path) -> int:
    with Image.open(path) as im:
        im.draft("L", (64, 64))
        g = np.asarray(im.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (g[:, 1:] > g[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def duplicate_groups(items: list[Item]) -> np.ndarray:
    """Group id per item: items joined when identical bytes or dHash distance <= DUP_DISTANCE."""
    n = len(items)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.sha256 in first:
            union(i, first[it.sha256])
        else:
            first[it.sha256] = i
    h = np.array([dhash(it.path) for it in items], dtype=np.uint64)
    for i in range(n):
        x = np.bitwise_xor(h[i + 1 :], h[i])
        dist = _popcount(x)
        for j in np.flatnonzero(dist <= DUP_DISTANCE):
            union(i, i + 1 + int(j))
    return np.array([find(i) for i in range(n)])


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(np.ascontiguousarray(x).view(np.uint8).reshape(-1, 8), axis=1).sum(1)


def holdout_mask(items: list[Item], groups: np.ndarray, test_fraction: float = 0.2) -> np.ndarray:
    """True for items in the held-out test split."""
    key = {}
    for it, g in zip(items, groups):
        key[g] = min(key.get(g, it.sha256), it.sha256)
    cut = int(test_fraction * 2**32)
    test_groups = {g for g, k in key.items() if int(hashlib.sha256(k.encode()).hexdigest()[:8], 16) < cut}
    return np.array([g in test_groups for g in groups])
