"""Exports of a cinemanet.video/1 sidecar: CSV, CMX3600 EDL, OTIO, FCPXML and the contact sheet.

Everything is built here: a tiny H.264 video written with PyAV (three colour segments, and
each frame's index drawn as a row of black/white bit blocks so the contact sheet can be
checked to the frame) and sidecar documents whose shots match it.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from cinemanet.taxonomy import get_taxonomy
from cinemanet.video.export import EXPORT_FORMATS, ExportError, export, get_exporter
from cinemanet.video.timecode import smpte

otio = pytest.importorskip("opentimelineio")

COLORS = [(220, 30, 30), (30, 200, 40), (40, 60, 220)]
W, H, SEG, N = 160, 90, 32, 96
BITS, BLOCK, BAND = 7, 20, 16  # frame index as 7 blocks 20 px wide along the top 16 rows


def _frame(i: int) -> np.ndarray:
    a = np.empty((H, W, 3), np.uint8)
    a[:] = COLORS[(i // SEG) % len(COLORS)]
    for b in range(BITS):
        a[:BAND, b * BLOCK : (b + 1) * BLOCK] = 255 if (i >> b) & 1 else 0
    return a


def write_video(path: Path, n: int = N, fps: Fraction = Fraction(24)) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        # short GOPs and B-frames, so grabbing frames really seeks and reorders
        s.options = {"preset": "ultrafast", "crf": "12", "bf": "2", "keyint": "12", "min-keyint": "12", "scenecut": "0"}
        for i in range(n):
            for p in s.encode(av.VideoFrame.from_ndarray(_frame(i), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def make_doc(
    path: str,
    *,
    fps: str = "24/1",
    bounds=((0, 31), (32, 63), (64, 95)),
    keyframes=None,
    description: str | None = None,
    frame_count: int | None = None,
) -> dict:
    """A sidecar whose shots are ``bounds`` (inclusive frames); every group gets a valid label."""
    tax = get_taxonomy()
    rate = Fraction(fps)
    shots = []
    for i, (a, b) in enumerate(bounds):
        groups = {}
        for j, g in enumerate(tax.groups):
            lab = g.labels[(i + j) % len(g.labels)]
            conf = round(0.3 + 0.25 * i, 4)
            groups[g.key] = {"label": lab.key, "confidence": conf, "scores": {lab.key: conf}}
        ks = keyframes[i] if keyframes else [a + 2, (a + b) // 2, b - 2]
        shots.append(
            {
                "schema": "cinemanet.shot/1",
                "path": path,
                "shot": i,
                "start_frame": a,
                "end_frame": b,
                "start_time": float(a / rate),
                "end_time": float((b + 1) / rate),
                "start_timecode": smpte(a, rate),
                "end_timecode": smpte(b, rate),
                "groups": groups,
                "tags": [v["label"] for v in groups.values() if not v["label"].endswith(".na")],
                "description": description if description is not None else f"an interior, medium shot number {i + 1}",
                "keyframes": ks,
                "dominant_colors": [{"hex": "#%02x%02x%02x" % COLORS[i % 3], "fraction": 0.9}],
                "motion": 0.1 * i,
                "transition": {"kind": "cut", "start_frame": a, "end_frame": a},
            }
        )
    size = Path(path).stat().st_size if Path(path).exists() else 1
    count = frame_count or bounds[-1][1] + 1
    return {
        "schema": "cinemanet.video/1",
        "path": path,
        "file": {"size": size, "sha256": "0" * 64, "mtime": 1700000000.0},
        "model": {
            "name": "cinemanet-default",
            "version": "0.1.0",
            "taxonomy": "1.0.0",
            "detector": "fast",
            "cinemanet": "0.1.0",
        },
        "video": {
            "width": W,
            "height": H,
            "rotation": 0,
            "fps": float(rate),
            "fps_rational": fps,
            "time_base": "1/12288",
            "duration": float(count / rate),
            "frame_count": count,
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "bit_depth": 8,
        },
        "created": "2026-11-26T17:00:00Z",
        "shots": shots,
    }


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    # a space and a non-ASCII letter in the name, on purpose
    return write_video(tmp_path_factory.mktemp("media") / "clip é 1.mp4")


@pytest.fixture
def doc(video) -> dict:
    return make_doc(str(video))


# --- registry -------------------------------------------------------------------------------


def test_registry_lists_formats_in_order():
    assert list(EXPORT_FORMATS) == ["csv", "edl", "otio", "fcpxml", "jpg"]
    assert get_exporter("JPEG").name == "jpg" and get_exporter(".edl").name == "edl"
    for ex in EXPORT_FORMATS.values():
        assert ex.suffix.startswith(".") and ex.summary


def test_unknown_format_and_option_are_export_errors(doc, tmp_path):
    with pytest.raises(ExportError) as e:
        export(doc, "avi", tmp_path / "x")
    assert "\n" not in str(e.value) and "avi" in str(e.value) and "csv" in str(e.value)
    with pytest.raises(ExportError, match="no option 'colour'"):
        export(doc, "csv", tmp_path / "x.csv", colour=True)
    with pytest.raises(ExportError, match="not a cinemanet.video/2"):
        export({"schema": "other"}, "csv", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="does not exist"):
        export(doc, "csv", tmp_path / "no" / "x.csv")


def test_export_from_sidecar_file_into_folder(doc, tmp_path):
    from cinemanet.video.sidecar import write_sidecar

    sc = write_sidecar(doc, tmp_path / "clip.cinemanet.json.zst")
    out = export(sc, "csv", tmp_path)
    assert out == tmp_path / "clip é 1.mp4.csv" and out.exists()
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ExportError, match="cannot read sidecar"):
        export(tmp_path / "missing.json", "csv", tmp_path)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_rows_and_columns(doc, video, tmp_path):
    out = export(doc, "csv", tmp_path / "shots.csv")
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    tax = get_taxonomy()
    assert len(rows) == 3
    cols = list(rows[0])
    assert cols[:10] == [
        "path",
        "shot",
        "start_frame",
        "end_frame",
        "frames",
        "start_time",
        "end_time",
        "duration",
        "start_timecode",
        "end_timecode",
    ]
    assert cols[10 : 10 + 2 * len(tax.groups)] == [c for g in tax.group_keys for c in (g, f"{g}.confidence")]
    assert cols[-6:] == ["tags", "description", "keyframes", "motion", "dominant_colors", "transition"]
    r = rows[1]
    shot = doc["shots"][1]
    assert r["path"] == str(video) and r["shot"] == "1"
    assert (r["start_frame"], r["end_frame"], r["frames"]) == ("32", "63", "32")
    assert float(r["start_time"]) == pytest.approx(32 / 24) and float(r["duration"]) == pytest.approx(32 / 24)
    assert (r["start_timecode"], r["end_timecode"]) == ("00:00:01:08", "00:00:02:15")
    assert r["shot.framing"] == shot["groups"]["shot.framing"]["label"]
    assert float(r["shot.framing.confidence"]) == pytest.approx(shot["groups"]["shot.framing"]["confidence"])
    assert r["tags"].split(" ") == shot["tags"]
    assert r["keyframes"] == "34 47 61" and r["transition"] == "cut"
    assert r["dominant_colors"] == "#1ec828:0.9"
    # titles instead of keys, and an Excel BOM
    out = export(doc, "csv", tmp_path / "titles.csv", titles=True, excel=True)
    assert out.read_bytes()[:3] == b"\xef\xbb\xbf"
    r = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))[1]
    assert r["shot.framing"] == get_taxonomy().label(shot["groups"]["shot.framing"]["label"]).title


def test_csv_survives_non_utf8_path(tmp_path):
    bad = "/media/caf\udce9 clip.mp4"  # b"caf\xe9" as os.fsdecode gives it
    doc = make_doc(bad)
    out = export(doc, "csv", tmp_path / "bad.csv")
    assert b"/media/caf\xe9 clip.mp4" in out.read_bytes()
    for fmt in ("edl", "otio", "fcpxml"):
        assert export(doc, fmt, tmp_path / f"bad.{fmt}").stat().st_size > 0


# --- EDL ------------------------------------------------------------------------------------


def _events(text: str) -> list[list[str]]:
    return [ln.split() for ln in text.splitlines() if re.match(r"^\d{3,}\s", ln)]


def test_edl_24fps_read_back_by_otio(doc, video, tmp_path):
    out = export(doc, "edl", tmp_path / "cut.edl")
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "TITLE: clip e 1" and lines[1] == "FCM: NON-DROP FRAME"
    ev = _events(text)
    assert [e[1] for e in ev] == ["CLIPE1"] * 3 and [e[2:4] for e in ev] == [["V", "C"]] * 3
    assert ev[0][4:] == ["00:00:00:00", "00:00:01:08", "01:00:00:00", "01:00:01:08"]
    assert ev[2][4:] == ["00:00:02:16", "00:00:04:00", "01:00:02:16", "01:00:04:00"]
    locs = [ln for ln in lines if ln.startswith("* LOC: ")]
    assert len(locs) == 3 and all(ln.isascii() for ln in locs)
    assert locs[0].startswith("* LOC: 01:00:00:00 RED     an interior, medium shot number 1")
    assert locs[2].split()[3] == "GREEN"

    tl = otio.adapters.read_from_file(str(out), adapter_name="cmx_3600", rate=24)
    track = tl.tracks[0]
    clips = list(tl.find_clips())
    assert len(clips) == 3 and len(track) == 3  # laid end to end: no gaps
    RT = otio.opentime
    assert -track.source_range.start_time == RT.from_timecode("01:00:00:00", 24)
    assert clips[0].name == video.name
    assert clips[0].source_range == RT.TimeRange(RT.RationalTime(0, 24), RT.RationalTime(32, 24))
    assert RT.to_timecode(clips[1].source_range.start_time, 24) == doc["shots"][1]["start_timecode"]
    assert RT.to_timecode(clips[2].source_range.end_time_inclusive(), 24) == doc["shots"][2]["end_timecode"]
    for clip, color in zip(clips, ("RED", "YELLOW", "GREEN")):
        (m,) = clip.markers
        assert m.color == color and m.name.startswith("an interior, medium shot")
        # Avid puts locators at record timecode; OTIO keeps that value as it is
        rec_in = -track.source_range.start_time + track.range_of_child(clip).start_time
        assert m.marked_range.start_time == rec_in
        assert clip.metadata["cmx_3600"]["reel"] == "CLIPE1"


def test_edl_drop_frame_29_97(tmp_path):
    doc = make_doc("/media/ntsc take.mov", fps="30000/1001", bounds=((0, 899), (900, 1799), (1800, 2699)))
    text = export(doc, "edl", tmp_path / "df.edl", reel="AX").read_text()
    assert "FCM: DROP FRAME" in text.splitlines()[1]
    ev = _events(text)
    assert ev[0][1] == "AX"
    assert ev[1][4:] == ["00:00:30;00", "00:01:00;02", "01:00:30;00", "01:01:00;02"]
    assert ev[2][4:6] == ["00:01:00;02", "00:01:30;02"]
    rate = 30000 / 1001
    tl = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=rate)
    clips = list(tl.find_clips())
    assert [c.source_range.start_time.value for c in clips] == [0, 900, 1800]
    assert [c.source_range.duration.value for c in clips] == [900, 900, 900]
    assert -tl.tracks[0].source_range.start_time.value == 107892  # 01:00:00;00
    assert len([ln for ln in text.splitlines() if ln.startswith("* LOC: 01:0")]) == 3


@pytest.mark.parametrize("fps", ["24/1", "25/1", "30000/1001", "60000/1001", "24000/1001"])
def test_edl_timecode_parse_inverts_smpte(fps):
    from cinemanet.video.export.edl import parse_timecode
    from cinemanet.video.export import hour_frames

    rate = Fraction(fps)
    for f in list(range(0, 5000, 7)) + [17982, 17983, 107891, 107892, 215784]:
        assert parse_timecode(smpte(f, rate), rate) == f
    assert smpte(hour_frames(rate), rate) in ("01:00:00:00", "01:00:00;00")


def test_edl_marker_text_is_ascii_one_line_and_cut(tmp_path):
    desc = "une scène\nintérieure — " + "très " * 40 + "longue"
    doc = make_doc("/m/a.mov", description=desc)
    text = export(doc, "edl", tmp_path / "a.edl", marker_chars=60).read_text()
    (loc, *_) = [ln for ln in text.splitlines() if ln.startswith("* LOC:")]
    body = loc.split(None, 4)[4]
    assert loc.isascii() and body.startswith("une scene interieure tres") and body.endswith("...")
    assert len(body) <= 60
    otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=24)


# --- OTIO -----------------------------------------------------------------------------------


def test_otio_round_trip(doc, video, tmp_path):
    from cinemanet.video.export.otio import timeline

    assert isinstance(timeline(doc), otio.schema.Timeline)
    out = export(doc, "otio", tmp_path / "cut.otio")
    tl = otio.adapters.read_from_file(str(out))
    assert len(tl.tracks) == 1 and tl.tracks[0].kind == otio.schema.TrackKind.Video
    clips = list(tl.find_clips())
    assert len(clips) == 3
    RT = otio.opentime
    for clip, shot in zip(clips, doc["shots"]):
        a, b = shot["start_frame"], shot["end_frame"]
        assert clip.source_range == RT.TimeRange(RT.RationalTime(a, 24), RT.RationalTime(b - a + 1, 24))
        ref = clip.media_reference
        assert ref.target_url == video.as_uri() and "%20" in ref.target_url
        assert ref.available_range.duration == RT.RationalTime(96, 24)
        md = clip.metadata["cinemanet"]
        assert list(md["tags"]) == shot["tags"] and md["description"] == shot["description"]
        assert list(md["keyframes"]) == shot["keyframes"] and md["motion"] == pytest.approx(shot["motion"])
        assert md["dominant_colors"][0]["hex"] == shot["dominant_colors"][0]["hex"]
        g = md["groups"]["shot.framing"]
        assert g["label"] == shot["groups"]["shot.framing"]["label"]
        assert g["confidence"] == pytest.approx(shot["groups"]["shot.framing"]["confidence"])
        assert set(md["groups"]) == set(get_taxonomy().group_keys)
        (m,) = clip.markers
        assert m.name == shot["description"] and m.marked_range.start_time == RT.RationalTime(a, 24)
        assert list(m.metadata["cinemanet"]["tags"]) == shot["tags"]
    assert [c.markers[0].color for c in clips] == ["RED", "YELLOW", "GREEN"]
    assert tl.metadata["cinemanet"]["video"]["fps_rational"] == "24/1"


def test_otio_keeps_exact_ntsc_rate(tmp_path):
    doc = make_doc("/m/n.mov", fps="30000/1001", bounds=((0, 9), (10, 29)))
    tl = otio.adapters.read_from_file(str(export(doc, "otio", tmp_path / "n.otio")))
    clip = list(tl.find_clips())[1]
    assert clip.source_range.start_time.rate == 30000 / 1001
    assert otio.opentime.to_timecode(clip.source_range.start_time, 30000 / 1001) == "00:00:00;10"


# --- FCPXML ---------------------------------------------------------------------------------


def test_fcpxml_is_well_formed_and_read_by_the_adapter(doc, video, tmp_path):
    out = export(doc, "fcpxml", tmp_path / "cut.fcpxml")
    root = ET.parse(out).getroot()
    assert root.tag == "fcpxml"
    (fmt,) = root.iter("format")
    assert fmt.get("frameDuration") == "1/24s" and fmt.get("width") == "160"
    (asset,) = root.iter("asset")
    assert asset.get("name") == video.name and asset.get("src") == video.as_uri()
    assert len(list(root.iter("marker"))) == 3
    kws = [k.get("value") for k in root.iter("keyword")]
    assert len(kws) == 3 and get_taxonomy().label(doc["shots"][0]["tags"][0]).title in kws[0]

    tl = otio.adapters.read_from_file(str(out), adapter_name="fcpx_xml")
    clips = list(tl.find_clips())
    assert len(clips) == 3
    RT = otio.opentime
    assert clips[1].source_range == RT.TimeRange(RT.RationalTime(32, 24), RT.RationalTime(32, 24))
    assert clips[2].markers[0].name == doc["shots"][2]["description"]
    assert clips[0].media_reference.metadata["fcpx"]["note"] == doc["shots"][0]["description"]


def test_fcpxml_ntsc_rate_is_exact(tmp_path):
    doc = make_doc("/m/n.mov", fps="30000/1001", bounds=((0, 29), (30, 59)))
    out = export(doc, "fcpxml", tmp_path / "n.fcpxml")
    root = ET.parse(out).getroot()
    assert [f.get("frameDuration") for f in root.iter("format")] == ["1001/30000s"]
    clips = root.findall(".//spine/clip")
    assert [c.get("offset") for c in clips] == ["0s", "1001/1000s"]
    assert len(list(otio.adapters.read_from_file(str(out), adapter_name="fcpx_xml").find_clips())) == 2


def test_fcpxml_without_the_adapter_names_the_package(doc, tmp_path, monkeypatch):
    monkeypatch.setattr(otio.adapters, "available_adapter_names", lambda: ["otio_json", "cmx_3600"])
    with pytest.raises(ExportError, match="otio-fcpx-xml-adapter") as e:
        export(doc, "fcpxml", tmp_path / "x.fcpxml")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "x.fcpxml").exists()


# --- contact sheet --------------------------------------------------------------------------


def _sheet(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "JPEG"
        return np.asarray(im.convert("RGB")).astype(int)


def _tile_frame(sheet: np.ndarray, box) -> int:
    """The frame index drawn in a tile's bit blocks (the tile is the video scaled up)."""
    x0, y0, x1, y1 = box
    s = (x1 - x0) / W
    bits = 0
    for b in range(BITS):
        x, y = x0 + int((b * BLOCK + BLOCK / 2) * s), y0 + int(BAND / 2 * s)
        if sheet[y - 2 : y + 3, x - 2 : x + 3].mean() > 128:
            bits |= 1 << b
    return bits


