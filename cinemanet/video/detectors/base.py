"""The shot-detector interface (after PySceneDetect's ``SceneDetector``).

A detector sees every frame once, in order, as a tiny YUV image (36x64, limited-range
Y'CbCr as stored, see ``media.video._small_yuv``), and reports boundaries as soon as it is
sure of them: possibly some frames late (the fast detector about 64), always in frame order.
It keeps only a bounded window of history, so memory does not grow with the length of the
video. A detector object serves one video; create a new one per video.
Register implementations with :func:`register_detector`.

Options: each detector declares the options a user may set (``Option``: type, default,
range) in ``options``; :func:`parse_options` validates ``key=value`` strings against them
(``cinemanet analyze --detector-option``). Every detector also takes ``min_shot_len``
(frames): a boundary closer than that to the previous one is dropped.

Stats: a detector that sets ``stats_columns`` reports per-frame scores through
``self.stat(frame, column, value)`` to the sink the caller assigns to ``stats_sink``
(``cinemanet analyze --stats FILE.csv``), so a user can see why a cut was or was not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from ...plugins import Registry

#: name -> detector class: the built-ins of this package and the ``cinemanet.detectors`` entry points
DETECTORS: Registry[type["ShotDetector"]] = Registry(
    "detectors", package="cinemanet.video.detectors", noun="shot detector"
)


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


@dataclass(frozen=True)
class Option:
    """A user-settable detector option: ``type`` is float, int, bool or str; numbers must lie
    in ``lo``..``hi`` (inclusive), strings in ``choices``."""

    name: str
    type: type
    default: Any
    lo: float | None = None
    hi: float | None = None
    help: str = ""
    choices: tuple = ()

    def describe(self) -> str:
        if self.type is bool:
            rng = "true|false"
        elif self.choices:
            rng = "|".join(self.choices)
        else:
            rng = f"{_num(self.lo)}..{_num(self.hi)}"
        return f"{self.name}={_num(self.default)} ({rng})"

    def parse(self, text: str, detector: str) -> Any:
        where = f"detector option {self.name!r} of {detector!r}"
        if self.type is bool:
            t = text.strip().lower()
            if t in ("1", "true", "yes", "on"):
                return True
            if t in ("0", "false", "no", "off"):
                return False
            raise DetectorOptionError(f"{where}: {text!r} is not true or false")
        if self.type is str:
            if self.choices and text not in self.choices:
                raise DetectorOptionError(f"{where}: {text!r} is not one of {', '.join(self.choices)}")
            return text
        try:
            v = self.type(text)
        except ValueError:
            raise DetectorOptionError(
                f"{where}: {text!r} is not {'an integer' if self.type is int else 'a number'}"
            ) from None
        if v != v or (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise DetectorOptionError(f"{where}: {text} is out of range {_num(self.lo)}..{_num(self.hi)}")
        return v


def _num(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


class DetectorOptionError(ValueError):
    """An unknown detector option, or a value of the wrong type or out of range. ``str(err)``
    names the option and what it accepts."""


MIN_SHOT = Option("min_shot_len", int, 1, 1, 100_000, "shortest shot in frames; a closer boundary is dropped")


class ShotDetector:
    name: ClassVar[str] = ""
    #: one line for `cinemanet analyze --help` and the benchmark tables
    summary: ClassVar[str] = ""
    #: the options a user may set (besides ``min_shot_len``), with their ranges
    options: ClassVar[tuple[Option, ...]] = ()
    #: per-frame scores this detector reports to ``stats_sink``
    stats_columns: ClassVar[tuple[str, ...]] = ()
    stats_sink: Callable[[int, str, float], None] | None = None

    def stat(self, frame: int, column: str, value: float) -> None:
        if self.stats_sink is not None:
            self.stats_sink(frame, column, value)

    def process(self, index: int, time: float, small: np.ndarray) -> list[Boundary]:
        """Feed frame ``index`` (HxWx3 uint8 YUV, planes at one small size). Returns any
        boundaries now certain (possibly for earlier frames)."""
        raise NotImplementedError

    def process_decoded(self, frame) -> list[Boundary]:
        """Feed a decoded frame (``index``, ``time``, ``small``; ``cinemanet.media.video.DecodedFrame``).
        A detector that also looks at the picture in colour overrides this."""
        return self.process(frame.index, frame.time, frame.small)

    def flush(self) -> list[Boundary]:
        """End of video: boundaries still pending."""
        return []

    #: True if :meth:`sync_state` is implemented: a long video may then be split into
    #: ranges analysed apart (``cinemanet.video.split``)
    splittable: ClassVar[bool] = False

    def sync_state(self) -> bytes | None:
        """A digest of the state that decides every later output, comparable between two
        detectors fed the same frames from different starting points (the caller's frame
        indices, not counts of frames seen), or None where not known yet. Two detectors with
        equal digests after frame ``i`` report the same boundaries from there on, whatever
        each saw before: that is how split ranges are stitched exactly."""
        return None


def register_detector(cls: type[ShotDetector]) -> type[ShotDetector]:
    """Class decorator: registers ``cls`` under ``cls.name`` (a second detector of that name is an error)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name")
    return DETECTORS.add(cls.name, cls)


