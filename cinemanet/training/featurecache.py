"""Compute (and cache) the head input features of many images, in parallel processes.

Cached by file content hash and feature-set version, so re-training never recomputes them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..concepts.features import build_features, feature_needs
from ..media import load_image
from ..perception import Perception
from ..perception.backbone import cache_dir
from .sources import Item

FEATURES_VERSION = 5  # 2: grayscale view; 3: no pose on close-ups; 4: 192 px input; 5: pose at 320 px
_worker: dict = {}


def _init(names: tuple[str, ...]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _worker["names"] = names
    _worker["perception"] = Perception(feature_needs(names))


def _one(path: str) -> np.ndarray | None:
    try:
        frame = load_image(path)
    except Exception:
        return None
    ev = _worker["perception"].perceive(frame)
    return build_features(ev, _worker["names"])


def compute_features(
    items: Sequence[Item],
    names: Sequence[str],
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Features for ``items`` (rows in the same order); unreadable images give NaN rows."""
    names = tuple(names)
    store = cache_dir() / "features" / f"{'+'.join(names)}-v{FEATURES_VERSION}.npz"
    cached: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store, allow_pickle=False) as z:
            cached = dict(zip(z["sha"].tolist(), z["x"]))
    todo = [it for it in dict((it.sha256, it) for it in items).values() if it.sha256 not in cached]
    if todo:
        jobs = jobs or os.cpu_count() or 1
        t0 = time.perf_counter()
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(names,)) as pool:
            for i, (it, x) in enumerate(zip(todo, pool.map(_one, [str(it.path) for it in todo], chunksize=8))):
                if x is not None:
                    cached[it.sha256] = x
                if progress:
                    progress(i + 1, len(todo))
        rate = len(todo) / (time.perf_counter() - t0)
        store.parent.mkdir(parents=True, exist_ok=True)
        shas = sorted(cached)
        tmp = store.with_suffix(".tmp.npz")
        np.savez(tmp, sha=np.array(shas), x=np.stack([cached[s] for s in shas]))
        tmp.replace(store)
        compute_features.last_rate = rate  # images/s of the last computation, for reports
    dim = len(next(iter(cached.values()))) if cached else 0
    return np.stack([cached.get(it.sha256, np.full(dim, np.nan, np.float32)) for it in items])


compute_features.last_rate = None
