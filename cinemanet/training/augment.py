"""Label-generating augmentations: turn any real photo into a labelled example of a concept
defined by the image itself (colour grade, saturation, roll, focus, key).

Each generator takes an RGB frame (and the person mask where it needs one) and produces the
frame transformed so that the label holds *by construction*: a warm grade shifts the mean
colour cast to a target amount, a tilt rolls the camera 6-15 degrees, a defocus blurs the
background behind the person. A :class:`Recipe` (concept, label, seed) fully determines the
output, so features of generated images are cached like those of files, and held-out images
can be regenerated with other seeds for evaluation.

Some labels need a suitable photo (a tilt needs straight lines to be visible; "shallow" needs a
subject mask or makes one); :func:`apply` returns None when the photo does not qualify.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

AUGMENT_VERSION = 1  # bump when any generator changes its output


@dataclass(frozen=True)
class Recipe:
    concept: str  # a key of CONCEPTS
    label: str  # the v1 label key the output has
    seed: int

    def key(self, source_sha256: str) -> str:
        """Content key of the generated image (for feature caches)."""
        return hashlib.sha256(
            f"{source_sha256}:{self.concept}:{self.label}:{self.seed}:v{AUGMENT_VERSION}".encode()
        ).hexdigest()


def _rng(sha: str, recipe_seed: int, salt: str) -> np.random.Generator:
    h = hashlib.sha256(f"{sha}:{recipe_seed}:{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


# ---------------------------------------------------------------------------------- colour
def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _rgb(lab: np.ndarray) -> np.ndarray:
    out = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def colour_cast(rgb: np.ndarray) -> float:
    """Mean warm-cool cast of a frame: b* + 0.5 a* (positive is warm)."""
    lab = _lab(rgb)
    return float(lab[..., 2].mean() + 0.5 * lab[..., 1].mean())


def mean_chroma(rgb: np.ndarray) -> float:
    lab = _lab(rgb)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def grade(rgb: np.ndarray, target_cast: float, a_ratio: float) -> np.ndarray:
    """Shift the colour balance so the mean cast (b* + 0.5 a*) becomes ``target_cast``;
    a* moves ``a_ratio`` times as much as b* (orange for warm, teal for cool)."""
    lab = _lab(rgb)
    cast = float(lab[..., 2].mean() + 0.5 * lab[..., 1].mean())
    db = (target_cast - cast) / (1.0 + 0.5 * a_ratio)
    lab[..., 2] += db
    lab[..., 1] += a_ratio * db
    return _rgb(lab)


def black_and_white(rgb: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)


def scale_chroma(rgb: np.ndarray, target: float, lift: float = 0.0) -> np.ndarray | None:
    """Scale Lab chroma so its mean becomes ``target``; ``lift`` raises lightness towards white
    (for pastel). None when the photo has too little colour to scale up."""
    lab = _lab(rgb)
    c = float(np.hypot(lab[..., 1], lab[..., 2]).mean())
    if c < 3.0 and target > c:
        return None
    lab[..., 1:] *= target / max(c, 1e-3)
    if lift:
        lab[..., 0] = lift * 100.0 + (1.0 - lift) * lab[..., 0]
    return _rgb(lab)


def _tones(rgb, rng, label, mask):
    if label.endswith("blackwhite"):
        return black_and_white(rgb)
    if mean_chroma(rgb) < 2.0:  # a black-and-white source: a grade would be a tint, not a balance
        return None
    if label.endswith("warm"):
        return grade(rgb, rng.uniform(8.0, 20.0), rng.uniform(0.2, 0.5))
    return grade(rgb, -rng.uniform(8.0, 20.0), -rng.uniform(0.1, 0.4))


def _saturation(rgb, rng, label, mask):
    kind = label.rsplit(".", 1)[1]
    if kind == "desaturated":
        return scale_chroma(rgb, rng.uniform(1.5, 5.0))
    if kind == "neutral":
        return scale_chroma(rgb, rng.uniform(10.0, 17.0))
    if kind == "saturated":
        return scale_chroma(rgb, rng.uniform(30.0, 45.0))
    return scale_chroma(rgb, rng.uniform(9.0, 18.0), lift=rng.uniform(0.35, 0.55))  # pastel


# ---------------------------------------------------------------------------------- geometry
def rotate_crop(rgb: np.ndarray, degrees: float, crop_degrees: float | None = None) -> np.ndarray:
    """Rotate about the centre and crop the largest upright rectangle free of empty corners,
    scaled back to the input size. ``crop_degrees`` sets the crop as if rotated by that much
    (so level and tilted examples are cropped alike and the crop is no cue)."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    r = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    a = np.radians(abs(crop_degrees if crop_degrees is not None else degrees))
    # largest rotated rectangle inscribed: scale factor of the crop
    s = min(1.0, 1.0 / (np.cos(a) + max(w / h, h / w) * np.sin(a)))
    cw, ch = max(16, int(w * s)), max(16, int(h * s))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(np.ascontiguousarray(r[y0 : y0 + ch, x0 : x0 + cw]), (w, h), interpolation=cv2.INTER_LINEAR)


