"""Long videos split into time ranges at keyframes, analysed apart, and stitched back into the
shot list an unsplit pass gives, byte for byte.

Plan (:func:`plan`): the video stream's packets are demuxed (not decoded) for every frame's
timestamp and the keyframes; the video is cut into ranges of about ``range_frames``, each
starting at a keyframe (``align="any"``: at any frame, for tests). Range ``k`` *owns* frames
``start_k .. start_{k+1}-1``.

Ranges (:func:`analyze_range`, one task each, in parallel): range ``k`` decodes from the
keyframe at least ``WARMUP`` frames before its start, feeding the shot detector from there
(warm-up), and goes on ``TAIL`` frames into the next range. The detector's state after every
``DIGEST_EVERY``-th frame of the overlap (the next range's first ``TAIL`` frames) is recorded as a digest
(``ShotDetector.sync_state``: its ring of recent frames, pending candidates, open fades and
dissolves, in the caller's frame numbers). Each range also picks and tags the samples of the
shots that start in it as an unsplit pass would, speculatively: such a shot usually gets
exactly the samples the unsplit pass picks, and its tags are then reused.

Stitching (:func:`stitch`): for each pair of neighbours the first overlap frame ``q`` where the
two detectors' digests agree is where the earlier range hands over: its boundaries reported
up to ``q`` are kept, the later range's from ``q + 1`` on. Equal state after ``q`` and the same
frames after it mean the same boundaries as one detector over the whole video: that is the
proof, not a heuristic. Where no overlap frame agrees (a long fade or a chain of dissolve
candidates across the split), the later range is analysed again resuming from the earlier
range's own detector state (pickled at its last frame): exact too, only later.

Then (:func:`finish`) the bookkeeping of the unsplit pass (``analyze.ShotBook``) is replayed
over frame indices with the stitched boundaries: the same shots and the same samples, frame
numbers global, transitions spanning a split whole. A shot whose samples no range tagged (one
or two per split) is tagged now from its frames, decoded from the keyframe before each.

Anything unexpected (a frame whose timestamp is not a packet's, a gap, a decode error) raises
:class:`SplitError`; the caller then analyses the video in one pass.
"""

from __future__ import annotations

import bisect
import os
import pickle
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2

from ..media.video import VideoInfo, VideoReadError, iter_frames_from, probe, scan_frames
from .analyze import ShotBook, VideoAnalyzer
from .detectors import Boundary, create_detector
from .records import Video

#: frames fed to a range's detector before its first frame, at least (then back to a keyframe):
#: the ``fast`` detector's ring (66 frames) and a few to settle
WARMUP = 72
#: frames a range goes on into the next one, for the hand-over
TAIL = 120
#: a range is at least this many frames
MIN_RANGE = 8
#: the detector's digest is taken every this many frames of a hand-over zone (two detectors
#: equal after a frame stay equal: a later common frame is as good a hand-over)
DIGEST_EVERY = 8

Progress = Callable[[int, int], None]


class SplitError(Exception):
    """This video cannot be split safely; analyse it in one pass."""


@dataclass
class SplitPlan:
    path: str
    info: VideoInfo
    pts: list[int]  # frame i's presentation timestamp
    keyframes: list[int]  # frame indices of keyframes, sorted
    starts: list[int]  # first frame owned by each range
    sha256: str | None = None

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    def own_end(self, k: int) -> int:
        return self.starts[k + 1] if k + 1 < len(self.starts) else self.n_frames

    def keyframe_before(self, i: int) -> int:
        """The last keyframe at or before frame ``i`` (0 if none)."""
        j = bisect.bisect_right(self.keyframes, i) - 1
        return self.keyframes[j] if j >= 0 else 0


@dataclass
class RangeSpec:
    k: int
    own_start: int
    own_end: int
    feed_from: int  # first frame fed to the detector (warm-up start; own_start when resuming)
    decode_end: int  # exclusive
    zones: list[tuple[int, int]]  # frames after which the detector's digest is recorded
    resume: bytes | None = None  # a pickled detector, as after frame feed_from - 1


@dataclass
class RangeResult:
    k: int
    own_start: int
    decode_end: int
    times: array  # frames own_start .. decode_end - 1
    motion: array
    emitted: list[tuple[int, list[Boundary]]]  # (frame just fed, boundaries); n_frames: the flush
    digests: dict[int, bytes]
    tags: dict[tuple[int, ...], dict] = field(default_factory=dict)  # ordered sample frames -> tags
    state: bytes | None = None  # the pickled detector after the last frame fed (not the last range)
    resumed: bool = False


