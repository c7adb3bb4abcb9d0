"""Mirror test-time averaging against one view, out of fold on the 80% part, from cached features.

    python benchmarks/mirror_tta.py --data ../shared/data [--tasks framing,ots] [--out FILE]

For every task of the default model: the 3-fold grouped cross-validation that
``cinemanet model train-default`` chooses its L2 strength with (same folds, trunk, rows), each
fold's head fitted once, at the L2 strength of ``--wd-from`` (default: the shipped single-view
run's ``metrics.json``), and its held-out fold scored twice: on the colour view alone, and with
the head's logits averaged over the colour view and the mirrored image (the ``flip`` rows of the
feature cache: a real backbone pass on the mirrored file). The heads read no body geometry, so
nothing else has to be mirrored. Averaging logits or log-probabilities gives the same softmax (they
differ by a constant per row), so the two are one choice.

Decision rule, fixed before the run: ship mirror averaging only if it is not worse out of fold on
any task (accuracy and macro-F1; over-the-shoulder F1 for ``ots``; to 3 decimals) and better on
framing accuracy or over-the-shoulder F1. No kept-apart or leave-one-source-out figure is read here.

Also per arm: the temperature and per-label thresholds fitted on those out-of-fold predictions
(the rules of ``train-default``) and what they let through on the same predictions (in-sample for
the thresholds, so only the difference between the arms means anything), and a paired bootstrap
95% interval of the accuracy difference.
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
from cinemanet.training.calibrate import NEVER, emitted, label_thresholds, softmax  # noqa: E402
from cinemanet.training.metrics import fit_temperature  # noqa: E402
from finetune_backbone import _paired, _scores  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "mirror_tta.json"


def out_of_fold(tr: dh.Trainer, task: dh.Task, wd: float) -> tuple[dict, np.ndarray, list[str]]:
    """Out-of-fold logits per view on the scored 80% rows (the folds of ``Trainer.run``)."""
    imgs = tr.prep.images
    train = [r for r in task.rows if not imgs[r[0]].test]
    folds = dh.grouped_folds(np.array([imgs[r[0]].cluster for r in train]), dh.FOLDS, tr.seed)
    scored = np.array([r[2] not in dh.TRAIN_ONLY for r in train], bool)
    z = {v: np.zeros((int(scored.sum()), len(task.outputs))) for v in ("rgb", "flip")}
    for f in range(dh.FOLDS):
        fit = tr.fit(task, [r for r, ff in zip(train, folds) if ff != f], wd)
        va = [r[0] for r, ff, sc in zip(train, folds, scored) if ff == f and sc]
        for v in z:
            z[v][folds[scored] == f] = tr.Z(va, v) @ fit.W.T + fit.b
    rows = [r for r, sc in zip(train, scored) if sc]
    return z, np.array([r[1] for r in rows]), [r[2] for r in rows]


def arm(task: dh.Task, z: np.ndarray, y: np.ndarray, src: list[str]) -> dict:
    T = fit_temperature(z, y)
    P = softmax(z, T)
    thr = label_thresholds(P, y)
    if task.name == "texture":
        thr[-1] = NEVER  # "none" is never a label, as in train-default
    out = _scores(task, P, y, src)
    if task.ordered:
        out["within_one"] = float(np.mean(np.abs(P.argmax(1) - y) <= 1))
    out["temperature"] = float(T)
    out["emitted_in_sample"] = emitted(P, y, thr)
    return out


def headline(name: str, r: dict) -> dict[str, float]:
    keys = ("accuracy", "f1_positive") if name == "ots" else ("accuracy", "macro_f1")
    return {k: round(r[k], 3) for k in keys}


def decide(tasks: dict) -> dict:
    """The rule of the module docstring, applied to the rounded figures."""
    worse = [
        f"{t} {k}"
        for t, r in tasks.items()
        for k, v in headline(t, r["mirror_averaged"]).items()
        if v < headline(t, r["single"])[k]
    ]
    better = [
        f"{t} {k}"
        for t, k in (("framing", "accuracy"), ("ots", "f1_positive"))
        if t in tasks and headline(t, tasks[t]["mirror_averaged"])[k] > headline(t, tasks[t]["single"])[k]
    ]
    return {"worse": worse, "better_on_framing_or_ots": better, "ship": not worse and bool(better)}


def backbone_cost(reps: int = 40) -> dict:
    """What the mirrored pass would cost at inference: the packaged backbone (ONNX Runtime, one
    thread) on a 1080p sample still, preprocessing included, alone against one batched call with
    its mirror (the 224 px tensor flipped), interleaved, medians."""
    import cv2

    from cinemanet.media import load_image
    from cinemanet.perception.backbone import _shared_session, preprocess

    rgb = load_image(sorted((ROOT / "examples" / "images").glob("*.jpg"))[0]).rgb
    rgb = cv2.resize(rgb, (1920, 1080), interpolation=cv2.INTER_CUBIC)  # a 1080p frame
    sess = _shared_session(1)
    one = lambda: sess.run(None, {"image": preprocess(rgb)})  # noqa: E731
    two = lambda: sess.run(None, {"image": (lambda x: np.concatenate([x, x[..., ::-1]]))(preprocess(rgb))})  # noqa: E731
    t = {"one_view_ms": [], "with_mirror_ms": []}
    for f in (one, two):
        f()  # warm-up
    for _ in range(reps):
        for k, f in (("one_view_ms", one), ("with_mirror_ms", two)):
            t0 = time.perf_counter()
            f()
            t[k].append(1e3 * (time.perf_counter() - t0))
    out = {k: float(np.median(v)) for k, v in t.items()}
    out["frame"] = list(rgb.shape[:2])
    out["reps"] = reps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--tasks", default="framing,ots,side,place,texture,timeofday")
    ap.add_argument("--wd-from", type=Path, default=ROOT / "cinemanet" / "models" / "default" / "metrics.json")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    wd = {t: float(v["cv"]["wd"]) for t, v in json.loads(a.wd_from.read_text())["tasks"].items()}
    t0 = time.perf_counter()
    prep = dh.prepare(a.data, None, log)
    tr = dh.Trainer(prep, 0, log)
    report = {
        "load_average_start": os.getloadavg(),
        "cores": os.cpu_count(),
        "protocol": __doc__.split("\n\n", 1)[1],
        "averaged": "logits (equivalently log-probabilities) of the colour and mirrored views",
        "wd_from": str(a.wd_from.relative_to(ROOT)) if a.wd_from.is_relative_to(ROOT) else str(a.wd_from),
        "tasks": {},
    }
    for name in a.tasks.split(","):
        task = prep.tasks[name]
        t1 = time.perf_counter()
        z, y, src = out_of_fold(tr, task, wd[name])
        avg = (z["rgb"] + z["flip"]) / 2
        single, mirror = arm(task, z["rgb"], y, src), arm(task, avg, y, src)
        flip = z["flip"].argmax(1)  # a check of the mirrored rows, not an arm
        mirror_alone = {
            "accuracy": float(np.mean(flip == y)),
            "agrees_with_colour": float(np.mean(flip == z["rgb"].argmax(1))),
        }
        c0, c1 = (z["rgb"].argmax(1) == y).astype(float), (avg.argmax(1) == y).astype(float)
        report["tasks"][name] = {
            "wd": wd[name],
            "single": single,
            "mirror_averaged": mirror,
            "accuracy_diff_95ci": _paired(c0, c1),
            "mirror_view_alone": mirror_alone,
            "changed_predictions": int((z["rgb"].argmax(1) != avg.argmax(1)).sum()),
            "seconds": time.perf_counter() - t1,
        }
        keys = [k for k in ("accuracy", "macro_f1", "balanced_accuracy", "f1_positive", "within_one") if k in single]
        keys += [k for k in ("texture_top1", "real_accuracy") if k in single]
        line = ", ".join(f"{k} {single[k]:.3f} -> {mirror[k]:.3f}" for k in keys)
        cov = f"coverage {single['emitted_in_sample']['coverage']:.3f} -> {mirror['emitted_in_sample']['coverage']:.3f}"
        lo, hi = report["tasks"][name]["accuracy_diff_95ci"]
        print(
            f"{name:9s} n={len(y)}: {line}; {cov}; accuracy diff 95% CI {lo:+.3f}..{hi:+.3f}; mirrored view alone "
            f"{mirror_alone['accuracy']:.3f} (agrees with colour {mirror_alone['agrees_with_colour']:.3f})",
            flush=True,
        )
        if "by_source" in single and len(single["by_source"]) > 1:
            print(
                "          by source: "
                + ", ".join(
                    f"{s} {single['by_source'][s]:.3f} -> {mirror['by_source'][s]:.3f}" for s in single["by_source"]
                ),
                flush=True,
            )
    report["backbone_cost"] = backbone_cost()
    c = report["backbone_cost"]
    print(
        f"backbone per frame: one view {c['one_view_ms']:.1f} ms, with its mirror {c['with_mirror_ms']:.1f} ms",
        flush=True,
    )
    report["decision"] = decide(report["tasks"])
    print(f"decision: {report['decision']}", flush=True)
    report["seconds"] = time.perf_counter() - t0
    report["load_average_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
