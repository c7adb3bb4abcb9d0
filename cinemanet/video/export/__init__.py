"""Exports of a ``cinemanet.video/1`` sidecar for editing tools and people.

    >>> from cinemanet.video.export import export, EXPORT_FORMATS
    >>> export(doc, "edl", "cut.edl")            # doc: a sidecar dict, or a sidecar's path
    >>> sorted(EXPORT_FORMATS)                   # ['csv', 'edl', 'fcpxml', 'jpg', 'otio']

One module per format. A module registers its writer with :func:`exporter`; every public
module of this package is a plug-in (see :mod:`cinemanet.plugins`; third-party formats come
from the ``cinemanet.exporters`` entry-point group), so adding a format is adding a file::

    @exporter("xyz", suffix=".xyz", summary="one line for --help")
    def write(doc: dict, out: Path, *, some_option: int = 3) -> None: ...

The writer gets the sidecar document and the final output path, and must write through
:func:`atomic_output` (so a failure never leaves half a file); keyword-only parameters are its
options. Problems the user can act on are raised as :class:`ExportError` with a one-line
message. Heavy libraries (OpenTimelineIO, PyAV, Pillow) are imported inside writers, so
importing this package stays cheap.

Shared helpers for the writers live here too: frame rate, timecode arithmetic, label titles,
marker text and colour, ASCII-safe text.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

from ...plugins import Registry
from ...util.files import atomic_open
from ..sidecar import READABLE_VIDEO_SCHEMAS, SIDECAR_SCHEMA, SidecarError, read_sidecar
from ..timecode import Timecode, _drop_frame, smpte


class ExportError(Exception):
    """An export could not be made. ``str(err)`` is one line that says why."""


@dataclass(frozen=True)
class Exporter:
    name: str
    suffix: str
    summary: str
    write: Callable[..., None]
    aliases: tuple[str, ...] = ()
    order: int = 100
    options: tuple[str, ...] = field(default=())


#: name -> :class:`Exporter`, in presentation order (csv, edl, otio, fcpxml, jpg).
EXPORTERS: Registry[Exporter] = Registry(
    "exporters",
    package="cinemanet.video.export",
    noun="exporter",
    order=lambda name, ex: (ex.order, name),
    unwrap=lambda ex: ex.write,
)
EXPORT_FORMATS = EXPORTERS
_ALIASES: dict[str, str] = {}


def exporter(name: str, *, suffix: str, summary: str, aliases: tuple[str, ...] = (), order: int = 100):
    """Decorator registering ``write(doc, out, **options)`` as the exporter for ``name``."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        params = list(inspect.signature(fn).parameters.values())
        opts = tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
        EXPORTERS.add(name, Exporter(name, suffix, summary, fn, tuple(aliases), order, opts))
        for a in (name, *aliases):
            _ALIASES[a.lower()] = name
        return fn

    return deco


def gradual_span(shot: dict) -> tuple[int, int] | None:
    """(frames before the shot's first frame, frames from it on) of the gradual transition
    (fade, dissolve, other) that begins ``shot``, or None for a cut or the first shot. Old
    sidecars without a span, or a span not around the shot's start, give None."""
    tr = shot.get("transition") or {}
    if tr.get("kind") not in ("fade", "dissolve", "other"):
        return None
    a = shot_frames(shot)[0]
    s, e = tr.get("start_frame"), tr.get("end_frame")
    if s is None or e is None or not (s <= a <= e + 1) or e < s:
        return None
    return a - s, e + 1 - a


def export(sidecar_doc: dict | str | os.PathLike, fmt: str, out_path: str | os.PathLike, **opts: Any) -> Path:
    """Write ``sidecar_doc`` (a ``cinemanet.video/1`` dict, or the path of a sidecar file) as
    ``fmt`` to ``out_path`` and return the path written. When ``out_path`` is an existing
    folder the file is named after the video (``clip.mp4`` -> ``clip.mp4.edl``).
    Raises :class:`ExportError`."""
    ex = get_exporter(fmt)
    bad = [k for k in opts if k not in ex.options]
    if bad:
        have = ", ".join(ex.options) or "none"
        raise ExportError(f"format {ex.name} has no option {bad[0]!r} (options: {have})")
    doc = _load(sidecar_doc)
    out = Path(out_path)
    if out.is_dir():
        name = Path(video_path(doc)).name or "video"
        out = out / f"{name}{ex.suffix}"
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out.name}: folder {out.parent} does not exist")
    ex.write(doc, out, **opts)
    return out


def get_exporter(fmt: str) -> Exporter:
    EXPORTERS.load()
    name = _ALIASES.get(str(fmt).lower().lstrip("."))
    if name is None:
        raise ExportError(f"unknown export format {fmt!r}; formats are: {', '.join(EXPORT_FORMATS)}")
    return EXPORT_FORMATS[name]


def _load(doc: dict | str | os.PathLike) -> dict:
    if not isinstance(doc, dict):
        try:
            doc = read_sidecar(doc)
        except SidecarError as e:
            raise ExportError(f"cannot read sidecar {Path(doc).name}: {e}") from None
    if doc.get("schema") not in READABLE_VIDEO_SCHEMAS:
        raise ExportError(f"not a {SIDECAR_SCHEMA} document (schema is {doc.get('schema')!r})")
    if not isinstance(doc.get("shots"), list):
        raise ExportError("the sidecar has no 'shots' list")
    return doc


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w", **kw: Any) -> Iterator[Any]:
    """Open a temporary file next to ``path``; on success flush and rename it over ``path``.
    Text mode defaults to UTF-8 with surrogate escapes (non-UTF-8 file names survive)."""
    try:
        with atomic_open(path, mode, **kw) as f:
            yield f
    except OSError as e:
        raise ExportError(f"cannot write {path.name}: {e.strerror or e}") from None


