from __future__ import annotations

from ..base import ConceptPredictor, register_predictor


@register_predictor
class ColorKeyFromPixels(ConceptPredictor):
    """Key screens are defined by pixels: a large, smooth, saturated green or blue region; a
    large pure black/white backdrop (luma key); a frame of only black and white (a matte)."""

    name = "color.key/pixels"
    group = "color.key"
    needs = ("measure",)
    method = "measured: largest smooth chroma-green/blue region, pure black/white backdrop, binary frame"

    def predict(self, ev, done):
        s = ev.stats
        both = min(s.clip_dark, s.clip_bright)
        matte = 25 * (s.binary_fraction - 0.9) + 40 * min(both - 0.03, 0.0) + 30 * min(s.gray_fraction - 0.97, 0.0)
        return self.softmax(
            {
                "na": 0.0,
                "green": 14 * (s.green_screen - 0.22),
                "blue": 14 * (s.blue_screen - 0.22),
                "luma": 10 * (s.luma_key - 0.5),
                "matte": matte,
            }
        )
