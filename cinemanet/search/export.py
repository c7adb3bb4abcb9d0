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


def results_edl(found: list, media: dict, title: str) -> str:
    """CMX3600 EDL of search results in order: one event per shot, each from its own reel.
    ``found``: :class:`~cinemanet.search.engine.FoundShot` hits; ``media``: media id -> catalog Media."""
    from ..video.export import ascii_safe, fps, hour_frames, one_line, smpte, time_frame, truncate
    from ..video.export.edl import event_lines, reel_name

    lines = [f"TITLE: {truncate(ascii_safe(title) or 'CinemaNet search', 70)}", "FCM: NON-DROP FRAME", ""]
    shots = [(f.shot.to_dict(), media.get(f.media_id)) for f in found]
    seq_rate = fps(_doc(*shots[0])) if shots else None
    rec = hour_frames(seq_rate) if seq_rate else 0
    for n, (s, m) in enumerate(shots, start=1):
        rate = fps(_doc(s, m))
        si, so = time_frame(float(s["start_time"]), rate), time_frame(float(s["end_time"]), rate)
        so = max(so, si + 1)
        length = time_frame((so - si) / float(rate), seq_rate)
        ri, ro = rec, rec + max(1, length)
        rec = ro
        tc = [smpte(si, rate), smpte(so, rate), smpte(ri, seq_rate), smpte(ro, seq_rate)]
        lines += event_lines(n, reel_name(s["path"]), one_line(Path(s["path"]).name), s["path"], s, tc)
    return "\n".join(lines)


def results_otio(found: list, media: dict, title: str) -> str:
    """An OpenTimelineIO timeline of search results in order (a clip and a marker per shot)."""
    from ..video.export import fps, shot_frames
    from ..video.export.otio import _otio, _u, shot_clip

    otio = _otio()
    tl = otio.schema.Timeline(name=_u(title))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for n, f in enumerate(found, start=1):
        s, m = f.shot.to_dict(), media.get(f.media_id)
        frames = int(((m.video or {}).get("frame_count") if m else 0) or 0)
        clip = shot_clip(s, n, s["path"], fps(_doc(s, m)), max(frames, shot_frames(s)[1] + 1))
        clip.metadata["cinemanet"]["id"] = f.id
        track.append(clip)
    tl.tracks.append(track)
    return otio.adapters.write_to_string(tl, "otio_json")


__all__ = ["results_edl", "results_otio"]
