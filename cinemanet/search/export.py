"""Search results (shots of many videos, in result order) as an EDL or an OpenTimelineIO timeline.

Built on the per-video exporters' helpers (:mod:`cinemanet.video.export`): each shot is
exported with its own video's frame rate and reel.
"""

from __future__ import annotations

from pathlib import Path

from ..contracts import VIDEO_SCHEMA


def _doc(shot: dict, m) -> dict:
    """A one-shot ``cinemanet.video/1`` document, for the per-video exporters' helpers."""
    return {
        "schema": VIDEO_SCHEMA,
        "path": shot["path"],
        "video": dict(m.video) if m else {},
        "file": {"sha256": m.sha256, "size": m.size} if m else {},
        "shots": [shot],
    }


def results_edl(shots: list[dict], media: dict, title: str) -> str:
    """CMX3600 EDL of search results in order: one event per shot, each from its own reel.
    ``shots``: catalog shots (with ``media_id``); ``media``: media id -> catalog Media."""
    from ..video.export import ascii_safe, fps, hour_frames, one_line, smpte, time_frame, truncate
    from ..video.export.edl import event_lines, reel_name

    lines = [f"TITLE: {truncate(ascii_safe(title) or 'CinemaNet search', 70)}", "FCM: NON-DROP FRAME", ""]
    seq_rate = fps(_doc(shots[0], media.get(shots[0]["media_id"]))) if shots else None
    rec = hour_frames(seq_rate) if seq_rate else 0
    for n, s in enumerate(shots, start=1):
        rate = fps(_doc(s, media.get(s["media_id"])))
        si, so = time_frame(float(s["start_time"]), rate), time_frame(float(s["end_time"]), rate)
        so = max(so, si + 1)
        length = time_frame((so - si) / float(rate), seq_rate)
        ri, ro = rec, rec + max(1, length)
        rec = ro
        tc = [smpte(si, rate), smpte(so, rate), smpte(ri, seq_rate), smpte(ro, seq_rate)]
        lines += event_lines(n, reel_name(s["path"]), one_line(Path(s["path"]).name), s["path"], s, tc)
    return "\n".join(lines)


def results_otio(shots: list[dict], media: dict, title: str) -> str:
    """An OpenTimelineIO timeline of search results in order (a clip and a marker per shot)."""
    from ..video.export import fps, shot_frames
    from ..video.export.otio import _otio, _u, shot_clip

    otio = _otio()
    tl = otio.schema.Timeline(name=_u(title))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for n, s in enumerate(shots, start=1):
        m = media.get(s["media_id"])
        frames = int(((m.video or {}).get("frame_count") if m else 0) or 0)
        clip = shot_clip(s, n, s["path"], fps(_doc(s, m)), max(frames, shot_frames(s)[1] + 1))
        clip.metadata["cinemanet"]["id"] = s["id"]
        track.append(clip)
    tl.tracks.append(track)
    return otio.adapters.write_to_string(tl, "otio_json")


__all__ = ["results_edl", "results_otio"]
