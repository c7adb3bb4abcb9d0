from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cinemanet.taxonomy import TaxonomyError, get_taxonomy, load_taxonomy

from conftest import SHARED


def test_shape():
    tax = get_taxonomy()
    assert len(tax.groups) == 14
    assert len(tax.labels) == 231
    multi = {g.key for g in tax.groups if g.multi_label}
    assert multi == {"shot.subject", "shot.location"}
    for g in tax.groups:
        for lab in g.labels:
            assert lab.title and lab.description and "\n" not in lab.description


@pytest.mark.skipif(not (SHARED / "taxonomy").is_dir(), reason="needs ../shared/taxonomy (the v1 key list)")
def test_keys_are_exactly_v1():
    keys = (SHARED / "taxonomy" / "cinemanet-v1-label-keys.txt").read_text().split()
    assert sorted(keys) == sorted(lab.key for lab in get_taxonomy().labels)
    for k in keys:  # every v1 na label is there
        if k.endswith(".na"):
            assert get_taxonomy().group_of(k).na.key == k


@pytest.mark.parametrize(
    "word,key",
    [
        ("close up", "shot.framing.closeup"),
        ("CU", "shot.framing.closeup"),
        ("extemelong", "shot.framing.extremelong"),
        ("Medum", "shot.framing.medium"),
        ("key high", "shot.lighting.key.high"),
        ("High Key", "shot.lighting.key.high"),
        ("two shot", "shot.type.twoshot"),
        ("over the shoulder", "shot.type.overtheshoulder"),
        ("interior bed", "shot.location.interior.structure.building.room.bed"),
        ("shot.focus.shallow", "shot.focus.shallow"),
    ],
)
def test_aliases(word, key):
    assert get_taxonomy().resolve(word).key == key


def test_hierarchy():
    tax = get_taxonomy()
    loc = tax.group("shot.location")
    assert loc.ancestors("shot.location.interior.structure.building.room.bed") == ["shot.location.interior"]
    assert loc.ancestors("shot.location.interior.structure.building.office.cubicle") == [
        "shot.location.interior.structure.building.office",
        "shot.location.interior",
    ]
    assert tax.label("shot.subject.person.face").parent == "shot.subject.person"
    assert tax.group("shot.framing").order[0] == "shot.framing.extremecloseup"


def test_validation_catches_mistakes():
    good = "schema: cinemanet.taxonomy/1\nversion: '1'\ngroups:\n  - key: g\n    title: G\n    labels:\n"
    lab = "      - {key: %s, title: %s, description: d, aliases: [%s]}\n"
    load_taxonomy(good + lab % ("g.a", "A", "x") + lab % ("g.b", "B", "y"))
    with pytest.raises(TaxonomyError):  # alias clash
        load_taxonomy(good + lab % ("g.a", "A", "x") + lab % ("g.b", "B", "x"))
    with pytest.raises(TaxonomyError):  # wrong group prefix
        load_taxonomy(good + lab % ("h.a", "A", "x"))
    with pytest.raises(TaxonomyError):  # duplicate key
        load_taxonomy(good + lab % ("g.a", "A", "x") + lab % ("g.a", "B", "y"))


def test_cli_formats():
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "cinemanet", "taxonomy", *a], capture_output=True, text=True, timeout=60
    )
    doc = json.loads(run("--format", "json").stdout)
    assert len(doc["groups"]) == 14 and sum(len(g["labels"]) for g in doc["groups"]) == 231
    md = run("--group", "shot.framing", "--format", "markdown").stdout
    assert "`shot.framing.closeup`" in md and "shot.location" not in md
    assert "Close-up" in run("--group", "shot.framing").stdout


def test_short_group_names_as_search_accepts_them():
    tax = get_taxonomy()
    for name in ("framing", "shot.framing", "Shot framing", "FRAMING"):
        assert tax.find_group(name).key == "shot.framing"
    with pytest.raises(KeyError, match="unknown concept group"):
        tax.find_group("frming")
    out = subprocess.run(
        [sys.executable, "-m", "cinemanet", "taxonomy", "--group", "framing", "--format", "markdown"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "`shot.framing.closeup`" in out.stdout
