"""``local``: this machine. One video at a time in-process, or ``jobs`` worker processes."""

from __future__ import annotations

from typing import Iterator

from . import Engine, register_engine


@register_engine
class LocalEngine(Engine):
    name = "local"
    summary = "this machine: one video at a time, or --jobs worker processes (the default)"

    def analyze(self, inputs, opts) -> Iterator:
        from ..video.batch import run_pool, run_serial

        todo = [i for i in inputs if i.error is None]
        if opts.jobs <= 1 or len(todo) <= 1:
            return run_serial(inputs, opts)
        return run_pool(inputs, opts)
