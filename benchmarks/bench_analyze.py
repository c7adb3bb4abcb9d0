"""Benchmark `cinemanet analyze` end to end against the decode-only ceiling and PySceneDetect.

    .venv/bin/python benchmarks/bench_analyze.py [--runs 3] [--skip-long]

1. A 1920x1080 24 fps H.264 file of 2 minutes made from the CC-BY clips in ../shared/media
   (scaled up, concatenated; known cuts), cached in benchmarks/out/.
2. On it, side by side: PyAV decode-only throughput (the ceiling), PySceneDetect's
   `detect-content` (ContentDetector, PyAV backend), and the whole `cinemanet analyze`
   command (shots, 14 groups per shot, sidecar). Medians of --runs runs; ratios; the CPU
   seconds of the command (both processes); the load average before each round.
   With --baseline DIR (a checkout, e.g. `git archive main cinemanet | tar -x -C DIR`), that
   checkout's `cinemanet analyze` runs in the same rounds (same interpreter and packages), so
   before and after are measured under the same load.
3. Peak memory on a 2-hour film (synthetic 320x180 footage with one-minute shots, cached):
   streaming means it stays flat; on the 1080p file three times over (remuxed, cached), which
   stays flat only if finished shots hold no decoded pictures; and on 20 s of 4K ProRes 422 HQ
   (synthetic, cached), where each decoded picture is 33 MB (with --baseline, that checkout too).
Prints Markdown and writes benchmarks/results/analyze.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_tag import timed_cli  # noqa: E402


def decode_only(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        t = time.perf_counter()
        n = sum(1 for _ in c.decode(s))
        return n / (time.perf_counter() - t)


def pyscenedetect(path: Path) -> tuple[float, int]:
    from scenedetect import ContentDetector, SceneManager, open_video

    video = open_video(str(path), backend="pyav", threading_mode="AUTO")
    sm = SceneManager()
    sm.add_detector(ContentDetector())
    t = time.perf_counter()
    frames = sm.detect_scenes(video=video)
    dt = time.perf_counter() - t
    return frames / dt, len(sm.get_scene_list())


def long_film(path: Path, hours: float = 2.0, fps: int = 24, shot_s: int = 60) -> None:
    """Synthetic footage: one-minute shots of a slowly panning textured picture, 320x180."""
    from videos import write_video

    rng = np.random.default_rng(0)
    n = int(hours * 3600 * fps)

    def frames():
        big = None
        for i in range(n):
            if i % (shot_s * fps) == 0:
                big = cv2.resize(
                    rng.integers(0, 255, (60, 100, 3), dtype=np.uint8), (640, 360), interpolation=cv2.INTER_CUBIC
                )
            x = (i % (shot_s * fps)) * 160 // (shot_s * fps)
            yield big[90:270, x : x + 320]

    import cv2

    write_video(path, frames(), fps=fps, crf=30, preset="ultrafast")


def repeated(src: Path, dst: Path, times: int) -> None:
    """``src``'s video stream ``times`` over, one after the other (packets copied, no re-encode)."""
    import av

    with av.open(str(dst), "w") as out:
        ostream, offset = None, 0
        for _ in range(times):
            with av.open(str(src)) as inp:
                s = inp.streams.video[0]
                ostream = ostream or out.add_stream_from_template(s)
                end = offset
                for pkt in inp.demux(s):
                    if pkt.dts is None:  # the demuxer's flush packet
                        continue
                    pkt.pts += offset
                    pkt.dts += offset
                    pkt.stream = ostream
                    end = max(end, pkt.pts + (pkt.duration or 0))
                    out.mux(pkt)
                offset = end


