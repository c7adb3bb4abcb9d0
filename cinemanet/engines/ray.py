"""``ray``: a Ray cluster (``--engine ray [--ray-address ADDR]``), one task per video.

Each worker is a Ray actor holding a loaded model (loaded once, reused for every video it
gets); the driver sends it videos and yields the results in input order, as the local
engine does. Workers run :func:`cinemanet.video.batch.process_one`, the local engine's own
per-video path, so a video gives the same sidecar and the same shot list on either engine;
the driver does everything after (the catalog import, the output).

- Progress: workers report (video, frames done, frames expected) to a small actor at most a
  few times a second; the driver drains it into the same progress callback.
- Faults: an actor whose process dies is restarted by Ray and its task is retried
  (``max_restarts``/``max_task_retries``); the sidecar is written atomically, and catalog rows
  are written by the driver once per final result, so a retried video is never duplicated.
- Without an address a local Ray is started for the run (``num_cpus`` = cores, a 200 MB object
  store, no dashboard) and shut down after; with ``--ray-address`` (or ``$RAY_ADDRESS``) the
  cluster is joined, and left running. Every node needs cinemanet installed.

- Long videos (at least two ranges of ``split_seconds``, default :data:`SPLIT_SECONDS`) are
  split at keyframes (``cinemanet.video.split``): the worker that got the video returns the
  plan, the driver sends each range to an actor (``analyze_range``), stitches the detector
  outputs at proven hand-over frames (re-running a range from its neighbour's state where
  none is found) and an actor replays the shot bookkeeping, tags the shots no range tagged,
  and writes the sidecar: the same shot list as one pass, byte for byte. Ranges report
  progress under their video, summed into its one bar; a range whose worker dies is retried.
"""

from __future__ import annotations

import importlib.util
import os
import time
import uuid
from pathlib import Path
from typing import Iterator

from ..plugins import MissingDependency
from . import Engine, EngineError, register_engine

if importlib.util.find_spec("ray") is None:
    raise MissingDependency("the ray engine needs Ray: pip install 'cinemanet[scale]'")

OBJECT_STORE_BYTES = 200 * 1024 * 1024
MAX_TASK_RETRIES = 3
#: ranges of about this many seconds, for videos at least twice as long (``--split``)
SPLIT_SECONDS = 300.0
PROGRESS_EVERY_S = 0.25
POLL_S = 0.2
TAG_CHUNK = 16
FEATURE_CHUNK = 16
#: tests only: the worker exits hard on its first attempt at a video whose path contains this text
_DIE_ENV = "CINEMANET_TEST_RAY_DIE"


class _Progress:
    """Collects progress events from the workers until the driver takes them."""

    def __init__(self):
        self.events: dict[tuple[str, int | None], tuple[int, int]] = {}

    def report(self, video: str, done: int, total: int, part: int | None = None) -> None:
        self.events[(video, part)] = (done, total)

    def take(self) -> list[tuple[str, int | None, int, int]]:
        out = [(v, p, d, t) for (v, p), (d, t) in self.events.items()]
        self.events.clear()
        return out


class _Worker:
    """One model, loaded once; analyses the videos it is sent."""

    def __init__(self, detector: str, embeddings: bool, progress: str, detector_options: dict | None = None):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import ray

        from ..api import CinemaNet
        from ..video.analyze import VideoAnalyzer

        self.analyzer = VideoAnalyzer(
            CinemaNet(threads=1), detector=detector, embeddings=embeddings, detector_options=detector_options
        )
        # by name, not by handle: plain constructor arguments survive an actor's restart
        self.progress = ray.get_actor(progress)

    def run(self, video: str, out_dir: str | None, compress: bool, force: bool, marker: str | None, split: float = 0.0):
        from ..video.batch import process_one

        die = os.environ.get(_DIE_ENV)
        if die and marker and die in video and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # a worker killed mid-video (tests)
        last = [0.0]

        def report(v: str, done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or done >= total:
                last[0] = now
                self.progress.report.remote(v, done, total)

        return process_one(self.analyzer, video, out_dir, compress, force, progress=report, defer_split=split or None)

    def analyze_range(self, plan, spec, marker: str | None = None):
        """One range of a split video (``video.split.analyze_range``)."""
        from ..video.split import analyze_range

        die = os.environ.get(_DIE_ENV)
        last = [0.0]

        def report(done: int, total: int) -> None:
            if die and marker and spec.k == 1 and die in plan.path and done * 2 >= total and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)  # a worker killed mid-range (tests)
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or done >= total:
                last[0] = now
                self.progress.report.remote(plan.path, done, plan.n_frames, spec.k)

        return analyze_range(self.analyzer, plan, spec, progress=report)

    def finish_split(self, video: str, out_dir: str | None, compress: bool, plan, stitched):
        from ..video.batch import finish_split

        return finish_split(self.analyzer, video, out_dir, compress, plan, stitched)


