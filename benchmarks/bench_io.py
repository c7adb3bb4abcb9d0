"""Bytes read from disk per analysed video, and CLI start-up time.

    .venv/bin/python benchmarks/bench_io.py [--runs 5]

1. The 2-minute 1080p benchmark file of bench_analyze.py (benchmarks/videogen.py concat_1080p,
   cached in benchmarks/out/). Bytes this process reads (``/proc/self/io`` rchar: every read
   call, page cache or not), as multiples of the file size, for: decoding alone (the frames
   analysis needs), a full analysis (probe, decode, shots, tags, hash, sidecar), and a re-run
   that finds the sidecar up to date. The target: analysis reads the file at most once more
   than decoding needs (the content hash).
2. ``cinemanet --version`` and ``cinemanet tag --help``: median wall time of --runs fresh
   processes (target < 0.3 s).
Prints Markdown and writes benchmarks/results/io.json.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))


def rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def bytes_read(fn) -> int:
    before = rchar()
    fn()
    return rchar() - before


def startup(args: list[str], runs: int) -> float:
    """Median wall time of ``python ARGS`` in fresh processes."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def startup_table(runs: int) -> dict:
    # interleaved with their baselines in one run, so machine load shows in every row alike
    rows = {
        "python -c pass (the interpreter)": ["-c", "pass"],
        "python -c 'import typer' (the CLI framework)": ["-c", "import typer"],
        "cinemanet --version": ["-m", "cinemanet", "--version"],
        "cinemanet tag --help": ["-m", "cinemanet", "tag", "--help"],
    }
    got = {k: [] for k in rows}
    for _ in range(runs):
        for k, args in rows.items():
            got[k].append(startup(args, 1))
    med = {k: statistics.median(v) for k, v in got.items()}
    print(f"\n| start-up (median of {runs}, interleaved) | seconds | target |\n|---|---|---|")
    for k, v in med.items():
        print(f"| `{k}` | {v:.3f} | {'< 0.3' if k.startswith('cinemanet') else ''} |")
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--startup-only", action="store_true", help="Only the start-up table.")
    a = ap.parse_args()
    if a.startup_only:
        startup_table(a.runs)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "2")

    import videogen

    from cinemanet.media.video import iter_frames, probe
    from cinemanet.util.files import file_sha256
    from cinemanet.video.analyze import VideoAnalyzer
    from cinemanet.video.batch import process_one

    OUT.mkdir(parents=True, exist_ok=True)
    hd = OUT / "concat_1080p_120s.mp4"
    if not hd.exists():
        print("generating the 2-minute 1080p file (once)...", file=sys.stderr)
        videogen.concat_1080p(hd, seconds=120)
    size = hd.stat().st_size

    def decode() -> None:
        for _ in iter_frames(hd, fast=True):
            pass

    # tag in this process (threads), so every read the analysis makes is counted here
    analyzer = VideoAnalyzer(tagging="thread")
    warm = OUT / "io_warmup.mp4"
    if not warm.exists():
        videogen.hard_cuts(warm, n_shots=3, width=320, height=180, source="synthetic")
    with tempfile.TemporaryDirectory() as tmp:
        process_one(analyzer, str(warm), tmp, False, True)  # load the models before measuring
        decode_b = bytes_read(decode)
        probe_b = bytes_read(lambda: probe(hd))
        hash_b = bytes_read(lambda: file_sha256(hd))
        result = {}
        t0 = time.perf_counter()
        analyze_b = bytes_read(lambda: result.setdefault("r", process_one(analyzer, str(hd), tmp, False, True)))
        seconds = time.perf_counter() - t0
        assert result["r"].status == "done", result["r"].error
        sidecar = Path(result["r"].sidecar).stat().st_size
        rerun_b = bytes_read(lambda: result.setdefault("s", process_one(analyzer, str(hd), tmp, False, False)))
        assert result["s"].status == "skipped"
    med = startup_table(a.runs)
    version, tag_help = med["cinemanet --version"], med["cinemanet tag --help"]

    extra = (analyze_b - decode_b) / size
    out = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "file": f"{hd.name}: {size} bytes",
        "decode_bytes": decode_b,
        "analyze_bytes": analyze_b,
        "analyze_seconds": round(seconds, 1),
        "probe_bytes": probe_b,
        "hash_bytes": hash_b,
        "rerun_bytes": rerun_b,
        "sidecar_bytes": sidecar,
        "extra_reads_of_the_file": round(extra, 3),
        "startup_version_s": round(version, 3),
        "startup_tag_help_s": round(tag_help, 3),
        "startup_s": {k: round(v, 3) for k, v in med.items()},
    }
    print(f"| {hd.name} ({size / 1e6:.1f} MB) | bytes read | x file size |")
    print("|---|---|---|")
    print(f"| decode only (what analysis needs) | {decode_b:,} | {decode_b / size:.3f} |")
    print(f"| `analyze` (probe, decode, tag, hash, sidecar) | {analyze_b:,} | {analyze_b / size:.3f} |")
    print(f"| re-run, sidecar up to date (hash only) | {rerun_b:,} | {rerun_b / size:.3f} |")
    print(f"| for reference: `probe` alone (header and first frame) | {probe_b:,} | {probe_b / size:.3f} |")
    print(f"| for reference: the content hash alone | {hash_b:,} | {hash_b / size:.3f} |")
    print(
        f"\nanalysis reads the file {extra:.3f} times more than decoding needs (target <= 1; "
        f"decode + hash + probe = {(decode_b + hash_b + probe_b) / size:.3f})"
    )
    res = ROOT / "benchmarks" / "results"
    res.mkdir(exist_ok=True)
    (res / "io.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
