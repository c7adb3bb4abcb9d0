"""The whole default model (every rule and gate, not only the heads) on kept-apart real photos:
how often it names interior/exterior and time of day, and how often rightly.

    python benchmarks/kept_apart_whole_model.py [--data ../shared/data] [--per-source 150]

The heads' own kept-apart figures are in ``metrics.json``; this asks what ``cinemanet tag``
answers on the same kept-apart photos, after the location's close-up rule and the time of
day's exterior gate, so a change to those can be seen to cost little on photos where the
answer is known. Writes ``benchmarks/results/kept_apart_whole_model.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinemanet import CinemaNet  # noqa: E402
from cinemanet.training import default_heads as dh  # noqa: E402

GROUPS = {"side": "shot.location", "time": "shot.timeofday"}


def said(group: str, label: str | None) -> str | None:
    if label is None or label.endswith(".na"):
        return None
    if group == "side":
        return "interior" if label.startswith("shot.location.interior") else "exterior"
    return label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--per-source", type=int, default=150, help="kept-apart photos per source (by hash order)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "kept_apart_whole_model.json")
    a = ap.parse_args()
    prep = dh.prepare(a.data, None, lambda m: print(m, file=sys.stderr, flush=True), day_for_night=False)
    by: dict[str, list] = defaultdict(list)
    for _sha, im in sorted(prep.images.items()):
        if im.test and not im.generated and not im.mixed_side and any(g in im.labels for g in GROUPS.values()):
            by[im.sources[0]].append(im)
    net = CinemaNet(a.model, threads=1)
    report = {"model": f"{net.spec.name} {net.spec.version}", "load_average_start": os.getloadavg(), "sources": {}}
    total = {k: Counter() for k in GROUPS}
    for src, ims in sorted(by.items()):
        tally = {k: Counter() for k in GROUPS}
        for im in ims[: a.per_source]:
            res = net.tag(im.path)
            for k, g in GROUPS.items():
                if g not in im.labels:
                    continue
                truth, answer = said(k, im.labels[g]), said(k, res.groups[g].label)
                tally[k]["abstained" if answer is None else "right" if answer == truth else "wrong"] += 1
        report["sources"][src] = {k: dict(t) for k, t in tally.items() if t}
        for k, t in tally.items():
            total[k].update(t)
            if t:
                n = sum(t.values())
                print(
                    f"{src:24s} {k:4s} n={n:4d} named {1 - t['abstained'] / n:.3f}, right when named "
                    f"{t['right'] / max(1, t['right'] + t['wrong']):.3f}",
                    flush=True,
                )
    report["all"] = {k: dict(t) for k, t in total.items()}
    report["load_average_end"] = os.getloadavg()
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
