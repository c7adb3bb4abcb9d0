"""The bias audit: statistics by hand, a planted skew is found, a balanced set gives no finding,
the CLI writes audit.md, audit.json and plots (with the model: accuracy on unseen images and
detector coverage)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cinemanet.datasets import DatasetStore
from cinemanet.labelling.audit import holm, run_audit, wilson

from labelling_fixtures import make_dataset


def test_wilson_interval_by_hand():
    # k=8, n=10: centre (0.8 + 1.92/10) / 1.384 = 0.7168, half 1.96*sqrt(0.016+0.00096)/1.384 = 0.1844
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_holm_by_hand():
    # p sorted 0.01, 0.02, 0.04 with m=3: 0.03, 0.04, 0.04 (monotone)
    assert holm([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])


def _skewed(root, skew: bool, n: int = 40):
    """Two sources of n images each; with ``skew`` source A is mostly close-ups."""
    rng = np.random.default_rng(1)
    rows = ["path,group,label,source"]
    (root / "img").mkdir(parents=True)
    for src in ("A", "B"):
        for i in range(n):
            lab = (
                ("closeup" if (src == "A" and i < 0.8 * n) or (src == "B" and i < 0.2 * n) else "long")
                if skew
                else ("closeup" if i % 2 else "long")
            )
            f = root / "img" / f"{src}{i}.png"
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((64, 36), Image.NEAREST).save(f)
            rows.append(f"img/{f.name},shot.framing,{lab},{src}")
    (root / "m.csv").write_text("\n".join(rows) + "\n")
    ds, _ = DatasetStore(root).import_source(root / "m.csv", "skew", test_fraction=0.0)
    return ds


def test_planted_skew_is_found_and_balanced_data_gives_none(tmp_path):
    ds = _skewed(tmp_path / "a", True)
    rep = run_audit([ds], tmp_path / "out", log=lambda m: None)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(
        json.loads((tmp_path / "out" / "audit.json").read_text()),
        json.loads(
            (
                Path(__file__).resolve().parents[1] / "cinemanet" / "schemas" / "cinemanet.audit-1.schema.json"
            ).read_text()
        ),
    )
    f = [
        t
        for t in rep["findings"]
        if t["column"] == "source" and t["slice"] == "A" and t["label"] == "shot.framing.closeup"
    ]
    assert f and f[0]["share_slice"] == pytest.approx(0.8) and f[0]["share_rest"] == pytest.approx(0.2)
    assert f[0]["p_holm"] < 0.05 and f[0]["ci_slice"][0] > f[0]["ci_rest"][1]
    assert any("source = A" in s and "closeup" in s for s in rep["summary"])
    ds2 = _skewed(tmp_path / "b", False)
    rep2 = run_audit([ds2], tmp_path / "out2", log=lambda m: None)
    assert not [t for t in rep2["findings"] if t["column"] == "source"]


def test_cli_audit_with_model(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cinemanet.interfaces.cli import app

    monkeypatch.setenv("CINEMANET_DATA", str(tmp_path))
    make_dataset(tmp_path, n_per_label=4)
    out = tmp_path / "audit"
    r = CliRunner().invoke(app, ["audit", "--dataset", "toy", "--model", "default", "--out", str(out), "-j", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "audit.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "cinemanet" / "schemas" / "cinemanet.audit-1.schema.json").read_text()
    )
    jsonschema.validate(rep, schema)
    assert rep["schema"] == "cinemanet.audit/1" and rep["images"] == 12
    assert rep["model"]["accuracy"]["shot.framing"]["n"] == 12  # generated pictures: none seen in training
    cov = rep["model"]["coverage"]["all"]["all"]
    assert cov["n"] == 12 and 0.0 <= cov["face"]["share"] <= 1.0
    md = (out / "audit.md").read_text()
    assert "What this audit cannot see" in md and "Detector coverage" in md
    assert any(p.suffix == ".png" for p in out.iterdir())
    r = CliRunner().invoke(app, ["audit", "--dataset", "toy", "--by", "nope", "--out", str(out)])
    assert r.exit_code == 2 and "no slice column nope" in r.output
