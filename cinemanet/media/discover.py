"""Turn command-line paths into the list of media files to process, in a stable order.

Problems with a path itself (missing, unreadable, a folder holding no media) are reported
as entries with an error, so the batch goes on and the user sees every problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Input:
    path: str  # absolute; non-UTF-8 names keep Python's surrogate escapes
    error: str | None = None


def discover(
    paths: Iterable[str | os.PathLike],
    extensions: frozenset[str],
    kind: str = "images",
    elsewhere: tuple[frozenset[str], str, str] | None = None,
) -> Iterator[Input]:
    """Yield files under ``paths``: files as given, folders walked recursively (sorted).

    A file named explicitly is always yielded (the decoder decides whether it is readable);
    inside folders only names with one of ``extensions`` are picked up. ``elsewhere`` is
    (extensions, kind, command) of media another command reads, e.g. (VIDEO_EXTENSIONS,
    "video", "cinemanet analyze"): such a file named explicitly, or a folder holding only
    such files, is an error that names that command.
    """
    for raw in paths:
        p = Path(raw)
        ap = str(p.absolute())
        if not os.path.lexists(p):
            yield Input(ap, "no such file or directory")
        elif p.is_dir():
            found = False
            for f in _walk(p, extensions):
                found = True
                yield f
            if not found:
                exts = ", ".join(sorted(extensions))
                hint = ""
                if elsewhere and any(True for _ in _walk(p, elsewhere[0])):
                    hint = f"; it holds {elsewhere[1]} files: use `{elsewhere[2]}` for those"
                yield Input(ap, f"folder contains no {kind} (looked for {exts}){hint}")
        elif elsewhere and p.suffix.lower() in elsewhere[0] and p.suffix.lower() not in extensions:
            yield Input(ap, f"this is a {elsewhere[1]} file: use `{elsewhere[2]}` for {elsewhere[1]}s")
        else:
            yield Input(ap)


def _walk(root: Path, extensions: frozenset[str]) -> Iterator[Input]:
    errors: list[OSError] = []

    def drain() -> Iterator[Input]:
        while errors:
            e = errors.pop(0)
            reason = "permission denied" if isinstance(e, PermissionError) else (e.strerror or str(e))
            yield Input(str(Path(e.filename or root).absolute()), f"cannot list folder: {reason}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames.sort()
        yield from drain()
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in extensions:
                yield Input(str(Path(dirpath, name).absolute()))
    yield from drain()
