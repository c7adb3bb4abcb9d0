"""Benchmark `cinemanet tag` on a folder of 1920x1080 JPEGs: images/s, peak memory, cold start,
and the per-stage split. Prints a Markdown table and writes benchmarks/results/tag.json.

    .venv/bin/python benchmarks/bench_tag.py [--images 600] [--runs 3]

The folder is made from real footage: frames of the CC-BY clips in ../shared/media scaled up
to 1080p (or, without ../shared, the sample stills in examples/images, flipped and cropped).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"


def make_frames(folder: Path, n: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    clips = sorted(MEDIA.glob("*.mp4"))
    frames: list[Image.Image] = []
    if clips:
        import av

        step = 3
        for clip in clips:
            with av.open(str(clip)) as c:
                for i, fr in enumerate(c.decode(video=0)):
                    if i % step == 0:
                        frames.append(fr.to_image())
        source = f"frames of {len(clips)} CC-BY clips in ../shared/media, upscaled to 1920x1080"
    else:
        for p in sorted((ROOT / "examples" / "images").glob("*.jpg")):
            im = Image.open(p).convert("RGB")
            frames += [im, ImageOps.mirror(im), im.crop((40, 20, 600, 335)), ImageOps.mirror(im.crop((0, 0, 560, 315)))]
        source = "the sample stills in examples/images (flipped, cropped), upscaled to 1920x1080"
    for i in range(n):
        frames[(i * 7) % len(frames)].resize((1920, 1080), Image.Resampling.BICUBIC).save(
            folder / f"{i:05d}.jpg", quality=90
        )
    return source


def _hwm_kb(pid: int) -> int:
    """Peak resident set (VmHWM) of a live process, from /proc: cheap, and catches short peaks."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_peak_rss(proc: psutil.Process, stop: threading.Event, out: list[int]) -> None:
    """Sum over the command's processes of each one's peak RSS: an upper bound of the tree's
    peak. Polled sparsely so the measurement does not steal CPU from what it measures."""
    peaks: dict[int, int] = {}
    while not stop.is_set():
        try:
            for p in [proc] + proc.children(recursive=True):
                peaks[p.pid] = max(peaks.get(p.pid, 0), _hwm_kb(p.pid) * 1024)
        except psutil.Error:
            pass
        stop.wait(0.25)
    out.append(sum(peaks.values()))


def timed_cli(args: list[str], **popen) -> tuple[float, int]:
    t0 = time.perf_counter()
    p = psutil.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    stop, peak = threading.Event(), []
    th = threading.Thread(target=tree_peak_rss, args=(p, stop, peak))
    th.start()
    _, err = p.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if p.returncode != 0:
        raise SystemExit(f"cinemanet failed ({p.returncode}): {err.decode()[-2000:]}")
    return wall, peak[0]


def cold_start(runs: int) -> dict:
    code = "import time; t=time.perf_counter(); from cinemanet import CinemaNet; n=CinemaNet(); print(time.perf_counter()-t)"
    first = "import time,sys; t=time.perf_counter(); from cinemanet import CinemaNet; CinemaNet().tag(sys.argv[1]); print(time.perf_counter()-t)"
    sample = str(ROOT / "examples" / "images" / "sintel_snow.jpg")
    load = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    tag1 = [
        float(subprocess.run([sys.executable, "-c", first, sample], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return {"import_and_load_s": statistics.median(load), "import_load_and_first_tag_s": statistics.median(tag1)}


def stage_split(folder: Path, jobs: int) -> tuple[dict, float]:
    """Per-stage CPU ms per image, and the steady rate once the workers are up (images/s)."""
    from cinemanet.api import tag_files
    from cinemanet.media import IMAGE_EXTENSIONS, discover
    from cinemanet.perception import StageTimer

    timer = StageTimer()
    inputs = list(discover([folder], IMAGE_EXTENSIONS))
    stamps = [time.perf_counter() for _ in tag_files(inputs, jobs=jobs, timer=timer)]
    skip = min(len(stamps) // 10, 20)  # after the first results: workers are up and warm
    steady = (len(stamps) - 1 - skip) / (stamps[-1] - stamps[skip])
    n = timer.calls.get("decode", 1)
    return {k: 1000 * v / n for k, v in sorted(timer.seconds.items(), key=lambda kv: -kv[1])}, steady


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tag.json")
    a = ap.parse_args()
    script = Path(sys.executable).with_name("cinemanet")
    # the console script where installed, else the same command through `python -m cinemanet`
    cli = [str(script), "tag"] if script.exists() else [sys.executable, "-m", "cinemanet", "tag"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "hd"
        source = make_frames(folder, a.images)
        # warm: the backbone's ONNX export is built once on first use and cached
        subprocess.run(cli + [str(folder / "00000.jpg"), "-q"], stdout=subprocess.DEVNULL, check=True)
        walls, peaks = [], []
        for _ in range(a.runs):
            wall, peak = timed_cli(cli + [str(folder), "--format", "jsonl", "-q", "--jobs", str(a.jobs)])
            walls.append(wall)
            peaks.append(peak)
        cold = cold_start(a.runs)
        stages, steady = stage_split(folder, a.jobs or (os.cpu_count() or 1))
    wall = statistics.median(walls)
    res = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.python_version()}",
        "images": a.images,
        "source": source,
        "runs": a.runs,
        "wall_s_each": walls,
        "images_per_s": a.images / wall,
        "steady_images_per_s": steady,
        "peak_rss_mb": max(peaks) / 2**20,
        **cold,
        "stage_ms_per_image": stages,
        "note": "wall time is the whole `cinemanet tag DIR --format jsonl` command: start-up, workers, decode, all 14 groups, output",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"## cinemanet tag: {a.images} 1920x1080 JPEGs ({res['machine']})\n")
    print("| figure | value | target |\n|---|---|---|")
    print(f"| throughput (median of {a.runs} runs, whole command) | {res['images_per_s']:.1f} images/s | >= 25 |")
    print(f"| steady rate once workers are up (Python API, same folder) | {steady:.1f} images/s | |")
    print(f"| peak resident memory (sum of each process's peak) | {res['peak_rss_mb']:.0f} MB | <= 1536 |")
    print(f"| cold start: import + model load | {cold['import_and_load_s']:.2f} s | < 5 |")
    print(f"| cold start: import + load + first image | {cold['import_load_and_first_tag_s']:.2f} s | |")
    print("\n| stage | ms per image (CPU, per worker) |\n|---|---|")
    for k, v in stages.items():
        print(f"| {k} | {v:.1f} |")
    print(f"| total | {sum(stages.values()):.1f} |")


if __name__ == "__main__":
    main()
