"""The query language (parser, did-you-mean, property tests) and the search engine's semantics
on a small catalog of shots whose labels are known, plus similarity (exact and ANN)."""

from __future__ import annotations

import json

import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cinemanet.catalog import Catalog
from cinemanet.contracts import SHOT_SCHEMA, VIDEO_SCHEMA
from cinemanet.schemas import VIDEO_SCHEMA_FILE, shipped
from cinemanet.search import engine as engine_mod
from cinemanet.search.engine import SearchEngine, SearchResult
from cinemanet.search.index import SearchIndex
from cinemanet.search.query import And, Field, Label, Not, Or, Query, QueryError, parse
from cinemanet.taxonomy import get_taxonomy

ROOT = Path(__file__).resolve().parents[1]
DIM = 32


# ----------------------------------------------------------------------------- sidecar documents
def make_shot(
    path: str,
    n: int,
    start: int,
    frames: int,
    picks: dict[str, tuple[str, float]],
    tags=(),
    brightness: float = 0.5,
    emb=None,
) -> dict:
    """A cinemanet.shot/2 object: ``picks`` maps group -> (chosen label, its score); every other
    label of the group shares what is left."""
    tax = get_taxonomy()
    groups = {}
    for g in tax.groups:
        label, score = picks.get(g.key, (g.keys[0], 0.6))
        rest = (1.0 - score) / max(1, len(g.keys) - 1)
        groups[g.key] = {
            "label": label,
            "confidence": score,
            "scores": {k: (score if k == label else round(rest, 4)) for k in g.keys},
        }
    tags = sorted(set(tags) | {lab for lab, _ in picks.values()})
    lv = int(round(brightness * 255))
    shot = {
        "schema": SHOT_SCHEMA,
        "path": path,
        "shot": n,
        "start_frame": start,
        "end_frame": start + frames - 1,
        "start_time": start / 24.0,
        "end_time": (start + frames) / 24.0,
        "start_timecode": "00:00:00:00",
        "end_timecode": "00:00:01:00",
        "groups": groups,
        "tags": tags,
        "description": f"shot {n}",
        "keyframes": [start],
        "keyframe_times": [start / 24.0],
        "dominant_colors": [{"hex": f"#{lv:02x}{lv:02x}{lv:02x}", "fraction": 1.0}],
        "motion": 0.01,
        "transition": {
            "kind": "start" if n == 0 else "cut",
            "start_frame": start,
            "end_frame": start,
            "start_time": start / 24.0,
            "end_time": (start + 1) / 24.0,
        },
    }
    if emb is not None:
        shot["embedding"] = [float(x) for x in emb]
    return shot


def make_doc(path: str, shots: list[dict], sha: str) -> dict:
    frames = max(s["end_frame"] for s in shots) + 1
    return {
        "schema": VIDEO_SCHEMA,
        "path": path,
        "file": {"size": 1000, "sha256": sha, "mtime": 0.0},
        "model": {
            "name": "test",
            "version": "0",
            "taxonomy": "1",
            "detector": "fast",
            "detector_options": {},
            "cinemanet": "0",
        },
        "video": {
            "width": 320,
            "height": 180,
            "rotation": 0,
            "fps": 24.0,
            "fps_rational": "24/1",
            "time_base": "1/24",
            "duration": frames / 24.0,
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "bit_depth": 8,
            "start_time": 0.0,
            "timecode": None,
            "frame_count": frames,
        },
        "created": "2026-01-01T00:00:00Z",
        "shots": shots,
    }


# Twelve shots with known framing / time of day / person / brightness / duration
SPEC = [  # framing, framing score, time of day, person, frames, brightness
    ("closeup", 0.9, "night", True, 24, 0.10),
    ("closeup", 0.7, "night", False, 48, 0.20),
    ("closeup", 0.95, "day", True, 72, 0.80),
    ("long", 0.9, "night", False, 96, 0.15),
    ("long", 0.6, "day", False, 12, 0.90),
    ("long", 0.85, "day", True, 30, 0.70),
    ("medium", 0.8, "night", True, 60, 0.05),
    ("medium", 0.9, "day", False, 36, 0.60),
    ("extremecloseup", 0.9, "twilight", False, 40, 0.32),
    ("closeup", 0.85, "twilight", True, 20, 0.40),
    ("long", 0.95, "twilight", False, 80, 0.35),
    ("medium", 0.65, "night", False, 50, 0.25),
]


