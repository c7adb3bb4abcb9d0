"""Still-image decoding: any common file format to an upright 8-bit RGB working copy.

Large JPEGs are decoded at reduced size by the codec itself (DCT scaling), which is most of
the speed of tagging a folder of 1080p stills. Every failure becomes an ``ImageReadError``
with a one-line reason.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp"})

# Long side of the working copy every analyzer starts from (1080p JPEGs decode straight to it).
WORK_LONG_SIDE = 480
# Larger than any real still or film frame (16K is 134 MP); bigger headers are treated as bombs.
MAX_PIXELS = 180_000_000

ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow warns from 89 MP and refuses from 179 MP; our own limit above is the one users are promised.
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS)


class ImageReadError(Exception):
    """An input could not be decoded. ``str(err)`` is a one-line reason without the path."""


@dataclass
class Frame:
    """An upright RGB working copy of an image plus the size of the original.

    ``rgb`` is HxWx3 uint8 with its long side at most ``WORK_LONG_SIDE``; ``width`` and
    ``height`` are the original (upright) pixel dimensions reported to users.
    """

    rgb: np.ndarray
    width: int
    height: int
    path: str | None = None
    #: black bars trimmed from the working copy (top, bottom, left, right), in working pixels
    bars: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def aspect(self) -> float:
        return self.width / max(1, self.height)

    def view(self, long_side: int) -> np.ndarray:
        """The working copy scaled down to ``long_side`` (cached: analyzers share views)."""
        cache = self.__dict__.setdefault("_views", {})
        if long_side not in cache:
            h, w = self.rgb.shape[:2]
            if max(h, w) <= long_side:
                cache[long_side] = self.rgb
            else:
                import cv2

                tw, th = _fit(w, h, long_side)
                cache[long_side] = np.ascontiguousarray(cv2.resize(self.rgb, (tw, th), interpolation=cv2.INTER_AREA))
        return cache[long_side]


BAR_LEVEL = 24  # a row/column whose brightest pixel is below this (of 255) is a black bar
MIN_BAR = 0.02  # fraction of the side
MAX_BARS = 0.6  # never trim more than this: a dark or black frame stays whole


def trim_bars(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Remove letterbox/pillarbox bars so measurements describe the picture, not the bars."""
    h, w = rgb.shape[:2]
    if h < 16 or w < 16:
        return rgb, (0, 0, 0, 0)
    import cv2

    bright = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # numpy's max over channels is 20x slower
    rows = cv2.reduce(bright, 1, cv2.REDUCE_MAX).ravel() >= BAR_LEVEL
    cols = cv2.reduce(bright, 0, cv2.REDUCE_MAX).ravel() >= BAR_LEVEL
    if not rows.any() or not cols.any():
        return rgb, (0, 0, 0, 0)
    t, b = int(np.argmax(rows)), int(np.argmax(rows[::-1]))
    l, r = int(np.argmax(cols)), int(np.argmax(cols[::-1]))
    t, b = (t, b) if t + b <= MAX_BARS * h else (0, 0)
    l, r = (l, r) if l + r <= MAX_BARS * w else (0, 0)
    t, b = (t if t >= MIN_BAR * h else 0), (b if b >= MIN_BAR * h else 0)
    l, r = (l if l >= MIN_BAR * w else 0), (r if r >= MIN_BAR * w else 0)
    if t == b == l == r == 0:
        return rgb, (0, 0, 0, 0)
    return np.ascontiguousarray(rgb[t : h - b, l : w - r]), (t, b, l, r)


