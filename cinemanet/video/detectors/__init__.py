"""Shot detectors, one module each; ``create_detector(name)`` builds one.

Every public module of this package is a plug-in (see :mod:`cinemanet.plugins`); a module whose
optional dependency is missing is listed as unavailable by ``cinemanet plugins``.
"""

from __future__ import annotations

from .base import DETECTORS, Boundary, ShotDetector, create_detector, detector_names, register_detector

__all__ = ["DETECTORS", "Boundary", "ShotDetector", "create_detector", "detector_names", "register_detector"]
