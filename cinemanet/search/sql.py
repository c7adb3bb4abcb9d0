"""The query language compiled to SQL (PostgreSQL): a query runs on the server, over the
catalog's own rows, with no index to build or keep in sync.

:func:`compile_query` turns a parsed :class:`~cinemanet.search.query.Query` into one
``SELECT`` that gives the same shots, the same scores and the same order as the columnar
index (``search/engine.py``), term for term:

- a label term reads the label's score from the row's ``scores`` (float16, little-endian, one
  per label position; decoded in SQL) as the index stores it, ``round(score * 255)``; a bare
  label is a tag of the shot or the label picked for its group (``tags``, ``picks``);
- numeric fields compare in single precision (``real``), as the index's float32 columns do;
- AND averages its children's scores, OR takes the best of the branches that matched, in
  single precision, in the same order of operations; the page is ordered as the index orders
  it (score, then id; or the sort key, then id; ``sort:time`` by video, start, id).

Every term is two-valued (never NULL), so NOT means what it means in the index.
``tests/test_search_sql.py`` checks the two paths give the same page and total for random
queries (hypothesis) on a PostgreSQL catalog. Similarity (``like``) is compiled to an ORDER BY
over pgvector's HNSW index where the catalog uses pgvector (:func:`compile_like`; not run here
against such a server), else served by the ANN index (see ``catalog/postgres.py``).
"""

from __future__ import annotations

import time

import numpy as np

from .engine import Hit, SearchResult
from .query import And, Field, File, Label, Not, Or, Query, QueryError, request

_F32_MAX = float(np.finfo(np.float32).max)
_SORT_FIELDS = {"duration": "duration", "brightness": "brightness", "motion": "motion"}


def score_sql(pos: str, col: str = "s.scores") -> str:
    """SQL for the index's uint8 score of label position ``pos`` (SQL) from the float16 scores
    in BYTEA ``col``: round(score * 255) clipped to 0..255, 0 past the end of the row."""
    b = f"(get_byte({col}, 2 * ({pos})) + 256 * get_byte({col}, 2 * ({pos}) + 1))"
    e, m = f"(({b} >> 10) & 31)", f"({b} & 1023)"
    half = f"(CASE WHEN {e} = 0 THEN {m} * 2::float8 ^ (-24) ELSE (1024 + {m}) * 2::float8 ^ ({e} - 25) END)"
    return (
        f"(CASE WHEN length({col}) < 2 * ({pos}) + 2 THEN 0 WHEN {b} >= 32768 THEN 0 "
        f"WHEN {e} = 31 THEN 255 ELSE least(255, round({half} * 255))::int END)"
    )


def ids_sql(col: str, width: int) -> str:
    """SQL for the uint16 label ids at the start of each ``width``-byte entry of BYTEA ``col``."""
    return (
        f"SELECT get_byte({col}, {width} * i) + 256 * get_byte({col}, {width} * i + 1) AS x "
        f"FROM generate_series(0, length({col}) / {width} - 1) i"
    )


#: the search side table (PostgreSQL, derived, outside the versioned schema): per shot its
#: label scores as the index stores them and its tags (tags and group picks) as label ids
SEARCH_TABLE_DDL = (
    "CREATE TABLE shot_search (shot_id BIGINT PRIMARY KEY REFERENCES shots(id) ON DELETE CASCADE, "
    "sc SMALLINT[] NOT NULL, tg SMALLINT[] NOT NULL)",
    "CREATE INDEX shot_search_tg ON shot_search USING gin (tg)",
)


def search_rows_sql(n_labels: int) -> str:
    """INSERT of the side-table rows of every shot newer than the table's largest id."""
    sc = f"ARRAY(SELECT {score_sql('i')} FROM generate_series(0, least({int(n_labels)}, length(s.scores) / 2) - 1) i ORDER BY i)"
    tg = (
        f"ARRAY(SELECT DISTINCT u.x FROM ({ids_sql('s.tags', 2)} UNION ALL {ids_sql('s.picks', 4)}) u "
        f"WHERE u.x < 32768 ORDER BY u.x)"
    )
    return (
        f"INSERT INTO shot_search(shot_id, sc, tg) SELECT s.id, {sc}::smallint[], {tg}::smallint[] FROM shots s "
        f"WHERE s.id > (SELECT coalesce(max(shot_id), 0) FROM shot_search)"
    )


