"""An intermediate layer and a finer grid for the heads, against the shipped features.

    python benchmarks/intermediate_layer.py --data ../shared/data [--out FILE]

The shipped heads read ``[global 1280 | last block (7x7x320) pooled on a 3x3 grid]``. Two
variants, fixed before the first run:

- ``+block10 3x3``: the shipped features plus block 10's output (14x14x112, stride 16) pooled on
  the same 3x3 grid (1,008 numbers): mid-level parts and textures, where they are;
- ``block15 5x5``: the global embedding and the last block pooled on a 5x5 grid instead of 3x3.

A graph returning both is exported from the same weights (torch, once, under
``CINEMANET_CACHE``) and its rows cached like the backbone's, in the three training views. Every
arm is fitted by ``default_heads.Trainer`` with the shipped L2 strengths.

Stage 1 (the choice), 3-fold grouped out of fold on the 80% part: a variant ships if framing and
OTS F1 both rise by at least 0.01 and no task or source falls by more than 0.005.

Stage 2 (confirmation, read once, for ``+block10 3x3``, which gained on the scene tasks in stage
1 but not on framing): leave one source out on the 80% part and the kept-apart 20%. Rule fixed
before stage 2: ship if (a) the indoor-outdoor photos left out are not worse and no place source
left out falls by more than 0.01, and (b) kept apart no task falls by more than 0.005 and at least
two of places on 15-Scene, interior/exterior on the indoor-outdoor photos, DTD top-1 and day vs
twilight on real photos rise.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from heads_variants import TASKS, bench_args, judge, log, out_of_fold, shipped_metrics  # noqa: E402

from cinemanet.training import backbone_cache as bc  # noqa: E402
from cinemanet.training import default_heads as dh  # noqa: E402

MID_BLOCK, MID_CH, MID_MAP = 10, 112, 14
TAG = "probe-layers"


def export(out: Path) -> None:
    import torch

    from cinemanet.perception.backbone import build_torch_backbone, grid_cells

    net = build_torch_backbone().net

    class Layers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            n = self.net
            x = n._swish(n._bn0(n._conv_stem(x)))
            mid = x
            for i, block in enumerate(n._blocks):
                x = block(x)
                if i == MID_BLOCK:
                    mid = x

            def pool(m, size, k):
                cells = grid_cells(size, k)
                return torch.stack([m[:, :, a:b, c:d].mean(dim=(2, 3)) for a, b in cells for c, d in cells], 2).flatten(
                    1
                )

            return torch.cat([pool(mid, MID_MAP, 3), pool(x, 7, 5)], 1)

    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            Layers().eval(),
            torch.zeros(1, 3, 224, 224),
            str(out),
            input_names=["image"],
            output_names=["x"],
            dynamic_axes={"image": {0: "n"}, "x": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )


def main() -> None:
    from cinemanet.perception.backbone import cache_dir

    a = bench_args(__doc__, "intermediate_layer.json")
    metrics = shipped_metrics()
    onnx = cache_dir() / "onnx" / "probe-layers-b10x3-b15x5.onnx"
    if not onnx.exists():
        export(onnx)
    prep = dh.prepare(a.data, None, log)
    shas = sorted(prep.images)
    ex = bc.backbone_features(
        [(str(prep.images[s].path), s) for s in shas], dh.ARCH, dh.TRAIN_VIEWS, log=log, model=(onnx, TAG)
    )
    mid = MID_CH * 9
    views = dh.TRAIN_VIEWS
    arms = {
        "shipped": prep,
        "+block10 3x3": dh.Prepared(
            prep.images,
            prep.tasks,
            {v: {s: np.concatenate([r, ex[v][s][:mid]]) for s, r in prep.feats[v].items()} for v in views},
        ),
        "block15 5x5": dh.Prepared(
            prep.images,
            prep.tasks,
            {v: {s: np.concatenate([r[:1280], ex[v][s][mid:]]) for s, r in prep.feats[v].items()} for v in views},
        ),
    }
    del ex
    report = {"protocol": __doc__.split("\n\n")[1:5], "cores": os.cpu_count(), "out_of_fold": {}, "confirmation": {}}
    for arm, p in arms.items():
        tr = dh.Trainer(p, 0, log)
        for name in TASKS:
            wd = metrics[name]["cv"]["wd"]
            res = out_of_fold(tr, p.tasks[name], wd)
            report["out_of_fold"].setdefault(name, {})[arm] = res
            extra = " ".join(f"{k} {res[k]:.3f}" for k in ("f1_positive", "within_one") if k in res)
            by = ", ".join(f"{s} {x:.3f}" for s, x in res["by_source"].items())
            print(f"out of fold  {name:9s} {arm:13s} {res['accuracy']:.3f} {extra} [{by}]", flush=True)
            if arm != "block15 5x5":
                res = judge(tr, p.tasks[name], wd)
                report["confirmation"].setdefault(name, {})[arm] = res
                keys = [k for k in ("kept_apart_accuracy", "f1_positive", "within_one", "real_accuracy") if k in res]
                kept = ", ".join(f"{s} {x:.3f}" for s, x in res["kept_apart_by_source"].items())
                loso = ", ".join(f"{s} {x:.3f}" for s, x in res["loso"].items() if x is not None)
                print(
                    f"confirmation {name:9s} {arm:13s} "
                    + " ".join(f"{k} {res[k]:.3f}" for k in keys)
                    + f" [kept apart: {kept}] [LOSO: {loso or 'n/a'}]",
                    flush=True,
                )
        del tr
    report["load_average_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True, default=float) + "\n")


if __name__ == "__main__":
    main()