def _tile_colour(sheet: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) // 2, y0 + int((y1 - y0) * 0.65)
    return sheet[cy - 10 : cy + 10, cx - 10 : cx + 10].reshape(-1, 3).mean(axis=0)


def test_contact_sheet_size_colours_and_exact_frames(doc, tmp_path):
    from cinemanet.video.export.contactsheet import Layout

    out = export(doc, "jpg", tmp_path / "sheet.jpg")
    sheet = _sheet(out)
    lay = Layout.for_doc(doc, 3)
    assert (lay.columns, lay.tile_w, lay.tile_h) == (3, 320, 180)
    assert sheet.shape[1::-1] == lay.size
    for i, shot in enumerate(doc["shots"]):
        box = lay.image_box(i)
        assert np.abs(_tile_colour(sheet, box) - COLORS[i]).max() < 40
        assert _tile_frame(sheet, box) == shot["keyframes"][1]  # the middle keyframe, exactly


@pytest.mark.parametrize("seek_far", [0.0, 1e9], ids=["always-seek", "read-on"])
def test_contact_sheet_frames_are_exact_whether_seeking_or_not(video, tmp_path, monkeypatch, seek_far):
    import av

    from cinemanet.video.export import contactsheet

    # a shot per 6 frames; keyframes on segment edges and GOP edges (12), off-GOP, the last frame
    bounds = [(a, min(a + 5, 95)) for a in range(0, 96, 6)]
    picks = [0, 11, 12, 13, 31, 32, 33, 47, 63, 64, 65, 71, 72, 83, 90, 95]
    keyframes = [[p] for p in picks]
    doc = make_doc(str(video), bounds=bounds, keyframes=keyframes)
    opened, stats = [], []
    real_open, real_close = av.open, contactsheet._Grabber.close
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    monkeypatch.setattr(contactsheet._Grabber, "close", lambda g: stats.append((g.seeks, g.decoded)) or real_close(g))
    monkeypatch.setattr(contactsheet, "SEEK_FAR", seek_far)
    out = export(doc, "jpg", tmp_path / "s.jpg", columns=8, tile_width=160)
    assert len(opened) == 1  # one open container for all shots
    ((seeks, decoded),) = stats
    assert (seeks > 5) if seek_far == 0 else (seeks == 0 and decoded <= N)
    sheet = _sheet(out)
    lay = contactsheet.Layout.for_doc(doc, len(bounds), columns=8, tile_width=160)
    got = [_tile_frame(sheet, lay.image_box(i)) for i in range(len(bounds))]
    assert got == picks


