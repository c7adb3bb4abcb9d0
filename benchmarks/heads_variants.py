"""Side-by-side variants of the default model's heads, on the default model's own protocol.

    python benchmarks/heads_variants.py --data ../shared/data [--tasks side,place] [--out FILE]

Every variant is fitted exactly like ``cinemanet model train-default`` fits the shipped heads
(same cached features, same kept-apart split, same shared trunk), with the L2 strength the
shipped run chose by cross-validation on the 80% part (``metrics.json``), and judged the same
way: leave one source out on the 80% part (tasks with two or more sources) and the kept-apart
20%. Nothing here chooses a threshold; the kept-apart figures are argmax accuracy.

Variants (each changes one thing against ``base``, the shipped recipe):

- ``source-balanced``: within each class every source weighs the same (Intel6's 7,000 exterior
  photos no longer outweigh the 150 indoor-outdoor ones);
- ``smooth0.1``: label smoothing 0.1 (the framing stills' labels are only ~80-85% right);
- ``global``: the 1280-d global embedding only (no 3x3 layout grid).

Writes a JSON report (default ``benchmarks/results/heads_variants.json``) and prints one line
per (task, variant).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinemanet.training import default_heads as dh  # noqa: E402
from cinemanet.training.metrics import accuracy, macro_f1, per_class  # noqa: E402

VARIANTS = {
    "base": {},
    "source-balanced": {"source_balanced": True},
    "smooth0.1": {"smoothing": 0.1},
    "global": {"global": True},
}
DEFAULT_PLAN = {
    "side": ("base", "source-balanced", "global"),
    "place": ("base", "source-balanced"),
    "timeofday": ("base", "smooth0.1", "global"),
    "ots": ("base", "smooth0.1", "global"),
    "framing": ("base", "smooth0.1", "global"),
}


def _global_only(prep: dh.Prepared) -> dh.Prepared:
    feats = {v: {s: r[:1280] for s, r in d.items()} for v, d in prep.feats.items()}
    return dh.Prepared(prep.images, prep.tasks, feats)


TASKS = ("framing", "ots", "side", "place", "texture", "timeofday")  # every task of the default model


def shipped_metrics() -> dict:
    """The shipped run's figures per task (``metrics.json``): its L2 strengths are reused here."""
    return json.loads((Path(dh.__file__).parents[1] / "models" / "default" / "metrics.json").read_text())["tasks"]


def log(m: str) -> None:
    print(m, file=sys.stderr, flush=True)


