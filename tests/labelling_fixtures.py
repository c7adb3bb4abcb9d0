"""Small labelling fixtures: a data set of generated pictures with framing labels, a project
over it, and annotators. Nothing from ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cinemanet.datasets import DatasetStore
from cinemanet.labelling import LabelStore
from cinemanet.labelling.build import build_project, pool_from_dataset

LABELS = ("closeup", "medium", "long")


def make_dataset(root: Path, n_per_label: int = 6, name: str = "toy", seed: int = 0):
    """Distinct pictures (random blocks, so no two are near-duplicates) in label folders."""
    rng = np.random.default_rng(seed)
    src = root / "src"
    for lab in LABELS:
        (src / lab).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_label):
            a = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(a).resize((96, 54), Image.NEAREST).save(src / lab / f"{lab}{i}.png")
    store = DatasetStore(root)
    ds, _ = store.import_source(src, name, group="shot.framing", source="toy", test_fraction=0.0)
    return store, ds


def fake_scorer(paths):
    """Stands in for the model (tests of the model itself live elsewhere): scores from the
    picture's mean colour, the embedding is the picture downscaled."""
    out = []
    for p in paths:
        a = np.asarray(Image.open(p).convert("RGB").resize((4, 4)), np.float32) / 255.0
        m = a.reshape(-1, 3).mean(0) + 1e-3
        keys = ["shot.framing.closeup", "shot.framing.medium", "shot.framing.long"]
        sc = {k: float(v) for k, v in zip(keys, m / m.sum())}
        out.append(({"shot.framing": sc}, a.ravel()))
    return out


def make_project(
    root: Path, name: str = "proj", size: int = 10, gold: float = 0.2, strategy: str = "random", n_per_label: int = 6
):
    ds_store, ds = make_dataset(root, n_per_label=n_per_label)
    store = LabelStore(root / "labelling.sqlite")
    p = build_project(
        store,
        name,
        ["shot.framing"],
        pool_from_dataset(ds),
        size=size,
        strategy=strategy,
        gold_share=gold,
        seed=0,
        scorer=fake_scorer,
    )
    return store, p, ds_store
