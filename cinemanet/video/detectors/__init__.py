"""Shot detectors, one module each; ``create_detector(name)`` builds one."""

from __future__ import annotations

import importlib

from .base import (
    Boundary,
    DetectorOptionError,
    Option,
    ShotDetector,
    create_detector,
    detector_names,
    detector_options,
    options_help,
    parse_options,
    register_detector,
    resolved_options,
)

# Modules that register a detector. Optional ones (their package may be missing) are skipped.
_MODULES = ("fast", "content", "transnet")


def _load_all() -> None:
    for m in _MODULES:
        try:
            importlib.import_module(f"{__name__}.{m}")
        except ImportError:
            pass


__all__ = [
    "Boundary",
    "DetectorOptionError",
    "Option",
    "ShotDetector",
    "create_detector",
    "detector_names",
    "detector_options",
    "options_help",
    "parse_options",
    "register_detector",
    "resolved_options",
]
