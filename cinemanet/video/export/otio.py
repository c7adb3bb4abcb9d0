"""OpenTimelineIO (``.otio``): a timeline with one video track and a clip per shot.

Each clip refers to the video by file URL (``ExternalReference``, available range = the whole
video) with ``source_range`` = the shot's frames at the video's exact rate (30000/1001, not
29.97). ``clip.metadata["cinemanet"]`` holds the shot's tags, description, every group's label
and confidence, keyframes, motion, dominant colours and transition; the timeline's
``metadata["cinemanet"]`` holds the video, file and model blocks of the sidecar. Each clip has
a 1-frame marker at its first frame named after the description, coloured by
:data:`cinemanet.video.export.MARKER_COLORS`, with the tags (keys and titles) in its metadata.
The timeline starts at 01:00:00:00 (``global_start_time``), as the EDL's record side does.
A shot that begins with a fade or dissolve is preceded by an ``otio.schema.Transition``
(``SMPTE_Dissolve``) centred on the cut: ``in_offset`` the transition's frames before the
shot's first frame, ``out_offset`` those from it on; its ``metadata["cinemanet"]["kind"]`` is
the contract's kind (fade, dissolve, other).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from . import (
    ExportError,
    atomic_output,
    exporter,
    fps,
    gradual_span,
    group_keys,
    hour_frames,
    label_title,
    marker_color,
    marker_text,
    mean_confidence,
    shot_frames,
    video_path,
)


def _otio():
    try:
        import opentimelineio
    except ImportError:
        raise ExportError(
            "OpenTimelineIO exports need the opentimelineio package (pip install opentimelineio)"
        ) from None
    return opentimelineio


def _u(text) -> str:
    """A string OTIO can store (lone surrogates from non-UTF-8 file names become U+FFFD)."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _clean(obj):
    if isinstance(obj, str):
        return _u(obj)
    if isinstance(obj, dict):
        return {_u(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def file_url(path: str) -> str:
    p = Path(path)
    return (p if p.is_absolute() else p.absolute()).as_uri()  # percent-encodes the raw bytes


def clip_name(shot: dict, n: int) -> str:
    return f"Shot {int(shot.get('shot', n - 1)) + 1:03d}"


def shot_metadata(shot: dict) -> dict:
    groups = shot.get("groups") or {}
    return _clean(
        {
            "shot": shot.get("shot"),
            "start_time": shot.get("start_time"),
            "end_time": shot.get("end_time"),
            "start_timecode": shot.get("start_timecode"),
            "end_timecode": shot.get("end_timecode"),
            "tags": list(shot.get("tags") or []),
            "description": shot.get("description") or "",
            "groups": {
                g: {
                    "label": groups[g].get("label"),
                    "title": label_title(groups[g].get("label")),
                    "confidence": groups[g].get("confidence"),
                }
                for g in group_keys(shot)
                if groups.get(g)
            },
            "keyframes": [int(k) for k in shot.get("keyframes") or []],
            "motion": shot.get("motion"),
            "dominant_colors": list(shot.get("dominant_colors") or []),
            "transition": shot.get("transition"),
        }
    )


def timeline(doc: dict):
    """The sidecar as an ``opentimelineio.schema.Timeline`` (see the module notes)."""
    otio = _otio()
    RT = otio.opentime.RationalTime
    rate = fps(doc)
    r = float(rate)
    path = video_path(doc)
    shots = doc.get("shots") or []
    video = doc.get("video") or {}
    total = max([int(video.get("frame_count") or 0)] + [shot_frames(s)[1] + 1 for s in shots])
    stem = Path(path).stem if path else "video"

    tl = otio.schema.Timeline(name=_u(stem), global_start_time=RT(hour_frames(rate), r))
    tl.metadata["cinemanet"] = _clean(
        {k: doc.get(k) for k in ("schema", "path", "file", "model", "video", "created") if doc.get(k) is not None}
    )
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for n, shot in enumerate(shots, start=1):
        tr = shot_transition(shot, rate) if n > 1 else None
        if tr is not None:
            track.append(tr)
        track.append(shot_clip(shot, n, path, rate, total))
    tl.tracks.append(track)
    return tl


def shot_transition(shot: dict, rate: Fraction):
    """The OTIO transition into ``shot``, or None where it begins with a cut."""
    span = gradual_span(shot)
    if span is None or span[0] + span[1] <= 1:
        return None
    otio = _otio()
    RT, r = otio.opentime.RationalTime, float(rate)
    kind = (shot.get("transition") or {}).get("kind")
    return otio.schema.Transition(
        name=_u(kind.capitalize()),
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=RT(span[0], r),
        out_offset=RT(span[1], r),
        metadata={"cinemanet": _clean(dict(shot.get("transition") or {}))},
    )


def shot_clip(shot: dict, n: int, path: str, rate: Fraction, total: int):
    """One shot as a clip of its video (``total`` frames long) with its marker."""
    otio = _otio()
    RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
    r = float(rate)
    a, b = shot_frames(shot)
    if path:
        ref = otio.schema.ExternalReference(target_url=file_url(path), available_range=TR(RT(0, r), RT(total, r)))
        ref.name = _u(Path(path).name)
    else:
        ref = otio.schema.MissingReference()
    clip = otio.schema.Clip(name=clip_name(shot, n), media_reference=ref, source_range=TR(RT(a, r), RT(b - a + 1, r)))
    clip.metadata["cinemanet"] = shot_metadata(shot)
    tags = list(shot.get("tags") or [])
    conf = mean_confidence(shot)
    marker = otio.schema.Marker(
        name=_u(marker_text(shot)),
        marked_range=TR(RT(a, r), RT(1, r)),
        color=marker_color(shot),
        metadata={
            "cinemanet": _clean(
                {
                    "tags": tags,
                    "titles": [label_title(t) for t in tags],
                    "confidence": None if conf is None else round(conf, 4),
                }
            )
        },
    )
    clip.markers.append(marker)
    return clip


@exporter(
    "otio", suffix=".otio", summary="OpenTimelineIO timeline: a clip and a marker per shot, tags as metadata", order=30
)
def write(doc: dict, out: Path) -> None:
    otio = _otio()
    text = otio.adapters.write_to_string(timeline(doc), "otio_json")
    with atomic_output(out, "w") as f:
        f.write(text)
