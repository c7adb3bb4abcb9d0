"""Final Cut Pro X XML (``.fcpxml``, version 1.8) through OpenTimelineIO's ``fcpx_xml`` adapter.

The timeline is :func:`cinemanet.video.export.otio.timeline`: a project with a clip and a marker
per shot (red markers become to-do items, green ones completed to-dos, yellow plain markers).
Each shot also gets a browser clip (``asset-clip``) whose note is the description and whose
keyword range covers the shot with its tag titles, so the tags are searchable in Final Cut.
After the adapter, the ``format`` gets the exact frame duration (the adapter knows only a few
rates) and the picture size, and the asset is named after the file. The result is checked
to be well-formed XML before it is written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

from . import ExportError, atomic_output, exporter, fps, label_title, shot_frames, video_path
from .otio import _otio, _u, timeline

ADAPTER = "fcpx_xml"
PACKAGE = "otio-fcpx-xml-adapter"


def _seconds(frames: int, rate: Fraction) -> str:
    t = Fraction(frames) / Fraction(rate)
    if t == 0:
        return "0s"
    return f"{t.numerator}s" if t.denominator == 1 else f"{t.numerator}/{t.denominator}s"


def _keywords(shot: dict) -> str:
    titles = [label_title(t).replace(",", " ") for t in shot.get("tags") or [] if not t.endswith(".na")]
    return ", ".join(dict.fromkeys(titles))


def fcpxml_text(doc: dict) -> str:
    otio = _otio()
    if ADAPTER not in otio.adapters.available_adapter_names():
        raise ExportError(f"FCPXML export needs the {PACKAGE} package (pip install {PACKAGE})")
    rate = fps(doc)
    tl = timeline(doc)
    for clip, shot in zip(tl.find_clips(), doc.get("shots") or []):
        a, b = shot_frames(shot)
        fcpx = {}
        if shot.get("description"):
            fcpx["note"] = _u(" ".join(str(shot["description"]).split()))
        kw = _keywords(shot)
        if kw:
            fcpx["keywords"] = [{"start": _seconds(a, rate), "duration": _seconds(b - a + 1, rate), "value": _u(kw)}]
        if fcpx and not clip.media_reference.is_missing_reference:
            clip.media_reference.metadata["fcpx"] = fcpx
    try:
        text = otio.adapters.write_to_string(tl, ADAPTER)
    except Exception as e:  # noqa: BLE001 - the adapter's own failures (e.g. a rate it cannot map), re-raised
        raise ExportError(
            f"the {ADAPTER} adapter failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        raise ExportError(f"the {ADAPTER} adapter wrote malformed XML: {e}") from None
    video = doc.get("video") or {}
    for f in root.iter("format"):
        f.set("frameDuration", _seconds(1, rate))
        if video.get("width") and video.get("height"):
            f.set("width", str(int(video["width"])))
            f.set("height", str(int(video["height"])))
        if not f.get("name"):
            f.attrib.pop("name", None)
    name = Path(video_path(doc)).name
    for a in root.iter("asset"):
        if name:
            a.set("name", _u(name))
        a.set("hasVideo", "1")
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'


@exporter(
    "fcpxml", suffix=".fcpxml", summary="Final Cut Pro X XML via OTIO's fcpx_xml adapter", aliases=("fcpx",), order=40
)
def write(doc: dict, out: Path) -> None:
    text = fcpxml_text(doc)
    with atomic_output(out, "w") as f:
        f.write(text)
