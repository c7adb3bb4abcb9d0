from __future__ import annotations

from ..base import ConceptPredictor, register_predictor


@register_predictor
class TonesFromPixels(ConceptPredictor):
    """Black-and-white when there is no chroma; otherwise warm or cool from the mean Lab
    colour cast (yellow/red against blue/cyan)."""

    name = "color.tones/pixels"
    group = "color.tones"
    needs = ("measure",)
    method = "measured: mean Lab chroma (black and white) and colour cast along b* and a*"

    def predict(self, ev, done):
        s = ev.stats
        cast = s.lab_b + 0.5 * s.lab_a
        bw = 1.6 * (3.5 - s.chroma_mean) + 4.0 * (s.gray_fraction - 0.9)
        return self.softmax({"blackwhite": bw, "warm": cast / 3.0, "cool": -cast / 3.0})
