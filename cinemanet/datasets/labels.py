"""Names people write (folder names, manifest cells) -> v1 label keys, through the taxonomy's aliases.

Unknown names are never guessed: they are rejected with the closest known names as suggestions.
"""

from __future__ import annotations


from ..taxonomy import Group, Label, closest, get_taxonomy, normalise


class LabelResolutionError(ValueError):
    """One or more names did not resolve; ``problems`` lists (name, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(msg for _, msg in problems))


def _words(group: Group | None) -> dict[str, str]:
    """Every normalised title, alias and short key -> label key (within ``group`` if given)."""
    tax = get_taxonomy()
    labels = group.labels if group else tax.labels
    keys = {lab.key for lab in labels}
    out = {w: k for w, k in tax.vocabulary.items() if k in keys}
    for lab in labels:
        out.setdefault(normalise(lab.short), lab.key)
        out.setdefault(normalise(lab.key), lab.key)
        out.setdefault(normalise(lab.short.split(".")[-1]), lab.key)  # "bed" for ...room.bed
    return out


def suggest(name: str, group: str | None = None, n: int = 5) -> list[str]:
    """Label keys whose names are closest to ``name`` (best first)."""
    g = get_taxonomy().group(group) if group else None
    words = _words(g)
    hits = closest(name, words, n=4 * n)
    return list(dict.fromkeys(words[h] for h in hits))[:n]


def resolve_label(name: str, group: str | None = None) -> Label:
    """The v1 label ``name`` means: a full key, a key without its group prefix, a title or an alias.

    With ``group``, the label must belong to it. Raises :class:`LabelResolutionError` with
    suggestions when the name is unknown or belongs to another group.
    """
    tax = get_taxonomy()
    g = tax.group(group) if group else None
    lab: Label | None = None
    if g is not None and name in g:
        lab = g[name]
    else:
        lab = tax.resolve(name)
        if lab is None:
            key = _words(g).get(normalise(name))
            lab = tax.label(key) if key else None
    if lab is not None and (g is None or lab.group == g.key):
        return lab
    where = f" of {g.key}" if g else ""
    hint = suggest(name, group)
    msg = f"{name!r} is not a label{where}"
    if lab is not None:
        msg += f" (it names {lab.key}, in group {lab.group})"
    msg += f"; did you mean: {', '.join(hint)}?" if hint else "; see `cinemanet taxonomy`"
    raise LabelResolutionError([(name, msg)])


def resolve_group(name: str) -> Group | None:
    """A group by key (``shot.framing``), by its last part (``framing``) or by title; else None."""
    tax = get_taxonomy()
    n = normalise(name)
    for g in tax.groups:
        if n in (normalise(g.key), normalise(g.key.split(".")[-1]), normalise(g.title)):
            return g
    return None
