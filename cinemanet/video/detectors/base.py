"""The shot-detector interface (after PySceneDetect's ``SceneDetector``).

A detector sees every frame once, in order, as a tiny YUV image (36x64, limited-range
Y'CbCr as stored, see ``media.video._small_yuv``), and reports boundaries as soon as it is
sure of them: possibly some frames late (the fast detector about 64), always in frame order.
It keeps only a bounded window of history, so memory does not grow with the length of the
video. A detector object serves one video; create a new one per video.
Register implementations with :func:`register_detector`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...plugins import Registry

#: name -> detector class: the built-ins of this package and the ``cinemanet.detectors`` entry points
DETECTORS: Registry[type["ShotDetector"]] = Registry("detectors", package="cinemanet.video.detectors", noun="shot detector")


@dataclass(frozen=True)
class Boundary:
    """The start of a new shot.

    ``frame`` is the first frame of the new shot. For a hard cut ``start == end == frame``;
    for a gradual transition ``start``..``end`` (inclusive) is the span of the fade or
    dissolve and ``frame`` lies inside it (its middle).
    """

    frame: int
    kind: str  # "cut", "fade" or "dissolve"
    start: int
    end: int
    score: float = 1.0


class ShotDetector:
    name: ClassVar[str] = ""
    #: one line for `cinemanet analyze --help` and the benchmark tables
    summary: ClassVar[str] = ""

    def process(self, index: int, time: float, small: np.ndarray) -> list[Boundary]:
        """Feed frame ``index`` (HxWx3 uint8 YUV, planes at one small size). Returns any
        boundaries now certain (possibly for earlier frames)."""
        raise NotImplementedError

    def flush(self) -> list[Boundary]:
        """End of video: boundaries still pending."""
        return []


def register_detector(cls: type[ShotDetector]) -> type[ShotDetector]:
    """Class decorator: registers ``cls`` under ``cls.name`` (a second detector of that name is an error)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name")
    return DETECTORS.add(cls.name, cls)


def detector_names() -> list[str]:
    return sorted(DETECTORS)


def create_detector(name: str, **params) -> ShotDetector:
    return DETECTORS.get_plugin(name)(**params)
