from __future__ import annotations

import numpy as np

from ..base import ConceptPredictor, register_predictor
from ._util import mask_on_grid


@register_predictor
class FocusFromSharpnessMap(ConceptPredictor):
    """Depth of field from the sharpness map: nothing crisp (out of focus), crisp and soft
    regions side by side, or a crisp subject on a soft background (shallow), crisp across the
    frame (deep). Too little texture to judge gives not applicable."""

    name = "shot.focus/sharpness"
    group = "shot.focus"
    needs = ("measure", "person_mask")
    method = "measured: tile grid of a no-reference blur metric, split by the person mask"

    def predict(self, ev, done):
        s = ev.stats
        sharp = s.sharpness
        valid = np.isfinite(sharp)
        n = int(valid.sum())
        if n < 3:
            return self.softmax({"na": 3.0, "deep": 0.0, "shallow": -1.0, "out": -1.0})
        v = sharp[valid]
        hi, lo = float(np.percentile(v, 90)), float(np.percentile(v, 10))
        spread = hi - lo
        flat = 1.0 - n / sharp.size
        sep = 0.0
        m = mask_on_grid(ev.person_mask, sharp.shape)
        if m is not None and (m > 0.5).any() and (m < 0.1).any():
            subj = sharp[(m > 0.5) & valid]
            back = sharp[(m < 0.1) & valid]
            subj_v = float(subj.max()) if subj.size else hi
            back_v = float(np.median(back)) if back.size else lo - 0.1 * flat
            sep = subj_v - back_v
        in_focus = min(0.0, 10.0 * (hi - 0.6))  # shallow and deep both need something crisp
        return self.softmax(
            {
                "out": 14.0 * (0.5 - hi),
                "deep": 10.0 * (lo - 0.5) - 8.0 * max(0.0, spread - 0.3) + in_focus,
                "shallow": 10.0 * (spread - 0.3) + 8.0 * max(0.0, sep - 0.15) + 2.0 * flat + in_focus,
                "na": 1.5 * (3.0 - n) - 1.0,
            }
        )