def _level(rgb, rng, label, mask):
    deg = rng.uniform(6.0, 15.0) * rng.choice([-1.0, 1.0])
    if label.endswith("tilted"):
        return rotate_crop(rgb, deg)
    return rotate_crop(rgb, rng.uniform(-0.5, 0.5), crop_degrees=deg)


# ---------------------------------------------------------------------------------- focus
def defocus(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def subject_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A soft elliptical subject region (for photos without a person), 12-35% of the frame."""
    h, w = shape
    m = np.zeros((h, w), np.float32)
    area = rng.uniform(0.12, 0.35) * h * w
    aspect = rng.uniform(0.5, 1.6)
    ax = np.sqrt(area / np.pi * aspect)
    ay = area / (np.pi * ax)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.35, 0.75) * h
    cv2.ellipse(m, (int(cx), int(cy)), (int(ax), int(ay)), 0, 0, 360, 1.0, -1)
    return m


def background_defocus(rgb: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Blur everything outside ``mask`` (HxW in [0, 1], any size), with a feathered edge."""
    h, w = rgb.shape[:2]
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    m = cv2.GaussianBlur(np.clip(m, 0, 1), (0, 0), max(1.0, 0.01 * max(h, w)))[..., None]
    soft = defocus(rgb, sigma).astype(np.float32)
    return np.clip(m * rgb + (1.0 - m) * soft + 0.5, 0, 255).astype(np.uint8)


def _focus(rgb, rng, label, mask):
    sigma = rng.uniform(0.006, 0.014) * max(rgb.shape[:2])
    kind = label.rsplit(".", 1)[1]
    if kind == "out":
        return defocus(rgb, sigma)
    if kind == "shallow":
        if mask is not None and 0.04 <= float((mask > 0.5).mean()) <= 0.65:
            return background_defocus(rgb, mask, sigma)
        return background_defocus(rgb, subject_mask(rgb.shape[:2], rng), sigma)
    return rgb  # deep: an untouched photo from a deep-focus source (see CONCEPTS)


# ---------------------------------------------------------------------------------- key
def tone_curve(rgb: np.ndarray, curve: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply a curve to lightness only (Lab L in [0, 1]), keeping hue and chroma."""
    lab = _lab(rgb)
    lab[..., 0] = np.clip(curve(lab[..., 0] / 100.0), 0, 1) * 100.0
    return _rgb(lab)


def _key(rgb, rng, label, mask):
    kind = label.rsplit(".", 1)[1]
    if kind == "high":
        g, lift = rng.uniform(1.8, 3.0), rng.uniform(0.2, 0.4)
        return tone_curve(rgb, lambda x: lift + (1 - lift) * (1 - (1 - x) ** g))
    if kind == "low":
        g, gain = rng.uniform(1.8, 3.0), rng.uniform(0.55, 0.85)
        return tone_curve(rgb, lambda x: gain * x**g)
    # neutral: a mid-exposed photo with moderate contrast, left as it is
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    p5, p95 = np.percentile(y, (5, 95))
    return rgb if 0.3 <= y.mean() <= 0.6 and 0.45 <= p95 - p5 <= 0.9 else None


# ---------------------------------------------------------------------------- day for night
def day_for_night(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A daylight exterior made to look shot at night, the way day-for-night is done on film and
    in the grade: (1) underexposed by 2.5-4 stops in linear light, the top of the frame (the
    sky) by up to 1.5 stops more; (2) a blue cast (red x 0.55-0.75, green x 0.75-0.9 of blue)
    and half the saturation gone; (3) crushed blacks (a black point at 2-6% and a contrast
    curve); (4) 3-14 point lights (warm or white lamps, windows, headlights: a bright core in a
    soft glow) in the lower four fifths of the frame; (5) a little sensor noise."""
    h, w = rgb.shape[:2]
    lin = (rgb.astype(np.float32) / 255.0) ** 2.2
    stops = rng.uniform(2.5, 4.0)
    ramp = np.clip(1.0 - np.linspace(0.0, 1.0, h, dtype=np.float32) / 0.45, 0.0, 1.0)[:, None, None]
    lin = lin * 2.0 ** (-(stops + rng.uniform(0.5, 1.5) * ramp))
    cast = np.array([rng.uniform(0.55, 0.75), rng.uniform(0.75, 0.9), 1.0], np.float32)
    lum = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    lin = (0.5 * lin + 0.5 * lum[..., None]) * cast
    x = np.clip(lin, 0, 1) ** (1 / 2.2)
    black = rng.uniform(0.02, 0.06)
    x = np.clip((x - black) / (1.0 - black), 0.0, 1.0) ** rng.uniform(1.1, 1.4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(3, 15))):
        cx, cy = rng.uniform(0, w), rng.uniform(0.2 * h, h)
        r = max(1.0, rng.uniform(0.004, 0.012) * max(h, w))
        colour = (
            np.array([1.0, 0.85, 0.55], np.float32) if rng.random() < 0.7 else np.array([1.0, 1.0, 1.0], np.float32)
        )
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r)
        light = np.exp(-d2 / 0.5) + 0.25 * np.exp(-d2 / 12.0)
        x = x + light[..., None] * colour * rng.uniform(0.7, 1.0)
    x = x + rng.normal(0.0, 0.01, x.shape).astype(np.float32)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _night(rgb, rng, label, mask):
    # only a photo bright enough to be daylight can be turned into night
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return day_for_night(rgb, rng) if y.mean() >= 0.3 else None


