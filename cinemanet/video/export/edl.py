"""CMX3600 EDL: one video cut event per shot, laid end to end, with a locator on each.

Conventions (what Avid, Resolve and Premiere read):

* ``TITLE:`` the video's name (ASCII, 70 characters at most), then ``FCM: NON-DROP FRAME``, or
  ``FCM: DROP FRAME`` with ``HH:MM:SS;FF`` timecode at 29.97 and 59.94 (same rule as
  :func:`cinemanet.video.timecode.smpte`).
* Event line ``001  REEL     V     C        <src in> <src out> <rec in> <rec out>``: out points are
  exclusive (the frame after the last one). Source timecode counts frames from the video's
  first frame at the nominal rate (files without a timecode track start at 00:00:00:00 in
  every NLE); it comes from the shot times, so variable frame rate maps the way NLEs conform.
  Record timecode runs from ``record_start`` (01:00:00:00) with no gaps.
* Reel: the file name's letters, digits and ``_``, upper case, 8 at most (``reel=`` overrides,
  e.g. ``"AX"``); the file itself is named by ``* FROM CLIP NAME:`` (the AX convention,
  what Premiere and Resolve relink by) and ``* SOURCE FILE:`` (full path).
* A shot that begins with a fade or dissolve (``transition`` in the shot contract) is a
  dissolve event: the previous event ends where the transition starts, then the same event
  number twice, a zero-length cut at the outgoing source's out point and ``D <frames>`` with
  the incoming shot from the transition's start (``* CINEMANET TRANSITION: fade`` keeps the
  kind). NLEs (and OTIO's cmx_3600 reader) read this as a dissolve of that many frames.
* Locator ``* LOC: <record tc> <COLOUR> <text>``: the Avid convention puts locators at record
  (sequence) timecode; the text is the shot's description (else its top tag titles) in plain
  ASCII on one line, cut at a word to ``marker_chars``; colour by
  :data:`cinemanet.video.export.MARKER_COLORS`.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from . import (
    ExportError,
    ascii_safe,
    gradual_span,
    atomic_output,
    exporter,
    fps,
    hour_frames,
    is_drop_frame,
    marker_color,
    marker_text,
    one_line,
    shot_frames,
    smpte,
    time_frame,
    truncate,
    video_path,
)

_TC = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})[:;.,](\d{2,3})$")


def parse_timecode(tc: str, rate: Fraction) -> int:
    """``HH:MM:SS:FF`` (``;`` for drop-frame) to a frame count; the inverse of ``smpte``."""
    m = _TC.match(tc.strip())
    if not m:
        raise ExportError(f"not a timecode: {tc!r} (expected HH:MM:SS:FF)")
    hh, mm, ss, ff = (int(x) for x in m.groups())
    base = max(1, round(float(rate)))
    if mm > 59 or ss > 59 or ff >= base:
        raise ExportError(f"not a timecode at {float(rate):g} fps: {tc!r}")
    frames = ((hh * 60 + mm) * 60 + ss) * base + ff
    if is_drop_frame(rate):
        drop = 2 * (base // 30)
        minutes = hh * 60 + mm
        frames -= drop * (minutes - minutes // 10)
    return frames


def reel_name(path: str, length: int = 8) -> str:
    reel = re.sub(r"[^A-Za-z0-9_]", "", ascii_safe(Path(path).stem)).upper()[:length]
    return reel or "AX"


def source_ranges(doc: dict, rate: Fraction) -> list[tuple[int, int]]:
    """Per shot (in, out exclusive) as frame counts at the nominal rate from the first frame."""
    shots = doc.get("shots") or []
    t_first = None
    if shots and shot_frames(shots[0])[0] == 0 and shots[0].get("start_time") is not None:
        t_first = float(shots[0]["start_time"])  # the first frame's timestamp (may not be 0)
    out = []
    for s in shots:
        a, b = shot_frames(s)
        if t_first is not None and s.get("start_time") is not None and s.get("end_time") is not None:
            si = time_frame(float(s["start_time"]) - t_first, rate)
            so = time_frame(float(s["end_time"]) - t_first, rate)
        else:
            si, so = a, b + 1
        out.append((si, max(so, si + 1)))
    return out


def edl_text(
    doc: dict,
    *,
    title: str | None = None,
    reel: str | None = None,
    record_start: str = "01:00:00:00",
    marker_chars: int = 80,
) -> str:
    rate = fps(doc)
    df = is_drop_frame(rate)
    path = video_path(doc)
    name = one_line(Path(path).name) or "video"
    title = truncate(ascii_safe(title if title is not None else Path(name).stem) or "CinemaNet", 70)
    reel = re.sub(r"\s+", "", reel) if reel else reel_name(path)
    if record_start == "01:00:00:00":
        rec = hour_frames(rate)
    else:
        rec = parse_timecode(record_start, rate)
    lines = [f"TITLE: {title}", f"FCM: {'DROP FRAME' if df else 'NON-DROP FRAME'}", ""]
    shots = doc.get("shots") or []
    ranges = source_ranges(doc, rate)
    # a gradual transition moves the edit point back to its start: the previous event is
    # shortened by as much as the incoming one is lengthened
    lead = [0] * len(shots)
    for k in range(1, len(shots)):
        span = gradual_span(shots[k])
        if span is not None and span[0] + span[1] > 1:
            lead[k] = max(0, min(span[0], ranges[k - 1][1] - ranges[k - 1][0] - 1 - lead[k - 1]))
    for n, (shot, (si, so)) in enumerate(zip(shots, ranges), start=1):
        k = n - 1
        si -= lead[k]
        so -= lead[k + 1] if k + 1 < len(shots) else 0
        ri, ro = rec, rec + (so - si)
        rec = ro
        tc = [smpte(x, rate) for x in (si, so, ri, ro)]
        span = gradual_span(shot) if k else None
        if span is not None and span[0] + span[1] > 1:
            dur = min(span[0] + span[1], so - si)
            out_src = smpte(si, rate)  # the outgoing shot's out point: where it stops
            lines.append(f"{n:03d}  {reel:<8} V     C        {out_src} {out_src} {tc[2]} {tc[2]}")
            lines += event_lines(n, reel, name, path, shot, tc, marker_chars, dissolve=dur)
        else:
            lines += event_lines(n, reel, name, path, shot, tc, marker_chars)
    return "\n".join(lines)


def event_lines(
    n: int, reel: str, name: str, path: str, shot: dict, tc: list[str], marker_chars: int = 80, dissolve: int = 0
) -> list[str]:
    """Event ``n``: the cut, or a ``dissolve`` of that many frames, to timecodes ``tc`` (source
    in/out, record in/out), then clip name and locator."""
    text = truncate(ascii_safe(marker_text(shot)), marker_chars)
    edit = f"D {dissolve:03d}    " if dissolve else "C        "
    lines = [
        f"{n:03d}  {reel:<8} V     {edit}{' '.join(tc)}",
        f"* FROM CLIP NAME: {name}",
        f"* LOC: {tc[2]} {marker_color(shot):<7} {text}".rstrip(),
    ]
    if dissolve:
        lines.append(f"* CINEMANET TRANSITION: {(shot.get('transition') or {}).get('kind', 'dissolve')}")
    if path:
        lines.append(f"* SOURCE FILE: {one_line(path)}")
    lines.append("")
    return lines


@exporter(
    "edl", suffix=".edl", summary="CMX3600 EDL: an event and a locator per shot (Avid, Resolve, Premiere)", order=20
)
def write(
    doc: dict,
    out: Path,
    *,
    title: str | None = None,
    reel: str | None = None,
    record_start: str = "01:00:00:00",
    marker_chars: int = 80,
) -> None:
    text = edl_text(doc, title=title, reel=reel, record_start=record_start, marker_chars=marker_chars)
    with atomic_output(out, "w", newline="\n") as f:
        f.write(text)
