"""Run queries over a catalog: filter with the query language, rank by confidence, a sort key
or embedding similarity (``like``).

Evaluation is vectorised over the :class:`~cinemanet.search.index.SearchIndex` columns: each
term is one comparison over a column of the whole catalog, combined with boolean algebra, so
the cost does not depend on how many shots match. Similarity search is exact (one int8 matrix
product over the matching shots) when few shots match or the catalog is small, and goes
through the ANN index (see :mod:`cinemanet.search.ann`) when many do.

    >>> eng = SearchEngine(Catalog.open("lib.sqlite"))
    >>> res = eng.search("night exterior wide -person sort:duration", limit=20)
    >>> res.total, [h.shot_id for h in res.hits]
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..catalog import Catalog
from ..video.records import Shot
from .index import Part, SearchIndex
from .query import And, Field, File, Label, Not, Or, Query, QueryError, request

#: below this many candidate shots, similarity is computed exactly (it is then faster than ANN)
EXACT_MAX = 60_000
#: ANN candidates fetched per wanted result, divided by the share of shots the query keeps
ANN_OVERFETCH = 3
ANN_MAX_K = 16384  # 4,096 left filtered --like falling back to exact (p95 152 ms on 1M); 16,384: none
ANN_RERANK = 2  # ANN candidates per wanted result, re-ranked exactly (see ann.py)


@dataclass
class Hit:
    shot_id: int
    score: float  # confidence of the query match, or similarity for ``like``


@dataclass(frozen=True)
class FoundShot:
    """One search hit as a typed record: the catalog's shot (:class:`~cinemanet.video.records.Shot`,
    the ``cinemanet.shot/1`` contract), its catalog ids and the hit's score."""

    id: int
    media_id: int
    score: float
    shot: Shot

    def to_dict(self) -> dict:
        """A line of ``cinemanet search --format jsonl``: the shot contract, then ``id`` and ``score``."""
        return {**self.shot.to_dict(), "id": self.id, "score": self.score}


@dataclass
class SearchResult:
    hits: list[Hit]  # the requested page, best first
    total: int  # matching shots before paging
    query: str  # normalised query text (str(Query)) or ""
    took_ms: float
    notes: list[str] = field(default_factory=list)


_OPS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "=": np.isclose,
}


class _Eval:
    """Evaluates a query tree over one part: ``(mask, score or None)`` per node."""

    def __init__(self, engine: "SearchEngine", part: Part):
        self.e, self.p = engine, part

    def run(self, n) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(n, Label):
            pos = self.e.cat.space.pos(n.key)
            if pos is None or pos >= self.p.scores.shape[0]:
                return np.zeros(len(self.p), bool), None
            s = np.asarray(self.p.scores[pos])
            if n.op is None:
                return self.p.tag(pos), s
            v = n.value * 255.0
            if n.op == "=":  # scores are stored to 1/255
                return np.abs(s.astype(np.float32) - v) <= 0.5, s
            return _OPS[n.op](s, v), s
        if isinstance(n, Field):
            col = np.asarray(self.p.field(n.name))
            value = n.value
            if col.dtype.kind == "f":  # a bound past the column's float range would overflow (and warn)
                big = float(np.finfo(col.dtype).max)
                value = min(max(value, -big), big)
            if n.op == "=":
                return np.isclose(col, value, rtol=0, atol=1e-3), None
            return _OPS[n.op](col, value), None
        if isinstance(n, File):
            return np.isin(self.p.media, self.e._media_matching(n.text)), None
        if isinstance(n, Not):
            m, _ = self.run(n.child)
            return ~m, None
        if isinstance(n, And):
            mask, acc, cnt = None, None, 0
            for c in n.children:
                m, s = self.run(c)
                mask = m if mask is None else mask & m
                if s is not None:
                    acc = s.astype(np.float32) if acc is None else acc + s
                    cnt += 1
            return mask, (acc / cnt if cnt else None)
        if isinstance(n, Or):
            mask, best = None, None
            for c in n.children:
                m, s = self.run(c)
                mask = m if mask is None else mask | m
                if s is not None:
                    # a branch that did not match does not lend its score
                    s = np.where(m, s, 0).astype(np.float32)
                    best = s if best is None else np.maximum(best, s)
            return mask, best
        raise QueryError(f"cannot evaluate {n!r}")  # pragma: no cover - the parser makes no other nodes


