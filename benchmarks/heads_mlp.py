"""A non-linear head on the shipped trunk: does a hidden layer beat the linear heads?

    python benchmarks/heads_mlp.py --data ../shared/data [--tasks framing,ots] [--out FILE]

The shipped heads are linear softmax fits on the shared trunk (the top 512 principal components
of the backbone features). Here each listed task is also fitted as a one-hidden-layer network
(ReLU; dropout on the input and the hidden layer; AdamW with a one-cycle schedule; class-balanced
cross-entropy; every training image in its three views, as the linear heads see them) for a
few fixed settings written down before the run. Judged the way ``heads_variants.py --cv`` judges:
3-fold grouped out-of-fold predictions on the 80% part (the folds ``train-default`` chooses its
L2 strength with); the kept-apart 20% is not read. A setting would only be worth building into
the export path if it beat the linear head out of fold.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from heads_variants import bench_args, log, out_of_fold, shipped_metrics  # noqa: E402

from cinemanet.training import default_heads as dh  # noqa: E402

# (hidden units, weight decay, epochs, dropout): fixed before the run
SETTINGS = ((512, 0.05, 40, 0.5), (1024, 0.05, 40, 0.3))


def fit_mlp(Z: np.ndarray, y: np.ndarray, k: int, hidden: int, wd: float, epochs: int, drop: float, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    Zt, yt = torch.from_numpy(np.ascontiguousarray(Z, np.float32)), torch.from_numpy(y.astype(np.int64))
    counts = np.bincount(y, minlength=k).astype(np.float64)
    cw = torch.tensor(np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0), dtype=torch.float32)
    net = torch.nn.Sequential(
        torch.nn.Dropout(drop),
        torch.nn.Linear(Z.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(drop),
        torch.nn.Linear(hidden, k),
    )
    bs, lr = 128, 1e-3
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * ((len(y) + bs - 1) // bs))
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(y))
        for i in range(0, len(y), bs):
            ix = perm[i : i + bs]
            loss = torch.nn.functional.cross_entropy(net(Zt[ix]), yt[ix], weight=cw)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()

    def predict(Zq: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(np.ascontiguousarray(Zq, np.float32))).numpy()

    return predict


def main() -> None:
    def extra(ap):
        ap.add_argument("--tasks", default="framing,ots")

    a = bench_args(__doc__, "heads_mlp.json", extra)
    metrics = shipped_metrics()
    prep = dh.prepare(a.data, None, log)
    tr = dh.Trainer(prep, 0, log)
    report = {"protocol": __doc__.split("\n\n")[2], "cores": os.cpu_count(), "results": {}}
    for name in a.tasks.split(","):
        task, wd = prep.tasks[name], metrics[name]["cv"]["wd"]
        for setting in (None, *SETTINGS):
            t0 = time.perf_counter()
            mlp = None
            if setting is not None:

                def mlp(fit_rows, rows, task=task, setting=setting):
                    Z, y = tr.design(fit_rows)
                    return fit_mlp(Z, y, len(task.outputs), *setting)(tr.Z([r[0] for r in rows]))

            res = out_of_fold(tr, task, wd, mlp)
            res["seconds"] = time.perf_counter() - t0
            label = "linear (shipped)" if setting is None else "mlp hidden=%d wd=%g epochs=%d dropout=%g" % setting
            report["results"].setdefault(name, {})[label] = res
            print(
                f"{name:9s} {label:40s} "
                + " ".join(f"{k} {v:.3f}" for k, v in res.items() if k not in ("by_source", "seconds")),
                flush=True,
            )
    report["load_average_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
