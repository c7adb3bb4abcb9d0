"""Fine-tuned against frozen EfficientNet-Lite0 features, side by side, on the default model's protocol.

    python benchmarks/finetune_backbone.py --data ../shared/data [--stage val,loso,kept] [--epochs 3]

Both arms feed the *same* head fitting (:class:`cinemanet.training.default_heads.Trainer`:
standardisation, PCA-512 trunk, class-balanced L-BFGS softmax per task, the L2 strength the
shipped run chose by 3-fold grouped CV on the 80% part) with the same rows; only the features
differ: the shipped frozen backbone's, or those of a network whose last block and head conv were
fine-tuned (:mod:`cinemanet.training.finetune`) on data the judged rows never saw.

Stages (the first two only read the 80% part; the choice is made on them):

- ``val``: one fixed grouped validation third V of the 80% part (whole near-duplicate clusters,
  :func:`.joint.grouped_folds` over all 80% images, fold ``--fold``, default 0). Fine-tune on the
  other two thirds (batch order and view draws seeded by ``--seed``, default 0),
  early stopping on V; heads of both arms fitted on those two thirds, judged on V. Paired
  bootstrap 95% intervals of the difference (rows of V resampled).
- ``loso``: fine-tune on the 80% part without the indoor-outdoor and 15-Scene images (and the
  nights generated from them) for the epochs ``val`` picked; both arms judged leave one source out
  on those two sources (interior/exterior and places), exactly as ``train-default`` does.
- ``kept``: only after the choice, once: fine-tune on the whole 80% part, then the full
  ``train-default`` pipeline (CV, LOSO, calibration) on its features, judged on the kept-apart 20%,
  beside the frozen model's ``metrics.json``.

Writes ``benchmarks/results/finetune_backbone.json`` (merged per stage) and prints a table.
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
from cinemanet.training import finetune as ft  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "finetune_backbone.json"
LOSO_HELD = ("indoor-outdoor", "scene15-train")


def _wd() -> dict[str, float]:
    m = json.loads((ROOT / "cinemanet" / "models" / "default" / "metrics.json").read_text())
    return {t: float(v["cv"]["wd"]) for t, v in m["tasks"].items()}


def _sub(prep: dh.Prepared, keep, feats=None) -> dh.Prepared:
    images = {s: im for s, im in prep.images.items() if keep(s, im)}
    f = feats if feats is not None else prep.feats
    return dh.Prepared(images, prep.tasks, {v: {s: f[v][s] for s in images} for v in dh.TRAIN_VIEWS})


def _ft_features(upper, acts, shas) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for v in dh.TRAIN_VIEWS:
        X = ft.features(upper, np.stack([acts[v][s] for s in shas]))
        out[v] = dict(zip(shas, X))
    return out


def _scores(task: dh.Task, P: np.ndarray, y: np.ndarray, sources: list[str]) -> dict:
    rep = dh._report(P, y, task, np.full(P.shape[1], 1.01), sources)
    keep = ("n", "accuracy", "macro_f1", "f1_positive", "texture_top1", "real_accuracy", "within_one")
    out = {k: rep[k] for k in keep if k in rep}
    out["balanced_accuracy"] = float(np.mean(dh._balanced(y, P.argmax(1), P.shape[1])))
    out["by_source"] = {s: v["accuracy"] for s, v in rep["by_source"].items()}
    return out


def _paired(c0: np.ndarray, c1: np.ndarray, reps: int = 2000, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    ix = rng.integers(0, len(c0), (reps, len(c0)))
    d = c1[ix].mean(1) - c0[ix].mean(1)
    return [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]


def _init_heads(tr: dh.Trainer, prep: dh.Prepared, rows: dict, wd: dict):
    fits = {t: tr.fit(prep.tasks[t], rows[t], wd[t]) for t in rows}
    return fits, {t: (f.W, f.b) for t, f in fits.items()}


def _finetune(prep, tr, acts, rows, wd, val=None, epochs=3, log=print, **kw):
    fits, init = _init_heads(tr, prep, rows, wd)
    upper, _, hist = ft.finetune(
        acts,
        {t: [(s, y) for s, y, _ in r] for t, r in rows.items()},
        {t: len(prep.tasks[t].outputs) for t in rows},
        (tr.mean, tr.scale, tr.P),
        init,
        wd,
        val={t: [(s, y) for s, y, _ in r] for t, r in val.items()} if val else None,
        epochs=epochs,
        log=log,
        **kw,
    )
    return upper, hist, fits


def stage_val(prep, acts, wd, args, log) -> dict:
    train80 = sorted(s for s, im in prep.images.items() if not im.test)
    fold = dict(zip(train80, dh.grouped_folds(np.array([prep.images[s].cluster for s in train80]), 3, 0)))
    k = args.fold
    T = {t: [r for r in task.rows if fold.get(r[0], k) != k] for t, task in prep.tasks.items()}
    V = {
        t: [r for r in task.rows if fold.get(r[0], -1) == k and r[2] not in dh.TRAIN_ONLY]
        for t, task in prep.tasks.items()
    }
    T = {t: r for t, r in T.items() if r and t in wd}
    base = _sub(prep, lambda s, im: not im.test)
    tr0 = dh.Trainer(base, log=log)
    t0 = time.perf_counter()
    upper, hist, fits0 = _finetune(
        base,
        tr0,
        acts,
        T,
        wd,
        val={t: V[t] for t in T},
        epochs=args.epochs,
        log=log,
        lr=args.lr,
        head_lr=args.head_lr,
        max_seconds=args.max_seconds,
        at=args.at,
        seed=args.seed,
    )
    ft_seconds = time.perf_counter() - t0
    feats = _ft_features(upper, acts, sorted(base.images))
    tr1 = dh.Trainer(_sub(prep, lambda s, im: not im.test, feats), log=log)
    out = {
        "fold": k,
        "seed": args.seed,
        "n_train_images": len({s for r in T.values() for s, _, _ in r}),
        "fine_tune": hist,
        "fine_tune_seconds": ft_seconds,
        "tasks": {},
    }
    for t in T:
        task = prep.tasks[t]
        y = np.array([r[1] for r in V[t]])
        src = [r[2] for r in V[t]]
        P0 = dh.softmax(tr0.predict(fits0[t], V[t]))
        P1 = dh.softmax(tr1.predict(tr1.fit(task, T[t], wd[t]), V[t]))
        s0, s1 = _scores(task, P0, y, src), _scores(task, P1, y, src)
        c0, c1 = (P0.argmax(1) == y).astype(float), (P1.argmax(1) == y).astype(float)
        out["tasks"][t] = {"frozen": s0, "finetuned": s1, "accuracy_diff_95ci": _paired(c0, c1)}
        log(
            f"val {t}: frozen {s0['accuracy']:.3f} fine-tuned {s1['accuracy']:.3f} (n={len(y)}), diff CI {out['tasks'][t]['accuracy_diff_95ci']}"
        )
    return out


def _held_out_source(im: dh.Image, held_clusters: set) -> bool:
    return any(s in LOSO_HELD for s in im.sources) or (im.generated and im.cluster in held_clusters)


def _tune_with_args(base, tr0, acts, rows, wd, args, log, epochs: int):
    """The loso and kept stages tune the same way, without a validation split."""
    upper, hist, _ = _finetune(
        base,
        tr0,
        acts,
        rows,
        wd,
        epochs=epochs,
        log=log,
        lr=args.lr,
        head_lr=args.head_lr,
        max_seconds=args.max_seconds,
        at=args.at,
    )
    return upper, hist


def stage_loso(prep, acts, wd, args, log, epochs: int) -> dict:
    held_clusters = {im.cluster for im in prep.images.values() if any(s in LOSO_HELD for s in im.sources)}
    base = _sub(prep, lambda s, im: not im.test)
    rows = {
        t: [
            r
            for r in task.rows
            if not prep.images[r[0]].test and not _held_out_source(prep.images[r[0]], held_clusters)
        ]
        for t, task in prep.tasks.items()
        if t in wd
    }
    rows = {t: r for t, r in rows.items() if len({y for _, y, _ in r}) >= 2}
    tr0 = dh.Trainer(base, log=log)
    upper, hist = _tune_with_args(base, tr0, acts, rows, wd, args, log, epochs)
    tr1 = dh.Trainer(_sub(prep, lambda s, im: not im.test, _ft_features(upper, acts, sorted(base.images))), log=log)
    out = {"held_out_sources": list(LOSO_HELD), "epochs": epochs, "fine_tune": hist, "tasks": {}}
    for t in ("side", "place"):
        task = prep.tasks[t]
        train = [r for r in task.rows if not prep.images[r[0]].test]
        res = {}
        for name, tr in (("frozen", tr0), ("finetuned", tr1)):
            loso, _, _ = tr.loso(task, train, wd[t])
            res[name] = {s: loso[s] for s in LOSO_HELD if s in loso}
        out["tasks"][t] = res
        log(
            f"loso {t}: "
            + "; ".join(
                f"{s}: frozen {res['frozen'][s].get('accuracy')} fine-tuned {res['finetuned'][s].get('accuracy')}"
                for s in res["frozen"]
            )
        )
    return out


def stage_kept(prep, acts, wd, args, log, epochs: int) -> dict:
    """Once, after the choice: the full train-default pipeline on fine-tuned features."""
    base = _sub(prep, lambda s, im: not im.test)
    rows = {t: [r for r in task.rows if not prep.images[r[0]].test] for t, task in prep.tasks.items() if t in wd}
    tr0 = dh.Trainer(base, log=log)
    upper, hist = _tune_with_args(base, tr0, acts, rows, wd, args, log, epochs)
    if args.save_upper:
        import torch

        torch.save(upper.state_dict(), args.save_upper)
    feats = _ft_features(upper, acts, sorted(prep.images))
    tr1 = dh.Trainer(dh.Prepared(prep.images, prep.tasks, feats), log=log)
    frozen = json.loads((ROOT / "cinemanet" / "models" / "default" / "metrics.json").read_text())["tasks"]
    out = {"epochs": epochs, "fine_tune": hist, "tasks": {}}
    for t in rows:
        info = tr1.run(prep.tasks[t])["info"]
        k1, k0 = info["kept_apart"], frozen[t]["kept_apart"]
        pick = ("n", "accuracy", "macro_f1", "ece", "f1_positive", "texture_top1", "real_accuracy", "within_one")
        out["tasks"][t] = {
            "frozen": {
                **{k: k0[k] for k in pick if k in k0},
                "emitted": k0["emitted"],
                "by_source": {s: v["accuracy"] for s, v in k0["by_source"].items()},
                "loso": {s: v.get("accuracy") for s, v in frozen[t]["loso"].items()},
            },
            "finetuned": {
                **{k: k1[k] for k in pick if k in k1},
                "emitted": k1["emitted"],
                "by_source": {s: v["accuracy"] for s, v in k1["by_source"].items()},
                # no "loso" here: this network was tuned on every source (the loso stage is the fair one)
                "wd": info["cv"]["wd"],
            },
        }
        log(f"kept {t}: frozen {k0['accuracy']:.3f} fine-tuned {k1['accuracy']:.3f} (n={k1['n']})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--stage", default="val,loso")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=3e-4)
    ap.add_argument("--max-seconds", type=float, default=900.0, help="time budget of one fine-tune")
    ap.add_argument("--at", type=int, default=ft.AT, help="cache the input of this block; tune it and above")
    ap.add_argument("--fold", type=int, default=0, choices=(0, 1, 2), help="val: which grouped third V is")
    ap.add_argument("--seed", type=int, default=0, help="val: fine-tuning seed (batch order, view draws)")
    ap.add_argument("--jobs", "-j", type=int, default=2)
    ap.add_argument("--save-upper", default=None, help="kept stage: save the tuned block's state_dict here")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    data = Path(args.data)
    if not data.is_dir():
        sys.exit(f"{data}: no training data here (see ../shared/data/README.md)")
    t0 = time.perf_counter()
    prep = dh.prepare(data, args.jobs, log)
    acts = ft.activations(
        [(str(im.path), s) for s, im in sorted(prep.images.items())], jobs=args.jobs, log=log, at=args.at
    )
    prep = dh.Prepared({s: im for s, im in prep.images.items() if s in acts["rgb"]}, prep.tasks, prep.feats)
    wd = _wd()
    out_path = Path(args.out)
    report = json.loads(out_path.read_text()) if out_path.exists() else {}
    report.update(
        schema="cinemanet.finetune-benchmark/1",
        machine=f"{os.cpu_count()}-core x86 CPU, shared with other jobs",
        cut=f"cached input of block {args.at} (7x7x192); tuned: blocks {args.at}-15, head conv, task heads",
        settings={
            "lr": args.lr,
            "head_lr": args.head_lr,
            "batch": "16 rows per task per step, class-balanced",
            "optimizer": "Adam",
            "bn": "frozen statistics",
            "epochs": args.epochs,
        },
        command="python benchmarks/finetune_backbone.py " + " ".join(sys.argv[1:]),
    )
    report["activation_cache_seconds_this_run"] = time.perf_counter() - t0
    stages = args.stage.split(",")
    if "val" in stages:
        report["val"] = stage_val(prep, acts, wd, args, log)
        out_path.write_text(json.dumps(report, indent=1, sort_keys=True, default=dh._json) + "\n")
    epochs = max(1, report.get("val", {}).get("fine_tune", {}).get("best_epoch", args.epochs) or 1)
    if "loso" in stages:
        report["loso"] = stage_loso(prep, acts, wd, args, log, epochs)
        out_path.write_text(json.dumps(report, indent=1, sort_keys=True, default=dh._json) + "\n")
    if "kept" in stages:
        report["kept_apart"] = stage_kept(prep, acts, wd, args, log, epochs)
        out_path.write_text(json.dumps(report, indent=1, sort_keys=True, default=dh._json) + "\n")
    report["seconds"] = time.perf_counter() - t0
    out_path.write_text(json.dumps(report, indent=1, sort_keys=True, default=dh._json) + "\n")
    log(f"wrote {out_path} ({report['seconds']:.0f}s)")


if __name__ == "__main__":
    main()