SEARCH_WHERE = ("index", "sql")


class SearchEngine:
    """Searches one catalog. Thread-safe; call :meth:`refresh` to see catalog changes (the
    ``search`` calls do not refresh by themselves, so a page of results stays stable).

    ``where``: ``"index"`` (the default; ``$CINEMANET_SEARCH``) evaluates queries over the
    columnar index; ``"sql"`` (PostgreSQL catalogs) compiles them to SQL and runs them on the
    server (``search/sql.py``), same answers, no index to build; only similarity (``like``)
    then reads the index, built on first use."""

    def __init__(self, catalog: Catalog, index: SearchIndex | None = None, *, where: str | None = None):
        self.cat = catalog
        where = where or os.environ.get("CINEMANET_SEARCH") or "index"
        if where not in SEARCH_WHERE:
            raise QueryError(f"search where {where!r}: index or sql")
        if where == "sql" and not getattr(catalog, "sql_search", False):
            raise QueryError(f"{catalog.path}: queries compile to SQL on PostgreSQL catalogs only")
        self.where = where
        self._index = index
        self._lock = threading.RLock()
        self._media_cache: dict[str, np.ndarray] = {}
        self.embedder = ImageEmbedder()
        if where == "index" or index is not None:
            self.index.refresh()

    @property
    def index(self) -> SearchIndex:
        with self._lock:
            if self._index is None:
                self._index = SearchIndex(self.cat)
                self._index.refresh()
            return self._index

    def refresh(self) -> None:
        """Pick up catalog changes (new, removed or moved media)."""
        with self._lock:
            if self._index is not None:
                self._index.refresh()
            self._media_cache.clear()  # paths change on relink without touching shots

    # --- public --------------------------------------------------------------------------------
    def search(
        self, query: str = "", *, like=None, limit: int = 50, offset: int = 0, sort: str | None = None
    ) -> SearchResult:
        """Shots matching ``query`` (all shots if empty), best first.

        ``like`` (an embedding, a shot id, or an image path) ranks the matching shots by cosine
        similarity to it. ``sort`` (``confidence``, ``duration``, ``brightness``, ``motion`` or
        ``time``, with an optional ``:asc``/``:desc``) overrides a ``sort:`` in the query.
        Raises :class:`QueryError` (with ``suggestions``) for a query or ``like`` it cannot use.
        """
        if self.where == "sql" and (like is None or getattr(self.cat, "pgvector_ready", False)):
            from .sql import search_sql

            qv = self._like_vector(like) if like is not None else None
            return search_sql(self.cat, query, limit=limit, offset=offset, sort=sort, like_vector=qv)
        t0 = time.perf_counter()
        q, sort_key, desc, limit, offset = request(query, limit, offset, sort)
        notes = list(q.notes)
        qvec = self._like_vector(like) if like is not None else None
        with self._lock:
            parts, alive = list(self.index.parts), list(self.index.alive)
        masks, scores = [], []
        for p, a in zip(parts, alive):
            if q.expr is None:
                m, s = np.asarray(a).copy(), None
            else:
                m, s = _Eval(self, p).run(q.expr)
                m &= a
            masks.append(m)
            scores.append(s)
        total = int(sum(int(m.sum()) for m in masks))
        if qvec is not None:
            if sort_key not in (None, "confidence"):
                notes.append(f"sort:{sort_key} ignored: --like ranks by similarity")
            ids, sims, total = self._rank_like(parts, masks, qvec, offset + limit, total, notes)
            hits = [
                Hit(int(i), round(float(s), 6))
                for i, s in zip(ids[offset : offset + limit], sims[offset : offset + limit])
            ]
        else:
            hits = self._rank(parts, masks, scores, sort_key, desc, offset, limit)
        return SearchResult(
            hits, total, str(q) if (query or "").strip() else "", (time.perf_counter() - t0) * 1000.0, notes
        )

    def found(self, result: SearchResult) -> list[FoundShot]:
        """The hits of ``result`` as typed records, in order (shots removed since are left out)."""
        scores = {h.shot_id: h.score for h in result.hits}
        out = []
        for d in self.cat.shots(scores):
            i, media_id = d.pop("id"), d.pop("media_id")
            out.append(FoundShot(i, media_id, scores[i], Shot.from_dict(d)))
        return out

    # --- ranking -------------------------------------------------------------------------------
    def _rank(self, parts, masks, scores, sort_key, desc, offset, limit) -> list[Hit]:
        ids, conf, keys = [], [], []
        for p, m, s in zip(parts, masks, scores):
            idx = np.flatnonzero(m)
            ids.append(np.asarray(p.ids)[idx])
            c = (s[idx].astype(np.float32) / 255.0) if s is not None else np.asarray(p.field("confidence"))[idx]
            conf.append(c.astype(np.float32))
            if sort_key in ("duration", "brightness", "motion"):
                keys.append(np.asarray(p.field(sort_key))[idx])
            elif sort_key == "time":
                keys.append(np.asarray(p.field("start_time"))[idx])
        if not ids:
            return []
        ids_a = np.concatenate(ids)
        conf_a = np.concatenate(conf)
        want = offset + limit
        if want == 0 or len(ids_a) == 0:
            return []
        if sort_key in (None, "confidence") and not (sort_key is None and _no_score(scores)):
            key = -conf_a if (desc or sort_key is None) else conf_a
            order = _top(key, ids_a, want)
        elif sort_key is None:
            order = _top(ids_a.astype(np.float64), ids_a, want)  # catalog order
        elif sort_key == "time":
            media = np.concatenate([np.asarray(p.media)[np.flatnonzero(m)] for p, m in zip(parts, masks)])
            k = np.concatenate(keys)
            order = np.lexsort((ids_a, -k if desc else k, -media if desc else media))[:want]
        else:
            k = np.concatenate(keys).astype(np.float64)
            order = _top(-k if desc else k, ids_a, want)
        order = order[offset:want]
        return [Hit(int(ids_a[i]), round(float(conf_a[i]), 4)) for i in order]

    def _rank_like(self, parts, masks, qvec, want, total, notes):
        ann = self.index.ann
        if want == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), total
        # the ANN index covers the parts saved on disk; newer rows are always searched exactly
        saved = [i for i, p in enumerate(parts) if p.name is not None]
        n_saved = sum(int(masks[i].sum()) for i in saved)
        if ann is not None and saved and n_saved > EXACT_MAX:
            n_alive = sum(len(parts[i]) for i in saved)
            share = n_saved / max(n_alive, 1)
            k = int(min(ANN_MAX_K, math.ceil(want * ANN_RERANK / max(share, 1e-9))))
            sp, sm = [parts[i] for i in saved], [masks[i] for i in saved]
            while True:
                ids, _ = ann.search(qvec, k)
                ids = ids[self._allowed(sp, sm, ids)]
                if len(ids) >= min(want, n_saved):
                    break
                if k >= ANN_MAX_K:  # the filter keeps shots far from this one: go exact
                    ids = None
                    break
                k = min(ANN_MAX_K, k * 8)  # the filter and the neighbourhood disagree: look wider
            if ids is not None:
                ids, sims = self._rerank(sp, ids, qvec)
                rest = [i for i in range(len(parts)) if i not in saved]
                if rest:
                    ei, es = _exact([parts[i] for i in rest], [masks[i] for i in rest], qvec, want)
                    ids, sims = np.concatenate([ids, ei]), np.concatenate([sims, es])
                    order = np.lexsort((ids, -sims))
                    ids, sims = ids[order], sims[order]
                return ids[:want], sims[:want], total
            notes.append("few of the nearest shots match the query: similarity computed exactly")
        ids, sims = _exact(parts, masks, qvec, want)
        return ids, sims, total

    def _rerank(self, parts, ids: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact cosine of ANN candidates (the catalog's int8 vectors), best first."""
        sims = np.full(len(ids), -np.inf, np.float32)
        for p in parts:
            if not p.vecs.shape[1]:
                continue
            inside, r = _locate(p, ids)
            inside = np.flatnonzero(inside)
            if len(inside):
                r = r[inside]
                sims[inside] = (np.asarray(p.vecs[r], np.float32) @ q) * np.asarray(p.vmul)[r]
        order = np.lexsort((ids, -sims))
        order = order[np.isfinite(sims[order])]
        return ids[order], sims[order]

    def _allowed(self, parts, masks, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the query matched (and are still in the catalog)."""
        keep = np.zeros(len(ids), bool)
        for p, m in zip(parts, masks):
            inside, pos = _locate(p, ids)
            keep[inside] |= m[pos[inside]]
        return keep

    # --- helpers -------------------------------------------------------------------------------
    def _media_matching(self, text: str) -> np.ndarray:
        a = self._media_cache.get(text)
        if a is None:
            a = self._media_cache[text] = np.array(self.cat.media_ids_matching(text), np.int32)
        return a

    def _dim(self) -> int:
        if self.where == "sql" and getattr(self.cat, "pgvector_ready", False):
            return self.cat._vector_table(self.cat.con) or 0  # (no index to build for it)
        return self.index.dim

    def _like_vector(self, like) -> np.ndarray:
        if isinstance(like, np.ndarray) or (
            isinstance(like, (list, tuple)) and like and isinstance(like[0], (int, float))
        ):
            v = np.asarray(like, np.float32).ravel()
            what = "the --like vector"
        elif isinstance(like, (int, np.integer)) and not isinstance(like, bool):
            v = self.cat.embedding(int(like))
            if v is None:
                exists = self.cat.shot_rows([int(like)])
                raise QueryError(
                    f"shot {int(like)} has no embedding" if exists else f"shot {int(like)} is not in the catalog"
                )
            what = f"shot {int(like)}"
        elif isinstance(like, (str, os.PathLike)):
            s = os.fspath(like)
            if isinstance(s, str) and s.strip().isdigit() and not os.path.exists(s):
                return self._like_vector(int(s))
            v = self.embedder.embed(s)
            what = str(s)
        else:
            raise QueryError(f"--like takes an embedding, a shot id or an image path, not {type(like).__name__}")
        if not np.all(np.isfinite(v)):
            raise QueryError(f"{what}: the embedding has non-finite values")
        norm = float(np.linalg.norm(v))
        if norm == 0:
            raise QueryError(f"{what}: the embedding is all zeros")
        dim = self._dim()
        if dim and len(v) != dim:
            raise QueryError(f"{what}: embedding has {len(v)} values, the catalog's have {dim}")
        return (v / norm).astype(np.float32)


def _locate(part: Part, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ``ids`` are rows of ``part`` (its ids are sorted), and their row positions."""
    pid = np.asarray(part.ids)
    if not len(pid):
        return np.zeros(len(ids), bool), np.zeros(len(ids), np.int64)
    pos = np.minimum(np.searchsorted(pid, ids), len(pid) - 1)
    return pid[pos] == ids, pos


def _no_score(scores) -> bool:
    return all(s is None for s in scores)


def _top(key: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest ``key`` values, ties broken by id (stable across pages)."""
    n = len(key)
    if k < n // 4:
        cand = np.argpartition(key, k)[: k + 1] if k < n else np.arange(n)
        # every value below the k-th, and of its ties those of the smallest ids: the same page
        # as a full sort by (key, id), however many shots tie (the SQL path orders so too)
        kth = key[cand].max()
        less, ties = np.flatnonzero(key < kth), np.flatnonzero(key == kth)
        need = k - len(less)
        if len(ties) > need:
            ties = ties[np.argpartition(ids[ties], need - 1)[:need]] if need > 0 else ties[:0]
        cand = np.concatenate([less, ties])
    else:
        cand = np.arange(n)
    order = cand[np.lexsort((ids[cand], key[cand]))]
    return order[:k]


def _exact(parts, masks, q: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine top-``want`` over the masked rows: SIMD brute force over the int8 vectors
    (usearch; cosine ignores each row's scale, so int8 rows rank as their float originals),
    then the best ``2 * want`` re-scored in float32. numpy fallback without usearch."""
    try:
        from usearch.index import MetricKind, search as brute
    except ImportError:  # pragma: no cover - usearch is a dependency
        brute = None
    q8 = np.round(q / max(float(np.abs(q).max()), 1e-12) * 127).astype(np.int8)
    all_ids, all_sims = [], []
    for p, m in zip(parts, masks):
        if not p.vecs.shape[1] or not m.any():
            continue
        vmul = np.asarray(p.vmul)
        idx = np.flatnonzero(m & (vmul > 0))
        if not len(idx):
            continue
        k = min(len(idx), 2 * want)
        if brute is not None:
            rows = np.asarray(p.vecs) if len(idx) == len(p) else np.asarray(p.vecs[idx])
            found = brute(rows, q8, k, MetricKind.Cos, exact=True, threads=0)
            cand = np.asarray(found.keys, np.int64)[:k]
            cand = idx[cand] if len(idx) != len(p) else cand
        else:
            sims = np.concatenate(
                [
                    (np.asarray(p.vecs[idx[s : s + 4096]], np.float32) @ q) * vmul[idx[s : s + 4096]]
                    for s in range(0, len(idx), 4096)
                ]
            )
            cand = idx[np.argpartition(-sims, k - 1)[:k]] if k < len(idx) else idx
        cand = np.sort(cand)
        sims = (np.asarray(p.vecs[cand], np.float32) @ q) * vmul[cand]
        all_ids.append(np.asarray(p.ids)[cand])
        all_sims.append(sims.astype(np.float32))
    if not all_ids:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    ids, sims = np.concatenate(all_ids), np.concatenate(all_sims)
    order = np.lexsort((ids, -sims))[:want]
    return ids[order], sims[order]


class ImageEmbedder:
    """Backbone embeddings of image files (``--like IMAGE``); the network loads on first use and
    belongs to this object (a :class:`SearchEngine` keeps one), not to the module."""

    def __init__(self):
        self._net = None
        self._lock = threading.Lock()

    def embed(self, path: str | os.PathLike) -> np.ndarray:
        """The CinemaNet backbone embedding of an image file (unit length). Raises QueryError."""
        p = Path(path)
        if not p.is_file():
            raise QueryError(f"{p}: no such image file (--like takes an image path or a shot id)")
        from ..media import ImageReadError, load_image

        with self._lock:
            if self._net is None:
                from ..concepts import model_spec
                from ..perception import Perception

                # only the backbone, viewed as the default model (and so `analyze`) views it: faces,
                # pose and text would cost seconds and change nothing here
                opts = dict(model_spec("default").analyzer_options.get("backbone", {}), threads=1)
                self._net = Perception(["backbone"], {"backbone": opts})
            try:
                ev = self._net.perceive(load_image(str(p)))
            except ImageReadError as e:
                raise QueryError(f"{p}: {e}") from None
        if ev.embedding is None:
            raise QueryError(f"{p}: the model gives no embedding")
        v = np.asarray(ev.embedding, np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-9)


def embed_image(path: str | os.PathLike, embedder: ImageEmbedder | None = None) -> np.ndarray:
    """The backbone embedding of an image file (unit length), with ``embedder`` or a new one."""
    return (embedder or ImageEmbedder()).embed(path)


__all__ = ["Hit", "ImageEmbedder", "Query", "QueryError", "SearchEngine", "SearchResult", "embed_image"]
