"""Contact sheet (``jpg``): one tile per shot in a grid, with its number, timecode and tags.

Each tile is the shot's middle keyframe (the middle frame when it has none), decoded with
PyAV: the shots are visited in time order through one open container. Packets are read
ahead without decoding; decoding starts at the last keyframe at or before the target (or
goes on from where it is, when that is nearer) and stops at the first frame at the target's
time, so the picture is the exact frame (times from the stream's timestamps; a keyframe
index inside a shot is placed from the shot's start time at the nominal rate). Targets far
ahead are reached by seeking. Each tile is pasted into the sheet as soon as it is decoded, so
memory is the sheet plus a GOP of packets and a few frames.

Limits: ``columns`` (at most 12), ``tile_width`` (80..640 px); more than ``max_shots`` shots
are sampled evenly and the header says so; a sheet over 65000 px high or 60 megapixels is
refused with a message saying what to change. A missing or unreadable video gives placeholder
tiles that say why, and a note in the header.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from . import ExportError, atomic_output, exporter, fps, shot_frames, shot_timecode, smpte, top_titles, video_path

MAX_COLUMNS = 12
MAX_SIDE = 65000  # JPEG's limit is 65535 px a side
MAX_PIXELS = 60_000_000  # 180 MB of RGB
SEEK_FAR = 20.0  # seconds: a target further ahead is reached by seeking, a nearer one by reading on
MAX_PENDING = 2000  # packets read ahead at most before decoding starts

PAD, GAP = 12, 8
HEADER_H = 62
LABEL_H = 52
BG, TILE_BG, FG, FG2, WARN = (24, 24, 24), (48, 48, 48), (235, 235, 235), (165, 165, 165), (255, 170, 80)


@dataclass(frozen=True)
class Layout:
    count: int
    columns: int
    tile_w: int
    tile_h: int

    @classmethod
    def for_doc(cls, doc: dict, count: int, columns: int = 6, tile_width: int = 320) -> "Layout":
        v = doc.get("video") or {}
        w, h = int(v.get("width") or 16), int(v.get("height") or 9)
        tw = max(80, min(640, int(tile_width)))
        th = max(round(tw * 0.3), min(tw, round(tw * h / max(1, w))))
        cols = max(1, min(MAX_COLUMNS, int(columns), count or 1))
        return cls(count, cols, tw, th)

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.count / self.columns))

    @property
    def size(self) -> tuple[int, int]:
        w = 2 * PAD + self.columns * self.tile_w + (self.columns - 1) * GAP
        h = HEADER_H + 2 * PAD + self.rows * (self.tile_h + LABEL_H) + (self.rows - 1) * GAP
        return w, h

    def image_box(self, i: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of tile ``i``'s picture area."""
        r, c = divmod(i, self.columns)
        x = PAD + c * (self.tile_w + GAP)
        y = HEADER_H + PAD + r * (self.tile_h + LABEL_H + GAP)
        return x, y, x + self.tile_w, y + self.tile_h


