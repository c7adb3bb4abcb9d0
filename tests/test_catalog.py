"""The catalog: imports (idempotent, transactional, crash-safe), schema versions, prune and
relink, and the CLI (`cinemanet index`, `catalog status|prune`, `search`, `analyze --catalog`)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from cinemanet.catalog import Catalog, CatalogError, schema
from cinemanet.interfaces.cli import app
from cinemanet.schemas import SHOT_SCHEMA_FILE, shipped
from cinemanet.video.analyze import file_sha256
from cinemanet.video.sidecar import write_sidecar

from test_search import _label, make_doc, make_shot

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _doc(path: str, n_shots: int, sha: str, seed: int = 0, dim: int = 16) -> dict:
    rng = np.random.default_rng(seed)
    tods = ["night", "day", "twilight"]
    shots = [
        make_shot(
            path,
            i,
            i * 24,
            24,
            {"shot.timeofday": (_label("shot.timeofday", tods[i % 3]), 0.8)},
            emb=rng.normal(size=dim),
        )
        for i in range(n_shots)
    ]
    return make_doc(path, shots, sha)


def _sidecars(folder: Path, n: int = 3, shots: int = 4) -> list[Path]:
    """Videos (small dummy files) with sidecars next to them."""
    out = []
    for v in range(n):
        video = folder / f"clip{v}.mp4"
        video.write_bytes(os.urandom(1000 + v))
        doc = _doc(str(video), shots, file_sha256(video), seed=v)
        doc["file"]["size"] = video.stat().st_size
        sc = folder / f"clip{v}.mp4.cinemanet.json"
        write_sidecar(doc, sc)
        out.append(sc)
    return out


# ------------------------------------------------------------------------------------ library
def test_import_is_idempotent_and_replaces(tmp_path):
    cat = Catalog.open(tmp_path / "c.sqlite")
    doc = _doc("/v/a.mp4", 5, "a" * 64)
    assert cat.import_sidecar(doc) == 5
    assert cat.import_sidecar(doc) == 5
    assert cat.counts() == (1, 5)
    assert cat._import(doc, None, True)[2] is True  # unchanged: skipped
    doc2 = _doc("/v/a.mp4", 3, "b" * 64)  # a new analysis of the same path (file changed)
    cat.import_sidecar(doc2)
    assert cat.counts() == (1, 3)
    assert cat.integrity() == []
    cat.close()


def test_shots_round_trip_the_contract(tmp_path):
    cat = Catalog.open(tmp_path / "c.sqlite")
    doc = _doc("/v/a.mp4", 4, "a" * 64)
    cat.import_sidecar(doc)
    validator = jsonschema.Draft202012Validator(shipped(SHOT_SCHEMA_FILE))
    ids = cat.shot_ids(1)
    shots = cat.shots(ids)
    for orig, s in zip(doc["shots"], shots):
        s = {k: v for k, v in s.items() if k not in ("id", "media_id")}
        validator.validate(s)
        assert s["tags"] == orig["tags"] and s["start_time"] == orig["start_time"]
        for g, p in orig["groups"].items():
            assert s["groups"][g]["label"] == p["label"]
            for k, v in p["scores"].items():
                assert s["groups"][g]["scores"][k] == pytest.approx(v, abs=1e-3)  # float16
    e = cat.embedding(ids[0])
    v = np.asarray(doc["shots"][0]["embedding"])
    assert float(e @ v / np.linalg.norm(e) / np.linalg.norm(v)) > 0.999  # int8 keeps the direction
    cat.close()


def test_bad_sidecars_are_refused_whole(tmp_path):
    cat = Catalog.open(tmp_path / "c.sqlite")
    doc = _doc("/v/a.mp4", 3, "a" * 64)
    doc["shots"][2]["start_time"] = "soon"
    with pytest.raises(CatalogError, match="start_time"):
        cat.import_sidecar(doc)
    with pytest.raises(CatalogError, match="sha256"):
        cat.import_sidecar({**_doc("/v/b.mp4", 1, "b" * 64), "file": {}})
    bad = tmp_path / "x.cinemanet.json"
    bad.write_text("{not json")
    res = list(cat.index_paths([bad, tmp_path / "missing.cinemanet.json"]))
    assert [r.ok for r in res] == [False, False] and all(str(r.path) in r.path for r in res)
    assert cat.counts() == (0, 0)
    cat.close()


def test_schema_versions(tmp_path):
    p = tmp_path / "c.sqlite"
    Catalog.open(p).close()
    con = sqlite3.connect(p)
    assert schema.version(con) == schema.SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog.open(p)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(CatalogError, match="not a CinemaNet catalog"):
        Catalog.open(other)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"hello" * 100)
    with pytest.raises(CatalogError):
        Catalog.open(junk)
    with pytest.raises(CatalogError, match="no catalog"):
        Catalog.open(tmp_path / "none.sqlite", create=False)


def test_default_path_from_env(tmp_path, monkeypatch):
    from cinemanet.catalog import default_catalog_path

    monkeypatch.setenv("CINEMANET_CATALOG", str(tmp_path / "env.sqlite"))
    assert default_catalog_path() == tmp_path / "env.sqlite"
    monkeypatch.delenv("CINEMANET_CATALOG")
    assert default_catalog_path().name == "catalog.sqlite"


_CRASH_CHILD = r"""
import sys, time
sys.path.insert(0, {tests!r})
from test_catalog import _doc
from cinemanet.catalog import Catalog
cat = Catalog.open({path!r})
insert = cat._insert_shots