@dataclass
class Stitched:
    emitted: list[tuple[int, list[Boundary]]]
    times: array
    motion: array
    tags: dict[tuple[int, ...], dict]
    handovers: list[int]  # the frame after which each split was handed over
    resumed: int  # ranges analysed again from their neighbour's state
    shots: int = 0  # (set by finish) shots in the video
    fixups: int = 0  # ... of which no range had tagged the samples: tagged in finish


# ------------------------------------------------------------------------------------ plan
def range_frames(seconds: float, info: VideoInfo) -> int:
    """Frames in ``seconds`` of this video (at least one)."""
    return max(1, round(float(seconds) * float(info.fps)))


def plan(
    path: str | os.PathLike,
    range_frames: int,
    *,
    align: str = "keyframe",
    info: VideoInfo | None = None,
    detector: str = "fast",
    detector_options: dict | None = None,
) -> SplitPlan | None:
    """The ranges of ``path``, or None where it is not worth splitting (shorter than two
    ranges, no keyframe to split at, or a detector that cannot be stitched)."""
    if not create_detector(detector, **dict(detector_options or {})).splittable:
        return None
    info = info or probe(path)
    if info.frame_count and info.frame_count < 2 * max(range_frames, MIN_RANGE):
        return None  # (the container's estimate: no packet scan for a short video)
    try:
        pts, keys = scan_frames(path)
    except VideoReadError:
        return None
    n = len(pts)
    size = max(int(range_frames), MIN_RANGE)
    starts = [0]
    while True:
        want = starts[-1] + size
        if want > n - size // 2:
            break
        if align == "keyframe":
            j = bisect.bisect_left(keys, want)
            if j == len(keys) or keys[j] > n - size // 2:
                break
            s = keys[j]
        else:
            s = want
        starts.append(s)
    if len(starts) < 2:
        return None
    return SplitPlan(str(Path(path).absolute()), info, pts, keys, starts)


def decoded_frames(p: SplitPlan) -> int:
    """Frames the ranges decode together (each from its keyframe to its tail's end); against
    ``p.n_frames``, the decoding the split costs (warm-up and hand-over overlap)."""
    return sum(s.decode_end - p.keyframe_before(s.feed_from) for s in range_specs(p))


def range_specs(p: SplitPlan) -> list[RangeSpec]:
    out = []
    for k, s in enumerate(p.starts):
        e = p.own_end(k)
        nxt = p.own_end(k + 1) if k + 1 < len(p.starts) else e
        decode_end = min(e + TAIL, nxt) if k + 1 < len(p.starts) else p.n_frames
        feed = p.keyframe_before(s - WARMUP) if s > 0 else 0
        zones = []
        if k > 0:
            zones.append((s, min(s + TAIL, e)))
        if decode_end > e:
            zones.append((e, decode_end))
        out.append(RangeSpec(k, s, e, feed, decode_end, zones))
    return out


def resume_spec(p: SplitPlan, spec: RangeSpec, prev: RangeResult) -> RangeSpec:
    """``spec`` analysed again from ``prev``'s detector state at its last frame."""
    start = prev.decode_end
    zones = [(a, b) for a, b in spec.zones if a >= spec.own_end]
    return RangeSpec(spec.k, start, spec.own_end, start, spec.decode_end, zones, resume=prev.state)


