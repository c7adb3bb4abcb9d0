"""Backbone features of many images, cached on disk by content hash, backbone and view.

One pass of the backbone per (image, view): ``rgb`` (as tagged), ``gray`` (the training
augmentation that makes heads indifferent to colour, so grayscale sets such as 15-Scene and
colour frames meet in one space) and ``flip`` (mirrored). Rows are float16
``[global 1280 | layout]``; the cache is an ``.npz`` per (backbone, view) under
``cache_dir()/features``, rewritten atomically, so an interrupted run keeps what it had.

``model`` = (ONNX file, store tag) caches another graph's single output instead, flattened
(:mod:`.finetune` keeps lower-layer activations this way, keyed by the backbone's hash).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..perception.backbone import ARCHS, EXPORT_VERSION, cache_dir

VIEWS = ("rgb", "gray", "flip")
CACHE_VERSION = 1
_worker: dict = {}


def _store(arch: str, view: str, tag: str | None = None) -> Path:
    if tag:
        return cache_dir() / "features" / f"{tag}-{view}.npz"
    return cache_dir() / "features" / f"bb-{arch}-{view}-x{EXPORT_VERSION}-v{CACHE_VERSION}.npz"


def _init(arch: str, onnx: str | None = None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ..perception._ort import session
    from ..perception.backbone import onnx_path

    _worker["sess"] = session(Path(onnx) if onnx else onnx_path(arch), 1)
    _worker["size"] = ARCHS[arch].size


def _view(rgb: np.ndarray, view: str, size: int) -> np.ndarray:
    from ..perception.backbone import gray_view, preprocess

    if view == "gray":
        return gray_view(rgb, size)[0]
    if view == "flip":
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    return preprocess(rgb, size)[0]


def _chunk(job) -> list[np.ndarray | None]:
    from ..media import load_image

    paths, views = job
    xs, where = [], []
    for i, p in enumerate(paths):
        try:
            rgb = load_image(p).rgb
        except Exception:  # noqa: BLE001 - reported by the caller as unreadable
            continue
        for v in views:
            xs.append(_view(rgb, v, _worker["size"]))
            where.append((i, v))
    out: list = [None] * len(paths)
    if xs:
        outs = _worker["sess"].run(None, {"image": np.stack(xs)})
        if len(outs) == 3:  # the backbone: (features, logits, layout)
            rows = np.concatenate([outs[0], outs[2]], 1).astype(np.float16)
        else:  # another graph's one output (activations), flattened
            rows = outs[0].reshape(len(xs), -1).astype(np.float16)
        for (i, v), r in zip(where, rows):
            if out[i] is None:
                out[i] = {}
            out[i][v] = r
    return out


def load_cache(arch: str, view: str, tag: str | None = None) -> dict[str, np.ndarray]:
    p = _store(arch, view, tag)
    if not p.exists():
        return {}
    with np.load(p, allow_pickle=False) as z:
        return dict(zip(z["sha"].tolist(), z["x"]))


def _save(arch: str, view: str, d: dict[str, np.ndarray], tag: str | None = None) -> None:
    p = _store(arch, view, tag)
    p.parent.mkdir(parents=True, exist_ok=True)
    shas = sorted(d)
    tmp = p.with_suffix(".tmp.npz")
    np.savez(tmp, sha=np.array(shas), x=np.stack([d[s] for s in shas]))
    tmp.replace(p)


def backbone_features(
    items: Sequence[tuple[str, str]],
    arch: str = "lite0",
    views: Sequence[str] = ("rgb",),
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    chunk: int = 16,
    model: tuple[Path, str] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """{view: {sha256: row}} for ``items`` = (path, sha256); unreadable images are missing
    (and named in the log). ``model``: (ONNX file, store tag) to cache instead of the backbone."""
    onnx, tag = (str(model[0]), model[1]) if model else (None, None)
    caches = {v: load_cache(arch, v, tag) for v in views}
    todo = list({sha: p for p, sha in items if any(sha not in caches[v] for v in views)}.items())
    if todo:
        jobs = jobs or os.cpu_count() or 1
        t0 = time.perf_counter()
        from concurrent.futures import ProcessPoolExecutor

        chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
        done = 0
        with ProcessPoolExecutor(
            jobs, mp_context=mp.get_context("spawn"), initializer=_init, initargs=(arch, onnx)
        ) as pool:
            for ch, res in zip(chunks, pool.map(_chunk, [([str(p) for _, p in ch], tuple(views)) for ch in chunks])):
                for (sha, p), r in zip(ch, res):
                    if r is None:
                        log(f"{p}: unreadable image, skipped")
                        continue
                    for v in views:
                        caches[v][sha] = r[v]
                done += len(ch)
                if done % 2048 < chunk:
                    for v in views:
                        _save(arch, v, caches[v], tag)
                    log(
                        f"{tag or arch} {'+'.join(views)}: {done}/{len(todo)} images, {done / (time.perf_counter() - t0):.0f}/s"
                    )
        for v in views:
            _save(arch, v, caches[v], tag)
        backbone_features.last_rate = len(todo) / (time.perf_counter() - t0)
    return caches


backbone_features.last_rate = None