def _fit(w: int, h: int, long_side: int) -> tuple[int, int]:
    s = min(1.0, long_side / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def _to_rgb8(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; alpha is composited over black, as video would be."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max(initial=0) > 255 else 255.0
        a = np.clip(a * (255.0 / hi), 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        hi = 1.0 if a.max(initial=0) <= 1.0 else 255.0
        a = np.clip(a * (255.0 / hi), 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (0, 0, 0, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    if mode != "RGB":
        return im.convert("RGB")
    return im


def _open_path(path: Path) -> Image.Image:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageReadError("no such file or directory") from None
    except PermissionError:
        raise ImageReadError("permission denied") from None
    if path.is_dir():
        raise ImageReadError("is a directory, not an image file")
    if st.st_size == 0:
        raise ImageReadError("file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise ImageReadError("permission denied")
    return Image.open(path)


def load_image(source: Any, long_side: int = WORK_LONG_SIDE) -> Frame:
    """Decode a path, PIL image or array into a :class:`Frame`.

    Arrays are HxW (gray) or HxWx3/4 in RGB(A) order, uint8 or uint16 or float in [0, 1].
    """
    path: str | None = None
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        path = str(p.absolute())
        try:
            im = _decode(lambda: _open_path(p), long_side)
        except ImageReadError:
            raise
        except PermissionError:
            raise ImageReadError("permission denied") from None
        except OSError as e:
            raise ImageReadError(f"cannot read file: {e.strerror or e}") from None
    elif isinstance(source, Image.Image):
        im = _decode(lambda: source, long_side)
    elif isinstance(source, np.ndarray):
        return _frame_from_array(source, long_side)
    else:
        raise TypeError(f"cannot tag an object of type {type(source).__name__}; pass a path, PIL image or array")
    rgb, (w, h) = im
    rgb, bars = trim_bars(rgb)
    return Frame(rgb=rgb, width=w, height=h, path=path, bars=bars)


def _decode(opener, long_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = opener()
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageReadError(
                    f"image too large: {w}x{h} pixels is over the {MAX_PIXELS:,}-pixel limit (decompression bomb?)"
                )
            orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
            if orientation in (5, 6, 7, 8):
                w, h = h, w
            tw, th = _fit(im.size[0], im.size[1], long_side)
            if im.format == "JPEG" and im.mode in ("RGB", "L", "CMYK", "YCbCr"):
                im.draft("RGB" if im.mode != "CMYK" else "CMYK", (tw, th))
            im.load()
            im = ImageOps.exif_transpose(im)
            im = _to_rgb8(im)
            tw, th = _fit(im.size[0], im.size[1], long_side)
            if im.size != (tw, th):
                im = im.resize((tw, th), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return np.asarray(im), (w, h)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError("not a recognised image format (is it really an image?)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(f"image too large (decompression bomb?): {e}".split(". ")[0]) from None
    except (SyntaxError, ValueError, EOFError) as e:
        raise ImageReadError(f"corrupt image data: {e}") from None
    except OSError as e:
        msg = str(e)
        if "truncated" in msg or "broken data stream" in msg:
            raise ImageReadError("image is truncated or corrupt") from None
        if isinstance(e, PermissionError):
            raise ImageReadError("permission denied") from None
        raise ImageReadError(f"cannot decode image: {msg}") from None
    except MemoryError:
        raise ImageReadError("not enough memory to decode this image") from None


def _frame_from_array(a: np.ndarray, long_side: int) -> Frame:
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageReadError(f"array must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    if a.dtype == np.uint8:
        a8 = a
    elif a.dtype == np.uint16:
        a8 = (a >> 8).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        a8 = (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    else:
        raise ImageReadError(f"unsupported array dtype {a.dtype}")
    if a8.shape[2] == 1:
        a8 = np.repeat(a8, 3, axis=2)
    elif a8.shape[2] == 4:
        alpha = a8[..., 3:4].astype(np.uint16)
        a8 = (a8[..., :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    h, w = a8.shape[:2]
    tw, th = _fit(w, h, long_side)
    if (tw, th) != (w, h):
        import cv2

        a8 = cv2.resize(a8, (tw, th), interpolation=cv2.INTER_AREA)
    rgb, bars = trim_bars(np.ascontiguousarray(a8))
    return Frame(rgb=rgb, width=w, height=h, bars=bars)
