"""`cinemanet analyze`: shots, the per-shot contract, sidecars, batches and bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import jsonschema
import numpy as np
import pytest

from cinemanet.media.video import VideoReadError, iter_frames, probe
from cinemanet.schemas import SHOT_SCHEMA_FILE, VIDEO_SCHEMA_FILE, shipped
from cinemanet.video.analyze import VideoAnalyzer
from cinemanet.video.batch import analyze_paths
from cinemanet.video.sidecar import read_sidecar, sidecar_path

from videos import synthetic_hard_cuts, write_video

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def analyzer(net):
    return VideoAnalyzer(net)


@pytest.fixture(scope="module")
def cuts_video(tmp_path_factory):
    d = tmp_path_factory.mktemp("cuts")
    path = d / "cuts.mp4"
    truth = synthetic_hard_cuts(path, n_shots=5, width=320, height=180, seed=3, lo=20, hi=40)
    return path, truth


def _colour_frames(colours, n_each, w=160, h=90):
    rng = np.random.default_rng(0)
    for c in colours:
        for i in range(n_each):
            f = np.empty((h, w, 3), np.uint8)
            f[:] = c
            f = np.clip(f.astype(np.int16) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8)
            f[10:30, (i * 3) % (w - 20) : (i * 3) % (w - 20) + 20] = 255 - np.array(c, np.uint8)  # some motion
            yield f


def test_shots_match_known_cuts_frame_exactly(analyzer, cuts_video):
    path, truth = cuts_video
    doc = analyzer.analyze(path)
    jsonschema.validate(doc, shipped(VIDEO_SCHEMA_FILE))
    starts = [s["start_frame"] for s in doc["shots"]]
    assert starts == [0] + [t.frame for t in truth]
    n = doc["video"]["frame_count"]
    shots = doc["shots"]
    for a, b in zip(shots, shots[1:]):
        assert a["end_frame"] + 1 == b["start_frame"]
        assert a["end_time"] == pytest.approx(b["start_time"])
    assert shots[-1]["end_frame"] == n - 1
    for s in shots:
        assert s["start_frame"] <= min(s["keyframes"]) <= max(s["keyframes"]) <= s["end_frame"]
        assert s["start_time"] == pytest.approx(s["start_frame"] / 24, abs=1e-3)
        assert len(s["embedding"]) == 1280 and s["dominant_colors"] and s["motion"] >= 0
        assert s["description"]
        jsonschema.validate(s, shipped(SHOT_SCHEMA_FILE))


def test_closed_shots_pin_no_decoded_frames():
    """Each kept frame pins its decoded picture (3 MB at 1080p): once a shot is closed and its
    samples submitted, the book holds only their indices, so a film of 2,000 shots does not keep
    5,000 pictures alive (fbeab20 did: 620 MB on the 2-minute benchmark file)."""
    import gc
    import weakref

    from cinemanet.video.analyze import RECENT_FRAMES, ShotBook
    from cinemanet.video.detectors import Boundary

    class Pic:  # what ShotBook reads of a DecodedFrame
        def __init__(self, i):
            self.index = i

    submitted = []
    book = ShotBook(24, lambda n, frames: submitted.append([f.index for f in frames]))
    refs = []
    for i in range(600):
        f = Pic(i)
        refs.append(weakref.ref(f))
        book.times.append(i / 24)
        book.frame(f)
        if i and i % 100 == 0:
            book.boundaries([Boundary(frame=i, kind="cut", start=i, end=i)], i)
        del f
    book.close(599, None)
    gc.collect()
    assert len(submitted) == book.number == 6 and all(len(s) >= 2 for s in submitted)
    assert [book.jobs[n].keyframes for n in range(6)] == [sorted(s) for s in submitted]
    alive = [r() for r in refs if r() is not None]
    assert len(alive) <= RECENT_FRAMES, [a.index for a in alive]  # only the ring of the last few frames


def test_big_pictures_are_kept_as_working_copies_with_the_same_result(analyzer, cuts_video, monkeypatch):
    """Above PIN_LIMIT_BYTES (4K) a candidate keeps its working copy instead of the decoded
    picture; the copy is made from the same picture the same way, so the sidecar is the same."""
    import cinemanet.video.analyze as A
    from cinemanet.media.video import KeptFrame, VideoSource

    path, _ = cuts_video
    with VideoSource(path, fast=True) as src:
        f = next(iter(src.frames()))
        k = f.kept()
        assert isinstance(k, KeptFrame) and f.picture_bytes() > 320 * 180
        a, b = f.working_frame(320, 180, "x"), k.working_frame(320, 180, "x")
        assert np.array_equal(a.rgb, b.rgb) and a.bars == b.bars
    normal = analyzer.analyze(path)
    monkeypatch.setattr(A, "PIN_LIMIT_BYTES", 0)  # every candidate is a working copy
    kept = []
    orig = KeptFrame.__init__
    monkeypatch.setattr(KeptFrame, "__init__", lambda self, *a: (kept.append(a[0]), orig(self, *a))[1])
    copied = analyzer.analyze(path)
    assert len(kept) > len(copied["shots"]) * 2
    assert {k: v for k, v in copied.items() if k != "created"} == {k: v for k, v in normal.items() if k != "created"}


def test_tagging_in_a_second_process_gives_the_same_shots(analyzer, cuts_video):
    path, _ = cuts_video
    a = analyzer.analyze(path)
    b = VideoAnalyzer(tagging="process").analyze(path)
    strip = lambda d: [(s["start_frame"], s["end_frame"], s["keyframes"], s["tags"]) for s in d["shots"]]
    assert strip(a) == strip(b)
    for x, y in zip(a["shots"], b["shots"]):
        assert x["groups"]["shot.framing"]["scores"] == pytest.approx(y["groups"]["shot.framing"]["scores"], abs=1e-3)


def test_groups_are_averaged_over_several_frames(analyzer, tmp_path, net):
    path = tmp_path / "one.mp4"
    write_video(path, _colour_frames([(30, 120, 200)], 120))
    doc = analyzer.analyze(path)
    assert len(doc["shots"]) == 1
    shot = doc["shots"][0]
    assert len(shot["keyframes"]) >= 2
    # the shot's scores are the mean of its keyframes' scores
    frames = {f.index: f for f in iter_frames(path) if f.index in shot["keyframes"]}
    per = [net.concepts.scores(net.perception.perceive(frames[k].working_frame(160, 90))) for k in sorted(frames)]
    g = "color.tones"
    for key, value in shot["groups"][g]["scores"].items():
        assert value == pytest.approx(np.mean([p[g][key] for p in per]), abs=0.02)


def test_variable_frame_rate_times_come_from_timestamps(analyzer, tmp_path):
    path = tmp_path / "vfr.mkv"
    rng = np.random.default_rng(1)
    pts = np.cumsum(rng.integers(1, 4, 60))  # 1-3 ticks of 1/30 s between frames
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 160, 90, "yuv420p"
        s.codec_context.time_base = Fraction(1, 30)
        for p, f in zip(pts, _colour_frames([(200, 40, 40), (40, 200, 40)], 30)):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = int(p), Fraction(1, 30)
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    doc = analyzer.analyze(path)
    second = doc["shots"][1]
    assert second["start_frame"] == 30
    assert second["start_time"] == pytest.approx((pts[30] - pts[0]) / 30, abs=1e-3)


def test_sidecar_is_atomic_and_resumable(tmp_path, analyzer, cuts_video):
    src, _ = cuts_video
    v = tmp_path / "in dir é" / "clip one.mp4"
    v.parent.mkdir()
    shutil.copy(src, v)
    r = list(analyze_paths([v.parent], analyzer=analyzer))
    assert [x.status for x in r] == ["done"]
    sc = sidecar_path(v)
    assert sc.exists() and not list(v.parent.glob(".*.tmp"))
    doc = read_sidecar(sc)
    assert doc["file"]["size"] == v.stat().st_size and doc["model"]["detector"] == "fast"
    mtime = sc.stat().st_mtime_ns
    r = list(analyze_paths([v], analyzer=analyzer))
    assert r[0].status == "skipped" and sc.stat().st_mtime_ns == mtime
    with open(v, "ab") as f:  # the file changed: analysed again
        f.write(b"\0")
    assert list(analyze_paths([v], analyzer=analyzer))[0].status == "done"
    out = tmp_path / "out"
    out.mkdir()
    r = list(analyze_paths([v], analyzer=analyzer, out_dir=out, compress=True))
    assert r[0].sidecar == str(sidecar_path(v, out, compress=True)) and r[0].sidecar.endswith(".cinemanet.json.zst")
    assert Path(r[0].sidecar).name.startswith("clip one.mp4.")
    assert read_sidecar(r[0].sidecar)["shots"] == [dict(s) for s in r[0].doc["shots"]]


# ---- bad input ---------------------------------------------------------------------------------


def _bad_videos(tmp: Path, good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    (tmp / "half.mp4").write_bytes(data[: len(data) // 2])
    (tmp / "zero.mp4").write_bytes(b"")
    (tmp / "still.mp4").write_bytes((ROOT / "examples" / "images" / "sintel_snow.jpg").read_bytes())
    with av.open(str(tmp / "audio.mp4"), "w") as c:  # audio only
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        for i in range(20):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 16000, i * 1024
            for pkt in s.encode(fr):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    # an AVI whose video FourCC names no codec FFmpeg knows
    with av.open(str(tmp / "unknown.avi"), "w") as c:
        s = c.add_stream("rawvideo", rate=24)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for f in _colour_frames([(10, 20, 30)], 3, 32, 32):
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")):
                c.mux(pkt)
    raw = bytearray((tmp / "unknown.avi").read_bytes())
    i = raw.find(b"strf")
    raw[i + 8 + 16 : i + 8 + 20] = b"QQQQ"  # biCompression
    j = raw.find(b"vidsRAW ")
    if j >= 0:
        raw[j + 4 : j + 8] = b"QQQQ"
    (tmp / "unknown.avi").write_bytes(bytes(raw))
    return {
        k: tmp / n
        for k, n in [
            ("half", "half.mp4"),
            ("zero", "zero.mp4"),
            ("still", "still.mp4"),
            ("audio", "audio.mp4"),
            ("unknown", "unknown.avi"),
        ]
    }


@pytest.mark.parametrize(
    "kind,needle",
    [("half", "truncated"), ("zero", "empty"), ("still", "still image"), ("audio", "audio-only"), ("unknown", "codec")],
)
def test_bad_videos_get_one_line_errors(tmp_path, cuts_video, analyzer, kind, needle):
    bad = _bad_videos(tmp_path, cuts_video[0])[kind]
    with pytest.raises(VideoReadError) as e:
        analyzer.analyze(bad)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_rotation_metadata_comes_out_upright(tmp_path, analyzer):
    path = tmp_path / "rot.mp4"
    frames = []
    for _ in range(30):  # stored landscape, top of the picture (red) on the left
        f = np.zeros((90, 160, 3), np.uint8)
        f[:, :40] = (220, 30, 30)
        f[:, 40:] = (30, 30, 220)
        frames.append(f)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 160, 90, "yuv420p"
        s.set_display_rotation(90)  # display turned a quarter: stored left edge becomes the top
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    info = probe(path)
    assert info.rotation in (90, 270) and (info.width, info.height) == (90, 160)
    rgb = next(iter_frames(path)).rgb()
    assert rgb.shape[0] > rgb.shape[1]
    top, bottom = rgb[: rgb.shape[0] // 5].mean((0, 1)), rgb[-rgb.shape[0] // 5 :].mean((0, 1))
    assert (top[0] > top[2]) != (bottom[0] > bottom[2])  # red at one end, blue at the other: upright, not sideways
    doc = analyzer.analyze(path)
    assert (doc["video"]["width"], doc["video"]["height"]) == (90, 160)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_very_short_clips(tmp_path, analyzer, n):
    path = tmp_path / f"short{n}.mp4"
    write_video(path, _colour_frames([(90, 90, 90)], n))
    doc = analyzer.analyze(path)
    assert doc["video"]["frame_count"] == n and len(doc["shots"]) == 1
    assert doc["shots"][0]["end_frame"] == n - 1


@pytest.mark.parametrize(
    "codec,pix_fmt,ext",
    [("prores_ks", "yuv422p10le", "mov"), ("libx264", "yuv422p", "mkv"), ("ffv1", "yuv420p10le", "mkv")],
)
def test_high_bit_depth_and_422(tmp_path, analyzer, codec, pix_fmt, ext):
    path = tmp_path / f"deep.{ext}"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=24)
        s.width, s.height, s.pix_fmt = 160, 90, pix_fmt
        for f in _colour_frames([(200, 60, 40), (40, 60, 200)], 12):
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format=pix_fmt)):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    doc = analyzer.analyze(path)
    assert doc["video"]["pix_fmt"] == pix_fmt
    assert [s["start_frame"] for s in doc["shots"]] == [0, 12]
    reds = [int(c["hex"][1:3], 16) for c in doc["shots"][0]["dominant_colors"][:1]]
    assert reds[0] > 150  # colours decoded correctly, not garbage from a misread plane


def _run_cli(*args, preexec=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "cinemanet", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_cli_batch_reports_errors_and_goes_on(tmp_path, cuts_video):
    folder = tmp_path / "batch"
    folder.mkdir()
    _bad_videos(folder, cuts_video[0])
    shutil.copy(cuts_video[0], folder / "good clip ü.mp4")
    out = _run_cli("analyze", folder, "--format", "jsonl")
    assert out.returncode == 1
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    for d in lines:
        jsonschema.validate(d, shipped(SHOT_SCHEMA_FILE))
    errors = {Path(d["path"]).name for d in lines if "error" in d}
    assert errors == {"half.mp4", "zero.mp4", "still.mp4", "audio.mp4", "unknown.avi"}
    good = [d for d in lines if "error" not in d]
    assert len(good) == 5 and {Path(d["path"]).name for d in good} == {"good clip ü.mp4"}  # 4 cuts
    assert (folder / "good clip ü.mp4.cinemanet.json").exists()
    assert "5 of 6 videos failed" in out.stderr
    assert "Traceback" not in out.stderr


def test_read_only_output_folder(tmp_path, cuts_video):
    ro = tmp_path / "ro"
    ro.mkdir()
    v = tmp_path / "v.mp4"
    shutil.copy(cuts_video[0], v)
    ro.chmod(0o555)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: a read-only folder is writable")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]
    out = subprocess.run(
        prefix + [sys.executable, "-m", "cinemanet", "analyze", str(v), "--out", str(ro), "--format", "jsonl"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1
    assert "read-only" in out.stderr and "Traceback" not in out.stderr
    assert list(ro.iterdir()) == []


def test_kill_during_batch_loses_nothing_finished(tmp_path, cuts_video):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(8):
        shutil.copy(cuts_video[0], folder / f"v{i}.mp4")
    env = dict(os.environ)
    p = subprocess.Popen(
        [sys.executable, "-m", "cinemanet", "analyze", str(folder), "--format", "jsonl", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(list(folder.glob("*.cinemanet.json"))) < 2:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done = sorted(folder.glob("*.cinemanet.json"))
    assert 2 <= len(done) < 8
    for sc in done:  # every sidecar present is complete and valid
        jsonschema.validate(read_sidecar(sc), shipped(VIDEO_SCHEMA_FILE))
    # a re-run skips what was finished and completes the rest
    out = _run_cli("analyze", folder, "--format", "table")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("skipped") == len(done)
    assert len(list(folder.glob("*.cinemanet.json"))) == 8
    assert not list(folder.glob(".*.tmp"))


def test_parallel_jobs_match_serial(tmp_path, cuts_video):
    folder = tmp_path / "par"
    folder.mkdir()
    for i in range(3):
        shutil.copy(cuts_video[0], folder / f"p{i}.mp4")
    out = _run_cli("analyze", folder, "--jobs", "2", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    by_file = {}
    for d in lines:
        by_file.setdefault(Path(d["path"]).name, []).append((d["start_frame"], d["end_frame"], d["tags"]))
    assert list(by_file) == ["p0.mp4", "p1.mp4", "p2.mp4"]  # input order
    assert by_file["p0.mp4"] == by_file["p1.mp4"] == by_file["p2.mp4"]


def test_cli_export_every_format(tmp_path, cuts_video):
    v = tmp_path / "clip é.mp4"
    shutil.copy(cuts_video[0], v)
    assert _run_cli("analyze", v, "-q", "--format", "jsonl").returncode == 0
    for fmt, suffix in [("csv", ".csv"), ("edl", ".edl"), ("otio", ".otio"), ("fcpxml", ".fcpxml"), ("jpg", ".jpg")]:
        out = _run_cli("export", v, "--to", fmt)
        assert out.returncode == 0, out.stderr
        written = Path(out.stdout.strip())
        assert written.exists() and written.stat().st_size > 100 and written.name.endswith(suffix)
    assert _run_cli("export", v, "--to", "mp3").returncode == 2
    missing = _run_cli("export", tmp_path / "nothing.mp4", "--to", "csv")
    assert missing.returncode == 1 and "no sidecar" in missing.stderr


def test_camera_cards_with_repeated_names_keep_one_sidecar_each(tmp_path, analyzer, cuts_video):
    """card1/C0001.MP4 and card2/C0001.MP4 into one --out folder: two sidecars, both found again."""
    from cinemanet.catalog import Catalog

    for card in ("card1", "card2"):
        (tmp_path / card).mkdir()
        shutil.copy(cuts_video[0], tmp_path / card / "C0001.MP4")
    with open(tmp_path / "card2" / "C0001.MP4", "ab") as f:  # different bytes: two media
        f.write(b"\0")
    out = tmp_path / "sidecars"
    out.mkdir()
    r = list(analyze_paths([tmp_path / "card1", tmp_path / "card2"], analyzer=analyzer, out_dir=out))
    assert [x.status for x in r] == ["done", "done"]
    assert len({x.sidecar for x in r}) == 2 and len(list(out.glob("C0001.MP4.*.cinemanet.json"))) == 2
    again = list(analyze_paths([tmp_path / "card1", tmp_path / "card2"], analyzer=analyzer, out_dir=out))
    assert [x.status for x in again] == ["skipped", "skipped"]
    cat = Catalog.open(tmp_path / "cat.sqlite")
    list(cat.index_paths([out]))
    assert sorted(m.path for m in cat.media_list()) == sorted(
        str(tmp_path / c / "C0001.MP4") for c in ("card1", "card2")
    )
    cat.close()


@pytest.mark.parametrize("sig, jobs", [(signal.SIGKILL, "1"), (signal.SIGKILL, "2"), (signal.SIGTERM, "1")])
def test_workers_end_with_analyze(tmp_path, cuts_video, sig, jobs):
    """kill -9 (or SIGTERM) of analyze: its tagging process, pool workers and multiprocessing's
    resource tracker do not outlive it."""
    import psutil

    folder = tmp_path / "w"
    folder.mkdir()
    for i in range(6):
        shutil.copy(cuts_video[0], folder / f"v{i}.mp4")
    p = subprocess.Popen(
        [sys.executable, "-m", "cinemanet", "analyze", str(folder), "-q", "--format", "jsonl", "-j", jobs],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    parent = psutil.Process(p.pid)
    deadline = time.time() + 300
    kids: list = []
    while time.time() < deadline and p.poll() is None:
        kids = parent.children(recursive=True)
        if len(kids) >= 2 and list(folder.glob("*.cinemanet.json")):  # workers up and working
            break
        time.sleep(0.05)
    assert p.poll() is None and kids, "analyze finished before it could be interrupted"
    p.send_signal(sig)
    p.wait(timeout=60)
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive, [k.cmdline()[:4] for k in alive]
    if sig == signal.SIGTERM:
        assert p.returncode == 128 + signal.SIGTERM and b"Traceback" not in p.stderr.read()
    for sc in folder.glob("*.cinemanet.json"):  # what was finished is whole
        jsonschema.validate(read_sidecar(sc), shipped(VIDEO_SCHEMA_FILE))


def test_damaged_sidecar_is_analysed_again(tmp_path, analyzer, cuts_video):
    """A sidecar whose hash matches but whose 'video' key is gone is stale, not an internal error."""
    v = tmp_path / "clip.mp4"
    shutil.copy(cuts_video[0], v)
    assert [r.status for r in analyze_paths([v], analyzer=analyzer)] == ["done"]
    sc = sidecar_path(v)
    doc = json.loads(sc.read_text())
    del doc["video"]
    sc.write_text(json.dumps(doc))
    r = list(analyze_paths([v], analyzer=analyzer))
    assert [x.status for x in r] == ["done"], r[0].error
    assert "video" in read_sidecar(sc)


def test_piped_analyze_without_format_prints_summaries_not_shots(tmp_path, cuts_video):
    v = tmp_path / "clip.mp4"
    shutil.copy(cuts_video[0], v)
    out = _run_cli("analyze", v, "-q")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    n = len(read_sidecar(sidecar_path(v))["shots"])
    assert f"{v}: done, {n} shots" in out.stderr and str(sidecar_path(v)) in out.stderr
