"""The CinemaNet taxonomy: 14 concept groups and their labels, loaded from one data file.

Everything else in the package asks this module for groups and labels; no other module
lists label keys. The file is validated once when first loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Iterator, Mapping

import yaml

TAXONOMY_FILE = "cinemanet-v1.yaml"
SCHEMA = "cinemanet.taxonomy/1"


class TaxonomyError(ValueError):
    """The taxonomy data file is malformed, or a key/alias does not exist."""


def normalise(text: str) -> str:
    """Form used to match aliases and titles: lower case, separators as single spaces."""
    return " ".join(re.sub(r"[-_.]+", " ", text.casefold()).split())


def closest(word: str, pool, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The ``n`` words of ``pool`` nearest to ``word``, best first, for "did you mean".

    difflib's ratio, nudged towards words that start alike: people misspell the middle of a
    word ("nite") far more often than its first letter, so "night" beats "knit".
    """
    import difflib

    w = normalise(word)
    scored = []
    for p in pool:
        m = difflib.SequenceMatcher(None, w, p)
        if m.real_quick_ratio() < cutoff - 0.15 or m.quick_ratio() < cutoff - 0.15:
            continue
        r = m.ratio()
        if w and p and w[0] == p[0]:
            r += 0.15
        if r >= cutoff:
            scored.append((-r, len(p), p))
    return [p for _, _, p in sorted(scored)[:n]]


@dataclass(frozen=True)
class Label:
    key: str
    group: str
    title: str
    description: str
    aliases: tuple[str, ...] = ()
    parent: str | None = None
    #: how a description says it, where the default wording would be wrong ("on a beach")
    phrase: str | None = None

    @property
    def is_na(self) -> bool:
        return self.key == f"{self.group}.na"

    @property
    def short(self) -> str:
        """The key without its group prefix, e.g. ``closeup`` or ``interior.structure.building.room.bed``."""
        return self.key[len(self.group) + 1 :]


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    question: str
    description: str
    multi_label: bool
    ordered: bool
    labels: tuple[Label, ...]
    order: tuple[str, ...] = ()
    _by_key: Mapping[str, Label] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[Label]:
        return iter(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: str) -> Label:
        """Look a label up by full key or by the part after the group key."""
        lab = self._by_key.get(key) or self._by_key.get(f"{self.key}.{key}")
        if lab is None:
            raise KeyError(f"{key!r} is not a label of group {self.key}")
        return lab

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._by_key or f"{self.key}.{key}" in self._by_key)

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return tuple(lab.key for lab in self.labels)

    @property
    def na(self) -> Label | None:
        return self._by_key.get(f"{self.key}.na")

    def depth(self, label_key: str) -> int:
        """Number of label ancestors above ``label_key`` (0 for a top-level label)."""
        d, lab = 0, self[label_key]
        while lab.parent:
            d, lab = d + 1, self[lab.parent]
        return d

    def ancestors(self, label_key: str) -> list[str]:
        out, lab = [], self[label_key]
        while lab.parent:
            out.append(lab.parent)
            lab = self[lab.parent]
        return out


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    description: str
    groups: tuple[Group, ...]
    _groups: Mapping[str, Group] = field(default_factory=dict, repr=False, compare=False)
    _labels: Mapping[str, Label] = field(default_factory=dict, repr=False, compare=False)
    _aliases: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[Group]:
        return iter(self.groups)

    def group(self, key: str) -> Group:
        try:
            return self._groups[key]
        except KeyError:
            raise KeyError(f"unknown concept group {key!r}; groups are: {', '.join(self._groups)}") from None

    def find_group(self, name: str) -> Group:
        """A group by its key, its last part or its title: ``shot.framing``, ``framing``, ``Shot framing``."""
        if name in self._groups:
            return self._groups[name]
        want = normalise(name).replace(" ", "")
        for g in self.groups:
            if want in (
                normalise(g.key).replace(" ", ""),
                g.key.rsplit(".", 1)[-1],
                normalise(g.title).replace(" ", ""),
            ):
                return g
        return self.group(name)  # raises with the list of groups

    def label(self, key: str) -> Label:
        try:
            return self._labels[key]
        except KeyError:
            raise KeyError(f"unknown label key {key!r}") from None

    def group_of(self, label_key: str) -> Group:
        return self._groups[self.label(label_key).group]

    @property
    def group_keys(self) -> tuple[str, ...]:
        return tuple(g.key for g in self.groups)

    @property
    def labels(self) -> tuple[Label, ...]:
        return tuple(lab for g in self.groups for lab in g.labels)

    def resolve(self, text: str) -> Label | None:
        """Find the label whose full key, title or alias matches ``text`` (normalised)."""
        if text in self._labels:
            return self._labels[text]
        key = self._aliases.get(normalise(text))
        return self._labels[key] if key else None

    @property
    def vocabulary(self) -> Mapping[str, str]:
        """Every normalised title and alias -> label key."""
        return self._aliases


