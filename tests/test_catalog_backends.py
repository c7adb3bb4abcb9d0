"""One contract suite for every catalog backend: SQLite always, PostgreSQL where a server can be
started (a throwaway cluster, or $CINEMANET_TEST_POSTGRES); skipped with the reason otherwise.
Also the faults: a dropped connection mid-import, two writers importing one sidecar at once,
an older schema version, and ``catalog copy`` between backends."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from typer.testing import CliRunner

import pgserver
from cinemanet.catalog import CatalogError, open_catalog, schema
from cinemanet.catalog.copy import catalog_digest, copy_catalog
from cinemanet.interfaces.cli import app
from cinemanet.search.engine import SearchEngine
from cinemanet.search.index import SearchIndex
from test_catalog import _doc

runner = CliRunner()


@pytest.fixture(scope="session")
def pg():
    try:
        srv = pgserver.start()
    except RuntimeError as e:
        pytest.skip(f"no PostgreSQL server: {e}")
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path, monkeypatch):
    """A fresh catalog target (a file or a URL to an empty database) of each backend."""
    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    if request.param == "sqlite":
        return str(tmp_path / "c.sqlite")
    return request.getfixturevalue("pg").create_db()


def test_url_picks_the_backend(target):
    with open_catalog(target) as cat:
        assert type(cat).__name__ == ("PostgresCatalog" if target.startswith("postgresql://") else "Catalog")
        assert cat.storage_info()["schema_version"] == schema.SCHEMA_VERSION


def test_import_replace_skip_remove(target):
    with open_catalog(target) as cat:
        doc = _doc("/v/a.mp4", 5, "a" * 64)
        assert cat.import_sidecar(doc) == 5
        assert cat.import_sidecar(doc) == 5
        assert cat.counts() == (1, 5)
        assert cat._import(doc, None, True)[2] is True  # unchanged: skipped
        cat.import_sidecar(_doc("/v/a.mp4", 3, "b" * 64))  # a new analysis of the same path
        assert cat.counts() == (1, 3)
        cat.import_sidecar(_doc("/v/b.mp4", 4, "c" * 64, seed=1))
        mids = [m.id for m in cat.media_list()]
        assert [m.path for m in cat.media_list()] == ["/v/a.mp4", "/v/b.mp4"]
        assert cat.media_ids_matching("A.MP4") == [mids[0]]  # case-insensitive, like SQLite's LIKE
        first = cat.shot_ids(mids[0])
        assert cat.find_shot("a.mp4", 1) == first[1]
        assert cat.remove_media([mids[0]]) == 1
        assert cat.counts() == (1, 4)
        assert set(cat.tombstones(0)) >= set(first)
        assert cat.integrity() == []


def test_bad_input_writes_nothing(target):
    with open_catalog(target) as cat:
        doc = _doc("/v/a.mp4", 3, "a" * 64)
        doc["shots"][2]["start_time"] = "soon"
        with pytest.raises(CatalogError, match="start_time"):
            cat.import_sidecar(doc)
        assert cat.counts() == (0, 0)


def test_shots_and_search_agree_across_backends(tmp_path, pg, monkeypatch):
    """The same sidecars give the same shot contracts and the same search answers on both backends."""
    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    answers = []
    for tgt in (str(tmp_path / "c.sqlite"), pg.create_db()):
        with open_catalog(tgt) as cat:
            for v in range(3):
                cat.import_sidecar(_doc(f"/v/{v}.mp4", 6, f"{v:064x}", seed=v))
            eng = SearchEngine(cat)
            out = []
            for q in ("night", "day duration>0.5 sort:duration", "-twilight sort:brightness:asc", ""):
                r = eng.search(q, limit=50)
                out.append((r.total, [h.shot_id for h in r.hits]))
            like = eng.search("night", like=cat.shot_ids(1)[0], limit=5)
            out.append([(h.shot_id, round(h.score, 5)) for h in like.hits])
            shots = cat.shots(range(1, 19))
            answers.append((out, shots, [(m.path, m.sha256, m.shot_count, m.video) for m in cat.media_list()]))
    assert answers[0] == answers[1]


def test_index_stays_in_sync_on_postgres(tmp_path, pg, monkeypatch):
    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    url = pg.create_db()
    with open_catalog(url) as cat:
        cat.import_sidecar(_doc("/v/a.mp4", 4, "a" * 64))
        idx = SearchIndex(cat)
        idx.refresh()
        idx.save()
        assert len(idx) == 4 and idx.folder.is_dir() and str(tmp_path) in str(idx.folder)
        cat.import_sidecar(_doc("/v/b.mp4", 3, "b" * 64))
        cat.remove_media([cat.media_list()[0].id])
    with open_catalog(url, readonly=True) as cat:  # another process: the saved index plus what changed
        idx2 = SearchIndex(cat)
        idx2.refresh()
        assert len(idx2) == 3
        with pytest.raises(CatalogError, match="read-only"):
            cat.remove_media([1])


def test_connection_dropped_during_import_rolls_back(tmp_path, pg, monkeypatch):
    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    url = pg.create_db()
    cat = open_catalog(url)
    cat.import_sidecar(_doc("/v/a.mp4", 4, "a" * 64))
    real = type(cat)._insert_shots

    def dropped(self, con, media_id, rows):
        real(self, con, media_id, rows[: len(rows) // 2])  # half the shots written, then the network goes
        pg.terminate(url)
        real(self, con, media_id, rows[len(rows) // 2 :])

    monkeypatch.setattr(type(cat), "_insert_shots", dropped)
    with pytest.raises(CatalogError, match="cannot write the catalog"):
        cat.import_sidecar(_doc("/v/b.mp4", 6, "b" * 64))
    monkeypatch.setattr(type(cat), "_insert_shots", real)
    with open_catalog(url) as other:
        assert other.counts() == (1, 4) and other.integrity() == []  # the half video rolled back
    assert cat.import_sidecar(_doc("/v/b.mp4", 6, "b" * 64)) == 6  # the next attempt reconnects and succeeds
    assert cat.counts() == (2, 10) and cat.integrity() == []
    cat.close()


def test_two_writers_one_sidecar_give_one_row_set(target):
    doc = _doc("/v/same.mp4", 40, "e" * 64)
    open_catalog(target).close()
    start = threading.Barrier(4)
    errors = []

    def write():
        try:
            with open_catalog(target) as cat:  # a connection (SQLite: a file handle) of its own
                start.wait()
                for _ in range(3):
                    cat.import_sidecar(doc)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with open_catalog(target) as cat:
        assert cat.counts() == (1, 40)
        assert len(cat.shot_ids(cat.media_list()[0].id)) == 40
        assert cat.integrity() == []


def test_newer_schema_and_foreign_tables_refused_on_postgres(tmp_path, pg, monkeypatch):
    import psycopg

    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    url = pg.create_db()
    with open_catalog(url) as cat:
        cat.import_sidecar(_doc("/v/a.mp4", 2, "a" * 64))
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(schema.SCHEMA_VERSION + 1),))
    with pytest.raises(CatalogError, match="newer than this CinemaNet supports"):
        open_catalog(url)
    other = pg.create_db()
    with psycopg.connect(other, autocommit=True) as c:
        c.execute("CREATE TABLE shots (x int)")
    with pytest.raises(CatalogError, match="not a CinemaNet catalog"):
        open_catalog(other)


def test_older_schema_is_migrated(target, monkeypatch):
    """A catalog written at the current version is migrated by a (simulated) next version's
    migration on open, data kept; read-only opening asks for the migration instead."""
    from cinemanet.catalog import postgres

    with open_catalog(target) as cat:
        cat.import_sidecar(_doc("/v/a.mp4", 3, "a" * 64))
    v = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", v + 1)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ["ALTER TABLE media ADD COLUMN note TEXT"]])
    monkeypatch.setattr(postgres, "MIGRATIONS", [*postgres.MIGRATIONS, ["ALTER TABLE media ADD COLUMN note TEXT"]])
    with pytest.raises(CatalogError, match="open it once without read-only to migrate"):
        open_catalog(target, readonly=True)
    with open_catalog(target) as cat:
        assert cat.storage_info()["schema_version"] == v + 1
        assert cat.counts() == (1, 3)
        assert cat.con.execute("SELECT note FROM media").fetchone()[0] is None
    with open_catalog(target) as cat:  # migrated once: opening again changes nothing
        assert cat.storage_info()["schema_version"] == v + 1


def test_copy_is_lossless_both_ways(tmp_path, pg, monkeypatch):
    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    src = str(tmp_path / "src.sqlite")
    with open_catalog(src) as cat:
        for v in range(3):
            cat.import_sidecar(_doc(f"/v/{v}.mp4", 5, f"{v:064x}", seed=v))
        cat.remove_media([2])  # ids with a gap must survive
        cat.import_sidecar(_doc("/v/9.mp4", 2, "9" * 64, seed=9))
        want = catalog_digest(cat)
        ids = cat.shot_ids(4)
    url = pg.create_db()
    r = copy_catalog(src, url)
    assert (r.media, r.shots, r.digest) == (3, 12, want)
    back = str(tmp_path / "back.sqlite")
    res = runner.invoke(app, ["catalog", "copy", url, back])
    assert res.exit_code == 0, res.output
    with open_catalog(back) as a, open_catalog(url) as b:
        assert catalog_digest(a) == want == catalog_digest(b)
        assert a.shot_ids(4) == ids == b.shot_ids(4)
        assert np.array_equal(a.embedding(ids[0]), b.embedding(ids[0]))
        b.import_sidecar(_doc("/v/10.mp4", 1, "f" * 64))  # the id sequence moved past the copied ids
        assert b.max_shot_id() > max(ids)
    res = runner.invoke(app, ["catalog", "copy", src, url])  # not empty any more
    assert res.exit_code == 1 and "not empty" in res.output


def test_cli_takes_a_url_not_a_path(tmp_path, pg, monkeypatch):
    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    url = pg.create_db()
    with open_catalog(url) as cat:
        cat.import_sidecar(_doc("/v/a.mp4", 3, "a" * 64))
    res = runner.invoke(app, ["catalog", "status", "--catalog", url, "--json"])
    assert res.exit_code == 0, res.output
    assert '"backend": "postgresql"' in res.output and '"shots": 3' in res.output
    res = runner.invoke(app, ["search", "night", "--catalog", url, "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    assert not any(p.name.startswith("postgres") for p in tmp_path.iterdir())  # never a file named after the URL
    res = runner.invoke(app, ["catalog", "status", "--catalog", "mysql://h/db"])
    assert res.exit_code == 2 and "mysql:// catalogs are not supported" in res.output


def test_web_app_over_postgres(tmp_path, pg, monkeypatch):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from cinemanet.interfaces.web import create_app

    monkeypatch.setenv("CINEMANET_INDEX_DIR", str(tmp_path / "cache"))
    url = pg.create_db()
    with open_catalog(url) as cat:
        cat.import_sidecar(_doc("/v/a.mp4", 3, "a" * 64))
    with TestClient(create_app(url)) as tc:
        stats = tc.get("/api/v1/stats").json()
        assert (stats["shots"], stats["read_only"]) == (3, True)
        assert tc.get("/api/v1/search", params={"q": "night"}).status_code == 200
