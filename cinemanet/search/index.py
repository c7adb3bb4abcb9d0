"""The search index: the catalog's shots as columns, so a query over a million shots is a
few vectorised comparisons, and the embeddings as one int8 matrix for similarity.

The catalog (SQLite) stays the one source of truth; this index is derived from it and kept in
sync by three numbers the catalog maintains: its ``epoch`` (changes when everything must be
rebuilt), the largest shot id (ids only grow, so newer shots are ``id > max_id``) and the last
tombstone (deleted shot ids). :meth:`SearchIndex.refresh` reads only what changed.

Rows live in *parts* (immutable column sets). Parts written to ``<catalog>.index/`` are
memory-mapped, so a CLI search on a large catalog starts in milliseconds; newer rows are read
from SQLite into an in-memory part until there are enough of them to be worth writing. When
the index folder cannot be written (read-only media), everything stays in memory.

Per part, ``n`` rows:

=========  ==================  ==================================================================
``ids``    int64 (n)           shot ids, ascending
``media``  int32 (n)           media ids
``scores`` uint8 (L, n)        label scores x 255, one contiguous row per label (column scans)
``tags``   uint8 (L, n/8)      bit set (little-endian, packed along n): the label is a tag of the
                               shot, or the label chosen for its group ("not applicable" too)
``num``    float32 (F, n)      :data:`NUM_FIELDS`
``vecs``   int8 (n, D)         embeddings as stored in the catalog
``vmul``   float32 (n)         cosine(q, shot) = (q_unit . vecs[i]) * vmul[i]; 0 = no embedding
=========  ==================  ==================================================================
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..catalog import Catalog
from ..catalog.records import NO_LABEL, PICK_DTYPE
from ..util.files import atomic_write

log = logging.getLogger(__name__)

FORMAT = 1
NUM_FIELDS = ("duration", "brightness", "motion", "confidence", "start_time")
PERSIST_MIN = 5000  # unwritten rows worth writing a new part for
MAX_PARTS = 8  # more parts than this are merged into one
READ_BATCH = 20000


@dataclass
class Part:
    ids: np.ndarray
    media: np.ndarray
    scores: np.ndarray
    tags: np.ndarray
    num: np.ndarray
    vecs: np.ndarray
    vmul: np.ndarray
    name: str | None = None  # folder name when written to disk

    def __len__(self) -> int:
        return len(self.ids)

    def tag(self, pos: int) -> np.ndarray:
        return np.unpackbits(self.tags[pos], count=len(self), bitorder="little").view(bool)

    def field(self, name: str) -> np.ndarray:
        return self.num[NUM_FIELDS.index(name)]

    ARRAYS = ("ids", "media", "scores", "tags", "num", "vecs", "vmul")

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        for a in self.ARRAYS:
            with open(folder / f"{a}.npy", "wb") as f:
                np.save(f, getattr(self, a))
                f.flush()
                os.fsync(f.fileno())

    @classmethod
    def load(cls, folder: Path) -> "Part":
        arrays = {a: np.load(folder / f"{a}.npy", mmap_mode="r") for a in cls.ARRAYS}
        return cls(**arrays, name=folder.name)

    @classmethod
    def concat(cls, parts: list["Part"], keep: list[np.ndarray] | None = None) -> "Part":
        """One part of the rows of ``parts`` (``keep``: boolean masks of rows to keep)."""
        keep = keep or [np.ones(len(p), bool) for p in parts]
        n_labels = max(p.scores.shape[0] for p in parts)
        bits = [np.unpackbits(p.tags, axis=1, count=len(p), bitorder="little")[:, k] for p, k in zip(parts, keep)]
        tags = np.concatenate([_pad_rows(b, n_labels) for b in bits], axis=1)
        return cls(
            ids=np.concatenate([p.ids[k] for p, k in zip(parts, keep)]),
            media=np.concatenate([p.media[k] for p, k in zip(parts, keep)]),
            scores=np.concatenate(
                [_pad_rows(np.asarray(p.scores)[:, k], n_labels) for p, k in zip(parts, keep)], axis=1
            ),
            tags=np.packbits(tags, axis=1, bitorder="little"),
            num=np.concatenate([np.asarray(p.num)[:, k] for p, k in zip(parts, keep)], axis=1),
            vecs=np.concatenate([np.asarray(p.vecs)[k] for p, k in zip(parts, keep)]),
            vmul=np.concatenate([p.vmul[k] for p, k in zip(parts, keep)]),
        )


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] >= rows:
        return a
    return np.concatenate([a, np.zeros((rows - a.shape[0], a.shape[1]), a.dtype)])


def read_part(cat: Catalog, after_id: int, dim: int | None = None) -> Part | None:
    """The rows of shots with ``id > after_id`` (read by the catalog backend), as one part."""
    n_labels, n_groups = len(cat.space), len(cat.space.groups)
    chunks = [_decode(rows, n_labels, n_groups) for rows in cat.index_rows(after_id, READ_BATCH)]
    if not chunks:
        return None
    d = dim or max((c["vecs"].shape[1] for c in chunks), default=0)
    for c in chunks:
        if c["vecs"].shape[1] != d:
            c["vecs"], c["vmul"] = _fit_dim(c["vecs"], c["vmul"], d)
    tags = np.concatenate([c["tags"] for c in chunks], axis=1)
    return Part(
        ids=np.concatenate([c["ids"] for c in chunks]),
        media=np.concatenate([c["media"] for c in chunks]),
        scores=np.concatenate([c["scores"] for c in chunks], axis=1),
        tags=np.packbits(tags, axis=1, bitorder="little"),
        num=np.concatenate([c["num"] for c in chunks], axis=1),
        vecs=np.concatenate([c["vecs"] for c in chunks]),
        vmul=np.concatenate([c["vmul"] for c in chunks]),
    )


def _fit_dim(vecs: np.ndarray, vmul: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of another size (another backbone) cannot be compared: left out."""
    return np.zeros((len(vecs), d), np.int8), np.zeros(len(vecs), np.float32)


