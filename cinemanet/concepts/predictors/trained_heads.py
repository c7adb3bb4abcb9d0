"""Predictors that answer a group from a head trained by ``cinemanet train``.

- ``<group>/trained-head`` (every group): the head's probabilities are the group's scores.
- Heads trained on label-generated examples (``cinemanet train --augment ...``) over measured
  features: ``color.tones/head``, ``color.saturation/head``, and, for groups whose generated
  labels cover only part of the group, ``shot.level/head`` and ``shot.focus/head`` (the rule
  still decides "not applicable": no lines, no texture) and ``shot.lighting/key-head`` (the head
  decides high key / low key / neither; the rule splits "neither" into hard, soft, neutral,
  silhouette and not applicable).

Importing this module registers them (and the ``measured`` feature extractor).
"""

from __future__ import annotations

from ...taxonomy import get_taxonomy
from ..base import ConceptPredictor, register_predictor
from . import measured_features  # noqa: F401  (registers the "measured" feature extractor)
from .shot_focus import FocusFromSharpnessMap
from .shot_level import LevelFromLines
from .shot_lighting import LightingFromLuminance


class TrainedHead(ConceptPredictor):
    """The group's scores are the probabilities of its one trained head (labels it was not
    trained on score 0)."""

    method = "trained head (cinemanet train)"
    needs = ()  # the head's own feature extractors name the analyzers it needs

    def predict(self, ev, done):
        (head,) = self.heads.values()
        return self.full_scores(head(ev))


def _generic(group: str) -> type[TrainedHead]:
    cls = type(
        f"TrainedHead_{group.replace('.', '_')}", (TrainedHead,), {"name": f"{group}/trained-head", "group": group}
    )
    return register_predictor(cls)


GENERIC = {g.key: _generic(g.key) for g in get_taxonomy().groups}


@register_predictor
class TonesFromHead(TrainedHead):
    name = "color.tones/head"
    group = "color.tones"
    method = "trained head on measured colour statistics (label-generated grades and black-and-white)"


@register_predictor
class SaturationFromHead(TrainedHead):
    name = "color.saturation/head"
    group = "color.saturation"
    method = "trained head on measured colour statistics (label-generated saturation levels)"


class _HeadWithRuleNA(TrainedHead):
    """Head for the answerable labels; the rule's "not applicable" score scales them down."""

    rule: type[ConceptPredictor]

    def __init__(self, **kw):
        super().__init__(**kw)
        self._rule = self.rule()

    def predict(self, ev, done):
        (head,) = self.heads.values()
        na_key = f"{self.group}.na"
        na = self._rule.predict(ev, done)[na_key]
        out = {k: (1.0 - na) * v for k, v in head(ev).items()}
        out[na_key] = na
        return self.full_scores(out)


@register_predictor
class LevelFromHead(_HeadWithRuleNA):
    name = "shot.level/head"
    group = "shot.level"
    needs = ("measure",)
    rule = LevelFromLines
    method = "trained head on line-angle measurements (label-generated roll); rule for not applicable"


@register_predictor
class FocusFromHead(_HeadWithRuleNA):
    name = "shot.focus/head"
    group = "shot.focus"
    needs = ("measure", "person_mask")
    rule = FocusFromSharpnessMap
    method = "trained head on the sharpness map (label-generated defocus); rule for not applicable"


@register_predictor
class LightingKeyFromHead(TrainedHead):
    name = "shot.lighting/key-head"
    group = "shot.lighting"
    needs = ("measure", "person_mask")
    method = "trained head for high/low key (label-generated tone curves); rule for the other labels"

    def __init__(self, **kw):
        super().__init__(**kw)
        self._rule = LightingFromLuminance()

    def predict(self, ev, done):
        (head,) = self.heads.values()
        p = head(ev)
        hi, lo = p.get("shot.lighting.key.high", 0.0), p.get("shot.lighting.key.low", 0.0)
        rule = self._rule.predict(ev, done)
        rest = {k: v for k, v in rule.items() if k not in ("shot.lighting.key.high", "shot.lighting.key.low")}
        total = sum(rest.values()) or 1.0
        out = {k: (1.0 - hi - lo) * v / total for k, v in rest.items()}
        out.update({"shot.lighting.key.high": hi, "shot.lighting.key.low": lo})
        return self.full_scores(out)
