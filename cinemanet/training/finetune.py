"""Fine-tune EfficientNet-Lite0's last block and head conv with the default model's tasks, on CPU.

The frozen lower network (stem and blocks 0-14) runs once per training image and view; its
output, the 7x7x192 map that enters the last (320-channel) block at 224 px, is cached on disk in
float16 (:func:`activations`, through :func:`.backbone_cache.backbone_features`), keyed by the
image's content hash, the view and the backbone weights' hash. Training then runs only block 15,
the 1x1 head conv and the task heads (an epoch of 9,500 images: 25-40 s on two shared cores).
``at=12`` caches the input of block 12 instead (also 7x7x192) and tunes blocks 12-15 (an epoch:
about 5 minutes).

The objective is the default model's (:mod:`.joint`): the same tasks and rows
(:func:`.default_heads.build_tasks`), the same shared trunk (standardisation and the PCA
projection, kept fixed), cross-entropy per task on class-balanced draws of that task's rows
(16 per task and step, so an image counts only for the tasks it is labelled for), each task's
L2 strength on its head, and the colour, grayscale and mirrored
views (the mirrored view is a real pass on the mirrored image, not a flipped map). The heads
start from the frozen features' L-BFGS fits; BatchNorm statistics stay frozen.
``benchmarks/finetune_backbone.py`` compares the result with the frozen features on the default
model's protocol.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..extras import torch as require_torch
from ..perception import backbone as bb

AT = 15  # the cached map is the input of block AT; blocks AT.. and the head conv are tuned
ACT_VERSION = 1  # bump when the lower graph or the views change
VIEWS = ("rgb", "gray", "flip")


def _lower_module(net, at: int):
    torch = require_torch("fine-tuning the backbone")

    class Lower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            x = self.net._swish(self.net._bn0(self.net._conv_stem(x)))
            for block in self.net._blocks[:at]:
                x = block(x)
            return x

    return Lower().eval()


def weights_tag(at: int = AT) -> str:
    """The activation cache's key: cut point, weights' hash, cache version."""
    digest = bb._file_sha256(bb._weights_path("lite0"))[:16]
    return f"act-lite0-b{at}-{digest}-v{ACT_VERSION}"


def lower_onnx(at: int = AT) -> Path:
    """The frozen lower network as ONNX (cached), run by ONNX Runtime to fill the cache."""
    torch = require_torch("fine-tuning the backbone")
    out = bb.cache_dir() / "onnx" / f"{weights_tag(at)}.onnx"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    low = _lower_module(bb.build_torch_backbone().net, at)
    tmp = out.with_suffix(".tmp.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            low,
            torch.zeros(1, 3, 224, 224),
            str(tmp),
            input_names=["image"],
            output_names=["act"],
            dynamic_axes={"image": {0: "n"}, "act": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(out)
    return out


def activations(
    items: Sequence[tuple[str, str]],
    views: Sequence[str] = VIEWS,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    at: int = AT,
) -> dict[str, dict[str, np.ndarray]]:
    """{view: {sha256: flattened float16 map}} of the lower network, cached on disk."""
    from .backbone_cache import backbone_features

    return backbone_features(items, "lite0", views, jobs=jobs, log=log, model=(lower_onnx(at), weights_tag(at)))


def upper_module(net=None, at: int = AT):
    """Blocks ``at``.. and the head conv of ``net`` (a fresh ImageNet one by default) as a module
    from the cached map to (features[N,1280], layout[N,320*9]), exactly as the backbone's own
    forward computes them (:func:`cinemanet.perception.backbone.build_torch_backbone`)."""
    torch = require_torch("fine-tuning the backbone")
    net = net if net is not None else bb.build_torch_backbone().net
    cells = bb.grid_cells(7)

    class Upper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList(net._blocks[at:])
            self.conv_head, self.bn1, self.act = net._conv_head, net._bn1, net._swish

        def forward(self, a):
            for block in self.blocks:
                a = block(a)
            f = self.act(self.bn1(self.conv_head(a))).mean(dim=(2, 3))
            pooled = [a[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1 in cells for c0, c1 in cells]
            return f, torch.stack(pooled, dim=2).flatten(1)

        def train(self, mode: bool = True):  # BatchNorm statistics stay the pretrained ones
            super().train(mode)
            for m in self.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
            return self

    return Upper(), net


def features(upper, acts: np.ndarray, batch: int = 256) -> np.ndarray:
    """[global | layout] rows (float16, like the backbone cache) of flattened cached maps."""
    torch = require_torch("fine-tuning the backbone")
    upper.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(acts), batch):
            a = torch.from_numpy(acts[i : i + batch].astype(np.float32)).view(-1, 192, 7, 7)
            f, lay = upper(a)
            out.append(torch.cat([f, lay], 1).numpy().astype(np.float16))
    return np.concatenate(out) if out else np.zeros((0, 4160), np.float16)


def finetune(
    acts: dict[str, dict[str, np.ndarray]],
    tasks: dict[str, list[tuple[str, int]]],
    n_out: dict[str, int],
    trunk: tuple[np.ndarray, np.ndarray, np.ndarray],
    init: dict[str, tuple[np.ndarray, np.ndarray]],
    wd: dict[str, float],
    val: dict[str, list[tuple[str, int]]] | None = None,
    epochs: int = 3,
    lr: float = 1e-4,
    head_lr: float = 1e-3,
    batch: int = 16,
    seed: int = 0,
    log: Callable[[str], None] = print,
    max_seconds: float | None = None,
    at: int = AT,
):
    """Tune the upper network and the task heads jointly.

    ``tasks``: per task, training rows (sha, class); ``trunk``: (mean, scale, P) of the shared
    trunk; ``init``: per task (W, b) on the trunk's output; ``wd``: per task L2 strength (the
    objective of :func:`.joint.fit_softmax`, summed over tasks). With ``val`` (rows held out of
    ``tasks``), the state of the epoch (from 1: always a tuned network) with the best mean
    balanced accuracy on ``val`` is returned (early stopping); epoch 0 is only the reference.
    Returns (upper module, heads {task: (W, b)}, history)."""
    torch = require_torch("fine-tuning the backbone")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    upper, _ = upper_module(at=at)
    mean, scale, P = (torch.from_numpy(np.asarray(x, np.float32)) for x in trunk)
    heads = torch.nn.ModuleDict()
    for t, (W, b) in init.items():
        lin = torch.nn.Linear(P.shape[0], n_out[t])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(W, np.float32)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b, np.float32)))
        heads[t] = lin
    names = list(tasks)
    shas = sorted({s for rows in tasks.values() for s, _ in rows})
    index = {s: i for i, s in enumerate(shas)}
    Y = np.full((len(shas), len(names)), -1, np.int64)
    Wrow = np.zeros((len(shas), len(names)), np.float32)
    for j, t in enumerate(names):
        y = np.array([c for _, c in tasks[t]])
        counts = np.bincount(y, minlength=n_out[t]).astype(np.float64)
        cw = len(y) / (n_out[t] * np.maximum(counts, 1))
        for (s, c), w in zip(tasks[t], cw[y] / cw[y].sum()):
            Y[index[s], j], Wrow[index[s], j] = c, w  # fit_softmax's class balance, as sampling odds
    opt = torch.optim.Adam([{"params": upper.parameters(), "lr": lr}, {"params": heads.parameters(), "lr": head_lr}])

    def forward(a):
        f, lay = upper(a)
        z = (torch.cat([f, lay], 1) - mean) / scale @ P.T
        return {t: heads[t](z) for t in names}

    def batch_maps(ix, views):
        return torch.from_numpy(np.stack([acts[v][shas[i]] for i, v in zip(ix, views)]).astype(np.float32)).view(
            -1, 192, 7, 7
        )

    vshas = sorted({s for rows in (val or {}).values() for s, _ in rows})

    def score() -> float:
        """Mean over tasks of the balanced accuracy of the network's own heads on ``val``."""
        if not vshas:
            return float("nan")
        upper.eval()
        X = np.stack([acts["rgb"][s] for s in vshas])
        with torch.no_grad():
            outs = [
                forward(torch.from_numpy(X[i : i + 256].astype(np.float32)).view(-1, 192, 7, 7))
                for i in range(0, len(X), 256)
            ]
        pos = {s: i for i, s in enumerate(vshas)}
        bal = []
        for t, rows in val.items():
            z = np.concatenate([o[t].numpy() for o in outs])
            pred = z[[pos[s] for s, _ in rows]].argmax(1)
            y = np.array([c for _, c in rows])
            bal.append(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))
        return float(np.mean(bal))

    history = []
    s0 = score() if val else float("nan")
    best = (-1.0, 0, None)
    history.append({"epoch": 0, "val_balanced_accuracy": s0})
    log(f"fine-tune: {len(shas)} images, {len(names)} tasks; epoch 0 (frozen) val {s0:.4f}")
    t0 = time.perf_counter()
    n = len(shas)
    # task-balanced batches: every step draws ``batch`` rows of every task, class-balanced, so a
    # small task (over-the-shoulder: ~600 rows) is not a few noisy rows of a batch of places
    pick = {
        t: (np.array([index[s] for s, _ in tasks[t]]), Wrow[[index[s] for s, _ in tasks[t]], j])
        for j, t in enumerate(names)
    }
    steps_per_epoch = max(1, n // (batch * len(names)))
    for ep in range(1, epochs + 1):
        upper.train()
        total, steps = 0.0, 0
        for _ in range(steps_per_epoch):
            ix_t = {t: rng.choice(ix, batch, p=w / w.sum()) for t, (ix, w) in pick.items()}
            ix = np.concatenate(list(ix_t.values()))
            out = forward(batch_maps(ix, rng.choice(VIEWS, len(ix))))
            loss = 0.0
            for j, t in enumerate(names):
                sl = slice(j * batch, (j + 1) * batch)
                loss = loss + torch.nn.functional.cross_entropy(out[t][sl], torch.from_numpy(Y[ix[sl], j]))
            loss = loss + sum(wd[t] * (heads[t].weight ** 2).sum() for t in names)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
            steps += 1
            if max_seconds and time.perf_counter() - t0 > max_seconds:
                break
        s = score() if val else float("nan")
        history.append(
            {
                "epoch": ep,
                "loss": total / max(steps, 1),
                "val_balanced_accuracy": s,
                "seconds": time.perf_counter() - t0,
            }
        )
        log(f"fine-tune epoch {ep}: loss {total / max(steps, 1):.4f}, val {s:.4f}, {time.perf_counter() - t0:.0f}s")
        if not val or s > best[0]:
            best = (s, ep, _state(upper, heads))
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            log("fine-tune: time budget spent, stopping")
            break
    upper.load_state_dict(best[2][0])
    heads.load_state_dict(best[2][1])
    upper.eval()
    out_heads = {t: (heads[t].weight.detach().numpy().copy(), heads[t].bias.detach().numpy().copy()) for t in names}
    return upper, out_heads, {"epochs": history, "best_epoch": best[1]}


def _state(upper, heads):
    return (
        {k: v.clone() for k, v in upper.state_dict().items()},
        {k: v.clone() for k, v in heads.state_dict().items()},
    )