def uhd_prores(path: Path, seconds: int = 20, fps: int = 24, shot_s: int = 5) -> None:
    """4K (3840x2160) ProRes 422 HQ, 10-bit 4:2:2, as cameras and finishing deliver it: a slowly
    panning smooth random picture per shot (synthetic; 33 MB a decoded picture)."""
    import av
    import cv2

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        s = out.add_stream("prores_ks", rate=fps)
        s.width, s.height, s.pix_fmt, s.options = 3840, 2160, "yuv422p10le", {"profile": "3"}
        for i in range(seconds * fps):
            j = i % (shot_s * fps)
            if j == 0:
                pic = cv2.resize(
                    rng.integers(0, 255, (54, 101, 3), dtype=np.uint8), (4040, 2160), interpolation=cv2.INTER_CUBIC
                )
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pic[:, j : j + 3840]), format="rgb24")
            for pkt in s.encode(frame):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def analyze_run(cmd: list[str], **popen) -> tuple[float, int, float]:
    """Wall seconds, peak RSS and CPU seconds (the command and its tagging process) of one run."""
    c0 = children_cpu()
    wall, peak = timed_cli(cmd, **popen)
    return wall, peak, children_cpu() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-long", action="store_true", help="skip the 2-hour memory run")
    ap.add_argument("--detector", default="fast", help="shot detector of the analyze runs")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "analyze.json")
    ap.add_argument("--baseline", type=Path, help="a checkout (folder holding cinemanet/) to run side by side")
    ap.add_argument("--baseline-label", default="baseline", help="what --baseline is (recorded)")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    import videogen
    from videos import f1

    hd = OUT / "concat_1080p_120s.mp4"
    truth_file = OUT / "concat_1080p_120s.truth.json"
    if not hd.exists() or not truth_file.exists():
        print("generating the 2-minute 1080p file (once)...", file=sys.stderr)
        truth = videogen.concat_1080p(hd, seconds=120)
        truth_file.write_text(json.dumps([t.to_dict() for t in truth]))
    truth = [videogen.Truth(**d) for d in json.loads(truth_file.read_text())]

    script = Path(sys.executable).with_name("cinemanet")
    cli = ([str(script)] if script.exists() else [sys.executable, "-m", "cinemanet"]) + [
        "analyze",
        "--detector",
        a.detector,
    ]
    dec, psd, ours, peaks, cpus, loads = [], [], [], [], [], []
    base_walls, base_cpus = [], []
    psd_shots = 0
    base_cli = [sys.executable, "-m", "cinemanet"] + cli[1 if script.exists() else 3 :]
    base_env = dict(os.environ, PYTHONPATH=str(a.baseline.resolve())) if a.baseline else None
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as btmp:
        for r in range(a.runs):  # interleaved, so drifting machine load hits all alike
            loads.append(os.getloadavg()[0])
            dec.append(decode_only(hd))
            rate, psd_shots = pyscenedetect(hd)
            psd.append(rate)
            runs = [("ours", cli, {})]
            if a.baseline:  # -m from the checkout's folder: its cinemanet shadows this one
                runs.append(("base", base_cli, {"env": base_env, "cwd": str(a.baseline)}))
            for name, cmd, popen in runs if r % 2 == 0 else runs[::-1]:  # alternate who goes first
                out = btmp if name == "base" else tmp
                wall, peak, cpu = analyze_run(
                    cmd + [str(hd), "--out", out, "--force", "-q", "--format", "jsonl"], **popen
                )
                if name == "base":
                    base_walls.append(wall)
                    base_cpus.append(cpu)
                else:
                    ours.append(wall)
                    peaks.append(peak)
                    cpus.append(cpu)
        loads.append(os.getloadavg()[0])
        from cinemanet.video.sidecar import read_sidecar, sidecar_path

        doc = read_sidecar(sidecar_path(hd, tmp))
        base_doc = read_sidecar(sidecar_path(hd, btmp)) if a.baseline else None
    frames = doc["video"]["frame_count"]
    duration = doc["video"]["duration"]
    wall = statistics.median(ours)
    detected = [type("B", (), {"frame": s["start_frame"], "kind": s["transition"]["kind"]})() for s in doc["shots"][1:]]
    score = f1(detected, truth)
    res = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "file": "1920x1080 24 fps H.264, made from the three CC-BY clips (benchmarks/videogen.py concat_1080p)",
        "frames": frames,
        "duration_s": duration,
        "shots": len(doc["shots"]),
        "detector": doc["model"]["detector"],
        "decode_only_fps": statistics.median(dec),
        "pyscenedetect_content_fps": statistics.median(psd),
        "pyscenedetect_shots": psd_shots,
        "analyze_fps": frames / wall,
        "analyze_x_realtime": duration / wall,
        "analyze_vs_decode": (frames / wall) / statistics.median(dec),
        "analyze_vs_pyscenedetect": (frames / wall) / statistics.median(psd),
        "analyze_peak_rss_mb": max(peaks) / 2**20,
        "analyze_cpu_s": statistics.median(cpus),
        "shot_f1": score,
        "load_average_1min": loads,
        "runs": {"decode_fps": dec, "pyscenedetect_fps": psd, "analyze_wall_s": ours, "analyze_cpu_s": cpus},
    }
    if a.baseline:
        bwall = statistics.median(base_walls)
        same = {k: v for k, v in base_doc.items() if k != "created"} == {k: v for k, v in doc.items() if k != "created"}
        res["baseline"] = {
            "what": a.baseline_label,
            "analyze_fps": frames / bwall,
            "analyze_vs_decode": (frames / bwall) / statistics.median(dec),
            "analyze_vs_pyscenedetect": (frames / bwall) / statistics.median(psd),
            "analyze_cpu_s": statistics.median(base_cpus),
            # per round, ours minus the baseline's: robust to load that drifts between rounds
            "paired_wall_diff_s": statistics.median(o - b for o, b in zip(ours, base_walls)),
            "paired_rounds_faster": sum(o < b for o, b in zip(ours, base_walls)),
            "same_sidecar": same,
            "runs": {"analyze_wall_s": base_walls, "analyze_cpu_s": base_cpus},
        }
    if not a.skip_long:
        film = OUT / "long_2h_320x180.mp4"
        if not film.exists():
            print("generating the 2-hour film (once, a few minutes)...", file=sys.stderr)
            long_film(film)
        with tempfile.TemporaryDirectory() as tmp:
            lw, lpeak = timed_cli(cli + [str(film), "--out", tmp, "-q", "--format", "jsonl"])
        res["long_film"] = {
            "file": "2 h, 320x180, 24 fps, 120 one-minute shots (synthetic)",
            "wall_s": lw,
            "peak_rss_mb": lpeak / 2**20,
        }
        hd3 = OUT / "concat_1080p_360s.mp4"
        if not hd3.exists():
            repeated(hd, hd3, 3)
        uhd = OUT / "uhd_prores422hq_20s.mov"
        if not uhd.exists():
            print("generating 20 s of 4K ProRes (once, a few minutes)...", file=sys.stderr)
            uhd_prores(uhd)
        for key, f, what in (
            ("long_1080p", hd3, "the 1080p file three times over (6 min)"),
            ("uhd_prores", uhd, "20 s of 3840x2160 ProRes 422 HQ 10-bit (synthetic, 5 s shots)"),
        ):
            runs3 = [(key, cli, {})]
            if a.baseline:
                runs3.append((key + "_baseline", base_cli, {"env": base_env, "cwd": str(a.baseline)}))
            for k, cmd, popen in runs3:
                with tempfile.TemporaryDirectory() as tmp:
                    lw, lpeak = timed_cli(cmd + [str(f), "--out", tmp, "-q", "--format", "jsonl"], **popen)
                    n = len(read_sidecar(sidecar_path(f, tmp))["shots"])
                res[k] = {"file": what, "shots": n, "wall_s": lw, "peak_rss_mb": lpeak / 2**20}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"## cinemanet analyze: {duration:.0f} s of 1920x1080 24 fps H.264 ({res['machine']})\n")
    print("| figure | value | target |\n|---|---|---|")
    print(f"| decode only (PyAV, threads AUTO), the ceiling | {res['decode_only_fps']:.0f} frames/s | |")
    print(f"| PySceneDetect `detect-content` (PyAV backend) | {res['pyscenedetect_content_fps']:.0f} frames/s | |")
    print(
        f"| `cinemanet analyze` (shots + 14 groups + sidecar) | {res['analyze_fps']:.0f} frames/s = "
        f"**{res['analyze_x_realtime']:.1f}x real time** | >= 10x |"
    )
    print(f"| analyze / decode-only | **{res['analyze_vs_decode']:.2f}** | >= 0.70 |")
    print(f"| analyze / PySceneDetect | **{res['analyze_vs_pyscenedetect']:.2f}** | >= 1.0 |")
    print(f"| shots found; F1 against the known cuts | {res['shots']}; {score['f1']:.3f} | |")
    print(f"| peak memory, this file | {res['analyze_peak_rss_mb']:.0f} MB | |")
    print(f"| CPU of `cinemanet analyze` (both processes) | {res['analyze_cpu_s']:.1f} s | |")
    if "baseline" in res:
        b = res["baseline"]
        print(
            f"| {b['what']}, same rounds: analyze / decode-only; / PySceneDetect; CPU | "
            f"{b['analyze_vs_decode']:.2f}; {b['analyze_vs_pyscenedetect']:.2f}; {b['analyze_cpu_s']:.1f} s "
            f"(sidecar {'identical' if b['same_sidecar'] else 'DIFFERENT'}) | |"
        )
        print(
            f"| this run minus {b['what']}, per round: median wall | {b['paired_wall_diff_s']:+.2f} s "
            f"(faster in {b['paired_rounds_faster']} of {len(ours)} rounds) | |"
        )
    print(f"| load average (1 min) before each round, after | {', '.join(f'{x:.1f}' for x in loads)} | |")
    if "long_film" in res:
        lf = res["long_film"]
        print(f"| peak memory, 2-hour film | {lf['peak_rss_mb']:.0f} MB ({lf['wall_s']:.0f} s) | < 2048 |")
    for key, size in (("long_1080p", "6 min of 1080p"), ("uhd_prores", "20 s of 4K ProRes 10-bit")):
        for k, what in ((key, "this version"), (key + "_baseline", res.get("baseline", {}).get("what"))):
            if k in res:
                r = res[k]
                print(
                    f"| peak memory, {size} ({r['shots']} shots), {what} | {r['peak_rss_mb']:.0f} MB "
                    f"({r['wall_s']:.0f} s) | flat |"
                )


if __name__ == "__main__":
    main()
