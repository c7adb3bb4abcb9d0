"""The public contracts: cinemanet.tag/1 JSON (schema-checked), the Python API, the CLI."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from cinemanet.media import IMAGE_EXTENSIONS, discover
from cinemanet.schemas import SCHEMAS, shipped
from cinemanet.taxonomy import get_taxonomy

from conftest import EXAMPLES


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "cinemanet", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(shipped())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_shipped_schemas_are_current(name):
    assert shipped(name) == json.loads(json.dumps(SCHEMAS[name]())), (
        f"run `python -m cinemanet.schemas` to refresh {name}"
    )
    jsonschema.Draft202012Validator.check_schema(shipped(name))


def test_api_result_matches_schema_and_contract(net, validator):
    r = net.tag(EXAMPLES / "caminandes_llama.jpg", embeddings=True)
    d = r.to_dict()
    validator.validate(d)
    tax = get_taxonomy()
    assert list(d["groups"]) == list(tax.group_keys) and len(d["groups"]) == 14
    for g in tax.groups:
        gp = d["groups"][g.key]
        assert set(gp["scores"]) == set(g.keys)
        if not g.multi_label:
            assert sum(gp["scores"].values()) <= 1.0 + 1e-3
        if gp["label"] is not None and gp["label"] != (g.na.key if g.na else None):
            assert gp["scores"][gp["label"]] >= 0.3
    for t in d["tags"]:
        assert not tax.label(t).is_na
    assert d["width"] == 640 and d["height"] == 360
    assert len(d["embedding"]) == 1280
    assert d["description"][0].islower() or d["description"].startswith(("A", "An"))
    assert json.loads(r.to_json()) == d


def test_schema_rejects_broken_results(net, validator):
    d = net.tag(EXAMPLES / "sintel_snow.jpg").to_dict()
    broken = json.loads(json.dumps(d))
    del broken["groups"]["shot.framing"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    broken = json.loads(json.dumps(d))
    broken["groups"]["shot.framing"]["label"] = "shot.framing.wide"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def _bad_folder(tmp: Path) -> Path:
    from test_media import _bad_inputs

    _bad_inputs(tmp)
    for p in EXAMPLES.glob("*.jpg"):
        shutil.copy(p, tmp / p.name)
    (tmp / "empty dir").mkdir()
    return tmp


def test_cli_jsonl_batch_goes_on_after_bad_inputs(tmp_path, validator):
    folder = _bad_folder(tmp_path)
    out = run_cli("tag", folder, folder / "empty dir", folder / "missing.jpg", "--format", "jsonl")
    assert out.returncode == 1
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    for d in lines:
        validator.validate(d)
    errors = {Path(d["path"]).name: d["error"] for d in lines if "error" in d}
    ok = {Path(d["path"]).name for d in lines if "error" not in d}
    assert ok == {p.name for p in EXAMPLES.glob("*.jpg")} | {"whole.jpg"}
    assert set(errors) == {"zero.jpg", "truncated.jpg", "text.jpg", "bomb.png", "empty dir", "missing.jpg"}
    for name, reason in errors.items():
        assert "\n" not in reason
        assert f"{name}: {reason}" in out.stderr.replace(str(folder) + "/", "")  # one line on stderr each
    assert "6 of" in out.stderr


def test_cli_ok_exit_code_and_api_equivalence(net):
    out = run_cli("tag", EXAMPLES / "tears_of_steel_lab.jpg", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    api = net.tag(EXAMPLES / "tears_of_steel_lab.jpg").to_dict()
    assert cli == api


def test_cli_usage_errors_exit_2():
    assert run_cli("tag").returncode == 2
    assert run_cli("tag", "x.jpg", "--format", "yaml").returncode == 2
    assert run_cli("taxonomy", "--group", "shot.nonsense").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_cli_csv_and_table(tmp_path):
    out = run_cli("tag", EXAMPLES, "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 4
    assert all(r["shot.framing"].startswith("shot.framing.") for r in rows)
    assert all(r["description"] for r in rows)
    out = run_cli("tag", EXAMPLES / "sintel_snow.jpg", "--format", "table", "-o", tmp_path / "t.txt")
    assert out.returncode == 0
    text = (tmp_path / "t.txt").read_text()
    assert "sintel_snow.jpg" in text and "framing" in text


def test_parallel_batch_matches_in_process(tmp_path, net):
    files = []
    for i in range(4):
        for p in sorted(EXAMPLES.glob("*.jpg")):
            dst = tmp_path / f"{i}_{p.name}"
            shutil.copy(p, dst)
            files.append(dst)
    (tmp_path / "9_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    inputs = list(discover([tmp_path], IMAGE_EXTENSIONS))
    pooled = list(net.tag_inputs(inputs, jobs=2))
    assert [r.path for r in pooled] == [i.path for i in inputs]
    assert not pooled[-1].ok
    for r in pooled[:-1]:
        assert r.to_dict() == net.tag(r.path).to_dict()


def test_help_explains_commands():
    out = run_cli("--help")
    assert out.returncode == 0 and "tag" in out.stdout and "taxonomy" in out.stdout
    out = run_cli("tag", "--help")
    assert "--format" in out.stdout and "--embeddings" in out.stdout and "exit status" in out.stdout


def test_cli_survives_non_utf8_and_spaced_names(tmp_path):
    import os

    good = (EXAMPLES / "sintel_snow.jpg").read_bytes()
    raw_dir = os.fsencode(str(tmp_path))
    with open(raw_dir + b"/caf\xe9 still.jpg", "wb") as f:
        f.write(good)
    with open(raw_dir + b"/bad \xff name.jpg", "wb") as f:
        f.write(b"not a jpeg")
    for fmt in ("jsonl", "csv", "table"):
        out = subprocess.run(
            [sys.executable, "-m", "cinemanet", "tag", str(tmp_path), "--format", fmt], capture_output=True, timeout=300
        )
        assert out.returncode == 1, out.stderr.decode(errors="replace")
        assert b"Traceback" not in out.stderr
        assert out.stderr.count(b"\n") == 2  # one line for the bad file, one summary line
    lines = [
        json.loads(x)
        for x in subprocess.run(
            [sys.executable, "-m", "cinemanet", "tag", str(tmp_path), "--format", "jsonl"],
            capture_output=True,
            timeout=300,
        ).stdout.splitlines()
    ]
    paths = {os.fsencode(d["path"]) for d in lines}
    assert paths == {raw_dir + b"/caf\xe9 still.jpg", raw_dir + b"/bad \xff name.jpg"}


@pytest.mark.parametrize("columns", ["80", "60"])
def test_tag_table_fits_the_width_and_never_breaks_a_label(tmp_path, columns):
    import os

    env = dict(os.environ, COLUMNS=columns)
    out = subprocess.run(
        [sys.executable, "-m", "cinemanet", "tag", str(EXAMPLES), "--format", "table"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines and max(len(x) for x in lines) <= int(columns)
    jl = subprocess.run(
        [sys.executable, "-m", "cinemanet", "tag", str(EXAMPLES), "--format", "jsonl"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    for doc in map(json.loads, jl.stdout.splitlines()):
        framing = doc["groups"]["shot.framing"]
        if not framing["label"] or framing["label"].endswith(".na"):
            continue  # shown as a dash
        pick = f"{framing['label'].rsplit('.', 1)[-1]} {framing['confidence']:.2f}"
        assert any(pick in x for x in lines), pick  # on one line, whole