class _Tagger:
    """One model for stills; tags the chunks of images it is sent."""

    def __init__(self, model: str):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from ..api import CinemaNet

        self.net = CinemaNet(model, threads=1)

    def run(self, inputs, embeddings: bool):
        from ..api import _tag_one

        return [_tag_one(self.net, inp, embeddings) for inp in inputs]


class _Features:
    """Head input features for training's cache: one Perception per actor."""

    def __init__(self):
        os.environ.setdefault("OMP_NUM_THREADS", "1")

    def run(self, jobs, names):
        from ..training.featurecache import features_chunk

        return features_chunk(jobs, tuple(names))


@register_engine
class RayEngine(Engine):
    name = "ray"
    summary = "a Ray cluster (--ray-address, else a local one): one task per video on actors holding the model"

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.workers = workers
        #: how the last batch's split videos went: path -> {"ranges", "resumed", "handovers"}
        self.splits: dict[str, dict] = {}

    def analyze(self, inputs, opts) -> Iterator:
        from ..video.batch import FileResult

        if opts.stats is not None:
            raise EngineError("--stats writes one video's per-frame scores on this machine: use --engine local")
        todo = [i for i in inputs if i.error is None]
        if not todo:
            return (FileResult(i.path, "error", error=i.error) for i in inputs)
        return self._run(inputs, todo, opts)

    def _init(self) -> bool:
        """Join or start Ray; True if this run started it (and so shuts it down)."""
        import ray

        if ray.is_initialized():
            return False
        if self.address:
            # Ray 2.60's `ray start` turns token auth on, but a driver joining it does not pick
            # up the saved token unless the mode is set: set it when the token is there
            if "RAY_AUTH_MODE" not in os.environ and (Path.home() / ".ray" / "auth_token").is_file():
                os.environ["RAY_AUTH_MODE"] = "token"
                try:  # Ray reads its config once, at import: refresh it, as Ray's own set-up does
                    from ray._raylet import Config

                    Config.initialize("")
                except (ImportError, AttributeError):
                    pass
            try:
                ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise EngineError(
                    f"cannot join the Ray cluster at {self.address}: "
                    f"{(str(e).strip().splitlines() or [type(e).__name__])[0]}"
                ) from None
        else:  # "local": a new instance, never one a stale /tmp/ray/ray_current_cluster points to
            ray.init(
                address="local",
                num_cpus=os.cpu_count() or 1,
                object_store_memory=OBJECT_STORE_BYTES,
                include_dashboard=False,
                log_to_driver=False,
            )
        return True

    def tag(self, inputs, model, *, embeddings=False, jobs=None) -> Iterator:
        """Stills in chunks of :data:`TAG_CHUNK` per task (a task costs about a millisecond, an image ~10)."""
        import ray

        inputs = list(inputs)
        started = self._init()
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            chunks = [inputs[i : i + TAG_CHUNK] for i in range(0, len(inputs), TAG_CHUNK)]
            n = max(1, min(len(chunks), self.workers or jobs or cpus))
            cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)(_Tagger)
            actors = [cls.remote(str(model)) for _ in range(n)]
            refs = [actors[k % n].run.remote(c, embeddings) for k, c in enumerate(chunks)]
            for ref in refs:
                yield from ray.get(ref)
        finally:
            if started:
                ray.shutdown()

    def features(self, jobs, names, workers=None) -> Iterator:
        """Training's features in chunks of :data:`FEATURE_CHUNK` per task, on actors that keep
        their Perception (models loaded once); rows come back in input order."""
        import ray

        jobs = list(jobs)
        started = self._init()
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            chunks = [jobs[i : i + FEATURE_CHUNK] for i in range(0, len(jobs), FEATURE_CHUNK)]
            n = max(1, min(len(chunks), self.workers or workers or cpus))
            cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)(_Features)
            actors = [cls.remote() for _ in range(n)]
            refs = [actors[k % n].run.remote(c, tuple(names)) for k, c in enumerate(chunks)]
            for ref in refs:
                yield from ray.get(ref)
        finally:
            if started:
                ray.shutdown()

    def _split(self, res, actors, opts, pump, marker_dir):
        """Run a split video's ranges on the actors, stitch them, and have an actor write it."""
        import ray

        from ..video import split as sp

        plan, n = res.plan, len(actors)
        t0 = time.perf_counter()
        plan_ref = ray.put(plan)
        specs = sp.range_specs(plan)
        tag = uuid.uuid4().hex[:8]
        marks = [os.path.join(marker_dir, f"{tag}.{s.k}.range.died") if marker_dir else None for s in specs]
        refs = [actors[s.k % n].analyze_range.remote(plan_ref, s, marks[s.k]) for s in specs]
        try:
            while len(ray.wait(refs, num_returns=len(refs), timeout=POLL_S)[0]) < len(refs):
                pump()
            results = ray.get(refs)

            def rerun(spec):
                ref = actors[spec.k % n].analyze_range.remote(plan_ref, spec, None)
                while not ray.wait([ref], timeout=POLL_S)[0]:
                    pump()
                return ray.get(ref)

            stitched = sp.stitch(plan, results, rerun)
        except (ray.exceptions.RayTaskError, sp.SplitError) as e:
            if not isinstance(e, sp.SplitError) and not isinstance(getattr(e, "cause", None), sp.SplitError):
                raise
            # this file cannot be split safely: one pass on one worker
            ref = actors[0].run.remote(res.path, opts.out_dir, opts.compress, True, None, 0.0)
            while not ray.wait([ref], timeout=POLL_S)[0]:
                pump()
            return ray.get(ref)
        ref = actors[len(specs) % n].finish_split.remote(res.path, opts.out_dir, opts.compress, plan_ref, stitched)
        while not ray.wait([ref], timeout=POLL_S)[0]:
            pump()
        pump()
        out = ray.get(ref)
        out.seconds = time.perf_counter() - t0
        self.splits[res.path] = {"ranges": len(specs), "resumed": stitched.resumed, "handovers": stitched.handovers}
        return out

    def _run(self, inputs, todo, opts) -> Iterator:
        import ray

        from ..video.batch import FileResult

        started = self._init()
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            split = SPLIT_SECONDS if opts.split_seconds is None else float(opts.split_seconds)
            n = max(1, self.workers or (opts.jobs if opts.jobs > 1 else cpus))
            if not split:  # (a split video keeps every worker busy, whatever the number of videos)
                n = min(len(todo), n)
            progress_name = f"cinemanet-progress-{uuid.uuid4().hex[:12]}"
            progress = ray.remote(num_cpus=0)(_Progress).options(name=progress_name).remote()
            worker_cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)(_Worker)
            env = {k: os.environ[k] for k in (_DIE_ENV,) if k in os.environ}
            actors = [
                worker_cls.options(runtime_env={"env_vars": env} if env else None).remote(
                    opts.detector, opts.embeddings, progress_name, opts.detector_options
                )
                for _ in range(n)
            ]
            marker_dir = os.environ.get(_DIE_ENV + "_DIR")
            refs = {}
            for k, inp in enumerate(todo):  # round robin: each actor's queue is worked in order
                marker = os.path.join(marker_dir, f"{k}.died") if marker_dir else None
                refs[inp.path] = actors[k % n].run.remote(
                    inp.path, opts.out_dir, opts.compress, opts.force, marker, split
                )
            parts: dict[str, dict[int, int]] = {}

            def pump() -> None:
                if opts.progress:
                    for v, part, d, t in ray.get(progress.take.remote()):
                        if part is None:
                            opts.progress(v, d, t)
                        else:  # a range of a split video: one bar for the video
                            got = parts.setdefault(v, {})
                            got[part] = max(got.get(part, 0), d)
                            opts.progress(v, min(sum(got.values()), t), t)

            for inp in inputs:
                if inp.error:
                    yield FileResult(inp.path, "error", error=inp.error)
                    continue
                ref = refs[inp.path]
                while not ray.wait([ref], timeout=POLL_S)[0]:
                    pump()
                pump()
                try:
                    res = ray.get(ref)
                    if res.status == "split":
                        res = self._split(res, actors, opts, pump, marker_dir)
                    yield res
                except ray.exceptions.RayError as e:  # retries used up: this video fails, the batch goes on
                    msg = (str(e).strip().splitlines() or [type(e).__name__])[-1]
                    yield FileResult(inp.path, "error", error=f"ray worker failed: {msg}"[:300])
        finally:
            if started:
                ray.shutdown()
