"""Union-find over ``0..n-1``: group items linked by shared keys or near-duplicate pairs."""

from __future__ import annotations


class UnionFind:
    """Disjoint sets with path halving; a set's root is its smallest member (so group ids
    are stable whatever order the links come in)."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> list[int]:
        """Each item's root, in item order."""
        return [self.find(i) for i in range(len(self.parent))]


__all__ = ["UnionFind"]
