"""Media the web app may serve, and keyframe pictures extracted from it on demand.

The catalog is the allow-list: files are addressed by media id only, never by a path from
the request. A catalogued path is served only while it still is the file that was analysed
(a regular file of the catalogued size) and, if it is a symlink, only when the link stays
in the folder it sits in, so a file swapped for a link to ``/etc/passwd`` is refused.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from ...catalog.store import Media
from ...util.files import atomic_write

log = logging.getLogger(__name__)

KEYFRAME_WIDTHS = (160, 320, 640)  # a fixed set keeps the cache bounded
JPEG_QUALITY = 80
MEMORY_ITEMS = 256  # keyframes kept in memory when there is no thumbnails folder


class MediaRefused(Exception):
    """The media cannot be served; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def safe_media_path(media: Media) -> Path:
    """The real path of ``media``'s file, after the checks above. Raises :class:`MediaRefused`."""
    p = Path(media.path)
    if not p.is_absolute():
        raise MediaRefused(404, "media path is not absolute in the catalog")
    try:
        st = os.stat(p)  # follows links
    except OSError:
        raise MediaRefused(404, "media file is missing (moved or deleted? see `cinemanet catalog status`)") from None
    real = Path(os.path.realpath(p))
    if p.is_symlink() and Path(os.path.realpath(p.parent)) not in real.parents:
        raise MediaRefused(403, "media file is a symbolic link out of its folder")
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode):
        raise MediaRefused(403, "media path is not a regular file")
    if media.size and st.st_size != media.size:
        raise MediaRefused(409, "media file changed since it was catalogued (re-analyse or `cinemanet catalog prune`)")
    return real


MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".mxf": "application/mxf",
}


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


class KeyframeCache:
    """JPEG keyframes by (media content hash, time, width): a ``thumbs`` folder next to the
    catalog when it can be written, else a small in-memory LRU. Decoding is limited to
    ``decoders`` at a time so a grid of thumbnails cannot take every core."""

    def __init__(self, folder: Path | None, decoders: int = 2):
        self.folder = folder  # created on the first write; None once it cannot be written
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._decode = threading.BoundedSemaphore(decoders)

    @staticmethod
    def _key(media: Media, t: float, width: int) -> str:
        base = media.sha256 or hashlib.sha256(media.path.encode("utf-8", "surrogateescape")).hexdigest()
        return f"{base[:20]}-{round(t * 1000)}-{width}.jpg"

    def get(self, media: Media, t: float, width: int) -> bytes:
        """The JPEG of the frame at ``t`` seconds (from the first frame). Raises :class:`MediaRefused`."""
        key = self._key(media, t, width)
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        if self.folder is not None:
            f = self.folder / key
            try:
                return f.read_bytes()
            except OSError:
                pass
        path = safe_media_path(media)
        with self._decode:
            data = _extract(path, media, t, width)
        if self.folder is not None:
            try:
                atomic_write(self.folder / key, data, mkdir=True, fsync=False)  # a cache: no fsync
                return data
            except OSError:
                self.folder = None  # read-only place: memory from now on
        with self._lock:
            self._mem[key] = data
            while len(self._mem) > MEMORY_ITEMS:
                self._mem.popitem(last=False)
        return data


def _extract(path: Path, media: Media, t: float, width: int) -> bytes:
    """Decode the frame at ``t`` with the contact sheet's grabber (seeks, then decodes on)."""
    from ...video.export.contactsheet import _Grabber

    t0 = float((media.video or {}).get("start_time") or 0.0)  # sidecar times count from the first frame
    w, h = media.width or 16, media.height or 9
    box = (width, max(1, round(width * h / w)))
    try:
        g = _Grabber(str(path), media.rotation or 0)
    except Exception as e:  # noqa: BLE001 - logged, and the client gets a 404 that says why
        log.warning("%s: cannot open the video to extract a keyframe: %s: %s", path, type(e).__name__, e)
        raise MediaRefused(404, "cannot open the video to extract a keyframe") from None
    try:
        frame = g.grab(t0 + max(0.0, t))
        if frame is None:
            raise MediaRefused(404, "keyframe not found in the video")
        im = g.picture(frame, box)
    except MediaRefused:
        raise
    except Exception as e:  # noqa: BLE001 - logged, and the client gets a 404 that says why
        log.warning("%s: decoding the keyframe at %.3fs failed: %s: %s", path, t, type(e).__name__, e)
        raise MediaRefused(404, "decoding the keyframe failed") from None
    finally:
        g.close()
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()
