"""The Python API: ``CinemaNet().tag(path_or_PIL_or_array)``.

The CLI, the benchmarks and training all go through this class, so they see the same model.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from .concepts import ConceptModel, model_spec
from .concepts.describe import describe
from .media import Frame, ImageReadError, Input, load_image
from .perception import Evidence, Perception, StageTimer
from .results import GroupPrediction, TagError, TagResult

# Below this many images a worker pool costs more to start than it saves.
POOL_MIN_IMAGES = 12


class CinemaNet:
    """Tags images with all 14 concept groups of the CinemaNet taxonomy.

    ``model`` is a packaged model name (``"default"``) or a path to a ``model.yaml``.
    ``threads`` sets the backbone's ONNX Runtime threads (default: all cores).
    """

    def __init__(self, model: str | Path = "default", *, threads: int | None = None):
        self.spec = model_spec(model)
        self.concepts = ConceptModel(self.spec)
        # the sentence leaves out groups capped for want of real validation (angle, level,
        # lighting, colour theory and key): they stay in `groups` and `tags` at their capped score
        self._unsaid = frozenset(g for g, gs in self.spec.groups.items() if gs.cap is not None)
        threads = threads or os.cpu_count() or 1
        options = {k: dict(v) for k, v in self.spec.analyzer_options.items()}
        for name in ("backbone", "text"):
            options.setdefault(name, {}).setdefault("threads", threads)
        self.perception = Perception(self.concepts.analyzers, options)
        self.timer: StageTimer = self.perception.timer

    @property
    def version(self) -> str:
        return f"{self.spec.name}-{self.spec.version}"

    @property
    def taxonomy(self):
        return self.concepts.taxonomy

    def load(self, source: Any) -> Frame:
        t0 = time.perf_counter()
        frame = load_image(source)
        self.timer.add("decode", time.perf_counter() - t0)
        return frame

    def evidence(self, source: Any) -> Evidence:
        frame = source if isinstance(source, Frame) else self.load(source)
        return self.perception.perceive(frame)

    def tag(self, source: Any, *, embeddings: bool = False) -> TagResult:
        """Tag one image (path, PIL image, or HxW[xC] array). Raises ``ImageReadError``."""
        frame = source if isinstance(source, Frame) else self.load(source)
        return self.result(self.perception.perceive(frame), path=frame.path, embeddings=embeddings)

    def result(self, ev: Evidence, *, path: str | None = None, embeddings: bool = False) -> TagResult:
        """Scores, labels, tags and description from evidence."""
        t0 = time.perf_counter()
        scores = self.concepts.scores(ev)
        self.timer.add("concepts", time.perf_counter() - t0)
        return self.result_from_scores(
            scores, ev.width, ev.height, path=path, embedding=ev.embedding if embeddings else None
        )

    def result_from_scores(self, scores, width: int, height: int, *, path=None, embedding=None) -> TagResult:
        """Labels, tags and description from per-group scores (also used for shot averages)."""
        t0 = time.perf_counter()
        groups, tags = self.concepts.decide(scores)
        text = describe({g: None if g in self._unsaid else r.label for g, r in groups.items()}, tags)
        self.timer.add("concepts", time.perf_counter() - t0)
        return TagResult(
            path=path,
            width=width,
            height=height,
            groups={g: GroupPrediction(r.label, r.confidence, r.scores) for g, r in groups.items()},
            tags=tags,
            description=text,
            embedding=[float(x) for x in embedding] if embedding is not None else None,
        )

    def tag_inputs(
        self,
        inputs: Iterable[Input],
        *,
        embeddings: bool = False,
        jobs: int | None = None,
    ) -> Iterator[TagResult | TagError]:
        """Tag many files in input order; unreadable ones yield a :class:`TagError` and the
        batch goes on. ``jobs`` > 1 spreads the work over that many processes."""
        return tag_files(inputs, self.spec.root / "model.yaml", embeddings=embeddings, jobs=jobs, net=self)


def tag_files(
    inputs: Iterable[Input],
    model: str | Path = "default",
    *,
    embeddings: bool = False,
    jobs: int | None = None,
    net: CinemaNet | None = None,
    timer: StageTimer | None = None,
) -> Iterator[TagResult | TagError]:
    """Tag files in input order, in this process or in ``jobs`` worker processes.

    Small batches run in-process (a worker costs about a second to start); ``net`` is then
    used, or created. Stage timings are added to ``timer`` (or ``net.timer``).
    """
    inputs = list(inputs)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    todo = [i for i in inputs if i.error is None]
    if jobs <= 1 or len(todo) < POOL_MIN_IMAGES:
        net = net or CinemaNet(model)
        for inp in inputs:
            yield _tag_one(net, inp, embeddings)
        if timer is not None and timer is not net.timer:
            timer.merge(net.timer.seconds, net.timer.calls)
        return
    spec = model_spec(model)
    timer = timer if timer is not None else (net.timer if net else StageTimer())
    yield from _tag_pool(inputs, str(spec.root / "model.yaml"), embeddings, jobs, timer)


def _tag_one(net: CinemaNet, inp: Input, embeddings: bool) -> TagResult | TagError:
    if inp.error is not None:
        return TagError(inp.path, inp.error)
    try:
        return net.tag(inp.path, embeddings=embeddings)
    except ImageReadError as e:
        return TagError(inp.path, str(e))
    except Exception as e:  # noqa: BLE001 - a bug must not sink the batch; reported on this input
        return TagError(inp.path, f"internal error: {type(e).__name__}: {e}".splitlines()[0])


_worker: dict[str, Any] = {}


def _init_worker(model: str) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _worker["net"] = CinemaNet(model, threads=1)


def _work(args: tuple[Input, bool]) -> tuple[TagResult | TagError, dict, dict]:
    inp, embeddings = args
    net: CinemaNet = _worker["net"]
    before = dict(net.timer.seconds), dict(net.timer.calls)
    res = _tag_one(net, inp, embeddings)
    secs = {k: v - before[0].get(k, 0.0) for k, v in net.timer.seconds.items()}
    calls = {k: v - before[1].get(k, 0) for k, v in net.timer.calls.items()}
    return res, secs, calls


def _tag_pool(inputs: list[Input], model: str, embeddings: bool, jobs: int, timer: StageTimer):
    # spawn, not fork: ONNX Runtime and MediaPipe hold threads. An executor (unlike
    # multiprocessing.Pool) fails fast with BrokenProcessPool if a worker cannot start.
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(model,)) as pool:
        for res, secs, calls in pool.map(_work, [(i, embeddings) for i in inputs], chunksize=2):
            timer.merge(secs, calls)
            yield res
