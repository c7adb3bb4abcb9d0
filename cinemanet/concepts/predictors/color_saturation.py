from __future__ import annotations

from ..base import ConceptPredictor, register_predictor


@register_predictor
class SaturationFromPixels(ConceptPredictor):
    """Saturation is defined by colourfulness: mean and 90th-percentile Lab chroma, with
    brightness separating pastel (light, soft colour) from neutral."""

    name = "color.saturation/pixels"
    group = "color.saturation"
    needs = ("measure",)
    method = "measured: Lab chroma (mean, 90th percentile) and mean luma"

    def predict(self, ev, done):
        s = ev.stats
        c, c90, light = s.chroma_mean, s.chroma_p90, s.luma_mean
        pastel_colour = 2.0 - abs(c - 15.0) / 5.0  # some colour, not much
        return self.softmax(
            {
                "desaturated": (7.0 - c) / 1.5,
                "neutral": 1.5 - abs(c - 13.0) / 5.0,
                "pastel": min(pastel_colour, 14.0 * (light - 0.55) + 1.0, (45.0 - c90) / 4.0),
                "saturated": (c90 - 38.0) / 5.0 + max(0.0, c - 25.0) / 4.0,
            }
        )
