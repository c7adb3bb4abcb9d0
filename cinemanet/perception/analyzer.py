"""The analyzer interface: one unit of perception that adds evidence about a frame.

An analyzer reads the working frame (and evidence earlier analyzers left) and fills its own
fields of :class:`Evidence`. New analyzers register by name; pipelines list names.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from ..media import Frame
from ..plugins import Registry
from .evidence import Evidence

#: name -> analyzer class: every public module of this package, and ``cinemanet.analyzers`` entry points
ANALYZERS: Registry[type["Analyzer"]] = Registry("analyzers", package="cinemanet.perception", noun="analyzer")


class Analyzer:
    name: ClassVar[str] = ""
    #: names of analyzers whose evidence this one reads (they run first)
    after: ClassVar[tuple[str, ...]] = ()
    #: the Evidence fields it fills (so a pipeline can reuse them from another frame)
    provides: ClassVar[tuple[str, ...]] = ()

    def analyze(self, frame: Frame, ev: Evidence) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def register_analyzer(name: str) -> Callable[[type[Analyzer]], type[Analyzer]]:
    """Class decorator: registers the analyzer as ``name`` (a second one of that name is an error)."""

    def deco(cls: type[Analyzer]) -> type[Analyzer]:
        cls.name = name
        return ANALYZERS.add(name, cls)

    return deco


def analyzer_class(name: str) -> type[Analyzer]:
    return ANALYZERS.get_plugin(name)