def slow_insert(con, media_id, rows):  # half the shots written, then stall inside the transaction
    insert(con, media_id, rows[: len(rows) // 2])
    print("half", flush=True)
    time.sleep(30)
    insert(con, media_id, rows[len(rows) // 2 :])

for v in range(1, 100):
    if v == 3:
        cat._insert_shots = slow_insert
    cat.import_sidecar(_doc(f"/v/{{v}}.mp4", 3000, f"{{v:064x}}", seed=v, dim=512))
    print("done", v, flush=True)
"""


def test_kill_during_import_leaves_no_half_video(tmp_path):
    path = tmp_path / "c.sqlite"
    code = _CRASH_CHILD.format(tests=str(ROOT / "tests"), path=str(path))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    seen = []
    try:
        for line in p.stdout:
            seen.append(line.strip())
            if line.strip() == "half":
                break
        p.send_signal(signal.SIGKILL)  # 1,500 shots of video 3 written, not committed
    finally:
        p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL and seen == ["done 1", "done 2", "half"]
    cat = Catalog.open(path)
    assert cat.integrity() == []
    assert cat.counts() == (2, 6000)
    assert cat.con.execute("SELECT count(*) FROM shots").fetchone()[0] == 6000  # no orphan rows
    assert [m.path for m in cat.media_list()] == ["/v/1.mp4", "/v/2.mp4"]
    # and the catalog goes on working: the interrupted video imports cleanly now
    cat.import_sidecar(_doc("/v/3.mp4", 3000, f"{3:064x}", seed=3, dim=512))
    assert cat.counts() == (3, 9000) and cat.integrity() == []
    cat.close()


# ---------------------------------------------------------------------------------------- CLI
def _cli(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_cli_index_search_and_formats(tmp_path):
    scs = _sidecars(tmp_path)
    import zstandard

    zst = tmp_path / "clip2.mp4.cinemanet.json.zst"  # compressed sidecars are read too
    zst.write_bytes(zstandard.ZstdCompressor().compress(scs[2].read_bytes()))
    scs[2].unlink()
    cat = tmp_path / "cat.sqlite"
    r = _cli("index", tmp_path, "--catalog", cat)
    assert r.exit_code == 0, r.output
    assert "3 videos imported (12 shots)" in r.stderr
    r = _cli("index", tmp_path, "--catalog", cat)  # idempotent
    assert r.exit_code == 0 and "0 videos imported" in r.stderr and "3 unchanged" in r.stderr
    r = _cli("index", tmp_path / "nope", scs[0], "--catalog", cat)
    assert r.exit_code == 1 and f"{tmp_path / 'nope'}: no such file or folder" in r.stderr

    r = _cli("search", "night", "--catalog", cat, "--format", "jsonl", "--limit", "100")
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 6 and all("shot.timeofday.night" in x["tags"] for x in rows)
    validator = jsonschema.Draft202012Validator(shipped(SHOT_SCHEMA_FILE))
    for x in rows:
        assert 0 < x["score"] <= 1
        validator.validate({k: v for k, v in x.items() if k not in ("score", "id")})
    first = rows[0]["id"]
    r = _cli("search", "--like", first, "--catalog", cat, "-f", "jsonl", "--limit", "3")
    assert json.loads(r.stdout.splitlines()[0])["id"] == first
    r = _cli("search", "nigth", "--catalog", cat)
    assert r.exit_code == 2 and "did you mean 'night'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli("search", "night", "--catalog", cat, "-f", "edl")
    assert r.exit_code == 0 and r.stdout.startswith("TITLE: night") and r.stdout.count("* SOURCE FILE:") == 6
    r = _cli("search", "night", "--catalog", cat, "-f", "otio", "-o", tmp_path / "r.otio")
    assert r.exit_code == 0
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(tmp_path / "r.otio"))
    assert len(list(tl.find_clips())) == 6
    r = _cli("search", "night", "--catalog", tmp_path / "absent.sqlite")
    assert r.exit_code == 2 and "no catalog here" in r.stderr
    r = _cli("search", "night", env={"CINEMANET_CATALOG": str(cat)})
    assert r.exit_code == 0 and r.stdout.count("\n") == 6


def test_cli_status_prune_relink(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _sidecars(src)
    cat = tmp_path / "cat.sqlite"
    assert _cli("index", src, "-c", cat).exit_code == 0
    moved = tmp_path / "elsewhere" / "deep"
    moved.mkdir(parents=True)
    (src / "clip0.mp4").rename(moved / "renamed.mp4")  # moved and renamed: found by size + hash
    (src / "clip1.mp4").unlink()  # gone
    r = _cli("catalog", "status", "-c", cat, "--json")
    info = json.loads(r.stdout)
    assert info["schema_version"] == schema.SCHEMA_VERSION and info["media"] == 3 and info["shots"] == 12
    assert sorted(p["state"] for p in info["problems"]) == ["missing", "missing"]
    r = _cli("catalog", "prune", "-c", cat, "--search-root", tmp_path / "elsewhere", "--dry-run")
    assert "1 video(s) would be relinked, 1 removed" in r.stderr
    assert json.loads(_cli("catalog", "status", "-c", cat, "--json").stdout)["media"] == 3
    r = _cli("catalog", "prune", "-c", cat, "--search-root", tmp_path / "elsewhere")
    assert r.exit_code == 0 and "1 video(s) were relinked, 1 removed" in r.stderr
    info = json.loads(_cli("catalog", "status", "-c", cat, "--json").stdout)
    assert info["media"] == 2 and info["shots"] == 8 and info["problems"] == [] and info["integrity"] == []
    r = _cli("search", "-c", cat, "-f", "jsonl", "--limit", "100")
    paths = {json.loads(x)["path"] for x in r.stdout.splitlines()}
    assert paths == {str(moved / "renamed.mp4"), str(src / "clip2.mp4")}
    r = _cli("catalog", "prune", "-c", cat, "--search-root", tmp_path / "nope")
    assert r.exit_code == 2 and "not a folder" in r.stderr


def test_analyze_adds_to_catalog(tmp_path):
    from videos import synthetic_hard_cuts

    v = tmp_path / "cut.mp4"
    synthetic_hard_cuts(v, n_shots=3, seed=4)
    cat = tmp_path / "cat.sqlite"
    side = tmp_path / "new" / "sidecars"  # --out is created when missing
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cinemanet",
            "analyze",
            str(v),
            "-q",
            "--format",
            "jsonl",
            "--catalog",
            str(cat),
            "--out",
            str(side),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert [p.name.startswith("cut.mp4.") for p in side.glob("*.cinemanet.json")] == [True]
    n = len(out.stdout.splitlines())
    c = Catalog.open(cat)
    assert c.counts() == (1, n) and c.media_list()[0].path == str(v)
    sid = c.shot_ids(1)[0]
    c.close()
    r = _cli("search", "--like", sid, "-c", cat, "-f", "jsonl")
    assert r.exit_code == 0 and json.loads(r.stdout.splitlines()[0])["id"] == sid
    # --like IMAGE: a frame from the middle of a shot finds that shot first (backbone embedding)
    import av
    from PIL import Image

    shots = [json.loads(x) for x in out.stdout.splitlines()]
    target = max(shots, key=lambda s: s["end_frame"] - s["start_frame"])
    mid = (target["start_frame"] + target["end_frame"]) // 2
    with av.open(str(v)) as c:
        frame = next(f for i, f in enumerate(c.decode(video=0)) if i == mid)
    Image.fromarray(frame.to_ndarray(format="rgb24")).save(tmp_path / "still.png")
    r = _cli("search", "--like", tmp_path / "still.png", "-c", cat, "-f", "jsonl")
    assert r.exit_code == 0, r.output
    best = json.loads(r.stdout.splitlines()[0])
    assert best["shot"] == target["shot"] and best["score"] > 0.8
    r = _cli("search", "--like", tmp_path / "nothing.png", "-c", cat)
    assert r.exit_code == 2 and "no such image file" in r.stderr


def test_non_utf8_file_name_is_reported_and_the_batch_goes_on(tmp_path):
    """analyze --catalog over a folder holding b'caf\\xe9.mp4': that file is named in one line,
    the others are analysed and catalogued, no traceback."""
    from videos import synthetic_hard_cuts

    folder = tmp_path / "in"
    folder.mkdir()
    synthetic_hard_cuts(folder / "a.mp4", n_shots=2, width=160, height=90, seed=1)
    synthetic_hard_cuts(folder / "z.mp4", n_shots=2, width=160, height=90, seed=2)
    os.rename(folder / "a.mp4", os.path.join(os.fsencode(folder), b"caf\xe9.mp4"))
    cat = tmp_path / "cat.sqlite"
    out = subprocess.run(
        [sys.executable, "-m", "cinemanet", "analyze", str(folder), "-q", "--catalog", str(cat)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        errors="replace",
    )
    assert "Traceback" not in out.stderr and out.returncode == 1
    bad = [x for x in out.stderr.splitlines() if "not valid UTF-8" in x]
    assert len(bad) == 1 and "caf" in bad[0]
    with Catalog.open(cat) as c:
        assert [Path(m.path).name for m in c.media_list()] == ["z.mp4"]


def test_copies_of_one_file_are_one_entry_and_said_so(tmp_path):
    docs = []
    for i in range(3):
        p = tmp_path / f"copy{i}.mp4"
        p.write_bytes(b"same bytes")
        docs.append(make_doc(str(p), [make_shot(str(p), 0, 0, 24, {})], "ab" * 32))
    notes: list[str] = []
    with Catalog.open(tmp_path / "cat.sqlite") as c:
        for d in docs:
            c.import_sidecar(d, notes=notes)
        assert c.counts()[0] == 1 and c.media_list()[0].path == docs[-1]["path"]
    assert len(notes) == 2 and all("same content as" in n for n in notes)
    assert docs[0]["path"] in notes[0] and docs[1]["path"] in notes[1]
