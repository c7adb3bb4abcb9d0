"""The backbone's view of a frame: squashed to a square (shipped) or letterboxed (aspect kept,
padded with mid-gray), judged out of fold on the default model's protocol.

    python benchmarks/letterbox_view.py --data ../shared/data [--out FILE]

Squashing a 16:9 or 2.39:1 frame into 224x224 distorts every shape; letterboxing keeps shapes
but gives the picture fewer pixels. Both arms compute the three training views (colour,
grayscale, mirrored) the same way and are fitted by ``default_heads.Trainer`` with the shipped L2
strengths; the figures are 3-fold grouped out-of-fold accuracy on the 80% part (as
``heads_variants.py --cv``), per source, plus OTS F1 and framing within one step. The kept-apart
part is not read. Rule fixed before the run: letterbox would replace squash if framing and OTS
F1 both rose by at least 0.01 and no task or source fell by more than 0.005.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from heads_variants import TASKS, bench_args, log, out_of_fold, shipped_metrics  # noqa: E402

from cinemanet.training import backbone_cache as bc  # noqa: E402
from cinemanet.training import default_heads as dh  # noqa: E402

_view = bc._view


def letterbox(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    n = max(h, w)
    out = np.full((n, n, 3), 128, np.uint8)
    y0, x0 = (n - h) // 2, (n - w) // 2
    out[y0 : y0 + h, x0 : x0 + w] = rgb
    return out


def _views(rgb: np.ndarray, view: str, size: int) -> np.ndarray:
    """``lb-rgb`` / ``lb-gray`` / ``lb-flip``: the shipped views of the letterboxed frame."""
    if view.startswith("lb-"):
        return _view(letterbox(rgb), view[3:], size)
    return _view(rgb, view, size)


bc._view = _views  # module level: the feature workers (spawned) import this file too


def main() -> None:
    a = bench_args(__doc__, "letterbox_view.json")
    metrics = shipped_metrics()
    prep = dh.prepare(a.data, None, log)
    shas = sorted(prep.images)
    lb = bc.backbone_features(
        [(str(prep.images[s].path), s) for s in shas], dh.ARCH, ("lb-rgb", "lb-gray", "lb-flip"), log=log
    )
    arms = {
        "squash (shipped)": prep,
        "letterbox": dh.Prepared(prep.images, prep.tasks, {v: lb[f"lb-{v}"] for v in dh.TRAIN_VIEWS}),
    }
    report = {"protocol": __doc__.split("\n\n")[2], "cores": os.cpu_count(), "results": {}}
    for arm, p in arms.items():
        tr = dh.Trainer(p, 0, log)
        for name in TASKS:
            res = out_of_fold(tr, p.tasks[name], metrics[name]["cv"]["wd"])
            report["results"].setdefault(name, {})[arm] = res
            extra = " ".join(f"{k} {res[k]:.3f}" for k in ("f1_positive", "within_one") if k in res)
            by = ", ".join(f"{s} {x:.3f}" for s, x in res["by_source"].items())
            print(f"{name:9s} {arm:17s} {res['accuracy']:.3f} {extra} [{by}]", flush=True)
    report["load_average_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
