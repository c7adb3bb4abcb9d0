"""The feature cache names every item it cannot read (never drops one silently)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from cinemanet.training.featurecache import FeatureRun, compute_features
from cinemanet.training.sources import Item

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


def test_unreadable_item_is_reported_not_dropped(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CINEMANET_CACHE", str(tmp_path / "cache"))
    good = tmp_path / "good.jpg"
    shutil.copy(sorted(EXAMPLES.glob("*.jpg"))[0], good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    items = [Item(good, "x", "a" * 64), Item(bad, "x", "b" * 64)]
    run = FeatureRun()
    with caplog.at_level(logging.WARNING, logger="cinemanet.training.featurecache"):
        x = compute_features(items, ["measured"], jobs=1, run=run)
    assert x.shape[0] == 2 and np.isfinite(x[0]).all() and np.isnan(x[1]).all()  # rows stay in order
    assert [p for p, _ in run.failed] == [str(bad)] and run.failed[0][1]
    assert str(bad) in caplog.text and "cannot compute features" in caplog.text
    assert run.computed == 2 and run.rate and run.rate > 0
