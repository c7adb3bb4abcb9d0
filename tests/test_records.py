"""Typed Shot and Video records: analysis builds them once; to_dict() is exactly the JSON
contract, a sidecar read back round-trips unchanged, and bad records are named errors."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cinemanet.schemas import SHOT_SCHEMA_FILE, VIDEO_SCHEMA_FILE, shipped
from cinemanet.video.records import RecordError, Shot, Video, contract_schema
from cinemanet.video.sidecar import read_video, write_sidecar

from videos import synthetic_hard_cuts


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, net):
    from cinemanet.video.analyze import VideoAnalyzer

    d = tmp_path_factory.mktemp("records")
    video = d / "clip.mp4"
    synthetic_hard_cuts(video, n_shots=3, width=160, height=90, seed=11, lo=20, hi=30)
    return video, VideoAnalyzer(net).analyze_video(video)


def test_analysis_gives_typed_records(analysed):
    _, v = analysed
    assert isinstance(v, Video) and v.shots and all(isinstance(s, Shot) for s in v.shots)
    assert [s.shot for s in v.shots] == list(range(len(v.shots)))
    assert v.shots[0].transition.kind == "start"
    assert v.file.sha256 and len(v.file.sha256) == 64


def test_to_dict_is_the_contract(analysed):
    _, v = analysed
    doc = v.to_dict()
    jsonschema.validate(doc, shipped(VIDEO_SCHEMA_FILE))
    for s in doc["shots"]:
        jsonschema.validate(s, shipped(SHOT_SCHEMA_FILE))
        assert list(s)[0] == "schema" and list(s)[-1] == "embedding"  # the embedding stays last
    assert list(doc) == ["schema", "path", "file", "model", "video", "created", "shots"]


def test_sidecar_round_trips_byte_for_byte(analysed, tmp_path):
    video, v = analysed
    p = write_sidecar(v, tmp_path / (video.name + ".cinemanet.json"))
    again = read_video(p)
    p2 = write_sidecar(again, tmp_path / "again.cinemanet.json")
    assert p.read_bytes() == p2.read_bytes()
    assert json.loads(p.read_bytes()) == v.to_dict()


def test_unknown_fields_survive_a_round_trip(analysed):
    _, v = analysed
    doc = v.to_dict()
    doc["shots"][0]["from_a_newer_writer"] = {"x": 1}
    assert Video.from_dict(doc).to_dict()["shots"][0]["from_a_newer_writer"] == {"x": 1}


def test_bad_record_names_the_field(analysed):
    _, v = analysed
    doc = v.to_dict()
    doc["shots"][1]["start_frame"] = "soon"
    with pytest.raises(RecordError, match=r"shot 1: start_frame"):
        Video.from_dict(doc)
    with pytest.raises(RecordError, match="not a cinemanet.video/2 document"):
        Video.from_dict({**doc, "schema": "cinemanet.tag/1"})


def test_shipped_schemas_come_from_the_records():
    assert shipped(SHOT_SCHEMA_FILE)["oneOf"][0] == contract_schema(Shot)
    assert {k: shipped(VIDEO_SCHEMA_FILE)[k] for k in ("type", "required", "properties")} == {
        k: contract_schema(Video)[k] for k in ("type", "required", "properties")
    }


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    """Sidecars and exports are read from shared volumes: they get the user's umask, not 0600."""
    import os

    from cinemanet.util.files import atomic_path, atomic_write

    old = os.umask(umask)
    try:
        a = atomic_write(tmp_path / "a.json", "{}")
        with atomic_path(tmp_path / "b.npz") as p:
            p.write_bytes(b"x")
    finally:
        os.umask(old)
    for f in (a, tmp_path / "b.npz"):
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask


def test_one_analysis_opens_and_hashes_the_video_once(analysed, net, tmp_path, monkeypatch):
    """Probe and decode share one open container; the content hash is read once."""
    import cinemanet.media.video as media_video
    import cinemanet.video.analyze as analyze_mod
    from cinemanet.video.analyze import VideoAnalyzer
    from cinemanet.video.batch import process_one

    video, _ = analysed
    opened, hashed = [], []
    real_open, real_hash = media_video._open, analyze_mod.file_sha256
    monkeypatch.setattr(media_video, "_open", lambda p: opened.append(p) or real_open(p))
    monkeypatch.setattr(analyze_mod, "file_sha256", lambda p, *a, **k: hashed.append(p) or real_hash(p, *a, **k))
    r = process_one(VideoAnalyzer(net), str(video), str(tmp_path), False, True)
    assert r.status == "done", r.error
    assert len(opened) == 1 and len(hashed) == 1
