"""Analyse many videos: skip those already done, run files in parallel, never lose finished work.

Each video's sidecar is written atomically as soon as that video is done, so ``kill -9``
loses at most the videos in progress; re-running skips every video whose sidecar matches
its size, content hash, model and detector.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..media import Input, discover
from ..media.video import VIDEO_EXTENSIONS, VideoReadError, VideoSource
from .analyze import DEFAULT_DETECTOR, VideoAnalyzer, file_sha256
from .records import Video
from .sidecar import SidecarError, existing_sidecar, read_sidecar, remove_stale_temporaries, sidecar_path, write_sidecar


@dataclass
class FileResult:
    path: str
    status: str  # "done", "skipped" (sidecar up to date) or "error"
    sidecar: str | None = None
    error: str | None = None
    doc: dict | None = None  # the sidecar document (done and skipped)
    video: Video | None = None  # the typed record (done)
    seconds: float = 0.0
    frames: int = 0
    plan: object | None = None  # status "split": a ``video.split.SplitPlan`` for the engine to run


# progress events: (path, frames done, frames expected)
ProgressEvent = Callable[[str, int, int], None]


def up_to_date(
    video: Path, out_dir: Path | None, model: dict, hashed: dict | None = None
) -> tuple[Path | None, dict | None]:
    """The existing sidecar and its document if it matches this file and model, else (None, None).
    The content hash, when it had to be computed, is left in ``hashed["sha256"]`` for reuse."""
    sc = existing_sidecar(video, out_dir)
    if sc is None:
        return None, None
    try:
        doc = read_sidecar(sc)
    except SidecarError:
        return None, None
    f, m = doc.get("file", {}), doc.get("model", {})
    if f.get("size") != video.stat().st_size:
        return None, None
    if any(m.get(k) != model.get(k) for k in ("name", "version", "taxonomy", "detector", "detector_options")):
        return None, None
    sha = file_sha256(video)
    if hashed is not None:
        hashed["sha256"] = sha
    if f.get("sha256") != sha:
        return None, None
    return sc, doc


def _check_writable(folder: Path) -> None:
    if not folder.is_dir():
        raise VideoReadError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VideoReadError(f"cannot write the sidecar: output folder {folder} is read-only")


def process_one(
    analyzer: VideoAnalyzer,
    video: str,
    out_dir: str | None,
    compress: bool,
    force: bool,
    progress: ProgressEvent | None = None,
    stats: str | None = None,
    defer_split: float | None = None,
) -> FileResult:
    """Analyse one video and write its sidecar (or report it up to date, or its error).
    ``defer_split`` (seconds, engines that run ranges themselves): a video long enough to split
    is not analysed here; the result has status "split" and the plan (``video.split``)."""
    t0 = time.perf_counter()
    p = Path(video)
    out = Path(out_dir) if out_dir else None
    try:
        hashed: dict = {}
        if not force and stats is None and p.is_file():  # (a stats file needs the pass)
            sc, doc = up_to_date(p, out, analyzer.model_info(), hashed)
            if sc is not None:
                return FileResult(video, "skipped", str(sc), doc=doc, frames=doc["video"].get("frame_count", 0))
        target = sidecar_path(p, out, compress)
        # opened (and so probed) first: clear errors for unreadable input before anything else
        with VideoSource(p, fast=analyzer.fast_decode) as source:
            info = source.info
            _check_writable(target.parent)
            if defer_split and stats is None:
                from . import split

                plan = split.plan(
                    p,
                    split.range_frames(defer_split, info),
                    align=analyzer.split_align,
                    info=info,
                    detector=analyzer.detector_name,
                    detector_options=analyzer.detector_options,
                )
                if plan is not None:
                    plan.sha256 = hashed.get("sha256")
                    return FileResult(video, "split", str(target), plan=plan, frames=plan.n_frames)
            cb = (lambda done, total: progress(video, done, total)) if progress else None
            video_rec = analyzer.analyze_video(p, cb, source=source, sha256=hashed.get("sha256"), stats=stats)
        return _written(video, video_rec, target, out, compress, t0)
    except VideoReadError as e:
        return FileResult(video, "error", error=str(e), seconds=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - a bug must not sink the batch; reported with its place
        return _internal_error(video, e, t0)


def finish_split(
    analyzer: VideoAnalyzer, video: str, out_dir: str | None, compress: bool, plan, stitched
) -> FileResult:
    """A split video's sidecar from its stitched ranges (``video.split.finish``), written as
    :func:`process_one` writes it."""
    from . import split

    t0 = time.perf_counter()
    p = Path(video)
    out = Path(out_dir) if out_dir else None
    try:
        return _written(
            video, split.finish(analyzer, plan, stitched), sidecar_path(p, out, compress), out, compress, t0
        )
    except VideoReadError as e:
        return FileResult(video, "error", error=str(e), seconds=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - as in process_one
        return _internal_error(video, e, t0)


def _internal_error(video: str, e: Exception, t0: float) -> FileResult:
    tb = traceback.extract_tb(e.__traceback__)[-1]
    return FileResult(
        video,
        "error",
        error=f"internal error: {type(e).__name__}: {e} ({Path(tb.filename).name}:{tb.lineno})".splitlines()[0],
        seconds=time.perf_counter() - t0,
    )


def _written(video: str, video_rec: Video, target: Path, out: Path | None, compress: bool, t0: float) -> FileResult:
    """Write the sidecar of a finished video; its :class:`FileResult`."""
    p = Path(video)
    doc = video_rec.to_dict()
    remove_stale_temporaries(target)
    try:
        write_sidecar(doc, target)
    except PermissionError:
        raise VideoReadError(f"cannot write the sidecar: permission denied in {target.parent}") from None
    except OSError as e:
        raise VideoReadError(f"cannot write the sidecar: {e.strerror or e}") from None
    for other in (sidecar_path(p, out, not compress),):  # one sidecar per video
        if other.exists():
            other.unlink()
    return FileResult(
        video,
        "done",
        str(target),
        doc=doc,
        video=video_rec,
        seconds=time.perf_counter() - t0,
        frames=doc["video"]["frame_count"],
    )


_worker: dict = {}


def _init(detector: str, embeddings: bool, events, options: dict | None = None, split: float | None = None) -> None:
    from .lifeline import watch_parent

    watch_parent()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ..api import CinemaNet

    _worker["analyzer"] = VideoAnalyzer(
        CinemaNet(threads=1), detector=detector, embeddings=embeddings, detector_options=options, split_seconds=split
    )
    _worker["events"] = events


def _run(args) -> FileResult:
    video, out_dir, compress, force = args
    events = _worker["events"]
    return process_one(
        _worker["analyzer"], video, out_dir, compress, force, progress=lambda v, d, t: events.put((v, d, t))
    )


@dataclass
class BatchOptions:
    """What every engine needs to run a batch (see :mod:`cinemanet.engines`)."""

    out_dir: str | None = None
    compress: bool = False
    detector: str = DEFAULT_DETECTOR
    jobs: int = 1
    force: bool = False
    embeddings: bool = True
    progress: ProgressEvent | None = None
    analyzer: VideoAnalyzer | None = None  # reuse this one (single-process runs)
    detector_options: dict | None = None  # validated (``detectors.parse_options``)
    stats: str | None = None  # a CSV of per-frame detector scores (one video only)
    #: split videos of at least two ranges of this many seconds (``video.split``); None: the
    #: engine's default (local: never; ray: ``engines.ray.SPLIT_SECONDS``), 0: never
    split_seconds: float | None = None


def analyze_paths(
    paths: Iterable[str | os.PathLike | Input],
    *,
    out_dir: str | os.PathLike | None = None,
    compress: bool = False,
    detector: str = DEFAULT_DETECTOR,
    jobs: int = 1,
    force: bool = False,
    embeddings: bool = True,
    progress: ProgressEvent | None = None,
    analyzer: VideoAnalyzer | None = None,
    engine: str = "local",
    detector_options: dict | None = None,
    stats: str | os.PathLike | None = None,
    engine_options: dict | None = None,
    split_seconds: float | None = None,
) -> Iterator[FileResult]:
    """Analyse every video under ``paths`` (or these already discovered :class:`Input` s);
    yields one :class:`FileResult` per input, in order. ``detector_options``: validated
    options (``detectors.parse_options``); ``stats``: a CSV of per-frame detector scores (one
    video only); ``engine_options`` go to the engine (for ``ray``: ``address``); ``split_seconds``:
    split long videos into ranges of about this length (see :class:`BatchOptions`)."""
    from ..engines import create_engine

    paths = list(paths)
    if paths and all(isinstance(p, Input) for p in paths):
        inputs: list[Input] = paths
    else:
        inputs = list(discover(paths, VIDEO_EXTENSIONS, kind="videos"))
    opts = BatchOptions(
        str(out_dir) if out_dir else None,
        compress,
        detector,
        jobs,
        force,
        embeddings,
        progress,
        analyzer,
        detector_options,
        str(stats) if stats is not None else None,
        split_seconds,
    )
    if opts.stats is not None and sum(i.error is None for i in inputs) > 1:
        raise ValueError("a stats file is written for one video at a time")
    yield from create_engine(engine, **(engine_options or {})).analyze(inputs, opts)


def run_serial(inputs: list[Input], o: BatchOptions) -> Iterator[FileResult]:
    """One video at a time in this process (tagging in a second process, so decoding and
    tagging use both cores)."""
    own = o.analyzer is None
    analyzer = o.analyzer or VideoAnalyzer(
        detector=o.detector,
        embeddings=o.embeddings,
        tagging="process",
        detector_options=o.detector_options,
        split_seconds=o.split_seconds or None,
    )
    try:
        for inp in inputs:
            if inp.error:
                yield FileResult(inp.path, "error", error=inp.error)
            else:
                yield process_one(analyzer, inp.path, o.out_dir, o.compress, o.force, o.progress, stats=o.stats)
    finally:
        if own:
            analyzer.close()


def run_pool(inputs: list[Input], o: BatchOptions) -> Iterator[FileResult]:
    """``o.jobs`` worker processes, one video each at a time."""
    return _pool(
        inputs,
        o.out_dir,
        o.compress,
        o.detector,
        o.jobs,
        o.force,
        o.embeddings,
        o.progress,
        o.detector_options,
        o.split_seconds or None,
    )


def _pool(
    inputs, out, compress, detector, jobs, force, embeddings, progress, options=None, split=None
) -> Iterator[FileResult]:
    from concurrent.futures import ProcessPoolExecutor

    from multiprocessing.managers import SyncManager

    from .lifeline import watch_parent

    ctx = mp.get_context("spawn")
    manager = SyncManager(ctx=ctx)
    manager.start(watch_parent)
    events = manager.Queue()
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            try:
                ev = events.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if progress:
                progress(*ev)

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    try:
        pool = ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_init, initargs=(detector, embeddings, events, options, split)
        )
        try:
            futures = {}
            for inp in inputs:
                if inp.error is None:
                    futures[inp.path] = pool.submit(_run, (inp.path, out, compress, force))
            for inp in inputs:
                if inp.error:
                    yield FileResult(inp.path, "error", error=inp.error)
                else:
                    yield futures[inp.path].result()
        except BaseException:  # interrupted: drop queued videos, don't wait for those in progress
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    finally:
        stop.set()
        th.join(timeout=2)
        manager.shutdown()