# ---------------------------------------------------------------------------------- ranges
class _Stub:
    """A frame as the shot bookkeeping sees it in the replay: its index only."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def analyze_range(
    analyzer: VideoAnalyzer, p: SplitPlan, spec: RangeSpec, progress: Progress | None = None
) -> RangeResult:
    """Decode and detect one range (see the module's docstring), tag its speculative shots."""
    index_of = {t: i for i, t in enumerate(p.pts)}
    first_decoded = spec.feed_from if spec.resume is None else max(spec.feed_from - 1, 0)
    key = p.keyframe_before(first_decoded)
    if spec.resume is not None:
        detector = pickle.loads(spec.resume)
    else:
        detector = create_detector(analyzer.detector_name, **analyzer.detector_options)
    last_range = spec.own_end == p.n_frames  # (a range before it may decode to the end too, for the hand-over)
    info = p.info
    apath = p.path
    tagger = analyzer._new_tagger()
    keys: list[tuple[int, ...]] = []

    def submit(number: int, ordered) -> None:
        if not spec.own_start <= book.jobs[number].start < spec.own_end:
            return  # a shot of a neighbour (it tags it), or of the warm-up
        keys.append(tuple(f.index for f in ordered))
        tagger.submit(len(keys) - 1, [f.working_frame(info.width, info.height, apath) for f in ordered])

    times_all = array("d")
    # (the first shot began before the warm-up, unless at frame 0: its true start is unknown here)
    book = ShotBook(
        info.fps, submit, start=spec.feed_from, times=_Offset(times_all, spec.feed_from), skip_first=spec.feed_from > 0
    )
    times, motion = array("d"), array("f")
    emitted: list[tuple[int, list[Boundary]]] = []
    digests: dict[int, bytes] = {}
    zones = spec.zones
    prev_y = None
    expect = key
    total = max(spec.own_end - spec.own_start, 1)
    ok = False
    try:
        for f in iter_frames_from(apath, p.pts[key] if key > 0 else None, index_of, fast=analyzer.fast_decode):
            i = f.index
            if i != expect:
                raise SplitError(f"frame {i} decoded where frame {expect} was due")
            expect += 1
            if i >= spec.decode_end:
                break
            y = f.small[..., 0]
            if i >= spec.own_start and (i > first_decoded or i == 0):
                times.append(f.time)
                motion.append(cv2.norm(y, prev_y, cv2.NORM_L1) / y.size / 255.0 if prev_y is not None else 0.0)
            prev_y = y
            if i < spec.feed_from:
                continue
            times_all.append(f.time)
            book.frame(f)
            bs = detector.process_decoded(f)
            if bs:
                emitted.append((i, bs))
                book.boundaries(bs, i)
            if any(a <= i < b and (i - a) % DIGEST_EVERY == 0 for a, b in zones):
                d = detector.sync_state()
                if d is not None:
                    digests[i] = d
            if progress and i % 24 == 0 and i >= spec.own_start:
                progress(min(i - spec.own_start + 1, total), total)
            if tagger.failure:
                break
        if expect < spec.decode_end:
            raise SplitError(f"decoding ended at frame {expect}, before frame {spec.decode_end}")
        state = None
        if last_range:
            bs = detector.flush()
            emitted.append((p.n_frames, bs))
            book.boundaries(bs, p.n_frames - 1)
            if book.start < p.n_frames:
                book.close(p.n_frames - 1, None)
        else:
            state = pickle.dumps(detector, protocol=4)
        ok = True
    except VideoReadError as e:
        raise SplitError(str(e)) from None
    finally:
        if not ok and hasattr(tagger, "stop"):
            tagger.stop()
    done = tagger.finish(len(keys))
    if progress:
        progress(total, total)
    return RangeResult(
        spec.k,
        spec.own_start,
        spec.decode_end,
        times,
        motion,
        emitted,
        digests,
        {k: done[n] for n, k in enumerate(keys)},
        state,
        spec.resume is not None,
    )


class _Offset:
    """``times`` of a range, indexed by global frame numbers (the shot bookkeeping's view)."""

    def __init__(self, a: array, offset: int):
        self.a, self.offset = a, offset

    def __getitem__(self, i: int) -> float:
        return self.a[i - self.offset]

    def append(self, v: float) -> None:
        self.a.append(v)


# ---------------------------------------------------------------------------------- stitch
def stitch(p: SplitPlan, results: list[RangeResult], rerun: Callable[[RangeSpec], RangeResult]) -> Stitched:
    """Join the ranges' detector outputs at proven hand-over frames (see the module's
    docstring); ``rerun(spec)`` analyses a range again where no hand-over is found."""
    specs = range_specs(p)
    prev = results[0]
    emitted: list[tuple[int, list[Boundary]]] = []
    cut = -1
    handovers = []
    chain = [prev]
    resumed = 0
    for k in range(1, len(results)):
        r = results[k]
        q = next(
            (
                i
                for i in range(r.own_start, prev.decode_end)
                if i in prev.digests and prev.digests[i] == r.digests.get(i)
            ),
            None,
        )
        if q is None:
            if prev.state is None:
                raise SplitError(f"range {k - 1} left no state to resume from")
            r = rerun(resume_spec(p, specs[k], prev))
            q = prev.decode_end - 1
            resumed += 1
        emitted += [e for e in prev.emitted if cut < e[0] <= q]
        cut = q
        handovers.append(q)
        prev = r
        chain.append(r)
    emitted += [e for e in prev.emitted if e[0] > cut]
    n = p.n_frames
    times, motion = array("d", bytes(8 * n)), array("f", bytes(4 * n))
    filled = bytearray(n)
    for r in chain:
        for j in range(len(r.times)):
            i = r.own_start + j
            if filled[i]:
                if times[i] != r.times[j] or motion[i] != r.motion[j]:
                    raise SplitError(f"frame {i} differs between two ranges")
                continue
            times[i], motion[i], filled[i] = r.times[j], r.motion[j], 1
    if not all(filled):
        raise SplitError(f"frame {filled.index(0)} is in no range")
    tags: dict = {}
    for r in results + chain:
        tags.update(r.tags)
    return Stitched(emitted, times, motion, tags, handovers, resumed)


# ---------------------------------------------------------------------------------- finish
def finish(analyzer: VideoAnalyzer, p: SplitPlan, st: Stitched) -> Video:
    """The sidecar record: the unsplit pass's shot bookkeeping replayed over the stitched
    boundaries; shots no range tagged are tagged here."""
    n = p.n_frames
    wanted: list[tuple[int, ...]] = []
    book = ShotBook(p.info.fps, lambda number, ordered: wanted.append(tuple(f.index for f in ordered)), times=st.times)
    at: dict[int, list[list[Boundary]]] = {}
    for i, bs in st.emitted:
        at.setdefault(i, []).append(bs)
    for i in range(n):
        book.frame(_Stub(i))
        for bs in at.get(i, ()):
            book.boundaries(bs, i)
    for bs in at.get(n, ()):
        book.boundaries(bs, n - 1)
    book.close(n - 1, None)
    missing = sorted({k for k in wanted if k not in st.tags})
    st.shots, st.fixups = len(wanted), len(missing)
    tags = dict(st.tags)
    if missing:
        tags.update(tag_samples(analyzer, p, missing))
    return analyzer._document(
        Path(p.path),
        p.info,
        [tags[k] for k in wanted],
        [book.jobs[i] for i in range(book.number)],
        st.times,
        st.motion,
        n,
        p.sha256,
    )


def tag_samples(analyzer: VideoAnalyzer, p: SplitPlan, shots: list[tuple[int, ...]]) -> dict[tuple[int, ...], dict]:
    """Tag shots given by their ordered sample frames, each frame decoded from the keyframe
    before it (frames sharing a keyframe in one decode)."""
    need = sorted({i for s in shots for i in s})
    index_of = {t: i for i, t in enumerate(p.pts)}
    frames = {}
    groups: dict[int, list[int]] = {}
    for i in need:
        groups.setdefault(p.keyframe_before(i), []).append(i)
    try:
        for key, idx in groups.items():
            todo = set(idx)
            for f in iter_frames_from(p.path, p.pts[key] if key > 0 else None, index_of, fast=analyzer.fast_decode):
                if f.index in todo:
                    frames[f.index] = f.working_frame(p.info.width, p.info.height, p.path)
                    todo.discard(f.index)
                if not todo or f.index > idx[-1]:
                    break
            if todo:
                raise SplitError(f"frame {min(todo)} could not be decoded")
    except VideoReadError as e:
        raise SplitError(str(e)) from None
    tagger = analyzer._new_tagger()
    for n, s in enumerate(shots):
        tagger.submit(n, [frames[i] for i in s])
    done = tagger.finish(len(shots))
    return {s: done[n] for n, s in enumerate(shots)}


# ------------------------------------------------------------------------------ one process
def analyze_split(
    analyzer: VideoAnalyzer, p: SplitPlan, progress: Progress | None = None, runner: Callable | None = None
) -> Video:
    """All ranges of ``p`` one after the other in this process (``runner(spec)`` instead runs
    one elsewhere), stitched."""
    done = [0] * len(p.starts)

    def part(k: int) -> Progress | None:
        if progress is None:
            return None

        def cb(d: int, _t: int) -> None:
            done[k] = max(done[k], d)  # (a resumed range counts again from 0)
            progress(min(sum(done), p.n_frames), p.n_frames)

        return cb

    run = runner or (lambda spec: analyze_range(analyzer, p, spec, part(spec.k)))
    results = [run(spec) for spec in range_specs(p)]
    video = finish(analyzer, p, stitch(p, results, run))
    if progress:
        progress(p.n_frames, p.n_frames)
    return video


__all__ = [
    "RangeResult",
    "RangeSpec",
    "SplitError",
    "SplitPlan",
    "Stitched",
    "analyze_range",
    "analyze_split",
    "finish",
    "plan",
    "range_specs",
    "stitch",
]