class _Compiler:
    """``table``: read scores and tags from ``shot_search`` (alias ``t``); else decode them
    from the shot rows' own BYTEA columns (slow: every row's bytes, for a catalog whose side
    table is behind and cannot be brought up to date, read-only)."""

    def __init__(self, space, table: bool = True):
        self.space = space
        self.table = table
        self.lateral: dict[int, str] = {}  # label position -> alias of its decoded score

    @staticmethod
    def p(v) -> str:
        """A literal: numbers exactly (repr round-trips a float), text quoted. Inline rather
        than bound, since a node's SQL may appear twice (an OR branch's mask and its score)."""
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"  # (standard_conforming_strings: backslashes are plain)
        return f"'{float(v)!r}'::float8"

    def score(self, pos: int) -> str:
        """The index's uint8 score of label ``pos``: round(float16 * 255), clipped to 0..255."""
        if self.table:
            return f"COALESCE(t.sc[{pos + 1}], 0)"  # (a row shorter than the taxonomy: 0, as the index pads)
        if pos not in self.lateral:
            self.lateral[pos] = f"l{len(self.lateral)}"
        return f"{self.lateral[pos]}.sc"

    def source(self) -> str:
        """The FROM clause."""
        if self.table:
            return "shots s JOIN shot_search t ON t.shot_id = s.id"
        return "shots s" + "".join(
            f" CROSS JOIN LATERAL (SELECT {score_sql(str(pos))} AS sc) {a}" for pos, a in self.lateral.items()
        )

    def tag(self, pos: int) -> str:
        if self.table:
            return f"(t.tg @> ARRAY[{pos}]::smallint[])"
        return (
            f"(EXISTS (SELECT 1 FROM ({ids_sql('s.tags', 2)}) u WHERE u.x = {pos})"
            f" OR EXISTS (SELECT 1 FROM ({ids_sql('s.picks', 4)}) u WHERE u.x = {pos}))"
        )

    def run(self, n) -> tuple[str, str | None]:
        """(boolean SQL, score SQL as real or None) of node ``n``."""
        if isinstance(n, Label):
            pos = self.space.pos(n.key)
            if pos is None:
                return "false", None
            sc = self.score(pos)
            if n.op is None:
                return self.tag(pos), f"{sc}::real"
            v = float(n.value) * 255.0
            if n.op == "=":  # scores are stored to 1/255
                return f"(abs({sc}::real - {self.p(v)}::real) <= 0.5::real)", f"{sc}::real"
            return f"({sc}::float8 {n.op} {self.p(v)}::float8)", f"{sc}::real"
        if isinstance(n, Field):
            v = min(max(float(n.value), -_F32_MAX), _F32_MAX)
            col = f"s.{n.name}::real"
            if n.op == "=":
                x = self.p(v)
                return f"(abs({col} - {x}::real) <= 0.001::real OR {col} = {x}::real)", None
            return f"({col} {n.op} {self.p(v)}::real)", None
        if isinstance(n, File):
            like = "%" + n.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            return f"(s.media_id IN (SELECT id FROM media WHERE path ILIKE {self.p(like)} ESCAPE '\\'))", None
        if isinstance(n, Not):
            m, _ = self.run(n.child)
            return f"(NOT {m})", None
        if isinstance(n, And):
            ms, ss = [], []
            for c in n.children:
                m, s = self.run(c)
                ms.append(m)
                if s is not None:
                    ss.append(s)
            score = None
            if ss:
                acc = ss[0]
                for s in ss[1:]:
                    acc = f"({acc} + {s})"
                score = f"({acc} / {len(ss)}::real)"
            return "(" + " AND ".join(ms) + ")", score
        if isinstance(n, Or):
            ms, ss = [], []
            for c in n.children:
                m, s = self.run(c)
                ms.append(m)
                if s is not None:
                    ss.append(f"(CASE WHEN {m} THEN {s} ELSE 0::real END)")
            score = None
            if ss:
                score = ss[0] if len(ss) == 1 else f"greatest({', '.join(ss)})"
            return "(" + " OR ".join(ms) + ")", score
        raise QueryError(f"cannot compile {n!r}")  # pragma: no cover - the parser makes no other nodes


