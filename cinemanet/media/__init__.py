"""Decoding: files and in-memory images to upright RGB working frames."""

from .discover import Input, discover
from .images import IMAGE_EXTENSIONS, Frame, ImageReadError, load_image

__all__ = ["Frame", "IMAGE_EXTENSIONS", "ImageReadError", "Input", "discover", "load_image"]
