"""ImageNet-1k class names, in the order of the backbone's logits."""

from __future__ import annotations

from functools import cache
from importlib import resources

ANIMAL_CLASSES = range(0, 398)  # ImageNet-1k indices 0-397 are animals


@cache
def class_names() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(wnid, first name, all names) per class index."""
    text = resources.files(__package__).joinpath("data/imagenet_classes.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        idx, wnid, names = line.split("\t")
        assert int(idx) == len(rows), "imagenet_classes.tsv out of order"
        names_t = tuple(n.strip() for n in names.split(","))
        rows.append((wnid, names_t[0], names_t))
    return tuple(rows)


@cache
def _index() -> dict[str, list[int]]:
    idx: dict[str, list[int]] = {}
    for i, (wnid, first, _) in enumerate(class_names()):
        idx.setdefault(wnid, []).append(i)
        idx.setdefault(first, []).append(i)
    return idx


def class_index(name: str) -> int:
    """Index of a class named by WordNet id or unambiguous first name."""
    hits = _index().get(name, [])
    if len(hits) != 1:
        raise KeyError(f"ImageNet class {name!r} matches {len(hits)} classes; use its WordNet id")
    return hits[0]