def _decode(rows: list, n_labels: int, n_groups: int) -> dict:
    m = len(rows)
    ids = np.fromiter((r[0] for r in rows), np.int64, m)
    media = np.fromiter((r[1] for r in rows), np.int32, m)
    num = np.array([[r[2], r[3], r[4], r[5], r[6]] for r in rows], np.float32).T.copy()
    blobs = [r[7] for r in rows]
    if all(len(b) == 2 * n_labels for b in blobs):
        sc = np.frombuffer(b"".join(blobs), np.float16).reshape(m, n_labels)
    else:  # rows written before the taxonomy grew
        sc = np.zeros((m, n_labels), np.float16)
        for i, b in enumerate(blobs):
            a = np.frombuffer(b, np.float16)[:n_labels]
            sc[i, : len(a)] = a
    scores = np.ascontiguousarray(np.round(sc.astype(np.float32).T * 255.0).clip(0, 255).astype(np.uint8))
    tags = np.zeros((n_labels, m), bool)
    tag_ids = [np.frombuffer(r[8], np.uint16) for r in rows]
    lens = np.fromiter((len(t) for t in tag_ids), np.int64, m)
    if lens.sum():
        cols = np.repeat(np.arange(m), lens)
        labs = np.concatenate(tag_ids).astype(np.int64)
        ok = labs < n_labels
        tags[labs[ok], cols[ok]] = True
    picks = np.frombuffer(b"".join(r[9] for r in rows), PICK_DTYPE).reshape(m, -1)["label"].astype(np.int64)
    pr, pc = np.nonzero((picks != NO_LABEL) & (picks < n_labels))
    tags[picks[pr, pc], pr] = True
    embs = [r[10] for r in rows]
    d = max((len(e) for e in embs if e is not None), default=0)
    vecs = np.zeros((m, d), np.int8)
    vmul = np.zeros(m, np.float32)
    for i, (e, _s) in enumerate(zip(embs, (r[11] for r in rows))):
        if e is not None and len(e) == d and d:
            vecs[i] = np.frombuffer(e, np.int8)
    has = np.array([e is not None and len(e) == d for e in embs]) if d else np.zeros(m, bool)
    if d:
        norms = np.linalg.norm(vecs.astype(np.float32), axis=1)
        vmul = np.where(has & (norms > 0), 1.0 / np.maximum(norms, 1e-9), 0.0).astype(np.float32)
    return {"ids": ids, "media": media, "num": num, "scores": scores, "tags": tags, "vecs": vecs, "vmul": vmul}


