"""Stratified, leakage-free splits: near-duplicates and frames of one film stay on one side.

Units are the connected components of "same near-duplicate cluster" and "same film". Units are
visited in an order fixed by a hash of their content (and the seed), largest first, and each
goes to the split that is furthest behind its target share of the unit's labels, so every
label of every group is spread in proportion. The result is a pure function of the data set's
content and the parameters: re-running gives the same split.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Sequence

from ..util.unionfind import UnionFind
from .records import Record

SPLITS = ("train", "val", "test")


def _units(records: Sequence[Record]) -> list[list[int]]:
    uf = UnionFind(len(records))
    first: dict[tuple[str, str], int] = {}
    for i, r in enumerate(records):
        for key in (("cluster", r.cluster or r.sha256), ("film", r.film) if r.film else None):
            if key is None:
                continue
            if key in first:
                uf.union(i, first[key])
            else:
                first[key] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(uf.roots()):
        groups[root].append(i)
    return list(groups.values())


def assign_splits(
    records: Sequence[Record], test_fraction: float = 0.2, val_fraction: float = 0.0, seed: int = 0
) -> list[str]:
    """Split name ("train", "val" or "test") per record, in order."""
    if not 0 <= test_fraction < 1 or not 0 <= val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise ValueError("test and val fractions must be in [0, 1) and sum to less than 1")
    share = {"train": 1.0 - test_fraction - val_fraction, "val": val_fraction, "test": test_fraction}
    names = [s for s in SPLITS if share[s] > 0]
    units = _units(records)

    def unit_labels(u: list[int]) -> Counter:
        c: Counter = Counter()
        for i in u:
            c.update(f"{g}={lab}" for g, lab in records[i].labels.items())
            c["*"] += 1  # overall size, so unlabelled images are spread too
        return c

    def order_key(u: list[int]) -> tuple:
        k = min(records[i].sha256 for i in u)
        return (-len(u), hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())

    units.sort(key=order_key)
    counts = [unit_labels(u) for u in units]
    total: Counter = Counter()
    for c in counts:
        total.update(c)
    have = {s: Counter() for s in names}
    out = [""] * len(records)
    for u, c in zip(units, counts):

        def need(s: str, c=c) -> float:
            # how far below its target share split s is, over this unit's labels (relative)
            return sum(n * (share[s] * total[k] - have[s][k]) / (share[s] * total[k]) for k, n in c.items())

        best = max(names, key=lambda s: (need(s), share[s]))
        have[best].update(c)
        for i in u:
            out[i] = best
    return out
