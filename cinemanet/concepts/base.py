"""The concept-predictor interface: evidence in, one group's label probabilities out.

Each predictor answers one group of the taxonomy. It declares which analyzers it needs and
which other groups it reads (``after``), and returns a score for every label of its group:
for single-label groups the scores sum to 1; for multi-label groups each is an independent
probability. Picking the label, thresholds and tags is done once, in :mod:`.model`.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar, Mapping

import numpy as np

from ..perception import Evidence
from ..plugins import Registry
from ..taxonomy import Group, get_taxonomy

Scores = dict[str, float]

#: name -> predictor class: every public module of ``concepts.predictors``, and ``cinemanet.predictors`` entry points
PREDICTORS: Registry[type["ConceptPredictor"]] = Registry(
    "predictors", package="cinemanet.concepts.predictors", noun="concept predictor"
)


class ConceptPredictor:
    #: registry name, e.g. "shot.focus/sharpness"
    name: ClassVar[str] = ""
    #: the taxonomy group this predictor answers
    group: ClassVar[str] = ""
    #: analyzers whose evidence it reads
    needs: ClassVar[tuple[str, ...]] = ()
    #: groups whose scores it reads (predicted first)
    after: ClassVar[tuple[str, ...]] = ()
    #: how it works, one line, for the model card and ``cinemanet model info``
    method: ClassVar[str] = ""

    def __init__(self, heads: Mapping[str, "object"] | None = None, **params):
        self.heads = dict(heads or {})
        self.params = params
        self.taxonomy_group: Group = get_taxonomy().group(self.group)

    def predict(self, ev: Evidence, done: Mapping[str, Scores]) -> Scores:  # pragma: no cover
        raise NotImplementedError

    # helpers shared by predictors -------------------------------------------------------
    def softmax(self, logits: Mapping[str, float]) -> Scores:
        """Scores for every label of the group from logits; labels not given get -inf."""
        keys = self.taxonomy_group.keys
        full = {self._full(k): v for k, v in logits.items()}
        unknown = set(full) - set(keys)
        if unknown:
            raise KeyError(f"{self.name}: not labels of {self.group}: {sorted(unknown)}")
        z = np.array([full.get(k, -np.inf) for k in keys], np.float64)
        if not np.isfinite(z).any():
            raise ValueError(f"{self.name}: no finite logit")
        z = z - np.max(z)
        e = np.exp(z)
        p = e / e.sum()
        return {k: float(v) for k, v in zip(keys, p)}

    def _full(self, k: str) -> str:
        return k if k.startswith(self.group + ".") else f"{self.group}.{k}"

    def full_scores(self, scores: Mapping[str, float]) -> Scores:
        """Fill missing labels with 0 and expand short keys."""
        out = {k: 0.0 for k in self.taxonomy_group.keys}
        for k, v in scores.items():
            fk = self._full(k)
            if fk not in out:
                raise KeyError(f"{self.name}: {fk} is not a label of {self.group}")
            out[fk] = min(1.0, max(0.0, float(v)))
        return out


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def register_predictor(cls: type[ConceptPredictor]) -> type[ConceptPredictor]:
    """Class decorator: registers ``cls`` under ``cls.name`` (a second one of that name is an error)."""
    if not cls.name or not cls.group:
        raise ValueError(f"{cls.__name__} needs a name and a group")
    return PREDICTORS.add(cls.name, cls)


def predictor_class(name: str) -> type[ConceptPredictor]:
    return PREDICTORS.get_plugin(name)


def registered_predictors() -> dict[str, type[ConceptPredictor]]:
    return dict(PREDICTORS)


PredictorFactory = Callable[..., ConceptPredictor]
