"""Analyse a video in one streaming pass: find shots, tag frames sampled inside each shot,
aggregate them into the per-shot contract (``cinemanet.shot/1``), and build the sidecar.

Decoding runs in FFmpeg's threads; detection and bookkeeping in this thread; tagging of the
sampled frames in a separate process (or a thread, inside batch workers), so they overlap.
Memory is bounded: only references to a few dozen decoded frames of the open shot are kept
(4K and larger: their working copies), plus two numbers per frame; a closed shot keeps its
samples' indices, not the frames.
"""

from __future__ import annotations

import os
import queue
import threading
from array import array
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .._version import __version__
from ..media.video import DecodedFrame, KeptFrame, VideoInfo, VideoReadError, VideoSource
from ..results import _r
from ..util.files import file_sha256
from .detectors import Boundary, create_detector, resolved_options
from .records import TRANSITION_KINDS, FileFacts, Shot, Transition, Video
from .tagging import dominant_colors, tag_shot
from .tagworker import _ProcessTagger, claim
from .timecode import Timecode

DEFAULT_DETECTOR = "fast"
CANDIDATE_STEP = 3  # keep a reference to every 3rd decoded frame as a sampling candidate
DENSE_WINDOW = 96  # frames: detectors report a boundary up to about this late (fast: ~64)
MAX_OLD_CANDIDATES = 24  # older candidates of a long take are thinned to at most this many
RECENT_FRAMES = 8  # every one of the last few frames, for a clip shorter than CANDIDATE_STEP
# a candidate whose decoded picture is bigger than this keeps only its working copy (made when
# kept, the same pixels): a window of ~56 1080p pictures is 175 MB (8-bit 4:2:0) to 470 MB
# (10-bit 4:2:2) and stays as it is, 4K ProRes 422 would be 1.9 GB
PIN_LIMIT_BYTES = 10 * 2**20
Progress = Callable[[int, int], None]  # (frames done, frames expected)


class _Candidates:
    """References to decoded frames that may be sampled, for the shot still open.

    Every CANDIDATE_STEP-th frame is kept. Detectors report a boundary some frames late, so
    the recent past stays dense; a long take's older frames are thinned to evenly spaced ones.
    Memory is bounded whatever the length of the shot.
    """

    def __init__(self) -> None:
        self.frames: deque[DecodedFrame | KeptFrame] = deque()

    def add(self, f: DecodedFrame) -> None:
        if f.index % CANDIDATE_STEP:
            return
        # (the split replay's stubs carry an index only)
        if hasattr(f, "picture_bytes") and f.picture_bytes() > PIN_LIMIT_BYTES:
            f = f.kept()
        self.frames.append(f)
        old = [c for c in self.frames if c.index < f.index - DENSE_WINDOW]
        if len(old) > MAX_OLD_CANDIDATES:
            keep = set(id(c) for c in old[::2])
            self.frames = deque(c for c in self.frames if c.index >= f.index - DENSE_WINDOW or id(c) in keep)

    def take(self, start: int, end: int) -> list[DecodedFrame]:
        """The candidates of frames start..end; older ones are dropped."""
        out = [c for c in self.frames if start <= c.index <= end]
        while self.frames and self.frames[0].index <= end:
            self.frames.popleft()
        return out


@dataclass
class _ShotJob:
    number: int
    start: int
    end: int
    transition: Boundary | None
    keyframes: list[int]  # indices only: a held frame pins its decoded picture (3 MB at 1080p)


def samples_for(duration_s: float, n_frames: int) -> int:
    """How many frames to tag in a shot: averaging needs two; long takes get a third."""
    if n_frames < 2:
        return 1
    return 3 if duration_s > 4.0 else 2


def _pick(cands: list[DecodedFrame], k: int) -> list[DecodedFrame]:
    """``k`` evenly spaced candidates, away from the shot's ends when there is room."""
    n = len(cands)
    if n <= k:
        return list(cands)
    pos = np.linspace(0, n - 1, k + 2)[1:-1] if n >= k + 2 else np.linspace(0, n - 1, k)
    idx = sorted(set(int(round(p)) for p in pos))
    return [cands[i] for i in idx]


