"""Shot boundaries as a contract: known answers per transition kind, detector options and
their validation, the per-frame stats file, transitions in the sidecar/JSONL (cinemanet.shot/2),
the EDL and OTIO round trip through OpenTimelineIO, bad input, and the inspected ground truth
of the four CC-BY clips (where ../shared/media exists)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import videos
from cinemanet.media.video import VideoReadError, iter_frames
from cinemanet.video.detectors import DetectorOptionError, create_detector, detector_names, options_help, parse_options
from cinemanet.video.stats import StatsWriter

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CINEMANET_SHARED", ROOT.parent / "shared"))
MEDIA = SHARED / "media"


def _two_shots(tmp_path, tr: videos.Transition, name: str, length: int = 48, speed: float = 1.0):
    shots = [videos.SyntheticShot(101, length, speed=speed), videos.SyntheticShot(202, length, speed=speed)]
    frames, truth = videos.compose(shots, [tr])
    path = tmp_path / f"{name}.mp4"
    videos.write_video(path, frames)
    return path, truth


# (a dissolve longer than ~24 frames between fast-moving shots is not found: the known limit,
# so the long one here joins calmer shots, as long dissolves usually do)
KNOWN = {
    "cut": (videos.Transition("cut"), "cut"),
    "dissolve": (videos.Transition("dissolve", length=16), "dissolve"),
    "long dissolve": (videos.Transition("dissolve", length=40), "dissolve"),
    "fade black": (videos.Transition("fade", out=12, hold=4, into=12, color=0), "fade"),
    "fade white": (videos.Transition("fade", out=10, hold=3, into=10, color=255), "fade"),
    "fade red": (videos.Transition("fade", out=12, hold=4, into=12, color=(190, 30, 30)), "fade"),
    "fade out, cut in": (videos.Transition("fade", out=14, hold=4, into=0, color=0), "fade"),
    "cut out, fade in": (videos.Transition("fade", out=0, hold=4, into=14, color=0), "fade"),
}


@pytest.mark.parametrize("name", list(KNOWN))
def test_fast_known_answer_per_transition_kind(tmp_path, name):
    tr, kind = KNOWN[name]
    path, truth = _two_shots(
        tmp_path,
        tr,
        name.replace(" ", "_").replace(",", ""),
        length=48 + tr.length,
        speed=0.3 if tr.length > 24 else 1.0,
    )
    out = videos.detect(path, create_detector("fast"))
    assert len(out) == 1, (out, truth)
    b, t = out[0], truth[0]
    assert b.kind == kind, (b, t)
    if kind == "cut":
        assert b.frame == t.frame and b.start == b.end == b.frame
    else:  # the boundary lies in the transition, and the reported span overlaps it
        assert t.start - 2 <= b.frame <= t.end + 2 and b.start <= b.frame <= b.end
        assert b.start <= t.end and t.start <= b.end


def test_cut_between_two_framings_of_one_dark_scene(tmp_path):
    """The case real film showed: a cut to another angle on the same scene (same colours and
    light), here in a dark, flat grade, both shots nearly still."""
    base = videos.SyntheticShot(303, 60, speed=0.1)

    class Framing:
        def __init__(self, zoom, x, y, t0):
            self.zoom, self.x, self.y, self.t0 = zoom, x, y, t0

        def __len__(self):
            return 40

        def frame(self, t):
            import cv2

            f = base.frame(self.t0 + t)
            h, w = f.shape[:2]
            cw, ch = int(w / self.zoom), int(h / self.zoom)
            f = cv2.resize(f[self.y : self.y + ch, self.x : self.x + cw], (w, h))
            return (f.astype(np.float32) * 0.3 + 12).astype(np.uint8)

    frames, truth = videos.compose([Framing(1.0, 0, 0, 0), Framing(1.7, 100, 40, 10)], [videos.Transition("cut")])
    path = tmp_path / "dark.mp4"
    videos.write_video(path, frames)
    out = videos.detect(path, create_detector("fast"))
    assert [(b.frame, b.kind) for b in out] == [(truth[0].frame, "cut")]


# ------------------------------------------------------------------------------- options


def test_options_parse_to_typed_values():
    assert parse_options("fast", ["cut_threshold=12", "fades=no", "min_gap=8", "min_shot_len=12"]) == {
        "cut_threshold": 12.0,
        "fades": False,
        "min_gap": 8,
        "min_shot_len": 12,
    }
    det = create_detector("fast", **parse_options("fast", ["cut_threshold=12"]))
    assert det.cut_threshold == 12.0


@pytest.mark.parametrize(
    "item,needle",
    [
        ("nope=1", "unknown option 'nope' for detector 'fast'; it takes: cut_threshold=9 (0.5..100)"),
        ("cut_threshold=500", "'cut_threshold' of 'fast': 500 is out of range 0.5..100"),
        ("cut_threshold=-1", "out of range 0.5..100"),
        ("cut_threshold=nan", "out of range"),
        ("cut_threshold=abc", "'abc' is not a number"),
        ("min_gap=2.5", "is not an integer"),
        ("fades=maybe", "is not true or false"),
        ("cuts=neural", "'neural' is not one of learned, rules, both"),
        ("cut_prob=1.5", "'cut_prob' of 'fast': 1.5 is out of range 0.01..0.99"),
        ("cut_return_veto=2", "out of range 0..1"),
        ("cut_threshold", "expected key=value"),
    ],
)
def test_bad_options_name_the_option_and_its_range(item, needle):
    with pytest.raises(DetectorOptionError) as e:
        parse_options("fast", [item])
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("name", detector_names())
def test_every_detector_declares_options_with_defaults_it_accepts(name):
    from cinemanet.video.detectors import detector_options

    opts = detector_options(name)
    assert opts[-1].name == "min_shot_len"
    create_detector(name, **{o.name: o.default for o in opts})  # the declared defaults are valid arguments
    for o in opts:
        if o.type in (int, float):
            assert o.lo <= o.default <= o.hi, o


def test_help_lists_every_option_with_its_range():
    from cinemanet.interfaces.cli import DETECTOR_OPTIONS_HELP

    expected = " ".join(p + "." for p in options_help().split("\n\n"))
    assert expected in DETECTOR_OPTIONS_HELP  # the --help text is kept current
    r = subprocess.run(
        [sys.executable, "-m", "cinemanet", "analyze", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert r.returncode == 0 and "--detector-option" in r.stdout and "cut_threshold=9" in " ".join(r.stdout.split())


def test_cli_rejects_a_bad_option_as_a_usage_error(tmp_path):
    path, _ = _two_shots(tmp_path, videos.Transition("cut"), "cli", 20)
    r = subprocess.run(
        [sys.executable, "-m", "cinemanet", "analyze", str(path), "-D", "cut_threshold=500"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    line = [ln for ln in r.stderr.splitlines() if "cut_threshold" in ln]
    assert line and "0.5..100" in line[0]
    assert not (tmp_path / "cli.mp4.cinemanet.json").exists()


def test_min_shot_len_drops_close_boundaries(tmp_path):
    shots = [videos.SyntheticShot(400 + i, n) for i, n in enumerate((30, 8, 30, 30))]
    frames, truth = videos.compose(shots, [videos.Transition("cut")] * 3)
    path = tmp_path / "close.mp4"
    videos.write_video(path, frames)
    assert [b.frame for b in videos.detect(path, create_detector("fast"))] == [t.frame for t in truth]
    kept = videos.detect(path, create_detector("fast", min_shot_len=12))
    assert [b.frame for b in kept] == [truth[0].frame, truth[2].frame]


def test_options_are_recorded_and_a_change_means_reanalysis(tmp_path):
    from cinemanet.video.analyze import VideoAnalyzer, file_sha256
    from cinemanet.video.batch import up_to_date
    from cinemanet.video.sidecar import SIDECAR_SCHEMA, sidecar_path, write_sidecar

    path, _ = _two_shots(tmp_path, videos.Transition("cut"), "rec", 20)
    a = VideoAnalyzer(detector="fast", detector_options={"cut_threshold": 12.0})
    info = a.model_info()
    assert info["detector_options"]["cut_threshold"] == 12.0 and info["detector_options"]["min_gap"] == 6
    doc = {
        "schema": SIDECAR_SCHEMA,
        "file": {"size": path.stat().st_size, "sha256": file_sha256(path)},
        "model": info,
        "video": {},
        "shots": [],
    }
    write_sidecar(doc, sidecar_path(path))
    assert up_to_date(path, None, info)[0] is not None
    other = VideoAnalyzer(detector="fast", detector_options={"cut_threshold": 10.0}).model_info()
    assert up_to_date(path, None, other) == (None, None)
    assert up_to_date(path, None, VideoAnalyzer(detector="fast").model_info()) == (None, None)


# ------------------------------------------------------------------------------- stats


@pytest.mark.parametrize("name", ["fast", "fast-learned", "content"])
def test_stats_file_has_a_row_per_frame_and_the_detector_scores(tmp_path, name):
    path, truth = _two_shots(tmp_path, videos.Transition("cut"), "stats", 30)
    learned = name == "fast-learned"
    rules = name == "fast"
    name = "fast" if learned else name
    det = create_detector(name, **({"cuts": "learned"} if learned else {}))
    out_csv = tmp_path / "stats.csv"
    w = StatsWriter(out_csv, det.stats_columns)
    det.stats_sink = w
    n = 0
    for f in iter_frames(path):
        w.frame(f.index, f.time)
        det.process(f.index, f.time, f.small)
        n += 1
    det.flush()
    w.close()
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["frame", "time", *det.stats_columns] and len(det.stats_columns) >= 1
    assert [int(r["frame"]) for r in rows] == list(range(n))
    assert float(rows[0]["time"]) == 0.0 and float(rows[1]["time"]) == pytest.approx(1 / 24, abs=1e-4)
    c = truth[0].frame
    col = "diff" if name == "fast" else "content_val"
    vals = [float(r[col]) for r in rows[1:]]
    assert int(np.argmax(vals)) + 1 == c  # the largest score is on the cut
    if rules:
        assert rows[c]["cut_cross"] != "" and float(rows[c]["cut_cross"]) >= float(rows[c]["cut_bar"])
    elif learned:  # the learned score: high on the cut, and its inputs alongside
        assert float(rows[c]["cut_p"]) >= 0.5 and rows[c]["cut_motion"] != "" and rows[c]["cut_base"] != ""
        assert all(rows[i]["hist_diff"] != "" and rows[i]["ecr"] != "" for i in range(1, n))
        assert float(rows[c]["hist_diff"]) == max(float(r["hist_diff"]) for r in rows)


# ------------------------------------------------------------------------------- contract and editors


@pytest.fixture(scope="module")
def transitions_doc(tmp_path_factory, net):
    """A real analysis (the whole `cinemanet analyze` path) of shots joined by a cut, a
    dissolve, a fade through red and a fade through black, with a stats file."""
    d = tmp_path_factory.mktemp("tr")
    shots = [videos.SyntheticShot(500 + i, 44) for i in range(5)]
    trs = [
        videos.Transition("cut"),
        videos.Transition("dissolve", length=20),
        videos.Transition("fade", out=10, hold=4, into=10, color=(200, 40, 40)),
        videos.Transition("fade", out=10, hold=4, into=10, color=0),
    ]
    frames, truth = videos.compose(shots, trs)
    path = d / "tr.mp4"
    videos.write_video(path, frames)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cinemanet",
            "analyze",
            str(path),
            "--format",
            "jsonl",
            "-q",
            "-D",
            "min_shot_len=3",
            "--stats",
            str(d / "tr.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    from cinemanet.video.sidecar import read_sidecar, sidecar_path

    return path, truth, read_sidecar(sidecar_path(path)), [json.loads(x) for x in r.stdout.splitlines()], d


def test_shots_record_how_they_began(transitions_doc):
    from cinemanet.schemas import SHOT_SCHEMA_FILE, VIDEO_SCHEMA_FILE, shipped

    path, truth, doc, lines, d = transitions_doc
    jsonschema.validate(doc, shipped(VIDEO_SCHEMA_FILE))
    for ln in lines:
        jsonschema.validate(ln, shipped(SHOT_SCHEMA_FILE))
    assert doc["model"]["detector_options"]["min_shot_len"] == 3
    kinds = [s["transition"]["kind"] for s in doc["shots"]]
    assert kinds == ["start", "cut", "dissolve", "fade", "fade"]
    for s, t in zip(doc["shots"][1:], truth):
        tr = s["transition"]
        assert tr["start_frame"] <= s["start_frame"] <= tr["end_frame"] + 1
        assert tr["start_frame"] <= t.end and t.start <= tr["end_frame"]  # overlaps the true span
        assert tr["start_time"] == pytest.approx(tr["start_frame"] / 24, abs=1e-3)
        assert tr["end_time"] == pytest.approx((tr["end_frame"] + 1) / 24, abs=1e-3)
    rows = list(csv.DictReader((d / "tr.csv").open()))
    assert len(rows) == doc["video"]["frame_count"] and "dissolve_linearity" in rows[0]


def test_edl_has_dissolve_events_and_round_trips_through_otio(transitions_doc, tmp_path):
    import opentimelineio as otio

    from cinemanet.video.export import export

    path, truth, doc, _, _ = transitions_doc
    out = export(doc, "edl", tmp_path / "tr.edl")
    text = out.read_text()
    assert text.count(" D ") == 3 and "* CINEMANET TRANSITION: fade" in text
    tl = otio.adapters.read_from_file(str(out), adapter_name="cmx_3600", rate=24)
    items = list(tl.tracks[0])
    trans = [it for it in items if isinstance(it, otio.schema.Transition)]
    clips = [it for it in items if isinstance(it, otio.schema.Clip)]
    assert len(clips) == len(doc["shots"]) and len(trans) == 3
    assert sum(c.source_range.duration.value for c in clips) == doc["video"]["frame_count"]  # no gap, no overlap
    # each transition starts, on the record side, at its span's first frame and lasts the span
    rec = 0
    spans = []
    for it in items:
        if isinstance(it, otio.schema.Transition):
            spans.append((rec, int(it.in_offset.value + it.out_offset.value)))
        else:
            rec += int(it.source_range.duration.value)
    want = [
        (s["transition"]["start_frame"], s["transition"]["end_frame"] - s["transition"]["start_frame"] + 1)
        for s in doc["shots"]
        if s["transition"]["kind"] in ("fade", "dissolve")
    ]
    assert spans == want


def test_otio_has_transitions_and_round_trips(transitions_doc, tmp_path):
    import opentimelineio as otio

    from cinemanet.video.export import export

    _, _, doc, _, _ = transitions_doc
    tl = otio.adapters.read_from_file(str(export(doc, "otio", tmp_path / "tr.otio")))
    items = list(tl.tracks[0])
    trans = [(i, it) for i, it in enumerate(items) if isinstance(it, otio.schema.Transition)]
    assert [it.metadata["cinemanet"]["kind"] for _, it in trans] == ["dissolve", "fade", "fade"]
    assert tl.duration().value == doc["video"]["frame_count"]  # transitions take no time of their own
    for i, it in trans:
        nxt = items[i + 1]
        a = int(nxt.source_range.start_time.value)  # the incoming shot's first frame
        tr = it.metadata["cinemanet"]
        assert a - int(it.in_offset.value) == tr["start_frame"]
        assert a + int(it.out_offset.value) - 1 == tr["end_frame"]
        assert it.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert export(doc, "fcpxml", tmp_path / "tr.fcpxml").stat().st_size > 0  # the FCP adapter takes them


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("name", detector_names())
def test_every_detector_on_one_to_five_frames(tmp_path, name, n):
    path = tmp_path / f"short{n}.mp4"
    shots = [videos.SyntheticShot(7, 3), videos.SyntheticShot(8, 3)]
    frames, _ = videos.compose(shots, [videos.Transition("cut")])
    videos.write_video(path, list(frames)[:n])
    out = videos.detect(path, create_detector(name))
    assert all(0 < b.frame < n for b in out)


@pytest.mark.parametrize("value", [0, 255])
def test_uniform_black_or_white_video_has_no_boundary(tmp_path, value):
    path = tmp_path / f"u{value}.mp4"
    videos.write_video(path, (np.full((90, 160, 3), value, np.uint8) for _ in range(72)))
    for name in ("fast", "content", "adaptive"):
        assert videos.detect(path, create_detector(name)) == [], name
    for cuts in ("learned", "both"):
        assert videos.detect(path, create_detector("fast", cuts=cuts)) == [], cuts


@pytest.mark.parametrize("cuts", ["rules", "learned", "both"])
def test_one_long_fade_is_no_cut(tmp_path, cuts):
    shot = videos.SyntheticShot(9, 200)
    path = tmp_path / "fade.mp4"
    videos.write_video(path, (np.clip(shot.frame(t) * (1 - t / 199), 0, 255).astype(np.uint8) for t in range(200)))
    out = videos.detect(path, create_detector("fast", cuts=cuts))
    assert all(b.kind == "fade" for b in out) and len(out) <= 1


@pytest.mark.parametrize("cuts", ["learned", "both"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_learned_cuts_on_one_to_five_frames(tmp_path, cuts, n):
    path = tmp_path / f"short{n}.mp4"
    shots = [videos.SyntheticShot(7, 3), videos.SyntheticShot(8, 3)]
    frames, _ = videos.compose(shots, [videos.Transition("cut")])
    videos.write_video(path, list(frames)[:n])
    out = videos.detect(path, create_detector("fast", cuts=cuts))
    assert all(0 < b.frame < n for b in out)


def test_broken_frame_in_the_middle(tmp_path):
    shots = [videos.SyntheticShot(10, 60), videos.SyntheticShot(11, 60)]
    frames, truth = videos.compose(shots, [videos.Transition("cut")])
    path = tmp_path / "broken.mp4"
    videos.write_video(path, frames)
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 3
    raw[mid : mid + 400] = bytes(range(256)) + bytes(144)  # garbage inside a frame's data
    path.write_bytes(bytes(raw))
    det = create_detector("fast")
    out, n = [], 0
    try:
        for f in iter_frames(path):
            out += det.process(f.index, f.time, f.small)
            n += 1
        out += det.flush()
    except VideoReadError as e:  # acceptable: a one-line reason naming the last good frame
        assert "\n" not in str(e) and "frame" in str(e)
        return
    assert n >= 100  # FFmpeg conceals the damage; the cut is still found
    assert any(abs(b.frame - truth[0].frame) <= 1 for b in out)


# ------------------------------------------------------------------------------- the four clips


@pytest.mark.shared
@pytest.mark.skipif(not MEDIA.is_dir(), reason=f"needs the CC-BY clips in {MEDIA} (../shared is not in a fresh clone)")
def test_inspected_truth_of_the_four_clips():
    """benchmarks/groundtruth/clips.json (how it was established is in its "about" field)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import videogen

    clips = videogen.inspected()
    assert len(clips) == 4 and {c["split"] for c in clips.values()} == {"tune", "heldout"}
    results = []
    for name, c in clips.items():
        if not (MEDIA / name).is_file():
            pytest.skip(f"{MEDIA / name} missing")
        truth = videogen.inspected_truth(name)
        n = sum(1 for _ in iter_frames(MEDIA / name))
        assert n == c["frames"]
        for t in truth:
            assert 0 <= t.start <= t.frame <= t.end < n and (t.kind != "cut" or t.start == t.end)
        out = videos.detect(MEDIA / name, create_detector("fast"))
        results.append(videos.f1_by_kind(out, truth))
    tp, fp, fn = (sum(r["all"][k] for r in results) for k in ("tp", "fp", "fn"))
    assert 2 * tp / (2 * tp + fp + fn) >= 0.85, results  # a regression guard; the figures are in bench_shots


def test_stats_takes_one_video(tmp_path):
    for k in range(2):
        _two_shots(tmp_path, videos.Transition("cut"), f"v{k}", 12)
    r = subprocess.run(
        [sys.executable, "-m", "cinemanet", "analyze", str(tmp_path), "--stats", str(tmp_path / "s.csv")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--stats" in r.stderr and "one video" in r.stderr
    assert not (tmp_path / "s.csv").exists()
