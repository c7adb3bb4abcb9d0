"""Sidecar files: one JSON document per video with its summary and every shot.

``<name>.cinemanet.json`` (or ``.cinemanet.json.zst`` with ``--compress``) next to the video,
or ``<name>.<folder hash>.cinemanet.json`` in an output folder (see :func:`sidecar_path`).
Written atomically: a temporary file in the same folder, flushed and fsynced, then renamed
over the target, so a crash never leaves half a sidecar.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..contracts import READABLE_VIDEO_SCHEMAS, SHOT_SCHEMA, SIDECAR_SCHEMA  # noqa: F401 - SHOT_SCHEMA: re-exported for old imports
from ..util.files import atomic_write, stale_temporaries

if TYPE_CHECKING:
    from .records import Video
SUFFIX = ".cinemanet.json"
ZSTD_SUFFIX = ".cinemanet.json.zst"
SUFFIXES = (SUFFIX, ZSTD_SUFFIX)


def is_sidecar_name(name: str) -> bool:
    return name.endswith(SUFFIXES)


class SidecarError(Exception):
    """A sidecar is missing, unreadable, or not a cinemanet.video/1 document."""


def sidecar_path(video: str | os.PathLike, out_dir: str | os.PathLike | None = None, compress: bool = False) -> Path:
    """Beside the video, ``NAME.cinemanet.json``. In a shared ``out_dir`` the name also carries
    8 hex digits of the video's folder (its absolute path), because camera cards repeat file
    names: ``card1/C0001.MP4`` and ``card2/C0001.MP4`` get two sidecars, the same ones every run."""
    v = Path(video)
    suffix = ZSTD_SUFFIX if compress else SUFFIX
    if not out_dir:
        return v.parent / (v.name + suffix)
    folder = os.fsencode(os.path.abspath(v.parent))
    return Path(out_dir) / f"{v.name}.{hashlib.sha256(folder).hexdigest()[:8]}{suffix}"


def existing_sidecar(video: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path | None:
    for compress in (False, True):
        p = sidecar_path(video, out_dir, compress)
        if p.exists():
            return p
    return None


def write_sidecar(doc: "dict | Video", path: str | os.PathLike) -> Path:
    """Write ``doc`` (a :class:`~.records.Video` or its dict) atomically to ``path``
    (zstd-compressed when the name ends in .zst)."""
    path = Path(path)
    if not isinstance(doc, dict):
        doc = doc.to_dict()
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogateescape")
    if path.name.endswith(".zst"):
        import zstandard

        data = zstandard.ZstdCompressor(level=10).compress(data)
    return atomic_write(path, data)


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete temporaries a killed earlier run left for this sidecar (``.<name>.*.tmp``)."""
    for t in stale_temporaries(path):
        try:
            t.unlink()
        except OSError:
            pass


def read_sidecar(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SidecarError("no such file or directory") from None
    except PermissionError:
        raise SidecarError("permission denied") from None
    if path.name.endswith(".zst") or data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        try:
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 31)
        except zstandard.ZstdError as e:
            raise SidecarError(f"corrupt zstd data: {e}") from None
    try:
        doc = json.loads(data.decode("utf-8", "surrogateescape"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SidecarError(f"not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE_VIDEO_SCHEMAS:
        raise SidecarError(f"not a {SIDECAR_SCHEMA} sidecar")
    check_document(doc)
    return doc


def check_document(doc: dict) -> None:
    """The structure every reader of a sidecar relies on; a damaged or hand-edited one is a
    :class:`SidecarError` naming the first fault, never a ``KeyError`` deep inside a reader."""
    for key, kind in (("file", dict), ("video", dict), ("shots", list)):
        if not isinstance(doc.get(key), kind):
            raise SidecarError(
                f"invalid sidecar: {key!r} is missing or not {'an object' if kind is dict else 'a list'}"
            )
    for i, shot in enumerate(doc["shots"]):
        if not isinstance(shot, dict):
            raise SidecarError(f"invalid sidecar: shot {i} is not an object")
        for key in ("start_frame", "end_frame"):
            v = shot.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SidecarError(f"invalid sidecar: shot {i} {key} is {v!r}, not a frame number")
        if shot["end_frame"] < shot["start_frame"]:
            raise SidecarError(f"invalid sidecar: shot {i} ends (frame {shot['end_frame']}) before it starts")
        for key in ("start_time", "end_time"):
            v = shot.get(key)
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise SidecarError(f"invalid sidecar: shot {i} {key} is {v!r}, not a number of seconds")


def read_video(path: str | os.PathLike) -> "Video":
    """The sidecar at ``path`` as a validated :class:`~.records.Video` (SidecarError otherwise)."""
    from .records import RecordError, Video

    try:
        return Video.from_dict(read_sidecar(path))
    except RecordError as e:
        raise SidecarError(str(e)) from None