def compile_query(
    q: Query, space, *, sort_key: str | None, desc: bool, limit: int, offset: int, table: bool = True
) -> tuple[str, str]:
    """(page SQL, count SQL) for ``q``. The page query returns ``(id, score, total)`` rows,
    best first (``total``: every match, counted in the same scan); the count query is for a
    page past the end."""
    c = _Compiler(space, table)
    where, score = c.run(q.expr) if q.expr is not None else ("true", None)
    where = f"COALESCE({where}, false)"
    conf = f"({score} / 255::real)" if score is not None else "s.confidence::real"
    if sort_key in (None, "confidence") and not (sort_key is None and score is None):
        order = f"conf {'DESC' if (desc or sort_key is None) else 'ASC'}, s.id"
    elif sort_key is None:
        order = "s.id"
    elif sort_key == "time":
        d = "DESC" if desc else "ASC"
        order = f"s.media_id {d}, s.start_time::real {d}, s.id"
    else:
        order = f"s.{_SORT_FIELDS[sort_key]}::real {'DESC' if desc else 'ASC'}, s.id"
    base = f"FROM {c.source()} WHERE {where}"
    page = (
        f"SELECT s.id, {conf} AS conf, count(*) OVER () {base} ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    count = f"SELECT count(*) {base}"
    return page, count


def compile_like(q: Query, space, qvec: np.ndarray, *, limit: int, offset: int, table: bool = True) -> tuple[str, str]:
    """(page SQL, count SQL) ranking the shots ``q`` matches by cosine similarity to the unit
    vector ``qvec`` through pgvector's HNSW index on ``shot_vectors`` (see catalog/postgres.py)."""
    c = _Compiler(space, table)
    where, _ = c.run(q.expr) if q.expr is not None else ("true", None)
    where = f"COALESCE({where}, false)"
    vec = "'[" + ",".join(repr(float(x)) for x in np.asarray(qvec, np.float32)) + "]'::vector"
    src = c.source()
    page = (
        f"SELECT s.id, (1 - (sv.v <=> {vec}))::real AS sim FROM {src} JOIN shot_vectors sv ON sv.shot_id = s.id"
        f" WHERE {where} ORDER BY sv.v <=> {vec}, s.id LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    return page, f"SELECT count(*) FROM {src} WHERE {where}"


def search_sql(
    catalog,
    query: str = "",
    *,
    limit: int = 50,
    offset: int = 0,
    sort: str | None = None,
    like_vector: np.ndarray | None = None,
) -> SearchResult:
    """:meth:`SearchEngine.search`, run on the PostgreSQL server; ``like_vector`` (a unit
    vector) ranks by similarity through pgvector (``catalog.pgvector_ready`` must be true)."""
    t0 = time.perf_counter()
    q, sort_key, desc, limit, offset = request(query, limit, offset, sort)
    notes = list(q.notes)
    raw = catalog.con.raw
    table = catalog.search_table_ready()
    if not table:
        notes.append("the search side table is behind (read-only): scores decoded row by row, slowly")
    if like_vector is not None:
        if not getattr(catalog, "pgvector_ready", False):
            raise QueryError("similarity in SQL needs pgvector on the server")
        if sort_key not in (None, "confidence"):
            notes.append(f"sort:{sort_key} ignored: --like ranks by similarity")
        page, count = compile_like(q, catalog.space, like_vector, limit=limit, offset=offset, table=table)
        with raw.transaction():
            ver = raw.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            raw.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(40, 2 * (limit + offset)))}")
            if ver and tuple(int(x) for x in str(ver[0]).split(".")[:2]) >= (0, 8):
                raw.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")  # filtered: keep scanning
            rows = raw.execute(page).fetchall() if limit else []
            total = int(raw.execute(count).fetchone()[0])
        rows.sort(key=lambda r: (-r[1], r[0]))  # (relaxed order: exact among what was found)
        hits = [Hit(int(i), round(float(s), 6)) for i, s in rows]
    else:
        page, count = compile_query(
            q, catalog.space, sort_key=sort_key, desc=desc, limit=limit, offset=offset, table=table
        )
        with raw.transaction():  # one snapshot: the page and the total agree
            rows = raw.execute(page).fetchall() if limit else []
            total = int(rows[0][2]) if rows else int(raw.execute(count).fetchone()[0])
        hits = [Hit(int(r[0]), round(float(np.float32(r[1])), 4)) for r in rows]
    return SearchResult(
        hits, total, str(q) if (query or "").strip() else "", (time.perf_counter() - t0) * 1000.0, notes
    )


__all__ = ["SEARCH_TABLE_DDL", "compile_like", "compile_query", "search_rows_sql", "search_sql"]
