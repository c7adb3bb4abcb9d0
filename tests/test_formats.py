"""model.yaml and data-set manifests carry a format version and are validated with clear errors."""

from __future__ import annotations

import json

import pytest
import yaml

from cinemanet.concepts.model import MODEL_FORMAT, ModelSpecError, model_spec


def _default() -> dict:
    return yaml.safe_load((model_spec().root / "model.yaml").read_text(encoding="utf-8"))


def _write(tmp_path, data) -> str:
    p = tmp_path / "model.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return str(p)


def test_default_model_declares_its_format():
    assert _default()["format"] == MODEL_FORMAT


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(format=MODEL_FORMAT + 1), "newer than this cinemanet reads"),
        (lambda d: d.update(format="one"), "format must be a positive integer"),
        (lambda d: d.update(colour="blue"), "unknown key(s) colour"),
        (lambda d: d.pop("name"), "missing 'name'"),
        (lambda d: d["groups"]["shot.level"].update(threshhold=0.3), "groups.shot.level: unknown key(s) threshhold"),
        (
            lambda d: d["groups"]["shot.level"].update(threshold=3),
            "groups.shot.level.threshold must be a number in [0, 1]",
        ),
        (lambda d: d["groups"]["shot.level"].pop("predictor"), "groups.shot.level needs a predictor"),
        (lambda d: d["groups"].pop("shot.level"), "missing ['shot.level']"),
    ],
)
def test_bad_model_yaml_names_file_and_problem(tmp_path, change, message):
    d = _default()
    change(d)
    path = _write(tmp_path, d)
    with pytest.raises(ModelSpecError) as e:
        model_spec(path)
    assert path in str(e.value) and message in str(e.value)


def test_model_yaml_without_format_reads_as_format_1(tmp_path):
    d = _default()
    d.pop("format")
    assert model_spec(_write(tmp_path, d)).name == d["name"]


def test_not_yaml_is_a_clear_error(tmp_path):
    with pytest.raises(ModelSpecError, match="not valid YAML"):
        model_spec(_write(tmp_path, "groups: [unclosed"))


def test_dataset_manifest_format(tmp_path):
    from cinemanet.datasets.store import MANIFEST_FORMAT, Dataset, DatasetStore, ManifestError

    store = DatasetStore(tmp_path)
    ds = Dataset("empty", tmp_path, [], {"name": "empty", "imports": []})
    ds.folder.mkdir(parents=True)
    ds.save()
    meta = json.loads((ds.folder / "dataset.json").read_text())
    assert meta["format"] == MANIFEST_FORMAT
    assert store.load("empty").meta["format"] == MANIFEST_FORMAT
    meta["format"] = MANIFEST_FORMAT + 1
    (ds.folder / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ManifestError, match=r"dataset.json: data-set format 2 is newer"):
        store.load("empty")
    (ds.folder / "dataset.json").write_text("{not json")
    with pytest.raises(ManifestError, match="dataset.json: unreadable"):
        store.load("empty")
