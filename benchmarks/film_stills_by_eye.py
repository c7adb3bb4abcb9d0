"""Are location and time of day right on film frames? Contact sheets to judge by eye, and the
score of the judgments kept in ``benchmarks/results/film_stills_by_eye.json``.

The film stills of ``../shared/data/cinemanet-stills`` carry no place, side or time-of-day
labels, so no head learnt those from them: they are film frames those heads were never
fitted, calibrated or thresholded on. A person judges them on contact sheets:

- ``places-sheets``: a random sample of the stills on which a place is emitted, with the model
  before 0.3.2 (places not capped, the heads' own thresholds), the label under each still;
- ``blind-sheets``: a random sample of distinct stills, whatever the model says, with only an
  index under each (the judge writes interior/exterior/? and, for exteriors, day/twilight/night/?).

``score`` prints the precision of the judged places (static: what 0.3.1 said), and tags the
blind sample with the current model to print, per half, the precision of its interior/exterior,
time of day and person tag (half 0 chose the 0.3.2 weights; half 1 is the report). Then the
shot type per half: the confusion of judged against said, the precision of each said type and
coverage (stills with people given a type), first for the versions kept in the judgments file
(``shot_type_said``: 0.3.2), then for the current model (half 0 chose the 0.3.3 rules).
"Strict" counts a label on a still nobody can judge as not right; "decidable" leaves those
stills out.

    .venv/bin/python benchmarks/film_stills_by_eye.py places-sheets --out /tmp/sheets
    .venv/bin/python benchmarks/film_stills_by_eye.py blind-sheets --out /tmp/sheets
    .venv/bin/python benchmarks/film_stills_by_eye.py score
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
JUDGED = HERE / "results" / "film_stills_by_eye.json"
STILLS = HERE.parent.parent / "shared" / "data" / "cinemanet-stills"
SHEET = (240, 135, 6, 48)  # tile width, height, columns, tiles per sheet


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Two-sided Wilson interval of k / n (the upper end is the lower end of the misses)."""
    from cinemanet.training.calibrate import wilson_lower

    if n == 0:
        return 0.0, 1.0
    return max(0.0, float(wilson_lower(k, n, z))), min(1.0, 1.0 - float(wilson_lower(n - k, n, z)))