def pick_frame(shot: dict) -> int:
    """The shot's middle keyframe, else its middle frame."""
    ks = [int(k) for k in shot.get("keyframes") or []]
    if ks:
        return ks[len(ks) // 2]
    a, b = shot_frames(shot)
    return (a + b) // 2


def frame_time(shot: dict, frame: int, rate: Fraction) -> float:
    """The time of ``frame`` inside ``shot``: from the shot's own start time, so variable frame
    rate drifts at most within a shot."""
    a, _ = shot_frames(shot)
    t0 = shot.get("start_time")
    if t0 is None:
        return float(frame / rate)
    return float(t0) + float((frame - a) / rate)


def sample(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    if k <= 1:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


class _Grabber:
    """Decode chosen frames of one video, in time order, through one open container.

    Packets are read ahead (cheap: no decoding) up to the target's time; a keyframe read on
    the way at or before the target drops everything before it, so decoding starts at the
    last keyframe before the target, or continues from where it is when that is nearer. A
    target more than ``SEEK_FAR`` seconds ahead is reached by seeking instead of reading.
    """

    def __init__(self, path: str, rotation: int):
        import av

        self.container = av.open(path, metadata_errors="ignore")
        if not self.container.streams.video:
            self.container.close()
            raise ValueError("no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.codec = self.stream.codec_context
        self.tb = Fraction(self.stream.time_base or Fraction(1, 90000))
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.frame_dur = 1.0 / float(rate)
        self.half = 0.5 * self.frame_dur
        self.rotation = rotation
        self.seeks = self.decoded = 0
        self.last = None  # (time, frame): the latest frame passed over
        self._restart()

    def _restart(self) -> None:
        self.demux = self.container.demux(self.stream)
        self.pending: deque = deque()  # packets read, not yet decoded
        self.out: deque = deque()  # (time, frame) decoded, not yet passed over
        self.read_t: float | None = None  # time of the last packet read
        self.eof = self.drained = False
        self.flush = True

    def close(self) -> None:
        self.container.close()

    def _read(self, t: float) -> None:
        try:
            p = next(self.demux)
        except StopIteration:
            p = None
        if p is None or (p.size == 0 and p.dts is None and p.pts is None):  # the end
            self.eof = True
            return
        ts = p.dts if p.dts is not None else p.pts
        self.read_t = float(ts * self.tb) if ts is not None else math.inf
        if p.is_keyframe and p.pts is not None and float(p.pts * self.tb) <= t + self.half:
            self.pending.clear()  # decode from this keyframe: nothing before it is needed
            self.flush = True
        self.pending.append(p)

    def _push(self, frames) -> None:
        for f in frames:
            self.decoded += 1
            if f.pts is not None:
                ft = float(f.pts * self.tb)
            else:
                prev = self.out[-1][0] if self.out else (self.last[0] if self.last else -self.frame_dur)
                ft = prev + self.frame_dur
            self.out.append((ft, f))

    def _decode_one(self) -> None:
        if self.flush:
            self.codec.flush_buffers()
            self.out.clear()
            self.flush = False
        self._push(self.codec.decode(self.pending.popleft()))

    def _seek(self, t: float) -> None:
        back = 0.0
        for _ in range(4):  # a seek may land after the target (indexes by dts): seek earlier
            self.container.seek(max(0, int((t - back) / self.tb)), stream=self.stream, backward=True, any_frame=False)
            self.seeks += 1
            self._restart()
            self._read(t)
            first = self.pending[0] if self.pending else None
            if first is None or first.pts is None or float(first.pts * self.tb) <= t + self.half or t - back <= 0:
                return
            back = back * 2 + 1.0

    def _ready(self, t: float):
        while self.out and self.out[0][0] < t - self.half:
            self.last = self.out.popleft()
        return self.out[0][1] if self.out else None

    def grab(self, t: float):
        """The first frame whose time is at or after ``t`` (to half a frame), else the last one."""
        if t - (self.read_t if self.read_t is not None else 0.0) > SEEK_FAR:
            self._seek(t)
        while True:
            f = self._ready(t)
            if f is not None:
                return f
            if not self.eof and len(self.pending) < MAX_PENDING and (self.read_t is None or self.read_t <= t):
                self._read(t)  # read ahead, without decoding, up to the target
            elif self.pending:
                self._decode_one()
            elif not self.eof:
                self._read(t)  # more packets for frames the decoder still holds back
            elif not self.drained:
                self.drained = True
                if not self.flush:
                    self._push(self.codec.decode(None))
            else:
                return self.last[1] if self.last else None

    def picture(self, frame, box: tuple[int, int]):
        from PIL import Image

        from ...media.video import DecodedFrame

        w, h = frame.width, frame.height
        if self.rotation in (90, 270):
            w, h = h, w
        s = min(box[0] / w, box[1] / h)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        rgb = DecodedFrame(0, 0.0, None, frame, self.rotation).rgb(long_side=max(size))
        im = Image.fromarray(rgb)
        return im if im.size == size else im.resize(size, Image.Resampling.BILINEAR)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # an old Pillow or one without FreeType
        return ImageFont.load_default()


_GLYPHS: dict[tuple[int, str], bool] = {}


def _has_glyph(font, ch: str) -> bool:
    """Whether ``font`` draws ``ch`` as itself rather than its missing-glyph box."""
    if ch.isascii():
        return True
    key = (id(font), ch)
    if key not in _GLYPHS:
        from PIL import Image, ImageDraw

        def ink(c: str) -> bytes:
            im = Image.new("L", (40, 40))
            ImageDraw.Draw(im).text((4, 4), c, font=font, fill=255)
            return im.tobytes()

        _GLYPHS[key] = ink(ch) != ink("\uffff")
    return _GLYPHS[key]


def drawable(text: str, font) -> str:
    """``text`` with characters the font lacks spelt without accents (é -> e), else ``?``."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    out = []
    for ch in text:
        if _has_glyph(font, ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(_has_glyph(font, c) for c in base) else "?")
    return "".join(out)


def _fit_text(draw, text: str, font, width: int) -> str:
    text = drawable(text, font)
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip(" ,·") + "..."


def _wrap(draw, words: list[str], font, width: int, lines: int, sep: str = " · ") -> list[str]:
    out: list[str] = []
    cur = ""
    for w in words:
        cand = w if not cur else cur + sep + w
        if draw.textlength(cand, font=font) <= width or not cur:
            cur = cand
        else:
            out.append(cur)
            cur = w
        if len(out) == lines:
            break
    if cur and len(out) < lines:
        out.append(cur)
    return [_fit_text(draw, s, font, width) for s in out[:lines]]


def _placeholder(draw, box, reason: str, font) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=TILE_BG)
    draw.line((x0, y0, x1 - 1, y1 - 1), fill=(70, 70, 70), width=2)
    draw.line((x0, y1 - 1, x1 - 1, y0), fill=(70, 70, 70), width=2)
    text = _fit_text(draw, reason, font, x1 - x0 - 12)
    tw = draw.textlength(text, font=font)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    draw.rectangle((cx - tw / 2 - 6, cy - 11, cx + tw / 2 + 6, cy + 11), fill=(20, 20, 20))
    draw.text((cx - tw / 2, cy - 8), text, font=font, fill=WARN)


def _video_problem(path: str, doc: dict) -> tuple[str | None, str | None]:
    """(reason the tiles cannot be decoded, or None; a header note, or None)."""
    if not path:
        return "no video path", "the sidecar names no video: tiles are placeholders"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "video not found", f"video not found ({Path(path).name}): tiles are placeholders"
    except OSError as e:
        return "video unreadable", f"cannot read the video ({e.strerror}): tiles are placeholders"
    size = (doc.get("file") or {}).get("size")
    if size is not None and int(size) != st.st_size:
        return None, "the video's size differs from the analysed file: frames may not match"
    return None, None


@exporter(
    "jpg",
    suffix=".jpg",
    summary="contact sheet JPEG: a keyframe tile per shot with timecode and tags",
    aliases=("jpeg", "contactsheet", "contact-sheet"),
    order=50,
)
def write(
    doc: dict,
    out: Path,
    *,
    columns: int = 6,
    tile_width: int = 320,
    max_shots: int = 300,
    quality: int = 85,
    video: str | os.PathLike | None = None,
) -> None:
    """``video``: where the video is now, if it moved since the analysis."""
    from PIL import Image, ImageDraw

    shots = doc.get("shots") or []
    if not shots:
        raise ExportError("the sidecar has no shots to put on a contact sheet")
    chosen = sample(len(shots), max(1, int(max_shots)))
    lay = Layout.for_doc(doc, len(chosen), columns, tile_width)
    W, H = lay.size
    if H > MAX_SIDE or W * H > MAX_PIXELS:
        raise ExportError(
            f"a contact sheet of {len(chosen)} shots would be {W}x{H} px (limits: {MAX_SIDE} px a side, "
            f"{MAX_PIXELS // 1_000_000} megapixels); lower max_shots or tile_width, or raise columns"
        )
    rate = fps(doc)
    path = str(video) if video is not None else video_path(doc)
    reason, note = _video_problem(path, doc)

    sheet = Image.new("RGB", (W, H), BG)
    draw = ImageDraw.Draw(sheet)
    f_title, f_num, f_tag, f_small = _font(16), _font(14), _font(12), _font(12)

    # header
    v = doc.get("video") or {}
    last = shot_frames(shots[-1])[1]
    dur = smpte(last + 1, rate)
    name = Path(path or video_path(doc)).name
    draw.text((PAD, 8), _fit_text(draw, name or "video", f_title, W - 2 * PAD), font=f_title, fill=FG)
    sub = f"{len(shots)} shots · {dur} · {float(rate):.3f}".rstrip("0").rstrip(".") + " fps"
    if v.get("width") and v.get("height"):
        sub += f" · {v['width']}x{v['height']}"
    if len(chosen) < len(shots):
        sub += f" · showing {len(chosen)} of {len(shots)} shots, evenly spaced (max_shots={max_shots})"
    draw.text((PAD, 28), _fit_text(draw, sub, f_small, W - 2 * PAD), font=f_small, fill=FG2)
    if note:
        draw.text((PAD, 44), _fit_text(draw, note, f_small, W - 2 * PAD), font=f_small, fill=WARN)

    # labels (and a background for every picture area)
    for i, si in enumerate(chosen):
        shot = shots[si]
        x0, y0, x1, y1 = lay.image_box(i)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=TILE_BG)
        num = int(shot.get("shot", si)) + 1
        draw.text((x0 + 2, y1 + 5), f"#{num}", font=f_num, fill=FG)
        nx = x0 + 2 + draw.textlength(f"#{num}", font=f_num) + 10
        draw.text((nx, y1 + 6), shot_timecode(shot, rate), font=f_tag, fill=FG2)
        tags = _wrap(draw, top_titles(shot, 4), f_tag, lay.tile_w - 4, 2)
        for j, line in enumerate(tags):
            draw.text((x0 + 2, y1 + 23 + 14 * j), line, font=f_tag, fill=FG2)

    # pictures, in time order, pasted as they are decoded
    targets = sorted((frame_time(shots[si], pick_frame(shots[si]), rate), i) for i, si in enumerate(chosen))
    for i, im, why in _pictures(path, reason, targets, int(v.get("rotation") or 0), (lay.tile_w, lay.tile_h)):
        x0, y0, x1, y1 = lay.image_box(i)
        if im is None:
            _placeholder(draw, (x0, y0, x1, y1), why, f_tag)
        else:
            sheet.paste(im, (x0 + (lay.tile_w - im.width) // 2, y0 + (lay.tile_h - im.height) // 2))

    with atomic_output(out, "wb") as f:
        sheet.save(f, "JPEG", quality=max(30, min(95, int(quality))))


def _pictures(
    path: str, reason: str | None, targets: list[tuple[float, int]], rotation: int, box: tuple[int, int]
) -> Iterator[tuple[int, object, str]]:
    """(tile index, PIL image or None, reason when None) for every target."""
    if reason is not None:
        for _, i in targets:
            yield i, None, reason
        return
    try:
        g = _Grabber(path, rotation)
    except Exception:  # noqa: BLE001 - not a video PyAV can open: each tile says so
        for _, i in targets:
            yield i, None, "cannot open the video"
        return
    try:
        for k, (t, i) in enumerate(targets):
            try:
                frame = g.grab(t)
            except Exception:  # noqa: BLE001 - damage in the file: the rest get placeholders that say so
                for _, j in targets[k:]:
                    yield j, None, "decoding failed"
                return
            yield (i, g.picture(frame, box), "") if frame is not None else (i, None, "frame not found")
    finally:
        g.close()
