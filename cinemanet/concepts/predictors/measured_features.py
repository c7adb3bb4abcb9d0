"""The ``measured`` feature vector: pixel measurements (colour, luminance, sharpness map, line
angles) as input for heads trained on label-generated examples (tones, saturation, level,
focus, key). Importing this module registers it with :mod:`cinemanet.concepts.features`.

Non-linear cues a linear head cannot build itself are given as bins (tilt angle x line
strength, chroma levels), so a logistic head can draw the same boundaries a rule would.
"""

from __future__ import annotations

import numpy as np

from ...perception import Evidence
from ..features import feature
from ._util import mask_on_grid

_TILT_BINS = (0.0, 1.0, 2.0, 3.0, 4.5, 6.0, 9.0, 13.0, 20.0, 90.0)
_CHROMA_BINS = (0.0, 1.5, 3.0, 5.0, 7.0, 9.0, 12.0, 16.0, 20.0, 25.0, 30.0, 38.0, 200.0)


def _bins(x: float, edges, weight: float = 1.0) -> list[float]:
    out = [0.0] * (len(edges) - 1)
    i = int(np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(out) - 1))
    out[i] = weight
    return out


@feature("measured", needs=("measure", "person_mask"))
def measured_features(ev: Evidence) -> np.ndarray:
    s = ev.stats
    sharp = s.sharpness
    valid = np.isfinite(sharp)
    v = np.sort(sharp[valid]) if valid.any() else np.zeros(1, np.float32)
    q = np.percentile(v, (0, 10, 25, 50, 75, 90, 100))
    sep, subj, back, has_mask = 0.0, float(q[-1]), float(q[0]), 0.0
    m = mask_on_grid(ev.person_mask, sharp.shape)
    if m is not None and (m > 0.5).any() and (m < 0.1).any():
        a, b = sharp[(m > 0.5) & valid], sharp[(m < 0.1) & valid]
        if a.size and b.size:
            subj, back, has_mask = float(a.max()), float(np.median(b)), 1.0
            sep = subj - back
    tilt = abs(float(s.tilt_deg))
    p = [float(x) for x in s.luma_p]
    out = [
        # colour
        s.chroma_mean / 30.0,
        s.chroma_p90 / 60.0,
        s.sat_mean,
        s.gray_fraction,
        s.lab_a / 20.0,
        s.lab_b / 20.0,
        (s.lab_b + 0.5 * s.lab_a) / 20.0,
        *_bins(s.chroma_mean, _CHROMA_BINS),
        # luminance
        s.luma_mean,
        s.luma_std,
        *p,
        p[5] - p[1],
        p[6] - p[3],
        s.clip_dark,
        s.clip_bright,
        *s.luma_hist,
        # sharpness map
        *q,
        float(valid.mean()),
        float(np.nanmean(s.texture)),
        s.edge_density * 10.0,
        subj,
        back,
        sep,
        has_mask,
        # lines
        min(tilt, 20.0) / 20.0,
        s.tilt_strength,
        s.level_support,
        *_bins(tilt, _TILT_BINS, s.tilt_strength),
    ]
    return np.array(out, np.float32)
