"""Atomic file writes and streaming file hashes: the one implementation of each.

An atomic write goes to a temporary file in the target's folder (``.<name>.<random>.tmp``),
is flushed and fsynced, then renamed over the target; on failure the temporary is removed,
so a crash or an error never leaves half a file and never harms the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

HASH_CHUNK = 4 << 20


def temporary_prefix(path: str | os.PathLike) -> str:
    """Temporaries of ``path`` are named ``<prefix><random>.tmp`` (see :func:`stale_temporaries`)."""
    return f".{Path(path).name}."


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temporary(path: Path, suffix: str) -> tuple[int, str]:
    """mkstemp beside ``path``, with the mode the user's umask gives a new file (0644 normally):
    mkstemp's 0600 would hide sidecars and exports from others on shared volumes."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=suffix)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path next to ``path`` for a writer that wants a file name (``np.savez``,
    a library's ``save``); renamed over ``path`` when the block succeeds, removed otherwise."""
    path = Path(path)
    fd, tmp = _temporary(path, suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *, fsync: bool = True, **kw: Any) -> Iterator[IO]:
    """``open(path, mode)`` that replaces ``path`` only when the block succeeds. Text modes
    default to UTF-8 with surrogate escapes (non-UTF-8 file names survive). ``fsync=False``
    for caches, where a lost file after a power cut costs nothing."""
    path = Path(path)
    if "b" not in mode:
        kw.setdefault("encoding", "utf-8")
        kw.setdefault("errors", "surrogateescape")
    fd, tmp = _temporary(path, ".tmp")
    try:
        with os.fdopen(fd, mode, **kw) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mkdir: bool = False, fsync: bool = True) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically."""
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", fsync=fsync) as f:
        f.write(data)
    return path


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporaries a killed earlier write of ``path`` left behind."""
    import glob

    path = Path(path)
    return sorted(path.parent.glob(f"{glob.escape(temporary_prefix(path))}*.tmp"))


def file_sha256(path: str | os.PathLike, chunk: int = HASH_CHUNK) -> str:
    """SHA-256 of a file's content, read in chunks (memory stays flat for any size)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["atomic_open", "atomic_path", "atomic_write", "file_sha256", "stale_temporaries", "temporary_prefix"]
