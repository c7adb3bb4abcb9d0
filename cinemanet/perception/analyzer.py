"""The analyzer interface: one unit of perception that adds evidence about a frame.

An analyzer reads the working frame (and evidence earlier analyzers left) and fills its own
fields of :class:`Evidence`. New analyzers register by name; pipelines list names.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from ..media import Frame
from .evidence import Evidence

_REGISTRY: dict[str, type["Analyzer"]] = {}


class Analyzer:
    name: ClassVar[str] = ""
    #: names of analyzers whose evidence this one reads (they run first)
    after: ClassVar[tuple[str, ...]] = ()
    #: the Evidence fields it fills (so a pipeline can reuse them from another frame)
    provides: ClassVar[tuple[str, ...]] = ()

    def analyze(self, frame: Frame, ev: Evidence) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def register_analyzer(name: str) -> Callable[[type[Analyzer]], type[Analyzer]]:
    def deco(cls: type[Analyzer]) -> type[Analyzer]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"analyzer {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def analyzer_class(name: str) -> type[Analyzer]:
    from . import backbone, measure, people, text  # noqa: F401  (registration side effects)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown analyzer {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
