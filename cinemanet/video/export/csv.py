"""CSV: one row per shot, for spreadsheets and scripts.

Columns: path, shot (the sidecar's 0-based index), start/end frame (inclusive), frames, start/end
time (seconds; end exclusive), duration, start/end timecode (end = last frame), then for every
taxonomy group in taxonomy order ``<group>`` (label key, or its title with ``titles=True``) and
``<group>.confidence``, then tags (space-separated keys), description, keyframes
(space-separated), motion, dominant colours (``#rrggbb:fraction`` space-separated) and the
transition that begins the shot.
"""

from __future__ import annotations

import csv
from pathlib import Path

from . import atomic_output, exporter, group_keys, label_title, shot_frames

FIXED = [
    "path",
    "shot",
    "start_frame",
    "end_frame",
    "frames",
    "start_time",
    "end_time",
    "duration",
    "start_timecode",
    "end_timecode",
]
TAIL = ["tags", "description", "keyframes", "motion", "dominant_colors", "transition"]


def columns() -> list[str]:
    cols = list(FIXED)
    for g in group_keys():
        cols += [g, f"{g}.confidence"]
    return cols + TAIL


def _num(x, digits: int = 6) -> str:
    if x is None or x == "":
        return ""
    return repr(round(float(x), digits))


def row(doc: dict, shot: dict, titles: bool = False) -> list[str]:
    a, b = shot_frames(shot)
    t0, t1 = shot.get("start_time"), shot.get("end_time")
    out = [
        shot.get("path") or doc.get("path") or "",
        str(shot.get("shot", "")),
        str(a),
        str(b),
        str(b - a + 1),
        _num(t0),
        _num(t1),
        _num(float(t1) - float(t0)) if t0 is not None and t1 is not None else "",
        shot.get("start_timecode", ""),
        shot.get("end_timecode", ""),
    ]
    groups = shot.get("groups") or {}
    for g in group_keys():
        p = groups.get(g) or {}
        lab = p.get("label")
        out += [(label_title(lab) if titles else lab) or "", _num(p.get("confidence"), 4) if p else ""]
    colors = " ".join(f"{c.get('hex', '')}:{_num(c.get('fraction'), 3)}" for c in shot.get("dominant_colors") or [])
    tr = shot.get("transition") or {}
    out += [
        " ".join(shot.get("tags") or []),
        " ".join(str(shot.get("description") or "").split()),
        " ".join(str(int(k)) for k in shot.get("keyframes") or []),
        _num(shot.get("motion"), 4),
        colors,
        tr.get("kind", ""),
    ]
    return out


@exporter("csv", suffix=".csv", summary="one row per shot: times, timecodes, labels, tags, description", order=10)
def write(doc: dict, out: Path, *, titles: bool = False, excel: bool = False) -> None:
    """``titles``: label titles ("Medium shot") instead of keys in the group columns.
    ``excel``: start with a UTF-8 byte-order mark so Excel reads accents right."""
    with atomic_output(out, "w", newline="", encoding="utf-8-sig" if excel else "utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns())
        for shot in doc.get("shots") or []:
            w.writerow(row(doc, shot, titles))


def write_results(found, f) -> None:
    """Search results (:class:`~cinemanet.search.engine.FoundShot`) to the open text file ``f``:
    catalog shot id and score, then the columns above."""
    w = csv.writer(f)
    w.writerow(["id", "score", *columns()])
    for hit in found:
        w.writerow([str(hit.id), _num(hit.score, 4), *row({}, hit.shot.to_dict())])