class _ThreadTagger:
    """Tags shots in a thread of this process (used inside batch workers: one process per file)."""

    def __init__(self, net, embeddings: bool):
        self.net, self.embeddings = net, embeddings
        self.jobs: queue.Queue = queue.Queue(maxsize=8)
        self.done: dict[int, dict] = {}
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while (job := self.jobs.get()) is not None:
                number, frames = job
                self.done[number] = tag_shot(self.net, frames, self.embeddings)
        except BaseException as e:  # noqa: BLE001 - re-raised in the decoding thread
            self.failure.append(e)
            while self.jobs.get() is not None:
                pass

    def submit(self, number: int, frames: list) -> None:
        while self.thread.is_alive() and not self.failure:
            try:
                self.jobs.put((number, frames), timeout=0.5)
                return
            except queue.Full:
                continue

    def stop(self) -> None:
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()

    def finish(self, expected: int | None = None) -> dict[int, dict]:
        self.stop()
        if self.failure:
            raise self.failure[0]
        return self.done


class ShotBook:
    """The shots of one pass over a video: candidates for sampling, the open shot, and each
    shot closed as its end boundary comes in (its samples picked and handed to ``submit``).

    It reads only frame indices (``f.index``), the frames' times and the boundaries, so the
    same code serves a real pass (``VideoAnalyzer.analyze_video``), a split range's pass and
    the replay that stitches split ranges (``video.split``), which therefore pick exactly the
    samples an unsplit pass picks. ``start``: the first frame of the open shot;
    ``skip_first``: the first shot began before ``start`` (a range's warm-up), so it is
    neither sampled nor submitted.
    """

    def __init__(self, fps, submit: Callable[[int, list], None], start: int = 0, times=None, skip_first: bool = False):
        self.skip_first = skip_first
        self.fps = fps
        self.submit = submit
        self.times = times if times is not None else array("d")
        self.cands = _Candidates()
        self.recent: deque = deque(maxlen=RECENT_FRAMES)
        self.start, self.incoming = start, None  # the open shot: first frame, and the boundary that began it
        self.number = 0
        self.jobs: dict[int, _ShotJob] = {}

    def frame(self, f) -> None:
        self.recent.append(f)
        self.cands.add(f)

    def boundaries(self, bs, now: int) -> None:
        """Boundaries reported after frame ``now`` was fed."""
        for b in bs:
            if self.start < b.frame <= now:
                self.close(b.frame - 1, b)

    def close(self, end: int, boundary: Boundary | None) -> None:
        start, number, times = self.start, self.number, self.times
        if number == 0 and self.skip_first:
            self.cands.take(start, end)
            self.number += 1
            if boundary is not None:
                self.start, self.incoming = boundary.frame, boundary
            return
        span = set()
        for b in (self.incoming, boundary):
            if b is not None and b.kind != "cut":
                span.update(range(b.start, b.end + 1))
        mine = self.cands.take(start, end) or [c for c in self.recent if start <= c.index <= end]
        if not mine:
            raise VideoReadError(f"internal error: no frame kept for shot {number} (frames {start}-{end})")
        clean = [c for c in mine if c.index not in span] or mine  # avoid mid-transition frames
        dur = times[end] - times[start] + (1.0 / float(self.fps))
        picked = _pick(clean, samples_for(dur, end - start + 1))
        mid = len(picked) // 2
        ordered = [picked[mid]] + picked[:mid] + picked[mid + 1 :]  # the middle one first
        self.jobs[number] = _ShotJob(number, start, end, self.incoming, [c.index for c in picked])
        self.submit(number, ordered)
        self.number += 1
        if boundary is not None:
            self.start, self.incoming = boundary.frame, boundary


