"""Weak evidence for labels without a trained head: sums of ImageNet class probabilities
over the classes listed for each label in ``data/imagenet_evidence.yaml``."""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import yaml

from ..perception.imagenet import class_index
from ..taxonomy import get_taxonomy


@cache
def _table(section: str) -> tuple[tuple[str, ...], np.ndarray]:
    text = resources.files(__package__).joinpath("data/imagenet_evidence.yaml").read_text(encoding="utf-8")
    spec = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))[section]
    tax = get_taxonomy()
    keys = tuple(spec)
    m = np.zeros((len(keys), 1000), np.float32)
    for i, k in enumerate(keys):
        tax.label(k)  # fail loudly on a typo
        for name in spec[k]:
            m[i, class_index(name)] = 1.0
    return keys, m


def load(section: str) -> None:
    """Build a section's table now (predictors call this at start-up, not on the first image)."""
    _table(section)


def imagenet_scores(probs: np.ndarray, section: str) -> dict[str, float]:
    """Label key -> summed probability of its ImageNet classes."""
    keys, m = _table(section)
    s = m @ probs
    return dict(zip(keys, map(float, s)))
