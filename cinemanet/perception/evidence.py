"""What the analyzers found in one image: plain data that concept predictors read.

Coordinates are normalised to [0, 1] of the working frame (x right, y down). A list field is
None when its analyzer did not run and empty when it ran and found nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def area(self) -> float:
        return self.w * self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class Face(Box):
    # eyes, nose tip, mouth, ears (MediaPipe's six key points), each (x, y)
    keypoints: np.ndarray | None = None


@dataclass
class Pose:
    """One body's 33 landmarks (BlazePose order): columns x, y, z, visibility."""

    landmarks: np.ndarray

    def visible(self, idx, threshold: float = 0.5) -> np.ndarray:
        lm = self.landmarks[list(idx)]
        inside = (lm[:, 0] > -0.02) & (lm[:, 0] < 1.02) & (lm[:, 1] > -0.02) & (lm[:, 1] < 1.02)
        return (lm[:, 3] >= threshold) & inside

    def visibility(self, idx) -> float:
        """Mean visibility of landmarks ``idx``, counting those outside the frame as unseen."""
        lm = self.landmarks[list(idx)]
        inside = (lm[:, 0] > -0.02) & (lm[:, 0] < 1.02) & (lm[:, 1] > -0.02) & (lm[:, 1] < 1.02)
        return float(np.mean(lm[:, 3] * inside))


# BlazePose landmark groups
POSE_FACE = range(0, 11)
POSE_SHOULDERS = (11, 12)
POSE_HANDS = (15, 16, 17, 18, 19, 20, 21, 22)
POSE_HIPS = (23, 24)
POSE_KNEES = (25, 26)
POSE_ANKLES = (27, 28)
POSE_FEET = (27, 28, 29, 30, 31, 32)


@dataclass
class TextEvidence:
    boxes: list[Box] = field(default_factory=list)
    area: float = 0.0  # fraction of the frame covered by text boxes
    score: float = 0.0  # best box score


@dataclass
class ImageStats:
    """Measurements taken straight from pixels (see :mod:`cinemanet.perception.measure`)."""

    luma_mean: float
    luma_std: float
    luma_p: np.ndarray  # percentiles 1, 5, 25, 50, 75, 95, 99 of luma in [0, 1]
    luma_hist: np.ndarray  # 32 bins, sums to 1
    clip_dark: float  # fraction of pixels below 0.04
    clip_bright: float  # fraction above 0.96
    chroma_mean: float  # mean Lab chroma (0..~130)
    chroma_p90: float
    sat_mean: float  # HSV saturation mean in [0, 1]
    gray_fraction: float  # fraction of pixels with chroma < 6
    lab_a: float
    lab_b: float
    hue_hist: np.ndarray  # 36 bins (10 degrees each), chroma-weighted, sums to 1 (zeros if gray)
    green_screen: float  # fraction of frame in the largest chroma-green region
    blue_screen: float
    luma_key: float  # fraction in the largest pure-black or pure-white region
    binary_fraction: float  # fraction of pixels that are near black or near white
    sharpness: np.ndarray  # rows x cols tile grid, 0 (blurred) .. 1 (crisp); NaN where flat
    texture: np.ndarray  # same grid: local contrast (how much there is to be sharp)
    edge_density: float  # fraction of edge pixels
    tilt_deg: float  # signed deviation of the dominant near-axis lines, degrees
    tilt_strength: float  # how much line evidence backs tilt_deg (0..1)
    level_support: float  # share of line length within 2 degrees of the axes
    top_luma: float  # mean luma of the top fifth (sky for exteriors)
    top_blue: float  # mean b* of the top fifth (negative is blue)
    highlight_points: float  # number of small bright spots (lamps at night), /20, capped at 1
    luma_grid: np.ndarray  # mean luma per tile of the sharpness grid


@dataclass
class Evidence:
    width: int
    height: int
    embedding: np.ndarray | None = None  # backbone features, 1280-d, L2-normalised
    features: np.ndarray | None = None  # raw backbone features the heads were trained on
    layout: np.ndarray | None = None  # last backbone block pooled on a 3x3 grid (320 x 9)
    imagenet: np.ndarray | None = None  # 1000 ImageNet class probabilities
    faces: list[Face] | None = None
    pose: Pose | None = None  # None: no body found, or the gated pose model did not need to run
    hands: list[Box] | None = None
    person_mask: np.ndarray | None = None  # float32 HxW in [0, 1] at a small size
    text: TextEvidence | None = None
    stats: ImageStats | None = None

    @property
    def aspect(self) -> float:
        return self.width / max(1, self.height)
