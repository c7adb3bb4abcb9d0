"""The committed heads, re-judged on data they never saw: the kept-apart split (never used to
fit, choose, calibrate or threshold anything) and leave-one-source-out, against the figures
docs/MODEL_CARD.md states (cinemanet/models/default/metrics.json).

Needs ../shared/data (skipped in a fresh clone). Features are cached after the first run.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from conftest import SHARED, needs_shared_data

pytestmark = [needs_shared_data, pytest.mark.shared]

MODEL = Path(str(resources.files("cinemanet").joinpath("models", "default")))
EPS = 0.005  # float noise between BLAS builds; the runs are seeded


@pytest.fixture(scope="module")
def metrics():
    return json.loads((MODEL / "metrics.json").read_text())["tasks"]


@pytest.fixture(scope="module")
def prep():
    from cinemanet.training.default_heads import prepare

    return prepare(SHARED / "data", log=lambda m: None)


@pytest.fixture(scope="module")
def kept_apart(prep):
    from cinemanet.training.default_heads import evaluate_heads

    return evaluate_heads(SHARED / "data", MODEL, log=lambda m: None, prep=prep)


def test_heads_were_trained_on_this_data(kept_apart):
    for name, m in kept_apart.items():
        assert m["data_sha256"] == m["trained_on_sha256"], (
            f"{name}: ../shared/data changed since the head was trained; run `cinemanet model train-default`"
        )


def test_kept_apart_figures_match_the_card(kept_apart, metrics):
    for name, m in kept_apart.items():
        card = metrics[name]["kept_apart"]
        assert m["n"] == card["n"]
        assert m["accuracy"] >= card["accuracy"] - EPS, name
        assert m["ece"] <= card["ece"] + EPS, f"{name}: ECE {m['ece']:.3f}"
        assert m["emitted"]["precision"] >= card["emitted"]["precision"] - EPS, (name, m["emitted"])
        assert m["emitted"]["coverage"] >= card["emitted"]["coverage"] - EPS, (name, m["emitted"])


def test_issue_targets_that_are_met(kept_apart):
    # the ones not met (framing 0.88, OTS F1 0.85, interior/exterior 0.97 on the indoor-outdoor
    # web photos, places across sources) are stated in docs/MODEL_CARD.md
    assert kept_apart["side"]["accuracy"] >= 0.97
    assert kept_apart["texture"]["texture_top1"] >= 0.75  # 10 DTD classes
    tod = kept_apart["timeofday"]
    assert tod.get("real_accuracy", tod["accuracy"]) >= 0.90  # day vs twilight on the real photos
    assert tod.get("real_called_night", 0.0) == 0.0  # no labelled day or twilight photo is called night
    assert kept_apart["place"]["accuracy"] >= 0.85
    for src, v in kept_apart["place"]["by_source"].items():  # each scene set among its own classes
        assert v["in_set_accuracy"] >= 0.85, src
    assert kept_apart["framing"]["within_one"] >= 0.97


@pytest.mark.parametrize("task", ["side", "timeofday"])
def test_leave_one_source_out_stays_at_the_card(task, metrics, prep):
    from cinemanet.training.default_heads import Trainer

    tr = Trainer(prep, 0, log=lambda m: None)
    t = prep.tasks[task]
    train = [r for r in t.rows if not prep.images[r[0]].test]
    loso, _, _ = tr.loso(t, train, metrics[task]["cv"]["wd"])
    for src, card in metrics[task]["loso"].items():
        if "accuracy" in card:
            assert loso[src]["accuracy"] >= card["accuracy"] - EPS, (src, loso[src], card)
