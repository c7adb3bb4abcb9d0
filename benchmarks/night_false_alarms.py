"""How often the whole default model says "night" on real photos that are not night.

    python benchmarks/night_false_alarms.py [--data ../shared/data] [--per-source 150]

Night is taught from generated day-for-night images only (docs/MODEL_CARD.md), so its one real
check here is the other way round: tag kept-apart real photos (none of them night: day and
twilight exteriors, interiors, film stills) with ``cinemanet tag``'s model and count how many
get the label ``shot.timeofday.night``. Writes ``benchmarks/results/night_false_alarms.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinemanet import CinemaNet  # noqa: E402
from cinemanet.training import default_heads as dh  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--per-source", type=int, default=150, help="kept-apart photos per source (by hash order)")
    ap.add_argument("--model", default="default", help="a model name or model.yaml (to compare with an older model)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "night_false_alarms.json")
    a = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    prep = dh.prepare(a.data, None, log, day_for_night=False)
    by: dict[str, list] = defaultdict(list)
    for _sha, im in sorted(prep.images.items()):
        if im.test and not im.generated:
            by[im.sources[0]].append(im)
    net = CinemaNet(a.model, threads=1)
    t0 = time.perf_counter()
    report = {"model": f"{net.spec.name} {net.spec.version}", "load_average_start": os.getloadavg(), "sources": {}}
    for src, ims in sorted(by.items()):
        ims = ims[: a.per_source]
        night = [str(im.path.name) for im in ims if "shot.timeofday.night" in net.tag(im.path).tags]
        report["sources"][src] = {"n": len(ims), "called_night": len(night), "files": night}
        print(f"{src:40s} {len(night):3d} of {len(ims):3d} called night", flush=True)
    n = sum(v["n"] for v in report["sources"].values())
    k = sum(v["called_night"] for v in report["sources"].values())
    report.update(n=n, called_night=k, seconds=time.perf_counter() - t0, load_average_end=os.getloadavg())
    print(f"all: {k} of {n} real non-night photos called night ({k / max(1, n):.1%})")
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
