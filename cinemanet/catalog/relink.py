"""Find moved videos and plan the catalog's prune: relink what moved, remove what vanished.

A video whose file is missing (or whose name now holds a file of another size) is looked
for next to its sidecar, then under each search root, matched by size and then by content
hash (SHA-256), so a renamed copy is found too. :func:`plan_prune` decides; :func:`apply`
changes the catalog, one transaction per change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..util.files import file_sha256
from ..video.sidecar import SUFFIXES


@dataclass(frozen=True)
class Change:
    media: object  # catalog.store.Media
    new_path: str | None  # None: remove it

    @property
    def relink(self) -> bool:
        return self.new_path is not None


def file_state(m) -> str:
    """ok, missing or changed (size differs: another file now has this name)."""
    try:
        st = os.stat(m.path)
    except OSError:
        return "missing"
    return "ok" if st.st_size == m.size or not m.size else "changed"


def find_moved(m, by_size: dict[int, list[str]] | None) -> str | None:
    """A candidate file (by size) with the media's size and content hash (the same video, moved)."""
    for cand in (by_size or {}).get(m.size, ()):
        try:
            if file_sha256(Path(cand)) == m.sha256:
                return cand
        except OSError:
            continue
    return None


def sizes_under(roots: Iterable[Path]) -> dict[int, list[str]]:
    """Video files under ``roots`` (recursively) by size."""
    from ..media.video import VIDEO_EXTENSIONS

    out: dict[int, list[str]] = {}
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                if Path(f).suffix.lower() in VIDEO_EXTENSIONS:
                    p = os.path.join(dirpath, f)
                    try:
                        out.setdefault(os.stat(p).st_size, []).append(os.path.abspath(p))
                    except OSError:
                        continue
    return out


def _beside_sidecar(m) -> str | None:
    if not m.sidecar:
        return None
    sc = Path(m.sidecar)
    for suf in SUFFIXES:
        if sc.name.endswith(suf):
            beside = sc.with_name(sc.name[: -len(suf)])
            if beside.is_file() and beside.stat().st_size == m.size and str(beside) != m.path:
                return find_moved(m, {m.size: [str(beside)]})
    return None


def plan_prune(cat, search_roots: Iterable[Path] = ()) -> Iterator[Change]:
    """One :class:`Change` per video whose file is not where the catalog says (in catalog order)."""
    roots = list(search_roots)
    by_size = None
    for m in cat.media_list():
        if file_state(m) == "ok":
            continue
        new = _beside_sidecar(m)  # the video may sit beside its sidecar (moved together)
        if new is None and roots:
            if by_size is None:
                by_size = sizes_under(roots)
            new = find_moved(m, by_size)
        yield Change(m, new)


def apply(cat, change: Change) -> None:
    """Make one change in the catalog (its own transaction)."""
    m = change.media
    if change.new_path:
        st = os.stat(change.new_path)
        cat.relink(m.id, change.new_path, st.st_size, st.st_mtime)
    else:
        cat.remove_media([m.id])


__all__ = ["Change", "apply", "file_state", "find_moved", "plan_prune", "sizes_under"]
