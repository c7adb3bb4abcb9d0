"""Video decoding with PyAV (FFmpeg inside the wheel; no ffmpeg binary needed).

One streaming pass gives, for every frame in presentation order: its index, its time from
the stream's own time base (so variable frame rate is right), a tiny YUV copy for shot
detection taken straight from the decoded planes (no scaling pass), and on demand an upright
RGB working copy for tagging. Nothing holds more than a few frames.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from .images import WORK_LONG_SIDE, Frame, _fit, trim_bars

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".mxf", ".m4v"})
SMALL_SIZE = (64, 36)  # width, height of the detection copy (aspect is not kept)


class VideoReadError(Exception):
    """A video could not be opened or decoded. ``str(err)`` is a one-line reason without the path."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int  # upright display size (after rotation metadata)
    height: int
    rotation: int  # degrees the stored picture is turned counter-clockwise for display (0, 90, 180, 270)
    fps: Fraction  # nominal frame rate (average rate, else guessed)
    time_base: Fraction
    start_time: float  # seconds of the first frame's timestamp
    duration: float  # seconds (container or stream estimate)
    frame_count: int  # estimate; the decoded count is authoritative
    codec: str
    pix_fmt: str
    bit_depth: int
    has_audio: bool
    timecode: str | None = None  # the file's own start timecode (tmcd track or tag), if any

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "fps": float(self.fps),
            "fps_rational": f"{self.fps.numerator}/{self.fps.denominator}",
            "time_base": f"{self.time_base.numerator}/{self.time_base.denominator}",
            "duration": round(self.duration, 6),
            "codec": self.codec,
            "pix_fmt": self.pix_fmt,
            "bit_depth": self.bit_depth,
            "start_time": round(self.start_time, 6),
            "timecode": self.timecode,
        }


