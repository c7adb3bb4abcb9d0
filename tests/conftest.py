from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CINEMANET_SHARED", ROOT.parent / "shared"))
EXAMPLES = ROOT / "examples" / "images"

needs_shared_data = pytest.mark.skipif(
    not (SHARED / "data").is_dir(),
    reason=f"needs the labelled training data in {SHARED / 'data'} (not in a fresh clone)",
)


@pytest.fixture(scope="session")
def net():
    from cinemanet import CinemaNet

    return CinemaNet()


@pytest.fixture(scope="session")
def sample_rgb() -> np.ndarray:
    """A real film frame (CC-BY, see examples/ATTRIBUTION.md) as RGB."""
    bgr = cv2.imread(str(EXAMPLES / "tears_of_steel_bridge.jpg"))
    return np.ascontiguousarray(bgr[..., ::-1])


def city(width: int = 640, height: int = 360, seed: int = 0) -> np.ndarray:
    """A synthetic street of buildings with level windows, crisp everywhere, in colour."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.uint8)
    img[: height // 2] = (150, 180, 220)  # sky
    img[height // 2 :] = (90, 90, 95)  # street
    x = 0
    while x < width:
        w = int(rng.integers(60, 120))
        top = int(rng.integers(height // 8, height // 3))
        col = tuple(int(c) for c in rng.integers(60, 200, 3))
        cv2.rectangle(img, (x, top), (x + w - 4, int(height * 0.75)), col, -1)
        for wy in range(top + 10, int(height * 0.72), 22):
            for wx in range(x + 8, x + w - 14, 18):
                cv2.rectangle(img, (wx, wy), (wx + 9, wy + 12), (240, 230, 170), -1)
        x += w
    cv2.line(img, (0, int(height * 0.75)), (width, int(height * 0.75)), (30, 30, 30), 3)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre and crop to the largest upright rectangle (no empty corners)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    r = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    a = np.radians(abs(degrees))
    # largest axis-aligned rectangle inside the rotated frame
    cw = int((w * np.cos(a) - h * np.sin(a)) / np.cos(2 * a)) if abs(degrees) < 40 else w // 2
    ch = int((h * np.cos(a) - w * np.sin(a)) / np.cos(2 * a)) if abs(degrees) < 40 else h // 2
    cw, ch = max(32, min(w, cw)), max(32, min(h, ch))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return np.ascontiguousarray(r[y0 : y0 + ch, x0 : x0 + cw])
