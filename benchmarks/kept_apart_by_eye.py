"""Framing, over-the-shoulder and interior/exterior once the data sets' own labels are checked: a blind judgment by
eye of kept-apart stills, scored against both the data set's label and the model.

The framing stills' labels are noisy (``../shared/data/README.md``: roughly 80-85% right on a
spot check), so the head's kept-apart accuracy (0.839 in ``metrics.json``) mixes the head's
errors with the labels'. ``sheets`` draws a random sample of the **kept-apart** framing stills
(the 20% no head was fitted, calibrated or thresholded on) with only an index under each;
a person writes extremecloseup / closeup / medium / long / extremelong / ? for each, by the
cinematographer's definitions (part of the face; head and shoulders; waist up; whole body;
the figure small in its surroundings), into ``benchmarks/results/framing_by_eye.json``.
``score`` then prints, against the judge: the data set's labels, the head's best class, and the
labels the model emits (precision and coverage), exact and within one step. ``ots-sheets`` and
``ots-score`` do the same for the kept-apart over-the-shoulder rows (ots / not / ?, into
``benchmarks/results/ots_by_eye.json``): precision, recall and F1 of the labels, of the head's
own probability at 0.5 and of the label the model emits. ``side-sheets`` and ``side-score`` do it
for the kept-apart indoor-outdoor web photos (interior / exterior / ?, into
``benchmarks/results/side_by_eye.json``): the labels, the side head's own answer and the side the
model emits, against the judge.

    .venv/bin/python benchmarks/kept_apart_by_eye.py --data ../shared/data sheets --out /tmp/framing
    .venv/bin/python benchmarks/kept_apart_by_eye.py --data ../shared/data score
    .venv/bin/python benchmarks/kept_apart_by_eye.py --data ../shared/data ots-sheets --out /tmp/ots
    .venv/bin/python benchmarks/kept_apart_by_eye.py --data ../shared/data ots-score
    .venv/bin/python benchmarks/kept_apart_by_eye.py --data ../shared/data side-sheets --out /tmp/side -n 134
    .venv/bin/python benchmarks/kept_apart_by_eye.py --data ../shared/data side-score
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from film_stills_by_eye import _line, draw  # noqa: E402

HERE = Path(__file__).resolve().parent
JUDGED = HERE / "results" / "framing_by_eye.json"
JUDGED_OTS = HERE / "results" / "ots_by_eye.json"
JUDGED_SIDE = HERE / "results" / "side_by_eye.json"
ORDER = ("extremecloseup", "closeup", "medium", "long", "extremelong")
GROUP = "shot.framing"


def kept_apart_stills(data: Path) -> list[tuple[str, str]]:
    """(path under the stills folder, label) of every kept-apart framing still, in hash order."""
    from cinemanet.training import default_heads as dh

    prep = dh.prepare(data, None, lambda m: print(m, file=sys.stderr, flush=True), day_for_night=False)
    stills = (data / "cinemanet-stills").resolve()
    out = []
    for _sha, im in sorted(prep.images.items()):
        lab = im.labels.get(GROUP)
        if im.test and not im.generated and lab:
            out.append((Path(im.path).resolve().relative_to(stills).as_posix(), lab.rsplit(".", 1)[1]))
    return out


def _sample_sheets(
    root: Path, items: list[tuple[str, str]], out: Path, stem: str, n: int, seed: int, what: str
) -> None:
    """Contact sheets of a seeded random sample, only an index under each (the judge is blind)."""
    random.Random(seed).shuffle(items)
    pick = [f for f, _ in items[:n]]
    draw(root, [(f, "") for f in pick], out, stem)
    (out / f"{stem}.json").write_text(json.dumps(pick, indent=1))
    print(f"{len(pick)} of {len(items)} kept-apart {what} drawn onto {out}/{stem}*.png")


def sheets(data: Path, out: Path, n: int, seed: int) -> None:
    _sample_sheets(data / "cinemanet-stills", kept_apart_stills(data), out, "framing", n, seed, "framing stills")


def kept_apart_ots(data: Path) -> list[tuple[str, str]]:
    """(path under the data folder, "ots" or "not") of every kept-apart over-the-shoulder row
    (the shot-type stills and the single-person negatives), in hash order."""
    from cinemanet.training import default_heads as dh

    prep = dh.prepare(data, None, lambda m: print(m, file=sys.stderr, flush=True), day_for_night=False)
    root = data.resolve()
    return [
        (Path(prep.images[sha].path).resolve().relative_to(root).as_posix(), "ots" if y else "not")
        for sha, y, _src in prep.tasks["ots"].rows
        if prep.images[sha].test
    ]


def ots_sheets(data: Path, out: Path, n: int, seed: int) -> None:
    _sample_sheets(data, kept_apart_ots(data), out, "ots", n, seed, "over-the-shoulder rows")


def kept_apart_side(data: Path) -> list[tuple[str, str]]:
    """(path under the data folder, "interior" or "exterior") of every kept-apart indoor-outdoor
    web photo, in hash order."""
    from cinemanet.training import default_heads as dh

    prep = dh.prepare(data, None, lambda m: print(m, file=sys.stderr, flush=True), day_for_night=False)
    task, root = prep.tasks["side"], data.resolve()
    return [
        (Path(prep.images[sha].path).resolve().relative_to(root).as_posix(), task.outputs[y].rsplit(".", 1)[1])
        for sha, y, src in task.rows
        if prep.images[sha].test and src == "indoor-outdoor"
    ]


def side_sheets(data: Path, out: Path, n: int, seed: int) -> None:
    _sample_sheets(data, kept_apart_side(data), out, "side", n, seed, "indoor-outdoor photos")


def score_side(data: Path, d: dict) -> dict:
    from cinemanet import CinemaNet

    net = CinemaNet()
    labels = dict(kept_apart_side(data))
    head = net.concepts.predictors["shot.location"].heads["side"]
    rows = []
    for r in d["items"]:
        ev = net.evidence(data / r["file"])
        tags = net.result(ev).tags
        emitted = next((k.split(".")[2] for k in tags if k.count(".") >= 2 and k.startswith("shot.location.")), None)
        p = head(ev)["shot.location.interior"]  # the head's own answer, before close-ups turn it to na
        rows.append((r["judged"], labels[r["file"]], "interior" if p >= 0.5 else "exterior", emitted))
    sure = [r for r in rows if r[0] != "?"]
    print(f"{net.spec.name} {net.spec.version}: {len(rows)} kept-apart indoor-outdoor photos, {len(sure)} judged")
    report = {"model": f"{net.spec.name} {net.spec.version}", "n": len(rows), "judged": len(sure)}
    for name, col in (("data set label", 1), ("head (P >= 0.5)", 2)):
        right = sum(r[0] == r[col] for r in sure)
        report[name] = {"right": right, "accuracy": right / max(1, len(sure))}
        print(f"  {name:20s} vs judge: {right} of {len(sure)} ({right / max(1, len(sure)):.3f})")
    said = [r for r in sure if r[3]]
    right = sum(r[0] == r[3] for r in said)
    report["emitted"] = {"n": len(said), "right": right, "precision": right / max(1, len(said))}
    print(f"  emitted side          vs judge: {right} of {len(said)} (coverage {len(said)} of {len(sure)})")
    agree = sum(r[1] == r[2] for r in sure)
    report["head vs data set label"] = {"right": agree, "accuracy": agree / max(1, len(sure))}
    print(f"  head vs data set label, judged photos: {agree} of {len(sure)}")
    return report


def prf(pairs) -> dict:
    """Precision, recall and F1 of (truth, said) pairs."""
    pairs = [(bool(t), bool(s)) for t, s in pairs]
    tp = sum(t and s for t, s in pairs)
    fp = sum(s and not t for t, s in pairs)
    fn = sum(t and not s for t, s in pairs)
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": 2 * p * r / max(1e-9, p + r)}


def score_ots(data: Path, d: dict) -> dict:
    from cinemanet import CinemaNet

    net = CinemaNet()
    labels = dict(kept_apart_ots(data))
    rows = []
    head = net.concepts.predictors["shot.type"].heads["ots"]
    for r in d["items"]:
        ev = net.evidence(data / r["file"])
        g = net.result(ev).groups["shot.type"]
        p = head(ev)["shot.type.overtheshoulder"]  # the head's own answer, before the shot-type rules
        rows.append((r["judged"], labels[r["file"]], p >= 0.5, g.label == "shot.type.overtheshoulder"))
    sure = [r for r in rows if r[0] != "?"]
    print(f"{net.spec.name} {net.spec.version}: {len(rows)} kept-apart over-the-shoulder rows, {len(sure)} judged")
    report = {"model": f"{net.spec.name} {net.spec.version}", "n": len(rows), "judged": len(sure)}
    for name, col in (("data set label", 1), ("head (P >= 0.5)", 2), ("emitted label", 3)):
        pick = (lambda r, c=col: r[c] == "ots") if col == 1 else (lambda r, c=col: r[c])
        v = prf([(r[0] == "ots", pick(r)) for r in sure])
        report[name] = v
        print(
            f"  {name:20s} vs judge: OTS precision {v['precision']:.2f} recall {v['recall']:.2f} F1 {v['f1']:.2f} "
            f"(tp {v['tp']}, fp {v['fp']}, fn {v['fn']})"
        )
    v = prf([(r[1] == "ots", r[2]) for r in sure])
    report["head vs data set label"] = v
    print(f"  head vs data set label, judged rows: F1 {v['f1']:.2f} (P {v['precision']:.2f}, R {v['recall']:.2f})")
    return report


def _step(a: str, b: str) -> int:
    return abs(ORDER.index(a) - ORDER.index(b))


def score(data: Path, d: dict) -> dict:
    from cinemanet import CinemaNet

    stills = data / "cinemanet-stills"
    net = CinemaNet()
    rows = []
    for r in d["items"]:
        res = net.tag(stills / r["file"])
        g = res.groups[GROUP]
        best = max((k for k in g.scores if k.rsplit(".", 1)[1] in ORDER), key=g.scores.get)
        emitted = (g.label or ".na").rsplit(".", 1)[1]
        rows.append((r["judged"], r["file"].split("/")[1], best.rsplit(".", 1)[1], emitted))
    n = len(rows)
    sure = [r for r in rows if r[0] != "?"]
    print(
        f"{net.spec.name} {net.spec.version}: {n} kept-apart framing stills, {len(sure)} judged ({n - len(sure)} '?')"
    )
    report = {"model": f"{net.spec.name} {net.spec.version}", "n": n, "judged": len(sure)}
    for name, col in (("data set label", 1), ("head's best class", 2)):
        exact = sum(r[0] == r[col] for r in sure)
        within = sum(_step(r[0], r[col]) <= 1 for r in sure)
        print(
            f"  {name:18s} vs judge: "
            + _line("exact", exact, len(sure))
            + "; "
            + _line("within one", within, len(sure))
        )
        report[name] = {"exact": exact, "within_one": within, "n": len(sure)}
    agree, agree_sure = sum(r[1] == r[2] for r in rows), sum(r[1] == r[2] for r in sure)
    print(
        "  head's best class vs data set label: "
        + _line("all, exact", agree, n)
        + "; "
        + _line("judged ones, exact", agree_sure, len(sure))
    )
    report["head_vs_label"] = {"exact": agree, "n": n, "exact_judged": agree_sure, "n_judged": len(sure)}
    said = [r for r in sure if r[3] in ORDER]
    right = sum(r[0] == r[3] for r in said)
    print(f"  emitted labels: coverage {len(said)} of {len(sure)}; " + _line("right", right, len(said)))
    report["emitted"] = {"n": len(said), "right": right, "of": len(sure)}
    by = Counter((r[0], r[3]) for r in said)
    report["emitted_by_label"] = {
        lab: {"said": sum(v for (j, s), v in by.items() if s == lab), "right": by[(lab, lab)]} for lab in ORDER
    }
    for lab, v in report["emitted_by_label"].items():
        if v["said"]:
            print(f"    {lab:15s} " + _line("right", v["right"], v["said"]))
    conf = Counter((r[0], r[2]) for r in sure)
    print("  judged (rows) against the head's best class (columns): " + " ".join(f"{c[:6]:>6s}" for c in ORDER))
    for j in ORDER:
        print(f"    {j:15s}" + " " * 40 + " ".join(f"{conf[(j, c)]:6d}" for c in ORDER))
    conf_l = Counter((r[0], r[1]) for r in sure)
    print("  judged (rows) against the data set's label (columns):  " + " ".join(f"{c[:6]:>6s}" for c in ORDER))
    for j in ORDER:
        print(f"    {j:15s}" + " " * 40 + " ".join(f"{conf_l[(j, c)]:6d}" for c in ORDER))
    report["judged_vs_head"] = {f"{a}>{b}": v for (a, b), v in sorted(conf.items())}
    report["judged_vs_label"] = {f"{a}>{b}": v for (a, b), v in sorted(conf_l.items())}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, seed in (("sheets", 11), ("ots-sheets", 12), ("side-sheets", 13)):
        a = sub.add_parser(name)
        a.add_argument("--out", type=Path, required=True)
        a.add_argument("-n", type=int, default=144)
        a.add_argument("--seed", type=int, default=seed)
    for name, judged in (("score", JUDGED), ("ots-score", JUDGED_OTS), ("side-score", JUDGED_SIDE)):
        b = sub.add_parser(name)
        b.add_argument("--judged", type=Path, default=judged)
        b.add_argument("--report", type=Path, default=None, help="also write the figures here (JSON)")
    args = ap.parse_args()
    if args.cmd == "sheets":
        sheets(args.data, args.out, args.n, args.seed)
    elif args.cmd == "ots-sheets":
        ots_sheets(args.data, args.out, args.n, args.seed)
    elif args.cmd == "side-sheets":
        side_sheets(args.data, args.out, args.n, args.seed)
    else:
        d = json.loads(args.judged.read_text())
        rep = {"score": score, "ots-score": score_ots, "side-score": score_side}[args.cmd](args.data, d)
        if args.report:
            args.report.write_text(json.dumps(rep, indent=2) + "\n")


if __name__ == "__main__":
    main()