def _open(path: Path):
    import av

    try:
        st = path.stat()
    except FileNotFoundError:
        raise VideoReadError("no such file or directory") from None
    except PermissionError:
        raise VideoReadError("permission denied") from None
    if path.is_dir():
        raise VideoReadError("is a directory, not a video file")
    if st.st_size == 0:
        raise VideoReadError("file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoReadError("permission denied")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.PermissionError:
        raise VideoReadError("permission denied") from None
    except av.error.InvalidDataError:
        with open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp":  # an MP4/MOV whose index (moov atom) is missing: cut short
            raise VideoReadError("MP4/MOV file is truncated or damaged: its index cannot be read") from None
        raise VideoReadError("not a recognised video container (is it really a video?)") from None
    except av.error.FFmpegError as e:
        raise VideoReadError(f"cannot open: {_ffmpeg_reason(e)}") from None


def _ffmpeg_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.splitlines()[0].strip() if msg else type(e).__name__


def _bit_depth(stream) -> int:
    try:
        fmt = stream.codec_context.format
        return max(c.bits for c in fmt.components) if fmt is not None and fmt.components else 8
    except (AttributeError, TypeError, ValueError):  # some containers report no pixel format until decoding starts
        return 8


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's properties (decoding only its first frame, for the display rotation
    PyAV exposes per frame). Raises :class:`VideoReadError`."""
    with VideoSource(path) as v:
        return v.info


def probe_header(path: str | os.PathLike) -> VideoInfo:
    """The container's own account of a video, without decoding a frame (the display rotation
    of per-frame matrices is missing): enough for progress totals. Raises :class:`VideoReadError`."""
    p = Path(path)
    with _open(p) as c:
        return _info(p, c)


def _set_decoder(stream, threads: int, fast: bool) -> None:
    """Decoder settings, before the first frame is decoded (see :func:`iter_frames` for ``fast``)."""
    import av

    stream.thread_type = "AUTO"
    if threads:
        stream.codec_context.thread_count = threads
    if fast:
        stream.codec_context.options = {"skip_loop_filter": "all"}
        stream.codec_context.flags2 |= av.codec.context.Flags2.fast


class VideoSource:
    """An open video: its properties (:attr:`info`, as :func:`probe` gives them) and then its
    frames (:meth:`frames`) from the same open file, so probing and decoding read the header
    and the first frame once. Decoder settings are fixed before the first frame is decoded.
    Raises :class:`VideoReadError`."""

    def __init__(self, path: str | os.PathLike, threads: int = 0, fast: bool = False):
        import av

        p = Path(path)
        self._c = c = _open(p)
        try:
            self._base = info = _info(p, c)
            s = self._stream = c.streams.video[0]
            _set_decoder(s, threads, fast)
            self._decoded = c.decode(s)
            try:
                self._first = next(self._decoded, None)
            except av.error.FFmpegError as e:
                raise VideoReadError(f"cannot decode any frame: {_ffmpeg_reason(e)}") from None
            rot = (self._first.rotation or 0) % 360 if self._first is not None else 0
            if rot and not info.rotation:
                from dataclasses import replace

                w, h = (info.height, info.width) if rot in (90, 270) else (info.width, info.height)
                info = replace(info, rotation=rot, width=w, height=h)
            self.info = info
        except BaseException:
            c.close()
            raise

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._c.close()

    def frames(self, small: tuple[int, int] = SMALL_SIZE) -> Iterator[DecodedFrame]:
        """Every frame of the first video stream, streaming, once. Damage part-way through
        ends the iteration with a :class:`VideoReadError` naming the last good frame."""
        import av

        if self._first is None:
            raise VideoReadError("the video stream holds no decodable frames")
        first, self._first = self._first, None
        info, s = self._base, self._stream  # the stream's own rotation: per-frame matrices win
        tb = info.time_base
        i = 0
        try:
            for f in itertools.chain((first,), self._decoded):
                t = float(f.pts * tb) if f.pts is not None else (i / float(info.fps))
                rot = (f.rotation or 0) % 360 or info.rotation
                yield DecodedFrame(i, t, _small_yuv(f, *small), f, rot)
                i += 1
        except av.error.FFmpegError as e:
            raise VideoReadError(f"decoding failed after frame {i - 1}: {_ffmpeg_reason(e)}") from None
        expected = int(s.frames or 0)
        if expected > 10 and i < 0.97 * expected:
            raise VideoReadError(f"video is truncated or damaged: decoded {i} of {expected} frames")


STILL_FORMATS = ("image2", "_pipe")  # FFmpeg demuxers for single images (jpeg_pipe, png_pipe...)


def _info(p: Path, c) -> VideoInfo:
    fmt = getattr(c.format, "name", "") or ""
    if fmt == "image2" or fmt.endswith("_pipe"):
        raise VideoReadError(f"a still image ({fmt.replace('_pipe', '')}), not a video")
    if not c.streams.video:
        kind = "audio-only file" if c.streams.audio else "no video stream"
        raise VideoReadError(f"{kind}: nothing to analyse")
    s = c.streams.video[0]
    cc = s.codec_context
    if cc is None or cc.codec is None or not getattr(cc, "name", None):
        tag = getattr(s, "codec_tag", None) or "unknown"
        raise VideoReadError(f"unsupported video codec ({tag}): this FFmpeg build cannot decode it")
    fps = s.average_rate or s.guessed_rate or s.base_rate or Fraction(25)
    fps = Fraction(fps)
    tb = Fraction(s.time_base) if s.time_base else Fraction(1, 90000)
    if s.duration is not None:
        duration = float(s.duration * tb)
    elif c.duration is not None:
        duration = c.duration / 1_000_000
    else:
        duration = 0.0
    frames = int(s.frames) if s.frames else int(round(duration * float(fps)))
    rotation = _stream_rotation(s)
    w, h = cc.width, cc.height
    if rotation in (90, 270):
        w, h = h, w
    start = float(s.start_time * tb) if s.start_time is not None else 0.0
    return VideoInfo(
        path=str(p.absolute()),
        width=w,
        height=h,
        rotation=rotation,
        fps=fps,
        time_base=tb,
        start_time=start,
        duration=duration,
        frame_count=frames,
        codec=cc.name,
        pix_fmt=cc.pix_fmt or "unknown",
        bit_depth=_bit_depth(s),
        has_audio=bool(c.streams.audio),
        timecode=s.metadata.get("timecode") or c.metadata.get("timecode"),
    )


def _stream_rotation(stream) -> int:
    """Rotation from a legacy 'rotate' tag (clockwise degrees), as counter-clockwise degrees.
    The display matrix itself is read from decoded frames (PyAV exposes it there)."""
    try:
        rot = stream.metadata.get("rotate")
        if rot is not None:
            return (-int(rot)) % 360
    except (TypeError, ValueError):
        pass
    return 0


class DecodedFrame:
    """One decoded frame: ``index`` (presentation order, from 0), ``time`` (seconds from the
    stream's time base), ``small`` (SMALL_SIZE YUV uint8 for detectors) and ``rgb()``."""

    __slots__ = ("index", "time", "small", "_frame", "_rotation")

    def __init__(self, index: int, time: float, small: np.ndarray, frame, rotation: int):
        self.index, self.time, self.small, self._frame, self._rotation = index, time, small, frame, rotation

    def rgb(self, long_side: int = WORK_LONG_SIDE) -> np.ndarray:
        """Upright RGB copy with its long side at most ``long_side`` (scaled by FFmpeg)."""
        f = self._frame
        w, h = f.width, f.height
        rot = self._rotation
        if rot in (90, 270):
            tw, th = _fit(h, w, long_side)
            tw, th = th, tw  # scale in stored orientation, then turn
        else:
            tw, th = _fit(w, h, long_side)
        # one thread: the same pixels, and swscale's helper threads (spinning in sched_yield
        # between frames) cost more CPU than they save
        a = _reformatter().reformat(f, width=tw, height=th, format="rgb24", threads=1).to_ndarray()
        if rot:
            a = np.ascontiguousarray(np.rot90(a, k=rot // 90))  # counter-clockwise, as the matrix says
        return a

    def working_frame(self, width: int, height: int, path: str | None = None) -> Frame:
        return _working(self.rgb(), width, height, path)

    def picture_bytes(self) -> int:
        """Bytes of the decoded picture this frame keeps alive."""
        return sum(p.buffer_size for p in self._frame.planes)

    def kept(self) -> KeptFrame:
        """This frame's working copy made now, without the decoded picture (a 4K 10-bit one is
        33 MB, the copy 0.4 MB); the same pixels as :meth:`working_frame` later."""
        return KeptFrame(self.index, self.time, self.rgb())


class KeptFrame:
    """A frame reduced to its index, time and upright working-size RGB (``DecodedFrame.kept``)."""

    __slots__ = ("index", "time", "_rgb")

    def __init__(self, index: int, time: float, rgb: np.ndarray):
        self.index, self.time, self._rgb = index, time, rgb

    def working_frame(self, width: int, height: int, path: str | None = None) -> Frame:
        return _working(self._rgb, width, height, path)


def _working(rgb: np.ndarray, width: int, height: int, path: str | None) -> Frame:
    rgb, bars = trim_bars(rgb)
    return Frame(rgb=rgb, width=width, height=height, path=path, bars=bars)


_local = threading.local()


def _reformatter():
    """One swscale context per thread, reused from frame to frame (``frame.reformat`` builds a
    new one each call; the same pixels either way)."""
    r = getattr(_local, "reformatter", None)
    if r is None:
        from av.video.reformatter import VideoReformatter

        r = _local.reformatter = VideoReformatter()
    return r


@lru_cache(maxsize=32)
def _grid(h: int, w: int, out_h: int, out_w: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the sampling grid (for ``take``: two 1-D gathers are about
    seven times cheaper than one 2-D fancy index on a 1080p plane)."""
    return np.linspace(0, h - 1, out_h).astype(np.intp), np.linspace(0, w - 1, out_w).astype(np.intp)


_FORMATS: dict[str, tuple[bool, tuple[int, ...]] | None] = {}  # pixel format -> (deep, bits per plane)


def _yuv_format(frame) -> tuple[bool, tuple[int, ...]] | None:
    """(more than 8 bits, bits of each of the 3 planes) for a planar YUV format, else None.
    Cached by name: reading ``format.components`` costs more than the sampling itself."""
    fmt = frame.format.name
    got = _FORMATS.get(fmt, False)
    if got is False:
        got = None
        if fmt.startswith(("yuv", "yuvj")) and len(frame.planes) >= 3:
            comps = frame.format.components
            got = (comps[0].bits > 8, tuple(int(comps[i].bits) for i in range(3)))
        _FORMATS[fmt] = got
    return got


def _small_yuv(frame, out_w: int, out_h: int) -> np.ndarray:
    """A tiny YUV copy by sampling the decoded planes on a grid (cheap: no swscale pass).

    Values are as stored: limited-range Y'CbCr, usually BT.601/709; >8-bit input is shifted
    down to 8 bits. Other pixel formats go through swscale to yuv444p.
    """
    yuv = _yuv_format(frame)
    if yuv is not None:
        deep, bits = yuv
        dtype = np.uint16 if deep else np.uint8
        out = np.empty((out_h, out_w, 3), np.uint8)
        planes = frame.planes
        for i in range(3):
            pl = planes[i]
            step = pl.line_size // np.dtype(dtype).itemsize
            a = np.frombuffer(pl, dtype=dtype).reshape(-1, step)
            ys, xs = _grid(pl.height, pl.width, out_h, out_w)
            a = a.take(ys, axis=0).take(xs, axis=1)
            out[..., i] = (a >> (bits[i] - 8)) if deep else a
        return out
    a = frame.reformat(width=out_w, height=out_h, format="yuv444p").to_ndarray()
    return np.ascontiguousarray(a.transpose(1, 2, 0) if a.shape[0] == 3 and a.ndim == 3 else a)


def iter_frames(
    path: str | os.PathLike, threads: int = 0, small: tuple[int, int] = SMALL_SIZE, fast: bool = False
) -> Iterator[DecodedFrame]:
    """Decode every frame of the first video stream, streaming.

    ``fast`` skips the in-loop deblocking filter and allows FFmpeg's non-bit-exact shortcuts:
    about 30% less decoding CPU for H.264, at the price of slight blocking that shot detection
    and tagging on downscaled frames do not notice.

    Raises :class:`VideoReadError` if the file cannot be opened; damage part-way through ends
    the iteration with a :class:`VideoReadError` naming the last good frame.
    """
    with VideoSource(path, threads=threads, fast=fast) as v:
        yield from v.frames(small)


def scan_frames(path: str | os.PathLike) -> tuple[list[int], list[int]]:
    """Every frame's presentation timestamp, in presentation order, and the indices of the
    keyframes, from the video stream's packets (demuxed, not decoded). Frame ``i`` of
    :func:`iter_frames` is the one with the ``i``-th smallest timestamp. Raises
    :class:`VideoReadError` where a packet has no timestamp or two share one (such a file is
    analysed in one pass)."""
    import av

    p = Path(path)
    c = _open(p)
    try:
        _info(p, c)
        s = c.streams.video[0]
        pts, keys = [], []
        try:
            for pk in c.demux(s):
                if pk.size == 0:
                    continue  # the demuxer's end-of-stream packet
                if pk.pts is None:
                    raise VideoReadError("a packet has no timestamp")
                pts.append(int(pk.pts))
                if pk.is_keyframe:
                    keys.append(int(pk.pts))
        except av.error.FFmpegError as e:
            raise VideoReadError(f"cannot read the packets: {_ffmpeg_reason(e)}") from None
    finally:
        c.close()
    order = sorted(pts)
    if len(set(order)) != len(order):
        raise VideoReadError("two packets share a timestamp")
    rank = {t: i for i, t in enumerate(order)}
    return order, sorted(rank[k] for k in keys)


def iter_frames_from(
    path: str | os.PathLike,
    key_pts: int | None,
    index_of: dict[int, int],
    small: tuple[int, int] = SMALL_SIZE,
    fast: bool = False,
) -> Iterator[DecodedFrame]:
    """Decode from the keyframe whose timestamp is ``key_pts`` (None: from the start) to the
    end, as :func:`iter_frames` does, each frame numbered by its timestamp (``index_of``, from
    :func:`scan_frames`). Frames before the keyframe (an open GOP's leading pictures) are
    left out. Raises :class:`VideoReadError` for a frame whose timestamp is not in
    ``index_of``."""
    import av

    p = Path(path)
    c = _open(p)
    try:
        info = _info(p, c)
        s = c.streams.video[0]
        _set_decoder(s, 0, fast)
        tb = info.time_base
        if key_pts is not None:
            c.seek(int(key_pts), stream=s, backward=True, any_frame=False)
        try:
            for f in c.decode(s):
                if f.pts is None or f.pts not in index_of:
                    raise VideoReadError("a decoded frame's timestamp is not a packet's")
                if key_pts is not None and f.pts < key_pts:
                    continue
                rot = (f.rotation or 0) % 360 or info.rotation
                yield DecodedFrame(index_of[f.pts], float(f.pts * tb), _small_yuv(f, *small), f, rot)
        except av.error.FFmpegError as e:
            raise VideoReadError(f"decoding failed: {_ffmpeg_reason(e)}") from None
    finally:
        c.close()
