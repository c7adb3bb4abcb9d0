"""The tagging process of ``cinemanet analyze``: it tags the frames sampled in each shot while
the parent decodes.

Kept free of heavy imports (numpy, OpenCV, ONNX Runtime load in the child), so the CLI can
start the process (:func:`prestart`) before it imports the rest; the child's start-up then
runs on the core the parent's own start-up leaves idle.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue

#: shots that may wait for the tagging process; a full queue holds decoding back
JOBS_QUEUED = 16


def configure_worker() -> None:
    """Settings of the tagging process, applied before numpy and OpenCV load: one thread for
    each library (ONNX Runtime gets one from ``CinemaNet(threads=1)``). The process has one
    core's worth of work; more pools only add threads that contend with the decoder's. Its
    priority is left alone: niced (+10) it was no faster, and under load it lags behind
    decoding and then finishes alone."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import cv2

    cv2.setNumThreads(1)


def _tag_process(model: str, embeddings: bool, jobs, results) -> None:
    from .lifeline import watch_parent

    watch_parent()
    configure_worker()
    try:
        from ..api import CinemaNet
        from .tagging import tag_shot

        net = CinemaNet(model, threads=1)
        while (job := jobs.get()) is not None:
            video, number, frames = job
            results.put((video, number, tag_shot(net, frames, embeddings)))
    except BaseException as e:  # noqa: BLE001 - sent to the parent, which raises it
        results.put((None, -1, f"{type(e).__name__}: {e}"))
        return
    # every result is with the parent once the queue's feeder is flushed: skip the
    # interpreter's tear-down of the models, which the parent would wait for in close()
    results.close()
    results.join_thread()
    os._exit(0)


class _ProcessTagger:
    """Tags shots in a separate process, so decoding (FFmpeg threads plus the GIL-holding
    bookkeeping in this process) and tagging run truly side by side on two cores. The process
    is started once and serves every video of a batch."""

    def __init__(self, model: str, embeddings: bool):
        ctx = mp.get_context("spawn")
        self.model, self.embeddings = model, embeddings
        self.jobs = ctx.Queue(maxsize=JOBS_QUEUED)
        self.results = ctx.Queue()
        self.proc = ctx.Process(target=_tag_process, args=(model, embeddings, self.jobs, self.results), daemon=True)
        self.proc.start()
        self.video = 0
        self.done: dict[int, dict] = {}
        self.failure: list[str] = []

    def begin(self) -> None:
        """Start a new video: results still in flight for an earlier one are ignored."""
        self.video += 1
        self.done = {}

    def _drain(self, block: bool = False) -> None:
        while True:
            try:
                video, number, res = self.results.get(block, timeout=1.0 if block else None)
            except queue.Empty:
                return
            if number < 0:
                self.failure.append(res)
            elif video == self.video:
                self.done[number] = res
            block = False

    def submit(self, number: int, frames: list) -> None:
        self._drain()
        while not self.failure:
            if not self.proc.is_alive():
                self.failure.append("the tagging process died")
                break
            try:
                self.jobs.put((self.video, number, frames), timeout=0.5)
                return
            except queue.Full:
                self._drain()

    def finish(self, expected: int) -> dict[int, dict]:
        while len(self.done) < expected and not self.failure:
            if not self.proc.is_alive() and self.results.empty():
                self.failure.append("the tagging process ended early")
                break
            self._drain(block=True)
        if self.failure:
            raise RuntimeError(f"tagging failed: {self.failure[0]}")
        return self.done

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.jobs.put(None, timeout=1)
            except queue.Full:
                pass
            self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()


_prestarted: _ProcessTagger | None = None


def prestart(model: str = "default", embeddings: bool = True) -> None:
    """Start a tagging process now, for the first :class:`~.analyze.VideoAnalyzer` that asks
    for one with this model (see :func:`claim`)."""
    global _prestarted
    if _prestarted is None:
        _prestarted = _ProcessTagger(model, embeddings)


def claim(model: str, embeddings: bool) -> _ProcessTagger | None:
    """The prestarted tagging process if it serves this model (it is then the caller's)."""
    global _prestarted
    t = _prestarted
    if t is None or (t.model, t.embeddings) != (model, embeddings) or not t.proc.is_alive():
        return None
    _prestarted = None
    return t


def discard() -> None:
    """Stop a prestarted tagging process nobody claimed: at once, it holds no work (a clean
    close would wait for it to finish loading the models)."""
    global _prestarted
    t, _prestarted = _prestarted, None
    if t is not None:
        t.proc.terminate()
        t.proc.join(timeout=10)
