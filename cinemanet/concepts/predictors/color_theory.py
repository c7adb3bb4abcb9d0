from __future__ import annotations

import numpy as np

from ..base import ConceptPredictor, register_predictor

_ANGLES = np.radians(np.arange(5, 360, 10))


@register_predictor
class ColorTheoryFromHues(ConceptPredictor):
    """Colour harmony from the chroma-weighted hue histogram: one hue (monochrome), a band of
    neighbouring hues (analogous) or two opposite hue families (complementary)."""

    name = "color.theory/hues"
    group = "color.theory"
    needs = ("measure",)
    method = "measured: circular statistics of the chroma-weighted Lab hue histogram"

    def predict(self, ev, done):
        s = ev.stats
        w = s.hue_hist
        if w.sum() <= 0 or s.chroma_mean < 3.0:  # no colour to speak of: one (gray) tone
            return self.softmax({"monochrome": 4.0, "analagous": 0.0, "complementary": -2.0})
        r1 = abs(np.sum(w * np.exp(1j * _ANGLES)))  # one hue family
        r2 = abs(np.sum(w * np.exp(2j * _ANGLES)))  # one axis: a hue and its opposite
        return self.softmax(
            {
                "monochrome": 40.0 * (r1 - 0.95),
                "analagous": 2.5 - 25.0 * abs(r1 - 0.86),
                "complementary": 10.0 * (r2 - 0.5) - 12.0 * max(0.0, r1 - 0.55),
            }
        )
