"""Labelled stills on disk -> (path, label) items, with folder names resolved through the taxonomy."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..media import IMAGE_EXTENSIONS
from ..taxonomy import get_taxonomy
from ..util.files import file_sha256


@dataclass(frozen=True)
class Item:
    path: Path
    label: str  # a v1 label key, or a source class name where the head predicts source classes
    sha256: str  # of the file; for a generated example, the key of (source file, recipe)
    #: a label-generating augmentation applied to the file (see :mod:`.augment`), or None
    recipe: object | None = None
    source_sha256: str | None = None  # the file's own hash when ``recipe`` is set


def folder_items(root: Path, group: str | None = None) -> list[Item]:
    """One sub-folder per class. With ``group``, folder names must resolve to that group's labels."""
    root = Path(root)
    tax = get_taxonomy()
    items = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if group is None:
            label = d.name
        else:
            g = tax.group(group)
            lab = g[d.name] if d.name in g else tax.resolve(d.name)
            if lab is None or lab.group != group:
                raise ValueError(f"{d}: folder name {d.name!r} is not a label of {group}")
            label = lab.key
        for f in sorted(d.iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                items.append(Item(f, label, file_sha256(f)))
    return items


def scene15_mapping() -> dict[str, dict]:
    text = resources.files(__package__).joinpath("scene15.yaml").read_text(encoding="utf-8")
    mapping = yaml.safe_load(text)
    tax = get_taxonomy()
    for m in mapping.values():
        tax.label(m["label"])  # validate
    return mapping


def data_hash(items: list[Item]) -> str:
    """A digest of exactly which files, with which labels, a head was trained and tested on."""
    h = hashlib.sha256()
    for it in sorted(items, key=lambda i: (i.label, i.sha256)):
        h.update(f"{it.label}\t{it.sha256}\n".encode())
    return h.hexdigest()


ID_CHARS = 8  # 32 bits of each file hash: enough to recognise a training image, small in a head file


def train_ids(items: list[Item]) -> str:
    """The files a head was fitted on, as one string of hash prefixes (for generated examples,
    their source files), so evaluation can refuse to score a model on its own training images."""
    return "".join(sorted({(it.source_sha256 or it.sha256)[:ID_CHARS] for it in items}))


def split_ids(s: str) -> set[str]:
    return {s[i : i + ID_CHARS] for i in range(0, len(s or ""), ID_CHARS)}


@dataclass(frozen=True)
class Labelled:
    """One image of a shared source with every v1 label its class implies."""

    path: Path
    sha256: str
    source: str  # e.g. "sun8"
    cls: str  # the source's own class name
    labels: tuple[tuple[str, str], ...]  # (group, v1 key)
    mixed_side: bool = False  # a place whose class mixes interior and exterior

    def label(self, group: str) -> str | None:
        return dict(self.labels).get(group)


def source_map() -> dict[str, dict[str, dict]]:
    """The documented table (``datasets/source_map.yaml``), every key checked against v1."""
    text = resources.files("cinemanet.datasets").joinpath("source_map.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    tax = get_taxonomy()
    for src, classes in table.items():
        for cls, m in classes.items():
            for g, key in m.items():
                if g == "side":
                    continue
                lab = tax.label(key)
                if lab.group != g:
                    raise ValueError(f"source_map.yaml: {src}/{cls}: {key} is not a label of {g}")
    return table


def judged_labels() -> dict[str, frozenset[str]]:
    """Labels corrected by inspection (``datasets/judged_labels.yaml``): correction name -> the
    SHA-256 of every file it applies to."""
    text = resources.files("cinemanet.datasets").joinpath("judged_labels.yaml").read_text(encoding="utf-8")
    return {name: frozenset(e["sha256"] for e in entries) for name, entries in yaml.safe_load(text).items()}


def shared_items(data: Path, log=print) -> list[Labelled]:
    """Every image of the mapped sources under ``data``; a class folder missing from the table,
    or an empty one, is reported by name and skipped."""
    data = Path(data)
    out: list[Labelled] = []
    for src, classes in source_map().items():
        root = data / src
        if not root.is_dir():
            log(f"{root}: source missing, skipped")
            continue
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            m = classes.get(d.name)
            if m is None:
                log(f"{d}: class {d.name!r} is not in source_map.yaml, skipped")
                continue
            files = [f for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_EXTENSIONS]
            if not files:
                log(f"{d}: empty class, skipped")
            labels = tuple((g, k) for g, k in m.items() if g != "side")
            for f in files:
                out.append(Labelled(f, file_sha256(f), src, d.name, labels, m.get("side") == "mixed"))
    return out
