from __future__ import annotations

import numpy as np

from ..base import ConceptPredictor, register_predictor
from ._util import mask_on_grid


@register_predictor
class LightingFromLuminance(ConceptPredictor):
    """Lighting from the luminance distribution: bright with few shadows (high key), dark with
    a few highlights (low key), a dark subject against a bright ground (silhouette), and
    overall contrast for hard against soft light."""

    name = "shot.lighting/luminance"
    group = "shot.lighting"
    needs = ("measure", "person_mask")
    method = "measured: luma percentiles and contrast; person-mask against background luma for silhouettes"

    def predict(self, ev, done):
        s = ev.stats
        p1, p5, p25, p50, p75, p95, p99 = (float(x) for x in s.luma_p)
        m = s.luma_mean
        contrast = p95 - p5
        sil = 8.0 * (min(s.clip_dark + s.luma_hist[:3].sum(), (s.luma_p[-1] > 0.7) * s.luma_hist[19:].sum()) - 0.25)
        g = mask_on_grid(ev.person_mask, s.luma_grid.shape)
        if g is not None and (g > 0.5).any() and (g < 0.1).any():
            subj = float(np.mean(s.luma_grid[g > 0.5]))
            back = float(np.mean(s.luma_grid[g < 0.1]))
            sil = max(sil, 12.0 * (back - subj - 0.4))
        return self.softmax(
            {
                "key.high": 10.0 * (m - 0.6) + 10.0 * (p5 - 0.25),
                "key.low": 14.0 * (0.25 - m) + 4.0 * (p99 - p50 - 0.3),
                "silhouette": sil,
                "hard": 8.0 * (contrast - 0.8) + 4.0 * (s.clip_dark + s.clip_bright - 0.1),
                "soft": 8.0 * (0.55 - contrast) + 14.0 * min(0.0, m - 0.25),
                "neutral": 1.0 - 4.0 * abs(contrast - 0.68),
                "na": 6.0 * (0.03 - s.luma_std) - 1.0,
            }
        )
