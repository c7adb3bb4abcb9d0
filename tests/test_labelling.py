"""Labelling library: agreement statistics against textbook and hand-computed values,
selection strategies on toy data, the store's rules, import (all or nothing) and export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cinemanet.labelling import Conflict, LabellingError, LabelStore
from cinemanet.labelling.agreement import (
    agreement_report,
    coincidence_matrix,
    consensus,
    disagreement_png,
    fleiss_kappa,
    krippendorff_alpha,
    majority,
)
from cinemanet.labelling.interchange import ImportProblems, export_dataset, import_annotations
from cinemanet.labelling.select import (
    entropy_uncertainty,
    k_center_greedy,
    margin_uncertainty,
    select,
    select_uncertainty,
)

from labelling_fixtures import make_project

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, missing data. Published: nominal .743, ordinal .815, interval .849.
KRIPP = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
# Fleiss (1971), table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (R irr's `diagnoses`);
# kappa = 0.430 (R irr::kappam.fleiss gives 0.4302445).
DIAGNOSES = [
    [4, 4, 4, 4, 4, 4],
    [2, 2, 2, 5, 5, 5],
    [2, 3, 3, 3, 3, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3],
    [3, 3, 3, 3, 5, 5],
    [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4],
    [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4],
    [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3],
    [1, 4, 4, 4, 4, 4],
    [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5],
    [1, 1, 1, 1, 1, 2],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 4, 4, 4, 4, 4],
    [2, 2, 4, 5, 5, 5],
    [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4],
    [1, 1, 1, 1, 5, 5],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3],
    [5, 5, 5, 5, 5, 5],
]
# The Fleiss' kappa example of Wikipedia (10 items, 14 raters, counts per category): 0.210
WIKI = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_krippendorff_reliability_data_example():
    units = list(zip(*KRIPP))
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)


def test_krippendorff_coincidences_by_hand():
    # two coders, three units: (a,a) (a,b) (b,b): o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n = 6
    # D_o = 2 (the two off-diagonal), D_e = (n_a n_b * 2) = 3*3*2 = 18; alpha = 1 - 5 * 2 / 18 = 4/9
    units = [("a", "a"), ("a", "b"), ("b", "b")]
    o = coincidence_matrix(units, ["a", "b"])
    assert o.tolist() == [[2, 1], [1, 2]]
    assert krippendorff_alpha(units) == pytest.approx(4 / 9)
    # perfect agreement, and a unit with one value (not pairable) changes nothing
    assert krippendorff_alpha([("a", "a"), ("b", "b"), ("a", None)]) == pytest.approx(1.0)
    assert krippendorff_alpha([("a", "a"), ("a", "a")]) is None  # no variation: undefined


def test_fleiss_kappa_textbook_examples():
    counts = np.array([[row.count(c) for c in range(1, 6)] for row in DIAGNOSES])
    assert fleiss_kappa(counts) == pytest.approx(0.4302445, abs=1e-7)
    assert fleiss_kappa(np.array(WIKI)) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_by_hand():
    # 2 items, 2 raters: both agree on item 1 (cat 0), disagree on item 2. P = (1 + 0)/2 = 0.5;
    # p = (3/4, 1/4), Pe = 10/16; kappa = (0.5 - 0.625) / 0.375 = -1/3
    assert fleiss_kappa([[2, 0], [1, 1]]) == pytest.approx(-1 / 3)


def test_majority_ties_are_undecided():
    assert majority(["a", "b", "a"]) == "a"
    assert majority(["a", "b"]) is None
    assert majority([]) is None


def test_uncertainty_measures():
    P = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.4, 0.35, 0.25]])
    assert margin_uncertainty(P).tolist() == pytest.approx([1.0, 0.0, 0.95])
    e = entropy_uncertainty(np.array([[1 / 3] * 3, [1.0, 0, 0]]))
    assert e[0] == pytest.approx(1.0) and e[1] == pytest.approx(0.0, abs=1e-9)
    assert select_uncertainty([P], 2).tolist() == [0, 2]


def test_k_center_greedy_covers_every_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    X = np.concatenate([c + rng.normal(0, 0.3, (50, 2)) for c in centres])
    picks = k_center_greedy(X, 4, seed=3)
    assert sorted({int(i) // 50 for i in picks}) == [0, 1, 2, 3]  # one per cluster
    rand_hits = [len({int(i) // 50 for i in select("random", 4, n_pool=200, seed=s)}) for s in range(20)]
    assert np.mean(rand_hits) < 4  # random misses clusters now and then; k-center never does
    assert len(set(k_center_greedy(X, 30).tolist())) == 30


def test_store_tokens_are_hashed_and_roles(tmp_path):
    s = LabelStore(tmp_path / "l.sqlite")
    tok = s.add_annotator("ana")
    raw = (tmp_path / "l.sqlite").read_bytes()
    assert tok.encode() not in raw
    assert s.annotator_by_token(tok).name == "ana"
    assert s.annotator_by_token(tok + "x") is None and s.annotator_by_token("") is None
    with pytest.raises(LabellingError):
        s.add_annotator("ana")


def test_project_has_gold_and_redundancy(tmp_path):
    store, p, _ = make_project(tmp_path, size=10, gold=0.2)
    c = store.counts(p)
    assert c["items"] == 10 and c["gold_items"] == 2 and c["tasks"] == 10
    with pytest.raises(LabellingError):
        store.create_project("p2", ["shot.framing"], [], source={}, strategy="random", redundancy=1)


def _answer_all(store, p, who_labels):
    toks = {w: store.annotator_by_token(store.add_annotator(w)) for w in who_labels}
    for w, fn in who_labels.items():
        a = toks[w]
        while True:
            t = store.next_task(p, a)
            if t is None:
                break
            kind, lab = fn(t)
            store.answer(p, a, t["id"], kind, lab)
    return toks


def test_agreement_report_and_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    store, p, _ = make_project(tmp_path, size=10, gold=0.2)
    items = {r["id"]: r for r in store.items(p)}
    truth = {}
    for t in store.tasks(p):
        g = json.loads(items[t["item"]]["gold"] or "null")
        truth[t["id"]] = g["shot.framing"] if g else "shot.framing.medium"
    _answer_all(
        store,
        p,
        {
            "ana": lambda t: ("label", truth[t["id"]]),
            "ben": lambda t: ("label", truth[t["id"]]) if t["id"] % 2 else ("label", "shot.framing.closeup"),
        },
    )
    rep = agreement_report(store, p)
    schema = json.loads(
        (
            Path(__file__).resolve().parents[1] / "cinemanet" / "schemas" / "cinemanet.label-agreement-1.schema.json"
        ).read_text()
    )
    jsonschema.validate(rep, schema)
    g = rep["groups"]["shot.framing"]
    assert g["items"] == 10 and g["answers"] == 20
    assert rep["annotators"]["ana"]["gold_accuracy"] == 1.0
    # recompute alpha by hand from the two coders' values
    by = {}
    for a in store.answers(p):
        by.setdefault(a["task"], {})[a["annotator"]] = a["label"]
    units = [(v["ana"], v["ben"]) for v in by.values()]
    assert g["alpha_nominal"] == pytest.approx(krippendorff_alpha(units))
    assert g["alpha_ordinal"] is not None  # framing is an ordered group
    assert disagreement_png(rep, "shot.framing", tmp_path / "d.png").stat().st_size > 1000


def test_answers_cannot_be_overwritten_and_reviews_are_final(tmp_path):
    store, p, _ = make_project(tmp_path, size=4, gold=0.0)
    a = store.annotator_by_token(store.add_annotator("ana"))
    r = store.annotator_by_token(store.add_annotator("rev", "reviewer"))
    t = store.next_task(p, a)
    store.answer(p, a, t["id"], "label", "shot.framing.long")
    with pytest.raises(Conflict):
        store.answer(p, a, t["id"], "label", "shot.framing.medium")
    with pytest.raises(LabellingError):
        store.decide(p, a, t["id"], "label", "shot.framing.long")  # not a reviewer
    store.decide(p, r, t["id"], "label", "shot.framing.medium")
    with pytest.raises(Conflict):
        store.decide(p, r, t["id"], "label", "shot.framing.long")
    assert consensus(store, p)[t["id"]]["label"] == "shot.framing.medium"


def _csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item", "annotator", "group", "label"])
        w.writerows(rows)
    return path


def test_import_is_all_or_nothing_with_a_message_per_row(tmp_path):
    store, p, _ = make_project(tmp_path, size=4, gold=0.0)
    keys = [r["key"] for r in store.items(p)]
    bad = _csv(
        tmp_path / "bad.csv",
        [
            (keys[0], "x", "framing", "closeup"),
            (keys[0], "x", "framing", "medium"),
            ("nope", "x", "framing", "closeup"),
            (keys[1], "x", "framing", "closup"),
            (keys[1], "x", "angle", "low"),
        ],
    )
    with pytest.raises(ImportProblems) as e:
        import_annotations(store, p, bad)
    msgs = e.value.problems
    assert any("bad.csv:3: duplicate row" in m for m in msgs)
    assert any("bad.csv:4: unknown item" in m for m in msgs)
    assert any("bad.csv:5: unknown label" in m and "did you mean" in m for m in msgs)
    assert any("bad.csv:6: group" in m for m in msgs)
    assert store.answers(p) == []  # nothing partially imported
    enc = tmp_path / "enc.csv"
    enc.write_bytes(b"item,annotator,group,label\n" + keys[0].encode() + b",\xe9ve,framing,closeup\n")
    with pytest.raises(ImportProblems) as e:
        import_annotations(store, p, enc)
    assert "enc.csv:2: not UTF-8" in e.value.problems[0]
    (tmp_path / "c2.csv").write_text("item,who\nx,y\n")
    with pytest.raises(ImportProblems) as e:
        import_annotations(store, p, tmp_path / "c2.csv")
    assert "missing column" in e.value.problems[0]


def test_label_studio_import(tmp_path):
    store, p, _ = make_project(tmp_path, size=3, gold=0.0)
    keys = [r["key"] for r in store.items(p)]
    ls = [
        {
            "id": 1,
            "data": {"image": f"/data/upload/{keys[0]}.png"},
            "annotations": [
                {
                    "completed_by": 7,
                    "result": [
                        {
                            "from_name": "framing",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": ["Close-up"]},
                        }
                    ],
                },
                {
                    "completed_by": {"email": "b@x"},
                    "result": [{"from_name": "shot.framing", "type": "choices", "value": {"choices": ["medium"]}}],
                },
            ],
        },
        {"id": 2, "data": {"item": keys[1]}, "annotations": [{"completed_by": 7, "was_cancelled": True, "result": []}]},
    ]
    f = tmp_path / "ls.json"
    f.write_text(json.dumps(ls))
    assert import_annotations(store, p, f) == 2
    got = sorted((a["annotator"], a["label"]) for a in store.answers(p))
    assert got == [("labelstudio:7", "shot.framing.closeup"), ("labelstudio:b@x", "shot.framing.medium")]


def test_import_export_round_trip_into_the_dataset_library(tmp_path):
    store, p, ds_store = make_project(tmp_path, size=6, gold=0.0)
    keys = [r["key"] for r in store.items(p)]
    rows = []
    for i, k in enumerate(keys):
        rows += [
            (k, "ana", "framing", "closeup" if i % 2 else "long"),
            (k, "ben", "framing", "closeup" if i % 2 else "long"),
        ]
    rows[1] = (keys[0], "ben", "framing", "medium")  # one disagreement: no majority, left out
    rows += [(keys[2], "cid", "framing", "not sure")]
    assert import_annotations(store, p, _csv(tmp_path / "a.csv", rows)) == len(rows)
    ds, rep, n = export_dataset(store, p, "crowd")
    assert n == 5
    assert "crowd" in ds_store.names()
    loaded = ds_store.load("crowd")
    by_item = {r.extra["label_item"]: r for r in loaded.records}
    assert keys[0] not in by_item
    r = by_item[keys[1]]
    assert r.labels == {"shot.framing": "shot.framing.closeup"}
    assert r.extra["agreement.shot.framing"] == "1.000" and r.extra["decided_by.shot.framing"] == "majority"
    prov = json.loads(r.extra["answers.shot.framing"])
    assert sorted(a["annotator"] for a in prov["answers"]) == ["ana", "ben"]
    assert loaded.path_of(r).is_file()
    # the export is what `cinemanet train` reads
    from cinemanet.training.multitask import TrainConfig, merged_examples

    ex, _ = merged_examples([loaded], TrainConfig(groups=("shot.framing",)))
    assert len(ex) == 5


def test_cli_label_commands(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cinemanet.interfaces.cli import app

    monkeypatch.setenv("CINEMANET_DATA", str(tmp_path))
    make_project(tmp_path, name="unused", size=3)  # makes data set "toy" in this store
    run = CliRunner().invoke
    r = run(
        app,
        [
            "label",
            "create",
            "p",
            "--group",
            "framing",
            "--from-dataset",
            "toy",
            "--size",
            "8",
            "--strategy",
            "diversity",
            "-j",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "8 items (1 gold)" in r.output
    r = run(app, ["label", "annotator", "add", "ana"])
    tok = r.stdout.strip().splitlines()[0]
    assert r.exit_code == 0 and len(tok) >= 32
    s = LabelStore(tmp_path / "labelling.sqlite")
    assert s.annotator_by_token(tok).name == "ana"
    keys = [it["key"] for it in s.items(s.project("p"))]
    _csv(tmp_path / "a.csv", [(k, w, "framing", "medium") for k in keys for w in ("x", "y")])
    assert run(app, ["label", "import", "p", str(tmp_path / "a.csv")]).exit_code == 0
    r = run(app, ["label", "agreement", "p", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["groups"]["shot.framing"]["answers"] == 16
    assert "Krippendorff" in run(app, ["label", "agreement", "p"]).stdout
    r = run(app, ["label", "export", "p", "--dataset", "crowd"])
    assert r.exit_code == 0, r.output
    assert "crowd" in run(app, ["dataset", "list"]).stdout
    assert run(app, ["label", "status", "p"]).exit_code == 0
    assert run(app, ["label", "suggestions", "p"]).stdout.strip() == "no suggestions yet"
    r = run(app, ["label", "import", "p", str(tmp_path / "missing.csv")])
    assert r.exit_code == 1
    r = run(app, ["label", "status", "nope"])
    assert r.exit_code == 2 and "no labelling project" in r.output


def test_project_from_a_catalog_uses_shot_scores_embeddings_and_keyframes(tmp_path, net):
    from PIL import Image

    from cinemanet.catalog.store import Catalog
    from cinemanet.labelling.build import build_project, pool_from_catalog
    from cinemanet.video.analyze import VideoAnalyzer
    from cinemanet.video.sidecar import sidecar_path, write_sidecar

    from videos import synthetic_hard_cuts

    video = tmp_path / "clip.mp4"
    synthetic_hard_cuts(video, n_shots=4, width=320, height=180, seed=5, lo=30, hi=50)
    doc = VideoAnalyzer(net).analyze(video)
    with Catalog.open(tmp_path / "cat.sqlite") as cat:
        cat.import_sidecar(write_sidecar(doc, sidecar_path(video)))
        pool = pool_from_catalog(cat)
        assert len(pool) == len(doc["shots"]) and all(it.embedding is not None and it.scores for it in pool)
        store = LabelStore(tmp_path / "labelling.sqlite")
        p = build_project(
            store, "shots", ["shot.framing", "shot.angle"], pool, size=3, strategy="diversity", catalog=cat
        )
        p2 = build_project(store, "shots-u", ["shot.framing"], pool, size=2, strategy="uncertainty", catalog=cat)
    items = store.items(p)
    assert len(items) == 3 and store.counts(p)["tasks"] == 6 and store.counts(p)["gold_items"] == 0
    for it in items:
        assert it["key"].startswith("shot:")
        with Image.open(store.root / it["file"]) as im:
            assert im.size[0] == 640  # the shot's keyframe, decoded once into the store
        assert json.loads(it["model"])["shot.framing"]["label"].startswith("shot.framing.")
        assert json.loads(it["origin"])["media"] == str(video)
    # uncertainty picks the shots whose framing margin is smallest
    from cinemanet.labelling.build import _probs
    from cinemanet.labelling.select import margin_uncertainty

    u = margin_uncertainty(_probs(pool, ["shot.framing"])[0])
    want = {pool[i].key for i in np.argsort(-u, kind="stable")[:2]}
    assert {it["key"] for it in store.items(p2)} == want