def _build(data: dict) -> Taxonomy:
    if data.get("schema") != SCHEMA:
        raise TaxonomyError(f"taxonomy schema must be {SCHEMA!r}, got {data.get('schema')!r}")
    groups: list[Group] = []
    all_labels: dict[str, Label] = {}
    vocab: dict[str, str] = {}

    def add_word(word: str, key: str) -> None:
        w = normalise(word)
        if vocab.get(w, key) != key:
            raise TaxonomyError(f"alias/title {word!r} names both {vocab[w]} and {key}")
        vocab[w] = key

    for g in data["groups"]:
        gkey = g["key"]
        labels = []
        for lab in g["labels"]:
            key = lab["key"]
            if not key.startswith(gkey + "."):
                raise TaxonomyError(f"label {key} does not start with its group key {gkey}")
            if key in all_labels:
                raise TaxonomyError(f"label {key} appears twice")
            for req in ("title", "description"):
                if not str(lab.get(req, "")).strip() or "\n" in str(lab[req]).strip():
                    raise TaxonomyError(f"label {key} needs a one-line {req}")
            label = Label(
                key=key,
                group=gkey,
                title=lab["title"],
                description=lab["description"].strip(),
                aliases=tuple(str(a) for a in lab.get("aliases") or ()),
                parent=lab.get("parent"),
                phrase=lab.get("phrase"),
            )
            labels.append(label)
            all_labels[key] = label
        by_key = {lab.key: lab for lab in labels}
        for lab in labels:
            if lab.parent is not None and lab.parent not in by_key:
                raise TaxonomyError(f"label {lab.key} has parent {lab.parent} outside its group")
        order = tuple(g.get("order") or ())
        if bool(g.get("ordered")) != bool(order) or any(k not in by_key for k in order):
            raise TaxonomyError(f"group {gkey}: 'ordered' needs an 'order' of its own label keys")
        groups.append(
            Group(
                key=gkey,
                title=g["title"],
                question=g.get("question", ""),
                description=g.get("description", ""),
                multi_label=bool(g.get("multi_label", False)),
                ordered=bool(g.get("ordered", False)),
                labels=tuple(labels),
                order=order,
                _by_key=by_key,
            )
        )
    for lab in all_labels.values():
        add_word(lab.title, lab.key)
        for a in lab.aliases:
            add_word(a, lab.key)
    gmap = {g.key: g for g in groups}
    if len(gmap) != len(groups):
        raise TaxonomyError("duplicate group key")
    return Taxonomy(
        name=data.get("name", ""),
        version=str(data["version"]),
        description=data.get("description", ""),
        groups=tuple(groups),
        _groups=gmap,
        _labels=all_labels,
        _aliases=vocab,
    )


def load_taxonomy(text: str | None = None) -> Taxonomy:
    """Parse and validate a taxonomy document (the packaged v1 file when ``text`` is None)."""
    if text is None:
        return get_taxonomy()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return _build(yaml.load(text, Loader=loader))


@cache
def get_taxonomy() -> Taxonomy:
    """The packaged CinemaNet v1 taxonomy, loaded and validated once per process."""
    text = resources.files(__package__).joinpath(TAXONOMY_FILE).read_text(encoding="utf-8")
    return load_taxonomy(text)


__all__ = ["Group", "Label", "Taxonomy", "TaxonomyError", "get_taxonomy", "load_taxonomy", "normalise", "closest"]
