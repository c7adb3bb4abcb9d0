"""The data-set library: imports through aliases, rejected names, duplicates, conflicts,
leakage-free stratified splits, stats and exports. Synthetic images only (no ../shared)."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cinemanet.datasets import (
    DatasetStore,
    LabelResolutionError,
    assign_splits,
    data_root,
    dataset_stats,
    resolve_label,
    suggest,
)
from cinemanet.datasets.records import Record


def picture(seed: int, size=(96, 160)) -> np.ndarray:
    """A distinct smooth random picture (distinct dHash per seed)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 9, 3)).astype(np.uint8)
    img = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(img.astype(int) + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def save(path: Path, rgb: np.ndarray, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


@pytest.fixture
def store(tmp_path, monkeypatch) -> DatasetStore:
    monkeypatch.setenv("CINEMANET_DATA", str(tmp_path / "store"))
    return DatasetStore()


def test_store_root_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CINEMANET_DATA", str(tmp_path / "x"))
    assert data_root() == tmp_path / "x"
    assert DatasetStore().root == tmp_path / "x"


def test_names_resolve_through_aliases():
    assert resolve_label("CU", "shot.framing").key == "shot.framing.closeup"
    assert resolve_label("extreme close up").key == "shot.framing.extremecloseup"
    assert resolve_label("OTS").key == "shot.type.overtheshoulder"
    assert resolve_label("closeup", "shot.framing").key == "shot.framing.closeup"
    assert resolve_label("shot.location.exterior.nature.beach").key == "shot.location.exterior.nature.beach"


def test_unknown_names_are_rejected_with_suggestions():
    with pytest.raises(LabelResolutionError) as e:
        resolve_label("clsoe up", "shot.framing")
    assert "did you mean" in str(e.value) and "shot.framing.closeup" in str(e.value)
    assert suggest("extrem long")[0] == "shot.framing.extremelong"
    with pytest.raises(LabelResolutionError, match="in group color.tones"):
        resolve_label("warm", "shot.framing")  # a real label, but of another group


def test_folder_import_with_aliases_duplicates_and_conflicts(store, tmp_path):
    src = tmp_path / "src"
    for i in range(6):
        save(src / "CU" / f"a{i}.jpg", picture(i))
        save(src / "wide shot" / f"b{i}.jpg", picture(100 + i))
    # identical bytes twice under one label: merged; under two labels: a conflict
    (src / "CU" / "copy.jpg").write_bytes((src / "CU" / "a0.jpg").read_bytes())
    (src / "wide shot" / "clash.jpg").write_bytes((src / "CU" / "a1.jpg").read_bytes())
    # a re-encoded, resized near-duplicate with the same label: merged into the larger one
    save(src / "CU" / "small.jpg", cv2.resize(picture(2), (128, 77)), quality=60)
    # a near-duplicate under another label: a conflict for both
    save(src / "wide shot" / "near.jpg", cv2.resize(picture(3), (140, 84)), quality=70)
    ds, rep = store.import_source(src, "framing", licence="CC-BY-4.0", test_fraction=0.25)
    assert rep.files == 16
    assert rep.exact_duplicates == 2 and rep.near_duplicates >= 1
    by_sha = {r.sha256: r for r in ds.records}
    conflicted = [r for r in ds.records if "shot.framing" in r.conflicts]
    assert {tuple(r.conflicts["shot.framing"]) for r in conflicted} == {("shot.framing.closeup", "shot.framing.long")}
    assert all("shot.framing" not in r.labels for r in conflicted)  # flagged, not silently kept
    assert len(conflicted) >= 2  # a1 (exact) and picture(3) (near)
    labelled = [r for r in ds.records if r.labels]
    assert {r.labels["shot.framing"] for r in labelled} == {"shot.framing.closeup", "shot.framing.long"}
    assert all(r.licence == "CC-BY-4.0" and r.source == "src" for r in ds.records)
    for r in ds.records:  # content-addressed files that really hold those bytes
        import hashlib

        assert hashlib.sha256(ds.path_of(r).read_bytes()).hexdigest() == r.sha256 == by_sha[r.sha256].sha256
    merged = [r for r in ds.records if len(r.origin) > 1]
    assert merged, "duplicates keep every original path as provenance"
    # reload from disk: same records
    again = store.load("framing")
    assert [r.to_dict() for r in again.records] == [r.to_dict() for r in ds.records]
    assert store.names() == ["framing"]


def test_group_folders_and_unknown_folder(store, tmp_path):
    src = tmp_path / "nested"
    save(src / "framing" / "closeup" / "x.jpg", picture(1))
    save(src / "type" / "OTS" / "y.jpg", picture(2))
    ds, _ = store.import_source(src, "nested")
    assert sorted(ds.groups) == ["shot.framing", "shot.type"]
    save(src / "framing" / "closeupp shot" / "z.jpg", picture(3))
    save(src / "framing" / "mediumm" / "w.jpg", picture(4))
    with pytest.raises(LabelResolutionError) as e:
        store.import_source(src, "nested2")
    assert len(e.value.problems) == 2 and "shot.framing.medium" in str(e.value)
    assert not store.exists("nested2")  # nothing written


def test_manifest_import_keeps_films_together(store, tmp_path):
    rows = []
    for i in range(40):
        film = f"film{i // 4}"  # ten films of four frames
        p = save(tmp_path / "m" / f"{i}.jpg", picture(200 + i))
        rows.append(
            {
                "path": p.name,
                "group": "shot.framing",
                "label": ["CU", "medium", "LS", "ELS"][i % 4],
                "film": film,
                "annotator": f"ann{i % 2}",
                "licence": "CC0",
            }
        )
    rows.append({"path": "0.jpg", "group": "type", "label": "OTS", "film": "film0"})  # a second group on one image
    man = tmp_path / "m" / "labels.csv"
    with open(man, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ds, rep = store.import_source(man, "films", test_fraction=0.3)
    assert len(ds.records) == 40 and not rep.conflicts
    first = next(r for r in ds.records if r.origin[0].endswith("/0.jpg"))
    assert first.labels == {"shot.framing": "shot.framing.closeup", "shot.type": "shot.type.overtheshoulder"}
    assert first.annotator == "ann0" and first.licence == "CC0"
    sides: dict[str, set] = {}
    for r in ds.records:
        sides.setdefault(r.film, set()).add(r.split)
    assert all(len(s) == 1 for s in sides.values()), "a film's frames must stay on one side"
    n_test_films = sum(1 for s in sides.values() if s == {"test"})
    assert 2 <= n_test_films <= 4  # about 30% of ten films


def test_jsonl_manifest_and_bad_labels(store, tmp_path):
    p = save(tmp_path / "j" / "a.jpg", picture(7))
    man = tmp_path / "j" / "labels.jsonl"
    man.write_text(json.dumps({"path": p.name, "group": "shot.framing", "label": "mid shot", "camera": "alexa"}) + "\n")
    ds, _ = store.import_source(man, "j")
    assert ds.records[0].labels == {"shot.framing": "shot.framing.medium"}
    assert ds.records[0].extra == {"camera": "alexa"}  # other columns kept for slicing
    man.write_text(json.dumps({"path": p.name, "group": "shot.framing", "label": "very wide"}) + "\n")
    with pytest.raises(LabelResolutionError, match="did you mean"):
        store.import_source(man, "j2")


def test_split_is_stratified_and_keeps_near_duplicates_together():
    recs = []
    for i in range(200):
        lab = "shot.framing.closeup" if i % 5 else "shot.framing.long"  # imbalanced 4:1
        cluster = f"c{i // 2:04d}"  # pairs of near-duplicates
        recs.append(Record(f"{i:064x}", "", 1, 1, "0" * 16, {"shot.framing": lab}, cluster=cluster))
    splits = assign_splits(recs, test_fraction=0.2, seed=0)
    for c in {r.cluster for r in recs}:
        assert len({s for r, s in zip(recs, splits) if r.cluster == c}) == 1
    for lab in ("shot.framing.closeup", "shot.framing.long"):
        n = sum(1 for r in recs if r.labels["shot.framing"] == lab)
        t = sum(1 for r, s in zip(recs, splits) if s == "test" and r.labels["shot.framing"] == lab)
        assert abs(t / n - 0.2) <= 0.05, (lab, t, n)
    assert splits == assign_splits(recs, test_fraction=0.2, seed=0)  # deterministic
    assert splits != assign_splits(recs, test_fraction=0.2, seed=1)


def test_stats_and_exports(store, tmp_path):
    src = tmp_path / "src"
    for i in range(10):
        save(src / "closeup" / f"a{i}.jpg", picture(300 + i))
    for i in range(2):
        save(src / "long" / f"b{i}.jpg", picture(400 + i))
    ds, _ = store.import_source(src, "small")
    st = dataset_stats(ds)
    g = st["groups"]["shot.framing"]
    assert g["labels"]["shot.framing.closeup"]["total"] == 10 and g["imbalance"] == 5.0
    assert st["by"]["source"] == {"src": 12}

    from cinemanet.datasets.exporters import export_folder, export_parquet, export_webdataset

    out = export_folder(ds, tmp_path / "tree")
    files = sorted(p for p in out.rglob("*.jpg"))
    assert len(files) == 12 and {p.parent.name for p in files} == {"closeup", "long"}
    with open(out / "labels.csv") as f:
        assert len(list(csv.DictReader(f))) == 12
    shards = export_webdataset(ds, tmp_path / "wds", shard_size=5)
    members = [m for s in shards for m in tarfile.open(s).getnames()]
    assert len(members) == 24 and sum(m.endswith(".json") for m in members) == 12
    with tarfile.open(shards[0]) as tar:
        meta = json.load(tar.extractfile(next(m for m in tar.getnames() if m.endswith(".json"))))
    assert meta["labels"]["shot.framing"].startswith("shot.framing.") and meta["split"] in ("train", "test")
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet export needs pyarrow")
    t = pq.read_table(export_parquet(ds, tmp_path / "pq"))
    assert t.num_rows == 12 and t.column("shot.framing").to_pylist().count("shot.framing.long") == 2
    assert t.column("image")[0].as_py()[:2] == b"\xff\xd8"  # JPEG bytes


def test_cli_import_stats_list_export(store, tmp_path):
    from cinemanet.interfaces.cli import app

    src = tmp_path / "src"
    for i in range(4):
        save(src / "ECU" / f"a{i}.jpg", picture(500 + i))
        save(src / "medium" / f"b{i}.jpg", picture(600 + i))
    r = CliRunner().invoke(app, ["dataset", "import", str(src), "--name", "cli", "--licence", "CC0"])
    assert r.exit_code == 0, r.output
    assert "8 new images" in r.output
    r = CliRunner().invoke(app, ["dataset", "stats", "cli", "--format", "json"])
    assert json.loads(r.output)["groups"]["shot.framing"]["images"] == 8
    r = CliRunner().invoke(app, ["dataset", "list"])
    assert "cli" in r.output and "shot.framing" in r.output
    r = CliRunner().invoke(app, ["dataset", "export", "cli", "--to", "webdataset", "--out", str(tmp_path / "w")])
    assert r.exit_code == 0 and ".tar" in r.output
    save(src / "closeupp" / "c.jpg", picture(700))
    r = CliRunner().invoke(app, ["dataset", "import", str(src), "--name", "cli2"])
    assert r.exit_code == 2 and "did you mean" in r.output
    r = CliRunner().invoke(app, ["dataset", "stats", "nope"])
    assert r.exit_code == 2


def test_unreadable_file_is_reported_and_the_import_goes_on(store, tmp_path):
    from cinemanet.interfaces.cli import app

    src = tmp_path / "bad"
    for i in range(3):
        save(src / "closeup" / f"{i}.jpg", picture(40 + i))
    (src / "closeup" / "broken.jpg").write_bytes(b"not a jpeg at all")
    r = CliRunner().invoke(app, ["dataset", "import", str(src), "--name", "bad", "--group", "framing"])
    assert r.exit_code == 1  # something was skipped
    lines = [l for l in r.output.splitlines() if "broken.jpg" in l]
    assert len(lines) == 1 and "unreadable" in lines[0]
    assert len(store.load("bad").records) == 3