def detector_names() -> list[str]:
    return sorted(DETECTORS)


def detector_class(name: str) -> type[ShotDetector]:
    return DETECTORS.get_plugin(name)


def detector_options(name: str) -> tuple[Option, ...]:
    """Every option ``name`` accepts, ``min_shot_len`` last."""
    return (*detector_class(name).options, MIN_SHOT)


def parse_options(name: str, items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["key=value", ...]`` as typed, validated options of detector ``name``. Raises
    :class:`DetectorOptionError` naming the option and its range."""
    known = {o.name: o for o in detector_options(name)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DetectorOptionError(f"detector option {item!r}: expected key=value")
        if key not in known:
            raise DetectorOptionError(
                f"unknown option {key!r} for detector {name!r}; it takes: {', '.join(o.describe() for o in known.values())}"
            )
        out[key] = known[key].parse(value.strip(), name)
    return out


def resolved_options(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """All options of ``name`` with their values (defaults where not given): recorded in
    the sidecar, so changing any of them, or a default, means re-analysis."""
    return {o.name: (given or {}).get(o.name, o.default) for o in detector_options(name)}


def options_help() -> str:
    """One paragraph per detector for ``--help``: its options, defaults and ranges."""
    return "\n\n".join(f"{n}: " + "; ".join(o.describe() for o in detector_options(n)) for n in sorted(DETECTORS))


class _MinShot(ShotDetector):
    """Drops boundaries closer than ``min_len`` frames to the previous kept one (or to the
    first frame)."""

    def __init__(self, inner: ShotDetector, min_len: int):
        self.inner, self.min_len, self.last = inner, min_len, 0
        self.name, self.summary, self.stats_columns = inner.name, inner.summary, inner.stats_columns

    def __setattr__(self, key, value):
        if key == "stats_sink":
            self.inner.stats_sink = value
        object.__setattr__(self, key, value)

    def _keep(self, bs: list[Boundary]) -> list[Boundary]:
        out = []
        for b in bs:
            if b.frame - self.last >= self.min_len:
                out.append(b)
                self.last = b.frame
        return out

    def process(self, index, time, small):
        return self._keep(self.inner.process(index, time, small))

    def flush(self):
        out = self._keep(self.inner.flush())
        self.last = 0
        return out

    @property
    def splittable(self) -> bool:  # type: ignore[override]
        return self.inner.splittable

    def sync_state(self):
        inner = self.inner.sync_state()
        return None if inner is None else inner + self.last.to_bytes(8, "little", signed=True)


def create_detector(name: str, **params) -> ShotDetector:
    """A new detector ``name`` with ``params`` (Python values; see :func:`parse_options`)."""
    cls = detector_class(name)
    min_len = int(params.pop("min_shot_len", 1))
    det = cls(**params)
    return _MinShot(det, min_len) if min_len > 1 else det
