"""Run a list of analyzers over a frame and time each stage."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Iterable, Mapping

from ..media import Frame
from .analyzer import Analyzer, analyzer_class
from .evidence import Evidence


class StageTimer:
    """Accumulates seconds per named stage (decode, backbone, faces...)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds
        self.calls[stage] += 1

    def merge(self, other: Mapping[str, float], calls: Mapping[str, int] | None = None) -> None:
        for k, v in other.items():
            self.seconds[k] += v
            self.calls[k] += (calls or {}).get(k, 1)

    def per_call_ms(self) -> dict[str, float]:
        return {k: 1000 * v / max(1, self.calls[k]) for k, v in self.seconds.items()}


def _ordered(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    out: list[str] = []
    seen: set[str] = set()

    def visit(n: str, stack: tuple[str, ...] = ()) -> None:
        if n in seen:
            return
        if n in stack:
            raise ValueError(f"analyzer dependency cycle: {' -> '.join(stack + (n,))}")
        for dep in analyzer_class(n).after:
            if dep in names:
                visit(dep, stack + (n,))
        seen.add(n)
        out.append(n)

    for n in names:
        visit(n)
    return out


class Perception:
    """Builds the named analyzers once and runs them in dependency order.

    ``options`` maps an analyzer name to keyword arguments for its constructor.
    """

    def __init__(self, analyzers: Iterable[str], options: Mapping[str, dict] | None = None):
        options = options or {}
        self.names = _ordered(analyzers)
        self.analyzers: list[Analyzer] = [analyzer_class(n)(**options.get(n, {})) for n in self.names]
        self.timer = StageTimer()

    def perceive(self, frame: Frame, reuse: Evidence | None = None, reuse_names: Iterable[str] = ()) -> Evidence:
        """Evidence for ``frame``. Analyzers named in ``reuse_names`` are not run: their fields
        are copied from ``reuse`` (frames of one shot share what changes little within it)."""
        ev = Evidence(width=frame.width, height=frame.height)
        skip = set(reuse_names) if reuse is not None else set()
        for a in self.analyzers:
            if a.name in skip:
                for f in a.provides:
                    setattr(ev, f, getattr(reuse, f))
                continue
            t0 = time.perf_counter()
            a.analyze(frame, ev)
            self.timer.add(a.name, time.perf_counter() - t0)
        return ev