# ---------------------------------------------------------------------------------------------
# helpers shared by the writers


def video_path(doc: dict) -> str:
    return str(doc.get("path") or "")


def fps(doc: dict) -> Fraction:
    """The nominal frame rate, exact (``30000/1001``), from ``fps_rational`` or ``fps``."""
    v = doc.get("video") or {}
    try:
        r = Fraction(str(v["fps_rational"]))
        if r > 0:
            return r
    except (KeyError, ValueError, ZeroDivisionError):
        pass
    f = float(v.get("fps") or 0) or 25.0
    for ntsc in (24, 30, 48, 60, 120):  # 29.97 written as a float: back to 30000/1001
        if abs(f - ntsc * 1000 / 1001) < 0.005:
            return Fraction(ntsc * 1000, 1001)
    return Fraction(f).limit_denominator(1001)


def is_drop_frame(rate: Fraction) -> bool:
    return _drop_frame(Fraction(rate))


def hour_frames(rate: Fraction) -> int:
    """Frames from 00:00:00:00 to 01:00:00:00 (107892 at 29.97 drop-frame, 86400 at 24)."""
    base = max(1, round(float(rate)))
    if is_drop_frame(rate):
        drop = 2 * (base // 30)
        return 6 * (base * 600 - drop * 9)
    return base * 3600


def time_frame(seconds: float, rate: Fraction) -> int:
    """A time in seconds as a frame count at the nominal rate (what timecode counts)."""
    return Timecode.from_seconds(float(seconds), Fraction(rate)).frame


def shot_frames(shot: dict) -> tuple[int, int]:
    """(first, last) frame index of a shot, inclusive."""
    a = int(shot.get("start_frame", 0))
    return a, max(a, int(shot.get("end_frame", a)))


def taxonomy():
    from ...taxonomy import get_taxonomy

    return get_taxonomy()


def label_title(key: str | None) -> str:
    if not key:
        return ""
    try:
        return taxonomy().label(key).title
    except KeyError:  # a label of another taxonomy version: show the key
        return key


def _is_na(key: str) -> bool:
    return key.endswith(".na")


def group_keys(doc_or_shot: dict | None = None) -> list[str]:
    """The taxonomy's groups in its order (then any unknown groups a shot carries)."""
    keys = list(taxonomy().group_keys)
    if doc_or_shot:
        extra = sorted(set(doc_or_shot.get("groups") or {}) - set(keys))
        keys += extra
    return keys


#: what a cinematographer or editor asks first about a shot: cards, contact sheets and
#: markers show these groups' labels before any other (those follow, most confident first)
INFORMATIVE_GROUPS = ("shot.framing", "shot.location", "shot.subject", "shot.timeofday", "shot.type")


def top_labels(shot: dict, n: int = 4) -> list[str]:
    """The shot's chosen labels, the informative groups first, leaving out "not applicable"."""
    picks: list[tuple[int, float, int, str]] = []
    for i, g in enumerate(group_keys()):
        p = (shot.get("groups") or {}).get(g) or {}
        lab = p.get("label")
        if lab and not _is_na(lab):
            rank = INFORMATIVE_GROUPS.index(g) if g in INFORMATIVE_GROUPS else len(INFORMATIVE_GROUPS)
            picks.append((rank, -float(p.get("confidence") or 0.0), i, lab))
    if not picks:  # fall back on the tags list
        return [t for t in shot.get("tags") or [] if not _is_na(t)][:n]
    return [lab for *_, lab in sorted(picks)[:n]]


def top_titles(shot: dict, n: int = 4) -> list[str]:
    return [label_title(k) for k in top_labels(shot, n)]


def mean_confidence(shot: dict) -> float | None:
    cs = [float(p.get("confidence") or 0.0) for p in (shot.get("groups") or {}).values() if p and p.get("label")]
    return sum(cs) / len(cs) if cs else None


#: marker colour rule, shared by the EDL and OTIO/FCPXML markers: how sure the model is
#: about the shot overall (mean confidence of its groups' labels). Red asks for a look.
MARKER_COLORS = ((0.6, "GREEN"), (0.4, "YELLOW"), (0.0, "RED"))


def marker_color(shot: dict) -> str:
    c = mean_confidence(shot)
    if c is None:
        return "BLUE"
    return next(name for lo, name in MARKER_COLORS if c >= lo)


def marker_text(shot: dict, max_chars: int | None = None) -> str:
    """The shot's description (else its top tag titles), on one line, cut at a word."""
    text = one_line(shot.get("description") or "") or ", ".join(top_titles(shot, 3))
    return truncate(text, max_chars) if max_chars else text


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def ascii_safe(text: str) -> str:
    """Plain printable ASCII on one line: accents dropped (é -> e), anything else removed."""
    t = unicodedata.normalize("NFKD", str(text))
    t = t.encode("ascii", "ignore").decode("ascii")
    t = re.sub(r"[^\x20-\x7e]+", " ", t)
    return one_line(t)


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max(1, max_chars - 3)]
    if " " in cut[max_chars // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "..."


def shot_timecode(shot: dict, rate: Fraction) -> str:
    tc = shot.get("start_timecode")
    if tc:
        return str(tc)
    return smpte(shot_frames(shot)[0], rate)


__all__ = [
    "EXPORTERS",
    "EXPORT_FORMATS",
    "ExportError",
    "Exporter",
    "atomic_output",
    "export",
    "exporter",
    "get_exporter",
]
