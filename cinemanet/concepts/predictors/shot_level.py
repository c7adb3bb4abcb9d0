from __future__ import annotations

from ..base import ConceptPredictor, register_predictor


@register_predictor
class LevelFromLines(ConceptPredictor):
    """A tilted (Dutch) frame has its dominant straight lines off the horizontal/vertical by a
    few degrees or more, with little line length on the axes; no straight lines, no answer."""

    name = "shot.level/lines"
    group = "shot.level"
    needs = ("measure",)
    method = "measured: dominant angle of Hough line segments near the horizontal/vertical axes"

    def predict(self, ev, done):
        s = ev.stats
        t, strength, on_axis = abs(s.tilt_deg), s.tilt_strength, s.level_support
        off = min(t, 20.0)
        tilted = 8.0 * strength * (off - 3.0) / 5.0 - 6.0 * max(0.0, on_axis - 0.15)
        level = 6.0 * strength * (3.0 - off) / 3.0 + 6.0 * on_axis
        return self.softmax({"level": level, "tilted": tilted, "na": 3.0 * (0.2 - strength) + 0.5})