@dataclass(frozen=True)
class Concept:
    group: str
    labels: tuple[str, ...]
    fn: Callable
    needs_mask: bool = False
    #: labels that only untouched photos from suitable sources may have (see ``identity_ok``)
    identity_labels: tuple[str, ...] = ()


CONCEPTS: dict[str, Concept] = {
    "tones": Concept("color.tones", ("color.tones.warm", "color.tones.cool", "color.tones.blackwhite"), _tones),
    "saturation": Concept(
        "color.saturation",
        (
            "color.saturation.desaturated",
            "color.saturation.neutral",
            "color.saturation.pastel",
            "color.saturation.saturated",
        ),
        _saturation,
    ),
    "level": Concept("shot.level", ("shot.level.level", "shot.level.tilted"), _level),
    # deep focus cannot be made from a photo: it comes from untouched photos of deep-focus sources
    "focus": Concept(
        "shot.focus", ("shot.focus.deep", "shot.focus.shallow", "shot.focus.out"), _focus, True, ("shot.focus.deep",)
    ),
    "key": Concept("shot.lighting", ("shot.lighting.key.high", "shot.lighting.key.low", "shot.lighting.neutral"), _key),
    # night from daylight exteriors (no real night photos exist here): validated on generated data only
    "night": Concept("shot.timeofday", ("shot.timeofday.night",), _night),
}


def plan(concept: str, source_sha256: str, seed: int, identity_ok: bool = True) -> Recipe:
    """The recipe for one source image: a label drawn uniformly (by a hash of the image and seed)
    among the concept's labels; identity labels only where ``identity_ok``."""
    c = CONCEPTS[concept]
    labels = [l for l in c.labels if identity_ok or l not in c.identity_labels]
    rng = _rng(source_sha256, seed, concept + ":plan")
    return Recipe(concept, labels[int(rng.integers(len(labels)))], seed)


def apply(recipe: Recipe, rgb: np.ndarray, source_sha256: str, mask: np.ndarray | None = None) -> np.ndarray | None:
    """The generated frame, or None where this photo cannot carry the label."""
    c = CONCEPTS[recipe.concept]
    rng = _rng(source_sha256, recipe.seed, recipe.concept + ":apply")
    return c.fn(np.ascontiguousarray(rgb), rng, recipe.label, mask)


_mask_perception = None


def person_mask(frame) -> np.ndarray | None:
    """The person mask of ``frame`` (one segmenter per process, made on first use)."""
    global _mask_perception
    if _mask_perception is None:
        from ..perception import Perception

        _mask_perception = Perception(["person_mask"])
    return _mask_perception.perceive(frame).person_mask


def generate(frame, recipe: Recipe, source_sha256: str, mask_of: Callable | None = person_mask):
    """A working :class:`~cinemanet.media.Frame` made from ``frame`` by ``recipe`` (None where the
    photo does not qualify). ``mask_of(frame)`` gives the person mask for concepts that need one."""
    from ..media import load_image

    mask = mask_of(frame) if (mask_of is not None and CONCEPTS[recipe.concept].needs_mask) else None
    rgb = apply(recipe, frame.rgb, source_sha256, mask)
    return None if rgb is None else load_image(rgb)