def bench_args(doc: str, result: str, extra=None) -> argparse.Namespace:
    """--data (../shared/data by default) and --out (benchmarks/results/RESULT), plus ``extra(ap)``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / result)
    if extra:
        extra(ap)
    return ap.parse_args()


def out_of_fold(tr: dh.Trainer, task: dh.Task, wd: float, fit_predict=None) -> dict:
    """Out-of-fold figures on the 80% part (3-fold grouped CV, the folds the shipped run chooses
    its L2 strength with): a choice between variants made here never looks at the kept-apart
    images. ``fit_predict(fit_rows, rows) -> logits`` replaces the shipped linear fit."""
    imgs = tr.prep.images
    train = [r for r in task.rows if not imgs[r[0]].test]
    folds = dh.grouped_folds(np.array([imgs[r[0]].cluster for r in train]), dh.FOLDS, tr.seed)
    fit_predict = fit_predict or (lambda fit_rows, rows: tr.predict(tr.fit(task, fit_rows, wd), rows))
    pred = np.zeros(len(train), int)
    for f in range(dh.FOLDS):
        fit_rows = [r for r, ff in zip(train, folds) if ff != f]
        pred[folds == f] = fit_predict(fit_rows, [r for r, ff in zip(train, folds) if ff == f]).argmax(1)
    keep = np.array([r[2] not in dh.TRAIN_ONLY for r in train], bool)
    y, p = np.array([r[1] for r in train])[keep], pred[keep]
    src = np.array([r[2] for r in train])[keep]
    out = {
        "accuracy": accuracy(y, p),
        "macro_f1": macro_f1(y, p, len(task.outputs)),
        "by_source": {s: accuracy(y[src == s], p[src == s]) for s in sorted(set(src.tolist()))},
    }
    if task.binary_output:
        out["f1_positive"] = per_class(y, p, 2)["f1"][1]
    if task.ordered:
        out["within_one"] = float(np.mean(np.abs(p - y) <= 1))
    return out


def judge(tr: dh.Trainer, task: dh.Task, wd: float, cv: bool = False) -> dict:
    imgs = tr.prep.images
    train = [r for r in task.rows if not imgs[r[0]].test]
    test = [r for r in task.rows if imgs[r[0]].test]
    t0 = time.perf_counter()
    cvres = out_of_fold(tr, task, wd) if cv else None
    loso, _, _ = tr.loso(task, train, wd)
    fit = tr.fit(task, train, wd)
    z = tr.predict(fit, test)
    y = np.array([r[1] for r in test])
    pred = z.argmax(1)
    out = {
        "wd": wd,
        "n_train": len(train),
        "n_test": len(test),
        "kept_apart_accuracy": accuracy(y, pred),
        "kept_apart_macro_f1": macro_f1(y, pred, len(task.outputs)),
        "kept_apart_by_source": {
            s: accuracy(y[ix], pred[ix])
            for s in sorted({r[2] for r in test})
            for ix in [np.array([i for i, r in enumerate(test) if r[2] == s])]
        },
        "loso": {s: v.get("accuracy") for s, v in loso.items()},
        "seconds": time.perf_counter() - t0,
    }
    if cvres:
        out["cv_80"] = cvres
    if task.binary_output:
        pc = per_class(y, pred, 2)
        out["f1_positive"], out["precision_positive"], out["recall_positive"] = (
            pc["f1"][1],
            pc["precision"][1],
            pc["recall"][1],
        )
    if "shot.timeofday.night" in task.outputs:
        real = np.array([r[2] not in (dh.GEN_NIGHT, dh.PAIRED_DAY) for r in test])
        night = task.outputs.index("shot.timeofday.night")
        out["real_accuracy"] = accuracy(y[real], pred[real])
        out["real_called_night"] = float(np.mean(pred[real] == night))
        gen = np.array([r[2] == dh.GEN_NIGHT for r in test])
        out["generated_night_recall"] = accuracy(y[gen], pred[gen])
        # film stills (no time-of-day labels; mostly interiors and day): how often the head alone says night
        stills = [s for s, im in imgs.items() if im.test and "shot.framing" in im.labels]
        zs = tr.Z(stills) @ fit.W.T + fit.b
        out["film_stills_head_night"] = float(np.mean(zs.argmax(1) == night))
    if task.ordered:
        out["within_one"] = float(np.mean(np.abs(pred - y) <= 1))
    return out


def main() -> None:
    def extra(ap):
        ap.add_argument("--tasks", default=",".join(DEFAULT_PLAN))
        ap.add_argument("--variants", default="", help="comma list; default: the plan per task")
        ap.add_argument("--cv", action="store_true", help="also out-of-fold accuracy per source on the 80%% part")
        ap.add_argument("--framing-crops", action="store_true", help="add the framing crops (training only)")
        ap.add_argument("--day-for-night", action="store_true", help="add the generated night examples")

    a = bench_args(__doc__, "heads_variants.json", extra)
    metrics = shipped_metrics()
    prep = dh.prepare(a.data, None, log, day_for_night=a.day_for_night, framing_crops=a.framing_crops)
    trainers: dict[tuple, dh.Trainer] = {}
    report = {
        "load_average_start": os.getloadavg(),
        "cores": os.cpu_count(),
        "protocol": __doc__.split("\n\n")[1],
        "results": {},
    }
    for name in a.tasks.split(","):
        task = prep.tasks[name]
        wd = metrics[name]["cv"]["wd"]
        for v in a.variants.split(",") if a.variants else DEFAULT_PLAN[name]:
            opt = VARIANTS[v]
            key = bool(opt.get("global"))
            if key not in trainers:
                trainers[key] = dh.Trainer(_global_only(prep) if key else prep, 0, log)
            tr = trainers[key]
            tr.source_balanced = (name,) if opt.get("source_balanced") else ()
            tr.smoothing = {name: opt["smoothing"]} if "smoothing" in opt else {}
            res = judge(tr, task, wd, a.cv)
            report["results"].setdefault(name, {})[v] = res
            extra = f", OTS F1 {res['f1_positive']:.3f}" if "f1_positive" in res else ""
            extra += (
                f", real day/twilight {res['real_accuracy']:.3f} (called night {res['real_called_night']:.3f}), "
                f"generated night recall {res['generated_night_recall']:.3f}, film stills called night "
                f"{res['film_stills_head_night']:.3f}"
                if "real_accuracy" in res
                else ""
            )
            extra += f", within one {res['within_one']:.3f}" if "within_one" in res else ""
            loso = ", ".join(f"{s} {x:.3f}" for s, x in res["loso"].items() if x is not None)
            by = ", ".join(f"{s} {x:.3f}" for s, x in res["kept_apart_by_source"].items())
            if "cv_80" in res:
                by += "; 80% out-of-fold: " + ", ".join(f"{s} {x:.3f}" for s, x in res["cv_80"]["by_source"].items())
            print(
                f"{name:9s} {v:16s} kept-apart {res['kept_apart_accuracy']:.3f}{extra} [{by}]; LOSO: {loso or 'n/a'} "
                f"({res['seconds']:.0f}s)",
                flush=True,
            )
            a.out.parent.mkdir(parents=True, exist_ok=True)
            report["load_average_end"] = os.getloadavg()
            a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
