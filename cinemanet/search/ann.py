"""Approximate nearest neighbours over shot embeddings (HNSW, via usearch).

Why usearch (measured in ``benchmarks/bench_search.py``, figures in ``docs/SEARCH.md``): one small
wheel with no BLAS or OpenMP of its own, int8 storage (the catalog's own quantisation, so the
index is ~1.3 KB a shot, not 5 KB), incremental ``add`` (new shots are added, not rebuilt), and a
saved index that is memory-mapped on load (a CLI search starts without reading it all). faiss IVF
needs training and re-training as the catalog grows; hnswlib stores float32.

The vectors go in as the catalog's own int8 rows (each scaled so its largest component is 127).
Handing usearch float vectors instead makes it normalise them and multiply by 127, which leaves
a 1280-d unit vector only a few levels per component: measured recall@50 fell to 0.96 on 50,000
shots and much lower on a million. The engine also asks for twice as many candidates as it needs
and re-ranks them exactly, so the order within a page is the exact one.

Only the rows of parts written to disk are in the ANN index; the engine searches the newest
in-memory rows exactly, and filters the ANN's answers by the query (and by deletions).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

#: catalogs with fewer live shots than this are searched exactly (fast enough, and exact)
ANN_MIN = 100_000
CONNECTIVITY = 32  # M 16 gave recall@50 0.90 on 1M shots, M 32 1.00 on 200k (see docs/SEARCH.md)
EXPANSION_ADD = 128
EXPANSION_SEARCH = 512  # measured: recall@50 0.68 at 128, 0.90 at 512, 0.91 at 2048 (1M shots, M 16)
ADD_CHUNK = 50_000


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("usearch") is not None


class AnnIndex:
    """An HNSW index of unit vectors keyed by shot id (cosine similarity)."""

    def __init__(self, index, dim: int, path: Path | None = None):
        self.index = index
        self.dim = dim
        self.path = path  # set while the index is a read-only memory map of this file

    @classmethod
    def new(cls, dim: int) -> "AnnIndex":
        from usearch.index import Index

        idx = Index(
            ndim=dim,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        return cls(idx, dim)

    @classmethod
    def build(cls, parts, alive, threads: int = 0) -> "AnnIndex":
        dim = next((p.vecs.shape[1] for p in parts if p.vecs.shape[1]), 0)
        ann = cls.new(dim)
        for p, a in zip(parts, alive):
            ann.add(p.ids, p.vecs, p.vmul, mask=a, threads=threads)
        return ann

    def add(self, ids, vecs, vmul, mask=None, threads: int = 0) -> int:
        """Add rows that have an embedding (``vmul`` > 0, and ``mask`` if given)."""
        if self.path is not None:  # a mapped index cannot grow: load it into memory first
            from usearch.index import Index

            self.index, self.path = Index.restore(str(self.path), view=False), None
        ok = np.asarray(vmul) > 0
        if mask is not None:
            ok &= np.asarray(mask)
        idx = np.flatnonzero(ok)
        for s in range(0, len(idx), ADD_CHUNK):
            c = idx[s : s + ADD_CHUNK]
            self.index.add(
                np.asarray(ids)[c].astype(np.uint64), np.ascontiguousarray(vecs[c], dtype=np.int8), threads=threads
            )
        return len(idx)

    def __len__(self) -> int:
        return len(self.index)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest shot ids and their cosine similarity, most similar first."""
        k = int(min(k, len(self.index)))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self.index.expansion_search = max(EXPANSION_SEARCH, k)
        q = np.asarray(q, np.float32)
        q8 = np.round(q / max(float(np.abs(q).max()), 1e-12) * 127).astype(np.int8)  # as the rows
        m = self.index.search(q8, k)
        keys = np.asarray(m.keys, np.int64)[: m.count] if hasattr(m, "count") else np.asarray(m.keys, np.int64)
        dist = np.asarray(m.distances, np.float32)[: len(keys)]
        return keys, (1.0 - dist).astype(np.float32)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True)
        self.index.save(str(folder / "hnsw.usearch"))
        (folder / "meta.json").write_text(json.dumps({"library": "usearch", "dim": self.dim, "rows": len(self)}))

    @classmethod
    def load(cls, folder: Path) -> "AnnIndex":
        from usearch.index import Index

        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        idx = Index.restore(str(folder / "hnsw.usearch"), view=True)
        if idx is None:
            raise ValueError(f"{folder}: unreadable ANN index")
        return cls(idx, int(meta["dim"]), folder / "hnsw.usearch")