class VideoAnalyzer:
    """Turns a video file into a ``cinemanet.video/1`` sidecar document.

    ``net`` is a :class:`cinemanet.CinemaNet` (created on first use if None); ``detector`` a
    registered shot detector name.
    """

    def __init__(
        self,
        net=None,
        detector: str = DEFAULT_DETECTOR,
        embeddings: bool = True,
        fast_decode: bool = True,
        tagging: str = "thread",
        model: str = "default",
        detector_options: dict | None = None,
        split_seconds: float | None = None,
        split_align: str = "keyframe",
    ):
        if tagging not in ("thread", "process"):
            raise ValueError("tagging must be 'thread' or 'process'")
        self._net = net
        self.model = str(net.spec.root / "model.yaml") if net is not None else model
        self.detector_name = detector
        self.detector_options = dict(detector_options or {})
        create_detector(detector, **self.detector_options)  # fail early on an unknown name or option
        self.embeddings = embeddings
        self.fast_decode = fast_decode
        self.tagging = tagging
        #: videos of at least two ranges of this length are split at keyframes, analysed range
        #: by range and stitched (``video.split``): the same document as one pass
        self.split_seconds = split_seconds
        self.split_align = split_align
        self._tagger: _ProcessTagger | None = None

    def close(self) -> None:
        """Stop the tagging process, if one was started."""
        if self._tagger is not None:
            self._tagger.close()
            self._tagger = None

    def __enter__(self) -> "VideoAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _process_tagger(self) -> _ProcessTagger:
        if self._tagger is None or not self._tagger.proc.is_alive() or self._tagger.failure:
            self.close()
            self._tagger = claim(self.model, self.embeddings) or _ProcessTagger(self.model, self.embeddings)
        self._tagger.begin()
        return self._tagger

    @property
    def net(self):
        if self._net is None:
            from ..api import CinemaNet

            self._net = CinemaNet(self.model)
        return self._net

    def model_info(self) -> dict:
        from ..concepts import model_spec
        from ..taxonomy import get_taxonomy

        spec = self._net.spec if self._net is not None else model_spec(self.model)
        return {
            "name": spec.name,
            "version": spec.version,
            "taxonomy": get_taxonomy().version,
            "detector": self.detector_name,
            "detector_options": resolved_options(self.detector_name, self.detector_options),
            "cinemanet": __version__,
        }

    def analyze(
        self, path: str | os.PathLike, progress: Progress | None = None, stats: str | os.PathLike | None = None
    ) -> dict:
        """The sidecar document for ``path`` (``analyze_video(...).to_dict()``). Raises
        VideoReadError for unreadable input. ``stats``: also write the detector's per-frame
        scores to this CSV file."""
        return self.analyze_video(path, progress, stats=stats).to_dict()

    def analyze_video(
        self,
        path: str | os.PathLike,
        progress: Progress | None = None,
        *,
        source: VideoSource | None = None,
        sha256: str | None = None,
        stats: str | os.PathLike | None = None,
    ) -> Video:
        """The typed :class:`~.records.Video` for ``path``. Raises VideoReadError for unreadable
        input. ``source`` (``path`` opened and probed, decoder settings as :attr:`fast_decode`)
        and ``sha256`` (its content hash), when the caller has them already, are not made
        again; the caller closes its source."""
        p = Path(path)
        if source is None:
            with VideoSource(p, fast=self.fast_decode) as own:
                return self.analyze_video(p, progress, source=own, sha256=sha256, stats=stats)
        info = source.info
        if self.split_seconds and stats is None:
            from . import split

            plan = split.plan(
                p,
                split.range_frames(self.split_seconds, info),
                align=self.split_align,
                info=info,
                detector=self.detector_name,
                detector_options=self.detector_options,
            )
            if plan is not None:
                plan.sha256 = sha256
                try:
                    return split.analyze_split(self, plan, progress)
                except split.SplitError:
                    pass  # analysed in one pass below
        detector = create_detector(self.detector_name, **self.detector_options)
        writer = None
        if stats is not None:
            from .stats import StatsWriter

            writer = StatsWriter(stats, detector.stats_columns)
            detector.stats_sink = writer
        apath = str(p.absolute())
        tagger = self._new_tagger()

        def submit(number: int, ordered: list[DecodedFrame]) -> None:
            tagger.submit(number, [f.working_frame(info.width, info.height, apath) for f in ordered])

        shots = ShotBook(info.fps, submit)
        times, motion = shots.times, array("f")  # per frame: time; mean abs luma change from the previous one
        prev_y = None
        expected = max(info.frame_count, 1)
        last = -1

        ok = False
        try:
            for f in source.frames():
                if tagger.failure:
                    break
                times.append(f.time)
                if writer is not None:
                    writer.frame(f.index, f.time)
                y = f.small[..., 0]
                # the L1 norm is the exact integer sum: the same value as absdiff().mean(), cheaper
                motion.append(cv2.norm(y, prev_y, cv2.NORM_L1) / y.size / 255.0 if prev_y is not None else 0.0)
                prev_y = y
                shots.frame(f)
                shots.boundaries(detector.process_decoded(f), f.index)
                last = f.index
                if progress and f.index % 24 == 0:
                    progress(f.index + 1, expected)
            shots.boundaries(detector.flush(), last)
            if last >= 0 and not tagger.failure:
                shots.close(last, None)
            ok = True
        finally:
            if writer is not None:
                writer.close(ok)
            if not ok and isinstance(tagger, _ThreadTagger):
                tagger.stop()  # a process tagger carries on with the next video
        number = shots.number
        if not tagger.failure:  # while the tagger finishes the last shots: a core is free
            sha256 = sha256 or file_sha256(p)
            self.model_info()  # loads the model's spec, once
        done = tagger.finish(number)
        if progress:
            progress(last + 1, last + 1)
        return self._document(
            p,
            info,
            [done[i] for i in range(number)],
            [shots.jobs[i] for i in range(number)],
            times,
            motion,
            last + 1,
            sha256,
        )

    def _new_tagger(self):
        return self._process_tagger() if self.tagging == "process" else _ThreadTagger(self.net, self.embeddings)

    # --- the document --------------------------------------------------------------------------
    def _document(
        self,
        p: Path,
        info: VideoInfo,
        tagged: list[dict],
        jobs: list[_ShotJob],
        times,
        motion,
        n_frames: int,
        sha256: str | None = None,
    ) -> Video:
        fps = info.fps
        frame_dur = 1.0 / float(fps)
        t0 = times[0] if n_frames else 0.0  # times count from the first frame, as players show them
        shots = []
        for i, (t, job) in enumerate(zip(tagged, jobs)):
            keyframes = job.keyframes[:3]
            s, e = job.start, job.end
            end_time = times[e + 1] if e + 1 < n_frames else times[e] + frame_dur
            seg = motion[s + 1 : e + 1]
            tr = job.transition
            shot = Shot(
                path=str(p.absolute()),
                shot=i,
                start_frame=s,
                end_frame=e,
                start_time=round(times[s] - t0, 6),
                end_time=round(end_time - t0, 6),
                start_timecode=str(Timecode.from_seconds(times[s] - t0, fps)),
                end_timecode=str(Timecode.from_seconds(times[e] - t0, fps)),
                groups=t["groups"],
                tags=t["tags"],
                description=t["description"],
                keyframes=keyframes,
                keyframe_times=[round(times[k] - t0, 6) for k in keyframes],
                dominant_colors=t["dominant_colors"],
                motion=_r(float(np.mean(seg)) if len(seg) else 0.0),
                transition=_transition(tr, times, t0, n_frames, frame_dur),
            )
            if t["embedding"] is not None:
                shot.embedding = t["embedding"]
            shots.append(shot)
        st = p.stat()
        video = info.to_dict()
        video["frame_count"] = n_frames  # decoded, not the container's estimate
        video["start_time"] = round(t0, 6)  # the first frame's own timestamp
        video["duration"] = round(times[n_frames - 1] - t0 + frame_dur, 6) if n_frames else 0.0
        return Video(
            path=str(p.absolute()),
            file=FileFacts(size=st.st_size, sha256=sha256 or file_sha256(p), mtime=st.st_mtime),
            model=self.model_info(),
            video=video,
            created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            shots=shots,
        )


def _transition(b: Boundary | None, times, t0: float, n_frames: int, frame_dur: float) -> Transition:
    """How a shot begins: "start" for the first shot, else the boundary's kind ("other" for
    a kind outside the contract) and its span, frames inclusive, times with the end exclusive."""
    if b is None:
        return Transition(kind="start", start_frame=0, end_frame=0, start_time=0.0, end_time=0.0)
    kind = b.kind if b.kind in TRANSITION_KINDS[1:] else "other"
    s, e = max(0, b.start), min(max(b.end, b.start), n_frames - 1)
    end_time = times[e + 1] if e + 1 < n_frames else times[e] + frame_dur
    return Transition(
        kind=kind, start_frame=s, end_frame=e, start_time=round(times[s] - t0, 6), end_time=round(end_time - t0, 6)
    )


__all__ = ["ShotBook", "VideoAnalyzer", "file_sha256", "dominant_colors", "samples_for"]