def _label(group: str, short: str) -> str:
    g = get_taxonomy().group(group)
    return next(k for k in g.keys if k.endswith("." + short))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(catalog, engine, {shot number in SPEC order: shot id}) with the SPEC shots in two videos."""
    tmp = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(0)
    docs = []
    for v in range(2):
        path = str(tmp / f"video{v}.mp4")
        shots, start = [], 0
        for n, (fr, fs, tod, person, frames, br) in enumerate(SPEC[v * 6 : (v + 1) * 6]):
            picks = {
                "shot.framing": (_label("shot.framing", fr), fs),
                "shot.timeofday": (_label("shot.timeofday", tod), 0.8),
            }
            tags = ["shot.subject.person"] if person else []
            shots.append(make_shot(path, n, start, frames, picks, tags, br, rng.normal(size=DIM)))
            start += frames
        docs.append(make_doc(path, shots, f"{v:064x}"))
    validator = jsonschema.Draft202012Validator(shipped(VIDEO_SCHEMA_FILE))
    for d in docs:
        validator.validate(d)
    cat = Catalog.open(tmp / "cat.sqlite")
    for d in docs:
        cat.import_sidecar(d)
    ids = {}
    for v in range(2):
        for n, sid in enumerate(cat.shot_ids(v + 1)):
            ids[v * 6 + n] = sid
    eng = SearchEngine(cat)
    yield cat, eng, ids
    cat.close()


def _spec_ids(ids, pred) -> set[int]:
    return {ids[i] for i, s in enumerate(SPEC) if pred(*s)}


def _all(eng: SearchEngine, q: str, **kw) -> SearchResult:
    return eng.search(q, limit=1000, **kw)


# ------------------------------------------------------------------------------------- parser
def test_parse_words_aliases_and_groups():
    q = parse("night exterior wide")
    assert isinstance(q.expr, And)
    assert [c.key for c in q.expr.children] == ["shot.timeofday.night", "shot.location.exterior", "shot.framing.long"]
    assert any("wide" in n for n in q.notes)  # how an alias was read is reported
    assert parse("framing:closeup").expr == Label("shot.framing.closeup")
    assert parse('"close up"').expr == Label("shot.framing.closeup")


def test_parse_operators():
    assert parse("-person").expr == Not(Label("shot.subject.person"))
    assert parse("NOT person").expr == parse("-person").expr
    assert parse("not person").expr == parse("-person").expr
    q = parse("night (framing:closeup OR framing:long) -person")
    assert isinstance(q.expr, And) and isinstance(q.expr.children[1], Or)
    assert parse("framing:closeup>0.8").expr == Label("shot.framing.closeup", ">", 0.8)
    assert parse("duration>=2s").expr == Field("duration", ">=", 2.0)
    assert parse("brightness<0.3").expr == Field("brightness", "<", 0.3)
    assert parse("NOT NOT night").expr == Label("shot.timeofday.night")
    assert parse("").expr is None and parse("*").expr is None


def test_parse_sort_and_limit():
    q = parse("night sort:duration")
    assert (q.sort, q.descending) == ("duration", True)
    q = parse("sort:brightness:asc night")
    assert (q.sort, q.descending) == ("brightness", False)
    assert parse("night limit:5").limit == 5
    with pytest.raises(QueryError, match="only one sort"):
        parse("sort:duration sort:brightness")


@pytest.mark.parametrize(
    "text,expect",
    [
        ("nigth", "night"),
        ("framing:closup", "framing:closeup"),
        ("sort:durat", "sort:duration"),
        ("framin:closeup", "framing:"),
    ],
)
def test_did_you_mean(text, expect):
    with pytest.raises(QueryError) as e:
        parse(text)
    assert expect in e.value.suggestions
    assert "did you mean" in str(e.value)


@pytest.mark.parametrize(
    "text",
    [
        "(night",
        "night)",
        "night OR",
        "NOT",
        "framing:closeup>2",
        "framing:",
        ">3",
        "duration>abc",
        "framing",
        "sort:nonsense",
        "limit:0",
        "a" * 3000,
        "x\x00y",
    ],
)
def test_bad_queries_are_one_line_errors(text):
    with pytest.raises(QueryError) as e:
        parse(text)
    assert str(e.value) and "\n" not in str(e.value)


def test_normalised_text_parses_back():
    for t in [
        "night exterior wide -person sort:duration",
        "(night OR day) framing:closeup>0.8 limit:3",
        '"black and white" duration<2',
        "",
    ]:
        q = parse(t)
        assert str(parse(str(q))) == str(q)


_ALPHABET = st.sampled_from(
    list('abcdefghijklmnopqrstuvwxyz ()-:<>=."|!&*0123456789')
    + ["night", "OR", "NOT", "AND", "framing:", "closeup", "sort:", "duration", "limit:", " ", "é", "\t"]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(_ALPHABET, max_size=30).map("".join)))
def test_parser_never_crashes(text):
    try:
        q = parse(text)
    except QueryError as e:
        assert isinstance(str(e), str) and isinstance(e.suggestions, list)
        return
    assert isinstance(q, Query)
    assert str(parse(str(q))) == str(q)  # what it understood is itself a valid query


# ------------------------------------------------------------------------- an editor's words
CU, MED, ECU_, LONG, XLONG = (
    "shot.framing." + k for k in ("closeup", "medium", "extremecloseup", "long", "extremelong")
)
STORES = {"shot.location.exterior.structure.building.store", "shot.location.interior.structure.building.store"}


def _keys(n) -> set[str]:
    """Label keys under an Or (or the one label)."""
    return {c.key for c in n.children} if isinstance(n, Or) else {n.key}


@pytest.mark.parametrize(
    "text, expect",
    [
        ("close up of a face", And((Label(CU), Label("shot.subject.person.face")))),
        ("close up shot", Label(CU)),
        ("a wide shot at night", And((Label(LONG), Label("shot.timeofday.night")))),
        ("MCU", Or((Label(MED), Label(CU)))),
        ("medium close-up", Or((Label(MED), Label(CU)))),
        ("medium close up shot", Or((Label(MED), Label(CU)))),
        ("ECU", Label(ECU_)),
        ("EWS", Label(XLONG)),
        ("MS", Label(MED)),
        ("WS", Label(LONG)),
        ("OTS", Label("shot.type.overtheshoulder")),
    ],
)
def test_editor_phrases(text, expect):
    q = parse(text)
    assert q.expr == expect
    assert parse(str(q)).expr == q.expr  # the normalised text still parses back


def test_stop_words_are_reported_and_never_the_whole_query():
    assert "ignored: of a" in parse("close up of a face").notes
    with pytest.raises(QueryError, match="nothing to search for"):
        parse("the")
    with pytest.raises(QueryError):
        parse("shot of the")


@pytest.mark.parametrize("word", ["store", "office", "car", "boat", "cave", "warehouse"])
def test_ambiguous_place_words_match_interior_and_exterior(word):
    keys = _keys(parse(word).expr)
    assert len(keys) == 2 and {k.split(".")[2] for k in keys} == {"interior", "exterior"}
    assert all(k.endswith("." + word) for k in keys)


def test_group_label_that_names_two_labels_matches_both():
    assert _keys(parse("location:store").expr) == STORES
    assert _keys(parse("store").expr) == STORES


def test_insert_establishing_and_pov():
    ins = parse("insert").expr
    assert isinstance(ins, Or) and Label(ECU_) in ins.children
    est = parse("establishing shot").expr
    assert isinstance(est, And) and Label("shot.location.exterior") in est.children
    with pytest.raises(QueryError, match="point-of-view"):
        parse("POV")


# ---------------------------------------------------------------------------------- semantics
def test_group_label_and_word(small):
    cat, eng, ids = small
    want = _spec_ids(ids, lambda fr, fs, tod, p, n, b: fr == "closeup")
    r = _all(eng, "framing:closeup")
    assert {h.shot_id for h in r.hits} == want and r.total == len(want)
    assert {h.shot_id for h in _all(eng, "night").hits} == _spec_ids(ids, lambda fr, fs, tod, p, n, b: tod == "night")


def test_negation_or_parentheses(small):
    cat, eng, ids = small
    nop = _spec_ids(ids, lambda fr, fs, tod, p, n, b: not p)
    assert {h.shot_id for h in _all(eng, "-person").hits} == nop
    assert {h.shot_id for h in _all(eng, "NOT person").hits} == nop
    union = _spec_ids(ids, lambda fr, fs, tod, p, n, b: fr in ("closeup", "long"))
    assert {h.shot_id for h in _all(eng, "framing:closeup OR framing:long").hits} == union
    combo = _spec_ids(ids, lambda fr, fs, tod, p, n, b: tod == "night" and fr in ("closeup", "long") and not p)
    assert {h.shot_id for h in _all(eng, "night (framing:closeup OR framing:long) -person").hits} == combo
    # AND binds tighter than OR
    prec = _spec_ids(ids, lambda fr, fs, tod, p, n, b: (tod == "night" and fr == "closeup") or fr == "long")
    assert {h.shot_id for h in _all(eng, "night framing:closeup OR framing:long").hits} == prec


def test_bounds(small):
    cat, eng, ids = small
    hi = _spec_ids(ids, lambda fr, fs, tod, p, n, b: fr == "closeup" and fs > 0.8)
    assert {h.shot_id for h in _all(eng, "framing:closeup>0.8").hits} == hi
    lo = _spec_ids(ids, lambda fr, fs, tod, p, n, b: not (fr == "closeup" and fs >= 0.8))
    assert {h.shot_id for h in _all(eng, "framing:closeup<0.8").hits} == lo
    longer = _spec_ids(ids, lambda fr, fs, tod, p, n, b: n / 24.0 > 2)
    assert {h.shot_id for h in _all(eng, "duration>2").hits} == longer
    dark = _spec_ids(ids, lambda fr, fs, tod, p, n, b: b < 0.3)
    assert {h.shot_id for h in _all(eng, "brightness<0.3").hits} == dark


def test_sort_keys(small):
    cat, eng, ids = small
    r = _all(eng, "night sort:duration")
    durs = [SPEC[[k for k, v in ids.items() if v == h.shot_id][0]][4] for h in r.hits]
    assert durs == sorted(durs, reverse=True) and len(durs) == r.total
    r = _all(eng, "sort:brightness:asc")
    br = [SPEC[[k for k, v in ids.items() if v == h.shot_id][0]][5] for h in r.hits]
    assert br == sorted(br) and len(br) == len(SPEC)
    r = _all(eng, "framing:closeup", sort="confidence")
    assert [h.score for h in r.hits] == sorted((h.score for h in r.hits), reverse=True)
    assert r.hits[0].shot_id == ids[2]  # the 0.95 close-up
    r = eng.search("night", sort="duration:asc", limit=2, offset=1)  # paging
    full = _all(eng, "night", sort="duration:asc")
    assert [h.shot_id for h in r.hits] == [h.shot_id for h in full.hits[1:3]] and r.total == full.total


def test_unknown_word_is_an_error_not_empty(small):
    cat, eng, ids = small
    with pytest.raises(QueryError) as e:
        eng.search("nigth exterior")
    assert "night" in e.value.suggestions


def test_like_ranks_itself_first(small):
    cat, eng, ids = small
    for sid in ids.values():
        r = eng.search("", like=sid, limit=3)
        assert r.hits[0].shot_id == sid and r.hits[0].score == pytest.approx(1.0, abs=2e-3)
        v = cat.embedding(sid)
        assert eng.search(like=v, limit=1).hits[0].shot_id == sid
    # query filters first, then like ranks
    night = _spec_ids(ids, lambda fr, fs, tod, p, n, b: tod == "night")
    r = eng.search("night", like=ids[2], limit=100)
    assert {h.shot_id for h in r.hits} == night and ids[2] not in night
    assert [h.score for h in r.hits] == sorted((h.score for h in r.hits), reverse=True)
    with pytest.raises(QueryError, match="not in the catalog"):
        eng.search(like=10**9)
    with pytest.raises(QueryError, match="values"):
        eng.search(like=np.ones(DIM + 1))


def test_refresh_sees_new_and_removed_media(tmp_path):
    cat = Catalog.open(tmp_path / "c.sqlite")
    rng = np.random.default_rng(1)
    picks = {"shot.timeofday": (_label("shot.timeofday", "night"), 0.9)}
    cat.import_sidecar(
        make_doc("/x/a.mp4", [make_shot("/x/a.mp4", 0, 0, 24, picks, emb=rng.normal(size=DIM))], "a" * 64)
    )
    eng = SearchEngine(cat)
    assert eng.search("night").total == 1
    cat.import_sidecar(
        make_doc("/x/b.mp4", [make_shot("/x/b.mp4", 0, 0, 24, picks, emb=rng.normal(size=DIM))], "b" * 64)
    )
    assert eng.search("night").total == 1  # stable until refreshed
    eng.refresh()
    assert eng.search("night").total == 2
    cat.remove_media([1])
    eng.refresh()
    r = eng.search("night")
    assert r.total == 1 and cat.shots([r.hits[0].shot_id])[0]["path"] == "/x/b.mp4"
    # a fresh engine reading the index saved beside the catalog agrees
    SearchIndex(cat).save()
    assert SearchEngine(cat).search("night").total == 1
    cat.close()


# ---------------------------------------------------------------------------------------- ANN
def test_ann_recall_against_exact(tmp_path, monkeypatch):
    pytest.importorskip("usearch")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from catalog_gen import build_synthetic_catalog

    p = build_synthetic_catalog(tmp_path / "syn.sqlite", 12000, seed=3, dim=256)
    cat = Catalog.open(p)
    idx = SearchIndex(cat, ann_min=1000)
    idx.refresh()
    assert idx.save() and idx.ann is not None and len(idx.ann) == 12000
    # reopen: the saved parts and ANN index are loaded, not rebuilt
    idx = SearchIndex(cat, ann_min=1000)
    idx.refresh()
    assert idx.ann is not None and all(part.name for part in idx.parts)
    eng = SearchEngine(cat, idx)
    rng = np.random.default_rng(0)
    recalls, itself = [], 0
    for sid in rng.integers(1, 12001, 20):
        monkeypatch.setattr(engine_mod, "EXACT_MAX", 10**9)
        exact = [h.shot_id for h in eng.search(like=int(sid), limit=20).hits]
        monkeypatch.setattr(engine_mod, "EXACT_MAX", 100)
        approx = eng.search(like=int(sid), limit=20)
        itself += approx.hits[0].shot_id == sid  # the graph is built on all cores: a rare miss is allowed
        recalls.append(len(set(exact) & {h.shot_id for h in approx.hits}) / 20)
        # combined with a filter: every hit matches the filter
        f = eng.search("brightness>0.5", like=int(sid), limit=20)
        ok = {h.shot_id for h in eng.search("brightness>0.5", limit=20000).hits}
        assert {h.shot_id for h in f.hits} <= ok
    assert np.mean(recalls) >= 0.95 and min(recalls) >= 0.8, recalls
    assert itself >= 19, itself
    cat.close()


def test_results_as_csv(small):
    import csv
    import io

    from cinemanet.video.export.csv import columns, write_results

    cat, eng, ids = small
    r = _all(eng, "night sort:duration")
    buf = io.StringIO()
    write_results(eng.found(r), buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == ["id", "score", *columns()]
    assert [int(x[0]) for x in rows[1:]] == [h.shot_id for h in r.hits]
    night = rows[0].index("shot.timeofday")
    assert all(x[night] == "shot.timeofday.night" for x in rows[1:])


def test_hits_are_typed_shot_records_with_the_catalog_json(small):
    from cinemanet.search.engine import FoundShot
    from cinemanet.video.records import Shot

    cat, eng, ids = small
    r = _all(eng, "night sort:duration")
    found = eng.found(r)
    assert found and all(isinstance(f, FoundShot) and isinstance(f.shot, Shot) for f in found)
    assert [f.id for f in found] == [h.shot_id for h in r.hits]
    for f, d in zip(found, cat.shots([h.shot_id for h in r.hits])):  # the JSON is the catalog's contract
        assert f.media_id == d.pop("media_id")
        assert json.dumps(f.to_dict()) == json.dumps({**d, "score": f.score})


def test_huge_bounds_do_not_overflow(small):
    import warnings

    cat, eng, ids = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _all(eng, "start>1e308").total == 0
        assert _all(eng, "start>-1e308").total == len(SPEC)
