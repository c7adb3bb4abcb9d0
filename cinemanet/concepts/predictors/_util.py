"""Small helpers shared by predictors."""

from __future__ import annotations

import cv2
import numpy as np


def mask_on_grid(mask: np.ndarray | None, grid_shape: tuple[int, int]) -> np.ndarray | None:
    """Mean of a person mask over each tile of a measurement grid."""
    if mask is None or mask.size == 0:
        return None
    rows, cols = grid_shape
    return cv2.resize(mask.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA)


def clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))
