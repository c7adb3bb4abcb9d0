"""Compute (and cache) the head input features of many images, in parallel processes.

Cached by file content hash and feature-set version, so re-training never recomputes them.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..concepts.features import build_features, feature_needs
from ..media import load_image
from ..media.images import ImageReadError
from ..perception import Perception
from ..perception.backbone import cache_dir
from ..util.files import atomic_path
from .augment import generate
from .sources import Item

log = logging.getLogger(__name__)

FEATURES_VERSION = 5  # 2: grayscale view; 3: no pose on close-ups; 4: 192 px input; 5: pose at 320 px
# Generated examples (a recipe of .augment) are keyed by (file, recipe, AUGMENT_VERSION), so a
# changed generator never reuses stale features.
_worker: dict = {}


def _init(names: tuple[str, ...]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ..concepts.base import PREDICTORS

    PREDICTORS.load()  # registers every feature extractor, "measured" too

    _worker["names"] = names
    _worker["perception"] = Perception(feature_needs(names))


@dataclass
class FeatureRun:
    """What one :func:`compute_features` call did: its rate and the items it could not read."""

    computed: int = 0
    rate: float | None = None  # images/s of the computation (None when everything was cached)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _one(job) -> np.ndarray | str | None:
    """Features of one item; None for a generated example that does not apply; a one-line
    reason (str) for an image that could not be read."""
    path, recipe, source_sha = job
    try:
        frame = load_image(path)
    except ImageReadError as e:
        return str(e) or type(e).__name__
    except (OSError, ValueError) as e:
        return f"{type(e).__name__}: {e}".splitlines()[0]
    if recipe is not None:
        frame = generate(frame, recipe, source_sha)
        if frame is None:
            return None
    ev = _worker["perception"].perceive(frame)
    return build_features(ev, _worker["names"])


def local_features(jobs: list[tuple], names: tuple[str, ...], workers: int | None = None):
    """``jobs`` in ``workers`` processes of this machine (the local engine's way)."""
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        workers or os.cpu_count() or 1, mp_context=ctx, initializer=_init, initargs=(names,)
    ) as pool:
        yield from pool.map(_one, jobs, chunksize=8)


def features_chunk(jobs: list[tuple], names: tuple[str, ...]) -> list:
    """``jobs`` in this process (an engine's worker: the Perception is built once per names)."""
    if _worker.get("names") != tuple(names):
        _init(tuple(names))
    return [_one(j) for j in jobs]


def compute_features(
    items: Sequence[Item],
    names: Sequence[str],
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    run: FeatureRun | None = None,
    engine: str = "local",
    engine_options: dict | None = None,
) -> np.ndarray:
    """Features for ``items`` (rows in the same order); unreadable images give NaN rows and
    a warning naming each (also listed in ``run.failed``). ``engine`` computes the missing ones
    (``local``: this machine's processes; ``ray``: a Ray cluster, ``engine_options`` e.g.
    ``{"address": ...}``); the cache is written here, the same whichever engine."""
    run = run if run is not None else FeatureRun()
    names = tuple(names)
    store = cache_dir() / "features" / f"{'+'.join(names)}-v{FEATURES_VERSION}.npz"
    cached: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store, allow_pickle=False) as z:
            cached = dict(zip(z["sha"].tolist(), z["x"]))
    todo = [it for it in dict((it.sha256, it) for it in items).values() if it.sha256 not in cached]
    if todo:
        from ..engines import create_engine

        t0 = time.perf_counter()
        eng = create_engine(engine, **(engine_options or {}))
        jobs_ = [(str(it.path), it.recipe, it.source_sha256) for it in todo]
        for i, (it, x) in enumerate(zip(todo, eng.features(jobs_, names, jobs), strict=True)):
            if isinstance(x, str):
                log.warning("%s: cannot compute features: %s", it.path, x)
                run.failed.append((str(it.path), x))
                x = None
            # a generated example that does not apply is cached as NaN, so it is not retried
            cached[it.sha256] = x if x is not None else (np.nan if it.recipe is not None else None)
            if cached[it.sha256] is None:
                del cached[it.sha256]
            if progress:
                progress(i + 1, len(todo))
        run.computed = len(todo)
        run.rate = len(todo) / (time.perf_counter() - t0)
        store.parent.mkdir(parents=True, exist_ok=True)
        dim = next((len(v) for v in cached.values() if np.ndim(v)), 0)
        cached = {k: (v if np.ndim(v) else np.full(dim, np.nan, np.float32)) for k, v in cached.items()}
        shas = sorted(cached)
        with atomic_path(store, suffix=".npz") as tmp:
            np.savez(tmp, sha=np.array(shas), x=np.stack([cached[s] for s in shas]))
    dim = len(next(iter(cached.values()))) if cached else 0
    return np.stack([cached.get(it.sha256, np.full(dim, np.nan, np.float32)) for it in items])
