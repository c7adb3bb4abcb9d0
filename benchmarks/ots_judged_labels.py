"""Does training over-the-shoulder on labels checked by eye help? The shipped labels (A) against
the labels with ``datasets/judged_labels.yaml`` applied (B: 66 of the 413 training stills filed
as over the shoulder that show no foreground shoulder become negatives).

    .venv/bin/python benchmarks/ots_judged_labels.py --data ../shared/data --stage oof
    .venv/bin/python benchmarks/ots_judged_labels.py --data ../shared/data --stage kept

Both arms are fitted like ``train-default`` fits the head (same cached features, trunk, split and
the shipped L2 strength; the head's own answer, P >= 0.5, no threshold).

- ``oof`` (the choice; the 80% part only): 3-fold grouped out-of-fold predictions of each arm,
  scored against the corrected labels (and, for reference, the filed ones).
- ``kept`` (the report, read once after the choice): each arm fitted on the whole 80% part,
  scored on the kept-apart rows against the data set's labels and, for the 138 rows judged
  blind by eye (``benchmarks/results/ots_by_eye.json``), against the judge.

Decision, fixed before either stage ran: B replaces A if, out of fold, its F1 against the judged
labels is at least 0.02 higher and its precision no lower; B is not shipped if, kept apart, its
F1 against the judge is lower than A's (a veto that can only keep A). The kept-apart figures are
reported whatever they are.

Writes ``benchmarks/results/ots_judged_labels.json`` (merged per stage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cinemanet.training import default_heads as dh  # noqa: E402
from kept_apart_by_eye import prf  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "ots_judged_labels.json"
JUDGED = HERE / "results" / "ots_by_eye.json"


def f1(y: np.ndarray, p: np.ndarray) -> dict:
    return prf(zip((y == 1).tolist(), (p == 1).tolist()))


def _line(name: str, v: dict) -> str:
    return f"  {name:34s} F1 {v['f1']:.3f} (P {v['precision']:.3f}, R {v['recall']:.3f}; tp {v['tp']} fp {v['fp']} fn {v['fn']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--stage", choices=("oof", "kept"), required=True)
    a = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    metrics = json.loads((Path(dh.__file__).parents[1] / "models" / "default" / "metrics.json").read_text())["tasks"]
    wd = metrics["ots"]["cv"]["wd"]
    prep = dh.prepare(a.data, None, log, day_for_night=False)
    imgs = prep.images
    filed = prep.tasks["ots"]
    b = dh.build_tasks(imgs, judged=True)["ots"]
    arms = {"A: filed labels": filed, "B: judged labels": b}
    tr = dh.Trainer(prep, 0, log)
    report = json.loads(OUT.read_text()) if OUT.exists() else {}
    report["load_average"] = os.getloadavg()
    report["wd"] = wd
    if a.stage == "oof":
        rows_b = [r for r in b.rows if not imgs[r[0]].test]
        truth = np.array([r[1] for r in rows_b])
        filed_y = np.array([r[1] for r in filed.rows if not imgs[r[0]].test])
        changed = int(sum(x[1] != y[1] for x, y in zip(sorted(filed.rows), sorted(b.rows))))
        folds = dh.grouped_folds(np.array([imgs[r[0]].cluster for r in rows_b]), dh.FOLDS, tr.seed)
        print(f"80% part: {len(rows_b)} rows, {int(truth.sum())} over the shoulder after {changed} corrections")
        out = {"n": len(rows_b), "corrected": changed}
        for name, task in arms.items():
            rows = [r for r in task.rows if not imgs[r[0]].test]
            assert [r[0] for r in rows] == [r[0] for r in rows_b]
            pred = np.zeros(len(rows), int)
            for f in range(dh.FOLDS):
                fit = tr.fit(task, [r for r, ff in zip(rows, folds) if ff != f], wd)
                pred[folds == f] = tr.predict(fit, [r for r, ff in zip(rows, folds) if ff == f]).argmax(1)
            out[name] = {"vs_judged_labels": f1(truth, pred), "vs_filed_labels": f1(filed_y, pred)}
            print(f"{name}, out of fold:")
            print(_line("against the judged labels", out[name]["vs_judged_labels"]))
            print(_line("against the filed labels", out[name]["vs_filed_labels"]))
        report["oof"] = out
    else:
        judged = {r["file"]: r["judged"] for r in json.loads(JUDGED.read_text())["items"]}
        root = a.data.resolve()
        test = [r for r in b.rows if imgs[r[0]].test]
        rel = [Path(imgs[r[0]].path).resolve().relative_to(root).as_posix() for r in test]
        y = np.array([r[1] for r in test])
        sure = np.array([judged.get(f, "?") != "?" for f in rel])
        yj = np.array([judged.get(f) == "ots" for f in rel], int)
        out = {"n": len(test), "judged": int(sure.sum())}
        for name, task in arms.items():
            rows = [r for r in task.rows if not imgs[r[0]].test]
            pred = tr.predict(tr.fit(task, rows, wd), test).argmax(1)
            out[name] = {"vs_filed_labels": f1(y, pred), "vs_judge": f1(yj[sure], pred[sure])}
            print(f"{name}, kept apart:")
            print(_line(f"against the filed labels (n={len(test)})", out[name]["vs_filed_labels"]))
            print(_line(f"against the judge (n={int(sure.sum())})", out[name]["vs_judge"]))
        report["kept"] = out
    OUT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
