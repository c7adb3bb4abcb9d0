"""Read what an import brings: a folder-per-label tree or a CSV/JSONL manifest -> entries.

Every name is resolved to a v1 label key here; all unknown names of a source are collected
and reported together (with suggestions) before anything is written.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..media import IMAGE_EXTENSIONS
from ..taxonomy import get_taxonomy
from .labels import LabelResolutionError, resolve_group, resolve_label
from .records import PROVENANCE_FIELDS

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


@dataclass
class Entry:
    """One image file as the source describes it (before hashing and merging)."""

    path: Path
    labels: dict[str, str]  # group -> label key
    meta: dict[str, str] = field(default_factory=dict)  # source, film, annotator, licence, extra columns


def load_label_map(path: Path) -> dict[str, str]:
    """A YAML/JSON mapping folder name -> label key (or -> {label: key, ...}), validated."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out = {}
    for name, v in data.items():
        key = v["label"] if isinstance(v, dict) else v
        out[str(name)] = resolve_label(str(key)).key
    return out


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def scan_folder(
    root: Path, group: str | None = None, label_map: dict[str, str] | None = None
) -> tuple[list[Entry], list[str]]:
    """Entries of a folder tree: ``root/<label>/...`` or ``root/<group>/<label>/...``.

    A top-level folder whose name is a group (``framing``, ``shot.type``) holds label folders of
    that group; any other folder name must be a label (of ``group`` if given). Images below a
    label folder, at any depth, get that label. Returns entries and warnings (ignored files).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    label_map = label_map or {}
    entries: list[Entry] = []
    problems: list[tuple[str, str]] = []
    warnings: list[str] = []

    def label_folder(d: Path, grp: str | None) -> None:
        if d.name in label_map:
            key = label_map[d.name]
        else:
            try:
                key = resolve_label(d.name, grp).key
            except LabelResolutionError as e:
                problems.extend((str(d), f"{d}: {m}") for _, m in e.problems)
                return
        g = get_taxonomy().label(key).group
        entries.extend(Entry(p, {g: key}) for p in _images(d))

    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if loose:
        warnings.append(f"{root}: {len(loose)} image(s) outside any label folder were ignored")
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        g = None if (group or d.name in label_map) else resolve_group(d.name)
        if g is not None:
            for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
                label_folder(sub, g.key)
        else:
            label_folder(d, group)
    if problems:
        raise LabelResolutionError(problems)
    if not entries:
        raise ValueError(f"{root}: no images found in label folders")
    return entries, warnings


def _rows(path: Path) -> list[dict]:
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e.msg}") from None
    return rows


def scan_manifest(path: Path, group: str | None = None) -> tuple[list[Entry], list[str]]:
    """Entries of a CSV or JSONL manifest with columns ``path`` (relative to the manifest),
    ``group`` (optional when ``label`` is a full key or ``group`` is given), ``label`` and
    optional ``source``, ``film``, ``annotator``, ``licence``; other columns are kept for slicing.
    Several rows for one path give one image with several labels."""
    path = Path(path)
    rows = _rows(path)
    by_path: dict[Path, Entry] = {}
    problems: list[tuple[str, str]] = []
    warnings: list[str] = []
    for n, row in enumerate(rows, 2 if path.suffix.lower() == ".csv" else 1):
        row = {str(k).strip().lower(): ("" if v is None else str(v).strip()) for k, v in row.items() if k is not None}
        where = f"{path.name}:{n}"
        if not row.get("path") or not row.get("label"):
            problems.append((where, f"{where}: needs 'path' and 'label'"))
            continue
        g = row.get("group") or group
        if g:
            gobj = resolve_group(g)
            if gobj is None:
                problems.append((where, f"{where}: {g!r} is not a concept group; see `cinemanet taxonomy`"))
                continue
            g = gobj.key
        try:
            lab = resolve_label(row["label"], g)
        except LabelResolutionError as e:
            problems.extend((where, f"{where}: {m}") for _, m in e.problems)
            continue
        p = Path(row["path"])
        p = p if p.is_absolute() else (path.parent / p)
        meta = {k: v for k, v in row.items() if k not in ("path", "group", "label") and v != ""}
        e = by_path.setdefault(p, Entry(p, {}, {}))
        if lab.group in e.labels and e.labels[lab.group] != lab.key:
            # two rows give one file two labels of one group: keep both for conflict detection
            e.meta.setdefault("_conflicts", []).append((lab.group, lab.key))
        else:
            e.labels[lab.group] = lab.key
        for k, v in meta.items():
            e.meta.setdefault(k, v)
    if problems:
        raise LabelResolutionError(problems)
    missing = [e.path for e in by_path.values() if not e.path.is_file()]
    if missing:
        warnings.append(f"{len(missing)} file(s) named in {path.name} do not exist, e.g. {missing[0]}")
    return [e for e in by_path.values() if e.path.is_file()], warnings


def scan(src: Path, group: str | None = None, label_map: dict[str, str] | None = None) -> tuple[list[Entry], list[str]]:
    """A folder tree or a manifest file, whichever ``src`` is."""
    src = Path(src)
    if src.is_file() and src.suffix.lower() in MANIFEST_SUFFIXES:
        return scan_manifest(src, group)
    if src.is_dir():
        return scan_folder(src, group, label_map)
    raise FileNotFoundError(f"{src}: not a folder nor a .csv/.jsonl manifest")


__all__ = ["Entry", "PROVENANCE_FIELDS", "load_label_map", "scan", "scan_folder", "scan_manifest"]
