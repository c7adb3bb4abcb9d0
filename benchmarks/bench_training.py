"""Benchmark training: feature caching speed (images/s) and training a head set on cached features.

    .venv/bin/python benchmarks/bench_training.py [--images 120] [--jobs 1]

1. Feature caching: `compute_features` on --images stills from ../shared/data (or generated
   frames when ../shared is absent) into a fresh, empty cache, for the backbone alone, for
   backbone+geometry (MediaPipe faces, pose, person mask) and for the measured pixel features
   of label-generated examples (recipe applied on the fly). Worker start-up included.
2. Head-set training: the default model's three heads (framing, over-the-shoulder, location)
   fitted with grouped CV over the C grid and temperature scaling, on features already in the
   user cache (run `cinemanet model train-default` once first); skipped when they are not.
Prints Markdown and writes benchmarks/results/training.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _stills(n: int, tmp: Path):
    from cinemanet.training.sources import Item, file_sha256

    files = sorted((DATA / "cinemanet-stills" / "framing").rglob("*.jpg")) if DATA.is_dir() else []
    if files:
        step = max(1, len(files) // n)
        files = files[::step][:n]
        source = "../shared/data/cinemanet-stills/framing (every k-th file)"
    else:
        import cv2

        rng = np.random.default_rng(0)
        files = []
        for i in range(n):
            img = cv2.resize(
                rng.integers(0, 256, (6, 9, 3)).astype(np.uint8), (300, 170), interpolation=cv2.INTER_CUBIC
            )
            p = tmp / f"{i:04d}.jpg"
            cv2.imwrite(str(p), img)
            files.append(p)
        source = "generated 300x170 frames (../shared absent)"
    return [Item(p, "x", file_sha256(p)) for p in files], source


def bench_caching(n: int, jobs: int) -> dict:
    from cinemanet.perception.backbone import cache_dir
    from cinemanet.training import augment
    from cinemanet.training.featurecache import compute_features
    from cinemanet.training.sources import Item

    real_onnx = cache_dir() / "onnx"
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items, source = _stills(n, tmp)
        out["source"] = source
        runs = {
            "backbone": (items, ("backbone",)),
            "backbone+geometry": (items, ("backbone", "geometry")),
        }
        gen = []
        for it in items:  # one label-generating recipe per still, concepts in turn
            concept = list(augment.CONCEPTS)[len(gen) % len(augment.CONCEPTS)]
            rec = augment.plan(concept, it.sha256, 0)
            gen.append(Item(it.path, rec.label, rec.key(it.sha256), rec, it.sha256))
        runs["measured (generated examples)"] = (gen, ("measured",))
        for name, (its, inputs) in runs.items():
            cache = tmp / f"cache-{len(out)}"
            cache.mkdir()
            if real_onnx.is_dir():
                (cache / "onnx").symlink_to(real_onnx)
            os.environ["CINEMANET_CACHE"] = str(cache)
            t0 = time.perf_counter()
            compute_features(its, inputs, jobs=jobs)
            dt = time.perf_counter() - t0
            out[name] = {"images": len(its), "seconds": round(dt, 2), "images_per_s": round(len(its) / dt, 1)}
        os.environ.pop("CINEMANET_CACHE", None)
    return out


def bench_heads() -> dict | None:
    """One fit of each default head on cached features (the shared trunk, then an L-BFGS head
    on the training rows of all three views), as `model train-default` does per CV fold."""
    if not DATA.is_dir():
        return None
    from cinemanet.training import default_heads as dh

    prep = dh.prepare(DATA, jobs=1, log=lambda m: None)
    out = {}
    t_all = time.perf_counter()
    tr = dh.Trainer(prep, 0, log=lambda m: None)
    out["trunk_seconds"] = round(time.perf_counter() - t_all, 1)
    for name, task in prep.tasks.items():
        train = [r for r in task.rows if not prep.images[r[0]].test]
        t0 = time.perf_counter()
        tr.fit(task, train, 0.3)
        out[name] = {
            "n_train": len(train),
            "rows": len(train) * len(dh.TRAIN_VIEWS),
            "dims": dh.PCA_DIM,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    out["total_seconds"] = round(time.perf_counter() - t_all, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    load_before = os.getloadavg()[0]
    res = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "note": "2 cores shared with other jobs; figures are upper bounds on the time",
        },
        "jobs": a.jobs,
        "feature_caching": bench_caching(a.images, a.jobs),
        "head_set_training": bench_heads(),
    }
    # other jobs on the shared cores change these timings several-fold: record how busy it was
    res["machine"]["load_average_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    print(f"## Feature caching ({res['feature_caching']['source']}, {a.jobs} worker)\n")
    print("| features | images | seconds | images/s |\n|---|---:|---:|---:|")
    for k, v in res["feature_caching"].items():
        if isinstance(v, dict):
            print(f"| {k} | {v['images']} | {v['seconds']} | {v['images_per_s']} |")
    h = res["head_set_training"]
    if h:
        print("\n## Default heads: one fit each on cached features (shared trunk + L-BFGS head, three views)\n")
        print("| head | n_train | dims | seconds |\n|---|---:|---:|---:|")
        for k, v in h.items():
            if isinstance(v, dict):
                print(f"| {k} | {v['n_train']} | {v['dims']} | {v['seconds']} |")
        print(f"| **total** | | | {h['total_seconds']} |")
    else:
        print("\nhead-set training skipped: ../shared/data is absent")
    path = ROOT / "benchmarks" / "results" / "training.json"
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