def draw(stills: Path, items: list[tuple[str, str]], out: Path, stem: str) -> None:
    """Contact sheets of (file, caption) pairs, numbered across sheets."""
    from PIL import Image, ImageDraw

    w, h, cols, per = SHEET
    out.mkdir(parents=True, exist_ok=True)
    for s in range(0, len(items), per):
        part = items[s : s + per]
        sheet = Image.new("RGB", (cols * w, (len(part) + cols - 1) // cols * (h + 14)), "white")
        pen = ImageDraw.Draw(sheet)
        for i, (rel, caption) in enumerate(part):
            im = Image.open(stills / rel).convert("RGB")
            im.thumbnail((w, h))
            x, y = i % cols * w, i // cols * (h + 14)
            sheet.paste(im, (x, y))
            pen.text((x + 2, y + h), f"{s + i} {caption}", fill="black")
        sheet.save(out / f"{stem}{s // per}.png")


def distinct_stills(stills: Path) -> list[str]:
    """One path per still (the same file can sit in a framing and a shot-type folder)."""
    seen: set[str] = set()
    out = []
    for p in sorted(stills.rglob("*.jpg")):
        if p.name not in seen:
            seen.add(p.name)
            out.append(p.relative_to(stills).as_posix())
    return out


def places_sheets(stills: Path, out: Path, n: int, seed: int) -> None:
    from cinemanet import CinemaNet
    from cinemanet.concepts.model import ConceptModel

    net = CinemaNet()
    gs = net.spec.groups["shot.location"]
    gs.params, gs.thresholds = {}, {}  # places on again, as before 0.3.2
    net.concepts = ConceptModel(net.spec)
    found = []
    for rel in distinct_stills(stills):  # in this process: the model is edited in memory
        fine = [t for t in net.tag(stills / rel).tags if t.startswith("shot.location.") and t.count(".") > 2]
        if fine:
            found.append((rel, max(fine, key=len)))
    random.Random(seed).shuffle(found)
    pick = found[:n]
    draw(stills, [(f, lab.removeprefix("shot.location.")) for f, lab in pick], out, "places")
    (out / "places.json").write_text(json.dumps([{"file": f, "label": lab} for f, lab in pick], indent=1))
    print(f"{len(found)} stills with an emitted place; {len(pick)} drawn onto {out}/places*.png")


def blind_sheets(stills: Path, out: Path, n: int, seed: int) -> None:
    files = distinct_stills(stills)
    random.Random(seed).shuffle(files)
    pick = files[:n]
    draw(stills, [(f, "") for f in pick], out, "blind")
    (out / "blind.json").write_text(json.dumps(pick, indent=1))
    print(f"{len(pick)} of {len(files)} distinct stills drawn onto {out}/blind*.png")


def _line(what: str, k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{what} {k} of {n} = {k / max(1, n):.2f} (95% {lo:.2f}-{hi:.2f})"


def score_places(d: dict) -> None:
    rows = d["places"]
    by = Counter((r["label"].removeprefix("shot.location."), r["right"]) for r in rows)
    for label in sorted({lab for lab, _ in by}, key=lambda x: -(by[(x, True)] + by[(x, False)])):
        print(f"  {label:46s} {by[(label, True)]:3d} of {by[(label, True)] + by[(label, False)]:3d} right")
    print(_line(f"places {d['places_model']} named, right:", sum(r["right"] for r in rows), len(rows)))
    told = [r["right"] for r in d["side"] if r["right"] is not None]
    print(_line(f"interior/exterior {d['places_model']} named, decidable right:", sum(told), len(told)))


def score_blind(d: dict, stills: Path) -> None:
    from cinemanet import CinemaNet

    net = CinemaNet()
    side_of = {"shot.location.interior": "interior", "shot.location.exterior": "exterior"}
    print(f"blind sample, {net.spec.name} {net.spec.version}:")
    said_type: dict[int, str] = {}
    for half in (0, 1):
        tally = {"side": Counter(), "time": Counter(), "person": Counter()}
        for i, r in enumerate(d["blind"]):
            if i % 2 != half:
                continue
            res = net.tag(stills / r["file"])
            said = {
                "side": side_of.get(res.groups["shot.location"].label or ""),
                "time": (res.groups["shot.timeofday"].label or ".na").rsplit(".", 1)[1],
            }
            for g in ("side", "time"):
                if said[g] in (None, "na"):
                    tally[g]["abstained"] += 1
                else:
                    tally[g]["undecidable" if r[g] == "?" else "right" if r[g] == said[g] else "wrong"] += 1
            if r["people"] != "?":
                tagged = "shot.subject.person" in res.tags
                tally["person"][("right" if r["people"] != "none" else "wrong") if tagged else "abstained"] += 1
                tally["person"]["missed"] += tagged is False and r["people"] != "none"
            said_type[i] = (res.groups["shot.type"].label or ".na").rsplit(".", 1)[1]
        for g, t in tally.items():
            n = t["right"] + t["wrong"] + t["undecidable"]
            if g == "person":
                people = t["right"] + t["missed"]
                print(
                    f"  half {half} person: "
                    + _line("tagged, right", t["right"], n)
                    + "; "
                    + _line("people found", t["right"], people)
                )
                continue
            print(
                f"  half {half} {g:4s}: emitted {n}, abstained {t['abstained']}; "
                + _line("strict", t["right"], n)
                + "; "
                + _line("decidable", t["right"], t["right"] + t["wrong"])
            )
    for version, labels in d.get("shot_type_said", {}).items():
        if version != net.spec.version:
            score_shot_type(d["blind"], dict(enumerate(labels)), version)
    score_shot_type(d["blind"], said_type, net.spec.version)


TYPES = ("portrait", "twoshot", "master", "overtheshoulder")


def score_shot_type(blind: list[dict], said: dict[int, str], version: str) -> None:
    """Per half: the confusion of judged against said shot type, the precision of each said
    type, and coverage (stills with people given a type other than na)."""
    cols = ("na", *TYPES)
    for half in (0, 1):
        t = Counter((r["people"], said[i]) for i, r in enumerate(blind) if i % 2 == half and r["people"] != "?")
        head = " ".join(f"{x[:9]:>9s}" for x in cols)
        print(f"  half {half} shot type, {version} (rows: judged; columns: said)\n    {'':15s}   n {head}")
        for truth in ("none", *TYPES):
            row = " ".join(f"{t[(truth, x)]:9d}" for x in cols)
            print(f"    {truth:15s} {sum(t[(truth, x)] for x in cols):3d} {row}")
        for x in TYPES:
            print(f"    {x:15s} " + _line("said, right", t[(x, x)], sum(t[(y, x)] for y in ("none", *TYPES))))
        people = sum(t[(y, x)] for y in TYPES for x in cols)
        typed = people - sum(t[(y, "na")] for y in TYPES)
        print("    " + _line("coverage: stills with people given a type", typed, people))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stills", type=Path, default=STILLS)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, n, seed in (("places-sheets", 144, 1), ("blind-sheets", 240, 7)):
        a = sub.add_parser(name)
        a.add_argument("--out", type=Path, required=True)
        a.add_argument("-n", type=int, default=n)
        a.add_argument("--seed", type=int, default=seed)
    b = sub.add_parser("score", help="precision of the judged samples")
    b.add_argument("--judged", type=Path, default=JUDGED)
    args = ap.parse_args()
    if args.cmd == "places-sheets":
        places_sheets(args.stills, args.out, args.n, args.seed)
    elif args.cmd == "blind-sheets":
        blind_sheets(args.stills, args.out, args.n, args.seed)
    else:
        d = json.loads(args.judged.read_text())
        score_places(d)
        if args.stills.is_dir():
            score_blind(d, args.stills)
        else:
            print(f"blind sample not scored: {args.stills} not found")


if __name__ == "__main__":
    main()