def test_contact_sheet_missing_video_draws_placeholders(tmp_path):
    from cinemanet.video.export.contactsheet import TILE_BG, Layout

    doc = make_doc(str(tmp_path / "gone.mp4"))
    out = export(doc, "jpg", tmp_path / "sheet.jpg")
    sheet = _sheet(out)
    lay = Layout.for_doc(doc, 3)
    for i in range(3):
        x0, y0, x1, y1 = lay.image_box(i)
        corner = sheet[y0 + 30 : y0 + 40, x1 - 60 : x1 - 50].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - TILE_BG).max() < 25  # grey placeholder, not a picture
        label = sheet[y0 + lay.tile_h // 2 - 4 : y0 + lay.tile_h // 2 + 4, x0 + 100 : x1 - 100]
        assert label.max() > 150  # the "video not found" text


def test_contact_sheet_video_option_and_unreadable_video(doc, video, tmp_path):
    from cinemanet.video.export.contactsheet import Layout

    moved = dict(doc, path="/nowhere/clip.mp4")
    sheet = _sheet(export(moved, "jpg", tmp_path / "a.jpg", video=video))
    assert np.abs(_tile_colour(sheet, Layout.for_doc(doc, 3).image_box(2)) - COLORS[2]).max() < 40
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    assert export(make_doc(str(junk)), "jpg", tmp_path / "b.jpg").stat().st_size > 0


def test_contact_sheet_caps_many_shots(tmp_path):
    from cinemanet.video.export.contactsheet import Layout, sample

    bounds = [(i, i) for i in range(2000)]
    doc = make_doc(str(tmp_path / "none.mp4"), bounds=bounds)
    for s in doc["shots"]:
        s["keyframes"] = [s["start_frame"]]
    out = export(doc, "jpg", tmp_path / "cap.jpg", max_shots=40, columns=10, tile_width=80)
    lay = Layout.for_doc(doc, 40, columns=10, tile_width=80)
    assert _sheet(out).shape[1::-1] == lay.size
    assert sample(2000, 40)[0] == 0 and sample(2000, 40)[-1] == 1999 and len(sample(2000, 40)) == 40
    with pytest.raises(ExportError, match="lower max_shots"):
        export(doc, "jpg", tmp_path / "huge.jpg", max_shots=2000, columns=2)
    with pytest.raises(ExportError, match="no shots"):
        export(dict(doc, shots=[]), "jpg", tmp_path / "empty.jpg")


@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda d: d["shots"][0].update(start_frame="12a"), "start_frame is '12a'"),
        (lambda d: d["shots"][0].update(end_frame=1.5), "end_frame is 1.5"),
        (lambda d: d.pop("video"), "'video' is missing"),
        (lambda d: d.__setitem__("shots", {}), "'shots' is missing or not a list"),
    ],
)
def test_damaged_sidecar_is_one_clear_error(doc, tmp_path, damage, needle):
    """A hand-edited or damaged sidecar: export says what is wrong instead of a traceback."""
    import copy
    import json

    bad = copy.deepcopy(doc)
    damage(bad)
    p = tmp_path / "bad.cinemanet.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ExportError) as e:
        export(p, "csv", tmp_path)
    assert needle in str(e.value) and "\n" not in str(e.value)
    out = subprocess.run(
        [sys.executable, "-m", "cinemanet", "export", str(p), "--to", "edl", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and needle in out.stderr and "Traceback" not in out.stderr
