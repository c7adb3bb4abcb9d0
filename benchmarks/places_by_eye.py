"""Are the places the model names right on film frames? Contact sheets to judge by eye, and the
score of the judgments kept in ``benchmarks/results/places_by_eye.json``.

The film stills of ``../shared/data/cinemanet-stills`` carry no place labels, so no place head
ever learnt from them: they are film frames the places were never fitted, calibrated or
thresholded on. ``sheets`` tags them with the places switched back on (the model before 0.3.2:
no place cap, the heads' own thresholds), draws a random sample of the stills with an emitted
place onto 6x8 contact sheets with the label under each, and writes the sample's list; a person
then marks each right or wrong. ``score`` prints precision per label and overall (with a 95%
Wilson interval) from the judgments file.

    .venv/bin/python benchmarks/places_by_eye.py sheets --out /tmp/sheets
    .venv/bin/python benchmarks/places_by_eye.py score
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
JUDGED = HERE / "results" / "places_by_eye.json"
STILLS = HERE.parent.parent / "shared" / "data" / "cinemanet-stills"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    mid, half = p + z * z / (2 * n), z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (mid - half) / (1 + z * z / n), (mid + half) / (1 + z * z / n)


def places_on(net) -> None:
    """The model as it was before places were capped: no cap, the heads' calibrated thresholds."""
    from cinemanet.concepts.model import ConceptModel

    gs = net.spec.groups["shot.location"]
    gs.params, gs.thresholds = {}, {}
    net.concepts = ConceptModel(net.spec)


def sheets(stills: Path, out: Path, n: int, seed: int) -> None:
    from PIL import Image, ImageDraw

    from cinemanet import CinemaNet
    from cinemanet.media import IMAGE_EXTENSIONS, ImageReadError, discover

    net = CinemaNet()
    places_on(net)
    found = []
    for item in discover([stills], IMAGE_EXTENSIONS, kind="images"):  # in this process: the model is edited
        try:
            r = net.tag(item.path)
        except ImageReadError as e:
            print(f"{item.path}: skipped: {e}")
            continue
        fine = [t for t in r.tags if t.startswith("shot.location.") and t.count(".") > 2]
        if fine:
            found.append((Path(item.path).relative_to(stills).as_posix(), max(fine, key=len)))
    random.Random(seed).shuffle(found)
    pick = found[:n]
    out.mkdir(parents=True, exist_ok=True)
    w, h, cols, per = 240, 135, 6, 48
    for s in range(0, len(pick), per):
        part = pick[s : s + per]
        sheet = Image.new("RGB", (cols * w, (len(part) + cols - 1) // cols * (h + 14)), "white")
        draw = ImageDraw.Draw(sheet)
        for i, (rel, label) in enumerate(part):
            im = Image.open(stills / rel).convert("RGB")
            im.thumbnail((w, h))
            x, y = i % cols * w, i // cols * (h + 14)
            sheet.paste(im, (x, y))
            draw.text((x + 2, y + h), f"{s + i} {label.removeprefix('shot.location.')}", fill="black")
        sheet.save(out / f"places{s // per}.png")
    (out / "sample.json").write_text(json.dumps([{"file": f, "label": lab} for f, lab in pick], indent=1))
    print(f"{len(found)} stills with an emitted place; {len(pick)} drawn onto {out}/places*.png")


def score(path: Path) -> None:
    d = json.loads(path.read_text())
    rows = d["places"]
    by = Counter((r["label"].removeprefix("shot.location."), r["right"]) for r in rows)
    for label in sorted({lab for lab, _ in by}, key=lambda x: -(by[(x, True)] + by[(x, False)])):
        k, n = by[(label, True)], by[(label, True)] + by[(label, False)]
        print(f"{label:48s} {k:3d} of {n:3d} right")
    k = sum(r["right"] for r in rows)
    lo, hi = wilson(k, len(rows))
    print(f"places: {k} of {len(rows)} right = {k / len(rows):.2f} (95% {lo:.2f}-{hi:.2f}); {d['model']}")
    side = [r["right"] for r in d.get("side", [])]
    told = [x for x in side if x is not None]
    if told:
        k = sum(told)
        lo, hi = wilson(k, len(told))
        print(
            f"interior/exterior: {k} of {len(told)} decidable right = {k / len(told):.2f} (95% {lo:.2f}-{hi:.2f}); "
            f"{len(side) - len(told)} of {len(side)} not decidable by eye"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("sheets", help="contact sheets of a random sample of emitted places")
    a.add_argument("--stills", type=Path, default=STILLS)
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("-n", type=int, default=144)
    a.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("score", help="precision of the judged sample")
    b.add_argument("--judged", type=Path, default=JUDGED)
    args = ap.parse_args()
    if args.cmd == "sheets":
        sheets(args.stills, args.out, args.n, args.seed)
    else:
        score(args.judged)


if __name__ == "__main__":
    main()
