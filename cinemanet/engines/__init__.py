"""Execution engines: how a batch of videos is run (one process, a local pool, later a cluster).

An engine is a class with ``name``, ``summary`` and :meth:`Engine.analyze`, registered with
:func:`register_engine` in its own module here, or from the ``cinemanet.engines`` entry-point
group. ``cinemanet.video.batch.analyze_paths(..., engine=NAME)`` picks one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Iterator

from ..plugins import Registry

if TYPE_CHECKING:
    from ..media import Input
    from ..results import TagError, TagResult
    from ..video.batch import BatchOptions, FileResult

DEFAULT_ENGINE = "local"

#: name -> engine class
ENGINES: Registry[type["Engine"]] = Registry("engines", package="cinemanet.engines", noun="engine")


class EngineError(Exception):
    """An engine cannot run (a cluster unreachable, ...). ``str(e)`` is one line that says why."""


class Engine:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def analyze(self, inputs: "list[Input]", opts: "BatchOptions") -> "Iterator[FileResult]":
        """Analyse every input (discovered already; those with ``error`` set are reported, not
        run) and yield one result per input, in input order, each as soon as it is final."""
        raise NotImplementedError

    def tag(
        self, inputs: "list[Input]", model: str, *, embeddings: bool = False, jobs: int | None = None
    ) -> "Iterator[TagResult | TagError]":
        """Tag still images (``cinemanet tag`` over folders): one result per input, in input order.
        By default this machine's worker processes (:func:`cinemanet.api.tag_files`)."""
        from ..api import tag_files

        return tag_files(inputs, model, embeddings=embeddings, jobs=jobs)

    def features(self, jobs: list[tuple], names: tuple[str, ...], workers: int | None = None) -> Iterator:
        """Head input features (training's feature cache, ``training.featurecache``): for each
        ``(path, recipe, source_sha256)`` its feature row, None (a generated example that does
        not apply) or a one-line reason it could not be read; in input order. By default this
        machine's worker processes."""
        from ..training.featurecache import local_features

        return local_features(jobs, names, workers)


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: registers ``cls`` under ``cls.name``."""
    return ENGINES.add(cls.name, cls)


def create_engine(name: str = DEFAULT_ENGINE, **params) -> Engine:
    return ENGINES.get_plugin(name)(**params)


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "EngineError", "create_engine", "register_engine"]
