"""``cinemanet catalog copy SRC DST``: move a catalog between backends (SQLite <-> PostgreSQL) losslessly.

Every stored row of ``labels``, ``media`` and ``shots`` is copied as it is (ids, score and
embedding blobs, JSON text), in one transaction on the destination, which must be empty. The
copy is then checked: a digest of every row of both catalogs must match, else it is an error.
Derived search indexes are not copied; the destination builds its own on first search.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .backends import open_catalog
from .store import COPY_TABLES, CatalogError


@dataclass(frozen=True)
class CopyResult:
    media: int
    shots: int
    digest: str  # of every copied row; the same on both sides


def catalog_digest(cat) -> str:
    """SHA-256 over every row of the copied tables, in id order (the same for equal catalogs on any backend)."""
    h = hashlib.sha256()
    for table in COPY_TABLES:
        h.update(table.encode())
        for rows in cat.raw_rows(table):
            for r in rows:
                h.update(repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)).encode())
    return h.hexdigest()


def copy_catalog(src: str | os.PathLike, dst: str | os.PathLike) -> CopyResult:
    """Copy catalog ``src`` into the new or empty catalog ``dst`` (paths or URLs). Raises :class:`CatalogError`."""
    if str(src) == str(dst):
        raise CatalogError(f"{dst}: source and destination are the same catalog")
    with open_catalog(src, readonly=True) as s, open_catalog(dst) as d:
        d.load_rows((t, s.raw_rows(t)) for t in COPY_TABLES)
        want, got = catalog_digest(s), catalog_digest(d)
        if want != got:
            raise CatalogError(f"{d.path}: the copy differs from {s.path} (digest {got[:12]} != {want[:12]})")
        media, shots = d.counts()
    return CopyResult(media, shots, got)