class SearchIndex:
    """The columns of a catalog's shots, kept in sync with it. Thread-safe :meth:`refresh`."""

    def __init__(
        self,
        catalog: Catalog,
        folder: str | os.PathLike | None = None,
        *,
        persist: bool = True,
        ann_min: int | None = None,
    ):
        from .ann import ANN_MIN

        self.cat = catalog
        self.folder = Path(folder) if folder else Path(catalog.index_folder)
        self.persist = persist and not catalog.readonly
        self.ann_min = ANN_MIN if ann_min is None else ann_min
        self.parts: list[Part] = []
        self.alive: list[np.ndarray] = []
        self.ann = None  # covers the rows of the parts written to disk
        self.epoch = ""
        self.max_id = 0
        self.tomb_seq = 0
        self.dim = 0
        self.n_labels = 0
        self._lock = threading.RLock()
        self._deleted: set[int] = set()
        self.generation = 0  # bumps on every change: caches key on it

    # --- state ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(sum(int(a.sum()) for a in self.alive))

    def refresh(self) -> bool:
        """Catch up with the catalog. True if anything changed."""
        with self._lock:
            epoch, max_id, tomb = self.cat.epoch, self.cat.max_shot_id(), self.cat.max_tombstone()
            changed = False
            if epoch != self.epoch or len(self.cat.space) != self.n_labels:
                self._reset(epoch)
                self._load_saved()
                changed = True
            if max_id > self.max_id:
                part = read_part(self.cat, self.max_id, self.dim or None)
                if part is not None:
                    self.dim = self.dim or part.vecs.shape[1]
                    self.parts.append(part)
                    self.alive.append(np.ones(len(part), bool))
                self.max_id = max_id
                changed = True
            if tomb > self.tomb_seq:
                gone = self.cat.tombstones(self.tomb_seq)
                self._deleted.update(int(x) for x in gone)
                for p, a in zip(self.parts, self.alive):
                    a &= ~np.isin(p.ids, gone)
                self.tomb_seq = tomb
                changed = True
            if self.persist and self._unsaved() >= PERSIST_MIN:
                self.save()
            if changed:
                self.generation += 1
            return changed

    def _reset(self, epoch: str) -> None:
        self.parts, self.alive, self.ann = [], [], None
        self.epoch, self.max_id, self.tomb_seq, self.dim = epoch, 0, 0, 0
        self.n_labels = len(self.cat.space)
        self._deleted = set()

    def _unsaved(self) -> int:
        return sum(len(p) for p in self.parts if p.name is None)

    def _manifest(self) -> dict | None:
        try:
            m = json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        if m.get("format") != FORMAT or m.get("epoch") != self.epoch or m.get("labels") != self.n_labels:
            return None
        return m

    def _load_saved(self) -> None:
        m = self._manifest()
        if m is None:
            return
        try:
            parts = [Part.load(self.folder / name) for name in m["parts"]]
            ann = None
            if m.get("ann"):
                from .ann import AnnIndex

                ann = AnnIndex.load(self.folder / m["ann"])
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            log.warning("search index in %s is unreadable (%s): rebuilding it from the catalog", self.folder, e)
            return
        self.parts = parts
        self.alive = [np.ones(len(p), bool) for p in parts]
        self.ann = ann
        self.max_id, self.tomb_seq, self.dim = int(m["max_id"]), 0, int(m["dim"])
        # tombstones are applied from the start: cheap (one indexed read) and always right
        gone = self.cat.tombstones(0)
        if len(gone):
            for p, a in zip(self.parts, self.alive):
                a &= ~np.isin(p.ids, gone)
        self._deleted = set(int(x) for x in gone)
        self.tomb_seq = self.cat.max_tombstone()

    # --- writing -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[bool]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        except OSError:
            yield False
            return
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            yield False  # another process is writing the index: keep ours in memory
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def save(self) -> bool:
        """Write the unsaved rows as a new part (merging parts when there are many), extend or
        build the ANN index, and switch the manifest atomically. False if it could not."""
        with self._lock, self._folder_lock() as ok:
            if not ok or not self.persist:
                return False
            try:
                self._save()
            except OSError as e:
                log.warning("cannot write the search index in %s: %s (kept in memory)", self.folder, e)
                return False
            return True

    def _save(self) -> None:
        from .ann import AnnIndex

        saved = [(p, a) for p, a in zip(self.parts, self.alive) if p.name is not None]
        new = [(p, a) for p, a in zip(self.parts, self.alive) if p.name is None]
        if not new and self._manifest() is not None:
            return
        dead = sum(int((~a).sum()) for p, a in saved)
        total = sum(len(p) for p, _ in saved) + sum(len(p) for p, _ in new)
        compact = len(saved) + 1 > MAX_PARTS or (total and dead > 0.2 * total)
        groups = [saved + new] if compact else [new]
        keep = [] if compact else saved
        written: list[tuple[Part, np.ndarray]] = list(keep)
        for g in groups:
            if not g:
                continue
            merged = Part.concat([p for p, _ in g], [a for _, a in g]) if len(g) > 1 or compact else g[0][0]
            if not compact:
                merged = Part.concat([g[0][0]], [g[0][1]]) if len(g) == 1 else merged
            name = f"part-{uuid.uuid4().hex[:12]}"
            merged.save(self.folder / name)
            merged = Part.load(self.folder / name)
            written.append((merged, np.ones(len(merged), bool) if compact or True else None))
        # apply known deletions to what was kept
        parts = [p for p, _ in written]
        alive = [a if a is not None else np.ones(len(p), bool) for p, a in written]
        for p, a in zip(parts, alive):
            if self._deleted:
                a &= ~np.isin(p.ids, np.fromiter(self._deleted, np.int64))
        ann = self.ann
        n_alive = sum(int(a.sum()) for a in alive)
        ann_name = None
        from .ann import available

        if n_alive >= self.ann_min and self.dim and available():
            if ann is None or compact:
                ann = AnnIndex.build(parts, alive)
            else:
                for p, _ in written[len(keep) :]:
                    ann.add(p.ids, p.vecs, p.vmul)
            ann_name = f"ann-{uuid.uuid4().hex[:12]}"
            ann.save(self.folder / ann_name)
        else:
            ann = None
        manifest = {
            "format": FORMAT,
            "epoch": self.epoch,
            "labels": self.n_labels,
            "dim": self.dim,
            "max_id": self.max_id,
            "parts": [p.name for p in parts],
            "ann": ann_name,
            "rows": sum(len(p) for p in parts),
        }
        atomic_write(self.folder / "manifest.json", json.dumps(manifest))
        self.parts, self.alive, self.ann = parts, alive, ann
        self._clean(set(manifest["parts"]) | ({ann_name} if ann_name else set()))

    def _clean(self, keep: set[str]) -> None:
        """Remove parts no manifest names (mapped files stay readable to those who hold them)."""
        for p in self.folder.iterdir():
            if (p.name.startswith(("part-", "ann-")) and p.name not in keep) or p.name.startswith(".manifest."):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        p.unlink()

    def rebuild(self) -> None:
        """Forget the saved index and build it again from the catalog."""
        with self._lock:
            if self.folder.exists() and self.persist:
                with self._folder_lock() as ok:
                    if ok:
                        (self.folder / "manifest.json").unlink(missing_ok=True)
            self.epoch = ""
            self.refresh()
            if self.persist:
                self.save()
