"""The query language compiled to SQL on PostgreSQL (``search/sql.py``) gives the same total,
the same page (ids, order, scores) as the columnar index, for random queries (hypothesis) over
a synthetic catalog. Skipped where no PostgreSQL server can be started."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgserver
from cinemanet.catalog import open_catalog
from cinemanet.search.engine import SearchEngine
from cinemanet.search.query import QueryError
from cinemanet.search.sql import search_sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(scope="module")
def pgcat(tmp_path_factory):
    from catalog_gen import synthetic_sidecar

    try:
        srv = pgserver.start()
    except RuntimeError as e:
        pytest.skip(f"no PostgreSQL server: {e}")
    import os

    os.environ["CINEMANET_INDEX_DIR"] = str(tmp_path_factory.mktemp("idx"))
    url = srv.create_db()
    cat = open_catalog(url)
    for v in range(4):
        cat.import_sidecar(
            synthetic_sidecar(f"/footage/reel{v}_{'night' if v % 2 else 'day'}.mp4", 120, seed=v, dim=16)
        )
    cat.remove_media([cat.media_list()[1].id])  # deleted shots: tombstones on the index side
    cat.import_sidecar(synthetic_sidecar("/footage/late.mp4", 40, seed=9, dim=16))
    eng = SearchEngine(cat)
    # the labels the rows carry (and some they don't): what queries are made of
    from cinemanet.taxonomy import get_taxonomy

    used = sorted({t for s in cat.shots(range(1, 600)) for t in s["tags"]})[:40]
    used += [g.keys[-1] for g in get_taxonomy().groups][:6]  # and some that are rarely or never tags
    yield cat, eng, used
    cat.close()
    srv.stop()


SEEN: list[tuple[int, int, int]] = []  # (total, hits, distinct scores) of each random query


def _terms(labels):
    lab = st.sampled_from(labels)
    op = st.sampled_from([">", ">=", "<", "<=", "="])
    score = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.8, 1.0, 0.333])
    field = st.sampled_from(["duration", "brightness", "motion", "confidence", "start"])
    fval = st.sampled_from([0, 0.5, 1, 2, 3.5, 10, 0.05, 0.3, 1e39])
    return st.one_of(
        lab,
        st.builds(lambda k, o, v: f"{k}{o}{v:g}", lab, op, score),
        st.builds(lambda f, o, v: f"{f}{o}{v:g}", field, op, fval),
        st.sampled_from(["file:night", "file:reel3", "file:nothing"]),
    )


def _queries(labels):
    leaf = _terms(labels)
    expr = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a} {b})", inner, inner),
            st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
            st.builds(lambda a: f"-({a})", inner),
        ),
        max_leaves=6,
    )
    sort = st.sampled_from(
        [
            "",
            " sort:confidence",
            " sort:duration",
            " sort:time:desc",
            " sort:brightness:asc",
            " sort:motion",
            " sort:time",
        ]
    )
    return st.builds(lambda e, s: e + s, st.one_of(expr, st.just("")), sort)


@pytest.mark.parametrize("table", [True, False], ids=["side-table", "row-bytes"])
def test_fixed_queries_agree(pgcat, monkeypatch, table):
    """Both SQL forms: over the search side table, and decoding each row's own bytes (what a
    read-only catalog whose side table is behind falls back to)."""
    cat, eng, labels = pgcat
    if not table:
        monkeypatch.setattr(cat, "search_table_ready", lambda: False)
    queries = ("", labels[0], f"-{labels[1]} sort:duration", f"{labels[0]} OR {labels[2]}>0.3", "duration>1 sort:time")
    for q in (*queries, f"({labels[4]} {labels[5]}=0.25) OR -file:reel3 sort:confidence:asc"):
        a, b = eng.search(q, limit=40), search_sql(cat, q, limit=40)
        assert (a.total, [(h.shot_id, h.score) for h in a.hits]) == (b.total, [(h.shot_id, h.score) for h in b.hits]), q
        assert ("behind" in " ".join(b.notes)) is not table
    assert eng.search(labels[0]).total > 0
    assert search_sql(cat, labels[0], offset=10_000).total == eng.search(labels[0]).total  # (a page past the end)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_queries_agree(pgcat, data):
    cat, eng, labels = pgcat
    q = data.draw(_queries(labels))
    offset = data.draw(st.sampled_from([0, 0, 7, 150]))
    try:
        a = eng.search(q, limit=25, offset=offset)
    except QueryError:
        with pytest.raises(QueryError):
            search_sql(cat, q, limit=25, offset=offset)
        return
    b = search_sql(cat, q, limit=25, offset=offset)
    SEEN.append((a.total, len(a.hits), len({h.score for h in a.hits})))
    assert a.total == b.total, q
    assert [(h.shot_id, h.score) for h in a.hits] == [(h.shot_id, h.score) for h in b.hits], q


def test_random_queries_were_not_trivial():
    """(runs after the random queries) most matched something; many pages had varied scores"""
    if not SEEN:
        pytest.skip("the random queries did not run")
    assert sum(t > 0 for t, _, _ in SEEN) >= len(SEEN) // 3
    assert sum(d > 3 for _, _, d in SEEN) >= len(SEEN) // 5


def test_engine_and_cli_run_the_sql_path(pgcat, tmp_path):
    from typer.testing import CliRunner

    from cinemanet.interfaces.cli import app

    cat, eng, labels = pgcat
    sql = SearchEngine(cat, where="sql")
    assert sql._index is None  # no index built for plain queries
    q = f"{labels[0]} OR {labels[3]} sort:duration"
    a, b = eng.search(q, limit=10), sql.search(q, limit=10)
    assert [(h.shot_id, h.score) for h in a.hits] == [(h.shot_id, h.score) for h in b.hits]
    first = a.hits[0].shot_id
    like = sql.search(labels[0], like=first, limit=3)  # similarity: the index, built on first use
    assert like.hits[0].shot_id == first and sql._index is not None
    res = CliRunner().invoke(app, ["search", labels[0], "--sql", "--catalog", cat.path, "-f", "jsonl", "-n", "5"])
    assert res.exit_code == 0, res.output
    assert [__import__("json").loads(x)["id"] for x in res.stdout.splitlines()] == [
        h.shot_id for h in eng.search(labels[0], limit=5).hits
    ]
    with pytest.raises(QueryError, match="PostgreSQL"):
        SearchEngine(open_catalog(str(tmp_path / "c.sqlite")), where="sql")


def test_pgvector_parts_that_run_without_it(pgcat):
    """pgvector is not in Debian's packages here: the server has no extension, the catalog says
    so and serves similarity from the ANN index; what the pgvector path shares with this server,
    the SQL reading the stored int8 embedding, gives the stored values."""
    import numpy as np

    from cinemanet.catalog.postgres import int8_array_sql

    cat, eng, labels = pgcat
    assert cat.pgvector is False and cat.pgvector_ready is False
    assert cat.storage_info()["pgvector"].startswith("not installed")
    sid = eng.search(labels[0], limit=1).hits[0].shot_id
    raw = cat.con.raw.execute(f"SELECT embedding, {int8_array_sql('embedding')} FROM shots WHERE id = {sid}").fetchone()
    assert raw[1] == np.frombuffer(raw[0], np.int8).astype(np.float32).tolist()
    with pytest.raises(QueryError, match="pgvector"):
        search_sql(cat, labels[0], like_vector=np.ones(16, np.float32) / 4)
