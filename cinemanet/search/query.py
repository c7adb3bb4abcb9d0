"""The search query language: parse a query string into a small expression tree.

Grammar (operators are case-insensitive; ``AND`` is implied between terms)::

    query  := or ( "sort:" KEY[:asc|:desc] | "limit:" N )*     # directives anywhere at top level
    or     := and ( ("OR" | "|") and )*
    and    := unary ( ["AND"] unary )*
    unary  := ("NOT" | "-") unary | "(" or ")" | term
    term   := WORDS                      night, "close up", wide, "black and white"
            | GROUP:LABEL                framing:closeup, location:interior, subject:person.face
            | LABEL_OR_GROUP:LABEL OP N  framing:closeup>0.8, night>=0.6
            | FIELD OP N                 duration>2, brightness<0.3, motion>0.05, confidence>0.5
            | file:TEXT                  file:tears (the media path contains TEXT)
    OP     := > | >= | < | <= | =

A word is a label title or alias from the taxonomy (the taxonomy file is the only label list);
consecutive words are matched greedily as multi-word aliases first ("black and white").
An unknown word, group or label raises :class:`QueryError` with "did you mean" suggestions,
never an empty result. Parsing never raises anything else.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Union

from ..taxonomy import Taxonomy, closest, get_taxonomy, normalise

FIELDS = {
    "duration": "duration",
    "brightness": "brightness",
    "motion": "motion",
    "confidence": "confidence",
    "start": "start_time",
    "time": "start_time",
}
SORT_KEYS = {
    "confidence": "desc",
    "score": "desc",
    "duration": "desc",
    "brightness": "desc",
    "motion": "desc",
    "time": "asc",
}
SORT_ALIASES = {
    "relevance": "confidence",
    "similarity": "confidence",
    "length": "duration",
    "start": "time",
    "chronological": "time",
    "luma": "brightness",
}
OPS = (">=", "<=", ">", "<", "=")
MAX_QUERY_CHARS = 2000
MAX_DEPTH = 40
MAX_PHRASE = 6  # words tried at once when matching multi-word aliases

# Filler in an editor's phrase ("a close up of a face", "wide shot at night"): skipped when the
# word is not part of a longer alias.
STOP_WORDS = frozenset(
    "a an the of with in on at by for from into to shot shots scene scenes frame frames "
    "showing footage clip clips".split()
)

# Editors' words that name no single taxonomy label: each reads as a small query (full keys).
PHRASES = {
    "mcu": "(shot.framing.medium OR shot.framing.closeup)",
    "medium close up": "(shot.framing.medium OR shot.framing.closeup)",
    "medium closeup": "(shot.framing.medium OR shot.framing.closeup)",
    "insert": "(shot.framing.extremecloseup OR (shot.framing.closeup shot.subject.object))",
    "insert shot": "(shot.framing.extremecloseup OR (shot.framing.closeup shot.subject.object))",
    "cutaway": "(shot.framing.extremecloseup OR (shot.framing.closeup shot.subject.object))",
    "establishing": "(shot.framing.extremelong OR shot.framing.long) shot.location.exterior",
    "establishing shot": "(shot.framing.extremelong OR shot.framing.long) shot.location.exterior",
}
# Words the v1 taxonomy has no concept for: a clear answer instead of a near-miss suggestion.
NOT_TAGGED = {
    "pov": "point-of-view shots are not a v1 concept (the closest is over the shoulder: OTS)",
    "point of view": "point-of-view shots are not a v1 concept (the closest is over the shoulder: OTS)",
}


class QueryError(ValueError):
    """A query that cannot be run; ``str(e)`` is one line, with suggestions where known."""

    def __init__(self, message: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.suggestions = suggestions or []


# --- the tree -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    """A label term: tagged with ``key`` (no bound), or its score compared with ``value``."""

    key: str
    op: str | None = None
    value: float | None = None

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value:g}" if self.op else self.key


@dataclass(frozen=True)
class Field:
    name: str  # a column: duration, brightness, motion, confidence, start_time
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


@dataclass(frozen=True)
class File:
    text: str

    def __str__(self) -> str:
        return f"file:{self.text}"


@dataclass(frozen=True)
class Not:
    child: "Node"

    def __str__(self) -> str:
        return f"NOT {_paren(self.child)}"


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]

    def __str__(self) -> str:
        return " ".join(_paren(c) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]

    def __str__(self) -> str:
        return " OR ".join(_paren(c) if isinstance(c, Or) else str(c) for c in self.children)


Node = Union[Label, Field, File, Not, And, Or]


def _paren(n: Node) -> str:
    return f"({n})" if isinstance(n, (And, Or)) else str(n)


@dataclass(frozen=True)
class Query:
    """A parsed query: ``expr`` is None for "everything"."""

    expr: Node | None
    sort: str | None = None  # a SORT_KEYS key, None for the default order
    descending: bool = True
    limit: int | None = None
    text: str = ""
    notes: tuple[str, ...] = field(default=())  # how words were read, e.g. "wide -> shot.framing.long"

    def positive_labels(self) -> list[str]:
        """Label keys the query asks for (not under a NOT): what relevance is computed from."""
        out: list[str] = []

        def walk(n: Node | None, neg: bool) -> None:
            if isinstance(n, Label) and not neg and n.op not in ("<", "<="):
                out.append(n.key)
            elif isinstance(n, Not):
                walk(n.child, not neg)
            elif isinstance(n, (And, Or)):
                for c in n.children:
                    walk(c, neg)

        walk(self.expr, False)
        return out

    def __str__(self) -> str:
        s = str(self.expr) if self.expr is not None else "*"
        if self.sort:
            s += f" sort:{self.sort}:{'desc' if self.descending else 'asc'}"
        if self.limit is not None:
            s += f" limit:{self.limit}"
        return s


# --- the vocabulary ----------------------------------------------------------------------------
class Vocabulary:
    """Words the language understands, from the taxonomy: label titles and aliases, group
    names (``framing`` or ``shot.framing``), and each group's label names."""

    def __init__(self, tax: Taxonomy):
        self.tax = tax
        self.words: dict[str, str] = dict(tax.vocabulary)  # normalised word -> label key
        self.groups: dict[str, str] = {}
        for g in tax.groups:
            for name in (g.key, g.key.rsplit(".", 1)[-1], normalise(g.title)):
                self.groups.setdefault(normalise(name).replace(" ", ""), g.key)
        self.groups.setdefault("time", "shot.timeofday")
        self.groups.setdefault("tone", "color.tones")
        # A title without its qualifier names every label that shares it:
        # "store" is "Store (interior)" and "Store (exterior)"; both match.
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        bare: dict[str, list[str]] = {}
        for lab in tax.labels:
            w = normalise(re.sub(r"\s*\([^)]*\)", "", lab.title))
            if w and w not in self.words:
                bare.setdefault(w, []).append(lab.key)
        for w, keys in bare.items():
            if len(keys) == 1:
                self.words[w] = keys[0]
            else:
                self.ambiguous[w] = tuple(keys)
        self.in_group: dict[str, dict[str, str]] = {}
        self.in_group_ambiguous: dict[str, dict[str, tuple[str, ...]]] = {}
        for g in tax.groups:
            m: dict[str, str] = {}
            last: dict[str, list[str]] = {}
            for lab in g.labels:
                m[normalise(lab.short)] = lab.key  # "interior structure building room bed"
                last.setdefault(normalise(lab.short.rsplit(".", 1)[-1]), []).append(lab.key)  # "bed"
            amb = {w: tuple(keys) for w, keys in last.items() if len(keys) > 1 and w not in m}
            for w, keys in last.items():
                if w not in amb:
                    m.setdefault(w, keys[0])
            for lab in g.labels:
                for a in (lab.title, *lab.aliases):
                    m.setdefault(normalise(a), lab.key)
            self.in_group[g.key] = m
            self.in_group_ambiguous[g.key] = {w: k for w, k in amb.items() if w not in m}
        self.phrases = {normalise(k): v for k, v in PHRASES.items()}
        self.max_words = max(len(w.split()) for w in (*self.words, *self.phrases))
        self.keys = frozenset(lab.key for lab in tax.labels)  # full keys: str(Query) parses back

    def word(self, name: str) -> str | None:
        return name if name in self.keys else self.words.get(normalise(name))

    def group(self, name: str) -> str | None:
        return self.groups.get(normalise(name).replace(" ", ""))

    def label_in(self, group: str, name: str) -> str | None:
        return self.in_group[group].get(normalise(name))

    def labels_in(self, group: str, name: str) -> tuple[str, ...]:
        """Every label of ``group`` that ``name`` names: one, several (an ambiguous word) or none."""
        key = self.label_in(group, name)
        return (key,) if key else self.in_group_ambiguous[group].get(normalise(name), ())

    def suggest(self, word: str, pool=None, n: int = 3) -> list[str]:
        pool = list(pool if pool is not None else (*self.words, *self.ambiguous, *self.phrases))
        w = normalise(word)
        out = closest(w, pool, n=n)
        if not out:  # a prefix or a word inside a longer alias
            out = sorted((p for p in pool if p.startswith(w) or (len(w) >= 4 and w in p)), key=len)[:n]
        return out


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary(get_taxonomy())


# --- tokens ------------------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"?|([^\s()"]+))')
_CMP = re.compile(r"^(.*?)(>=|<=|>|<|=)(.*)$")


@dataclass
class _Tok:
    kind: str  # "(", ")", "word", "phrase"
    text: str


def tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group(1):
            out.append(_Tok("(", "("))
        elif m.group(2):
            out.append(_Tok(")", ")"))
        elif m.group(3) is not None:
            if m.group(3).strip():
                out.append(_Tok("phrase", m.group(3)))
        elif m.group(4):
            w = m.group(4)
            # a leading "-" (or "!") negates: "-person", "-(a b)" arrives as "-" then "("
            while len(w) > 1 and w[0] in "-!" and not _is_number(w):
                out.append(_Tok("word", "NOT"))
                w = w[1:]
            if w in ("-", "!"):
                w = "NOT"
            out.append(_Tok("word", w))
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _op_word(t: _Tok) -> str | None:
    if t.kind != "word":
        return None
    u = t.text.upper()
    if u in ("AND", "&", "&&"):
        return "AND"
    if u in ("OR", "|", "||"):
        return "OR"
    if u == "NOT":
        return "NOT"
    return None


# --- parsing -----------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str, vocab: Vocabulary):
        self.toks = tokenize(text)
        self.i = 0
        self.v = vocab
        self.sort: str | None = None
        self.desc = True
        self.limit: int | None = None
        self.notes: list[str] = []
        self.ignored: list[str] = []  # stop words passed over
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node | None:
        expr = self.parse_or()
        if self.peek() is not None:
            t = self.peek()
            raise QueryError(f"unexpected {t.text!r}" + (" (a ')' without its '(')" if t.kind == ")" else ""))
        return expr

    def parse_or(self) -> Node | None:
        parts = [self.parse_and()]
        while (t := self.peek()) is not None and _op_word(t) == "OR":
            self.i += 1
            if self.peek() is None or self.peek().kind == ")":
                raise QueryError("OR needs a term after it")
            parts.append(self.parse_and())
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node | None:
        parts: list[Node] = []
        while (t := self.peek()) is not None and t.kind != ")" and _op_word(t) != "OR":
            if _op_word(t) == "AND":
                self.i += 1
                continue
            n = self.parse_unary()
            if n is not None:
                parts.append(n)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unary(self) -> Node | None:
        t = self.peek()
        assert t is not None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels")
        try:
            if _op_word(t) == "NOT":
                self.i += 1
                nxt = self.peek()
                if nxt is None or nxt.kind == ")" or _op_word(nxt) in ("OR", "AND"):
                    raise QueryError("NOT (or '-') needs a term after it")
                child = self.parse_unary()
                if child is None:
                    raise QueryError("NOT (or '-') needs a term after it, not a sort: or limit: directive")
                return child.child if isinstance(child, Not) else Not(child)
            if t.kind == "(":
                self.i += 1
                inner = self.parse_or()
                if self.peek() is None or self.peek().kind != ")":
                    raise QueryError("a '(' is not closed")
                self.i += 1
                if inner is None:
                    raise QueryError("empty parentheses")
                return inner
            return self.parse_term()
        finally:
            self.depth -= 1

    def parse_term(self) -> Node | None:
        t = self.toks[self.i]
        if t.kind == "word" and t.text == "*":  # everything (what str() of an empty query gives)
            self.i += 1
            return None
        if t.kind == "phrase":
            self.i += 1
            key = self.v.words.get(normalise(t.text))
            if key is None:
                raise self.unknown(t.text)
            return Label(key)
        text = t.text
        if ":" in text and not text.startswith(":"):
            head, rest = text.split(":", 1)
            hl = head.lower()
            if hl == "sort":
                self.i += 1
                self.sort_directive(rest)
                return None
            if hl == "limit":
                self.i += 1
                if not rest.isdigit() or not 0 < int(rest) <= 10000:
                    raise QueryError(f"limit: needs a whole number from 1 to 10000, got {rest!r}")
                self.limit = int(rest)
                return None
            if hl in ("file", "path", "video"):
                self.i += 1
                if not rest:
                    raise QueryError(f"{head}: needs some text, e.g. {head}:interview")
                return File(rest)
            self.i += 1
            return self.group_label(head, rest)
        m = _CMP.match(text)
        if m and m.group(1):
            self.i += 1
            name, op, num = m.groups()
            value = self.number(num, text)
            fname = FIELDS.get(name.lower())
            if fname:
                return Field(fname, op, value)
            lab = self.v.word(name)
            if lab:
                self._check_score(value, text)
                return Label(lab, op, value)
            raise self.unknown(name, extra=list(FIELDS))
        if m and not m.group(1):
            raise QueryError(
                f"{text!r}: a comparison needs a name before it, e.g. duration{m.group(2)}2 or framing:closeup{m.group(2)}0.8"
            )
        return self.words()

    def number(self, num: str, whole: str) -> float:
        n = num[:-1] if num.lower().endswith("s") and _is_number(num[:-1]) else num
        try:
            v = float(n)
        except ValueError:
            raise QueryError(f"{whole!r}: {num!r} is not a number") from None
        if not math.isfinite(v):
            raise QueryError(f"{whole!r}: the bound must be a finite number")
        return v

    def _check_score(self, value: float, whole: str) -> None:
        if not 0.0 <= value <= 1.0:
            raise QueryError(f"{whole!r}: a score bound must be between 0 and 1")

    def sort_directive(self, rest: str) -> None:
        key, _, direction = rest.partition(":")
        k = key.lower().lstrip("-+")
        k = SORT_ALIASES.get(k, k)
        if k not in SORT_KEYS:
            sugg = difflib.get_close_matches(k, [*SORT_KEYS, *SORT_ALIASES], n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join('sort:' + s for s in sugg)}?" if sugg else ""
            raise QueryError(
                f"unknown sort key {key!r} (keys: {', '.join(SORT_KEYS)}){hint}", ["sort:" + s for s in sugg]
            )
        d = direction.lower()
        if d not in ("", "asc", "desc"):
            raise QueryError(f"sort:{key}:{direction}: the direction must be asc or desc")
        desc = SORT_KEYS[k] == "desc"
        if d:
            desc = d == "desc"
        elif key.startswith("-"):
            desc = not desc
        if self.sort is not None and self.sort != ("confidence" if k == "score" else k):
            raise QueryError("only one sort: key per query")
        self.sort, self.desc = ("confidence" if k == "score" else k), desc

    def group_label(self, head: str, rest: str) -> Node:
        g = self.v.group(head)
        if g is None:
            sugg = self.v.suggest(head, pool=[k for k in self.v.groups if "." not in k])
            hint = f"; did you mean {' or '.join(s + ':' for s in sugg)}?" if sugg else ""
            raise QueryError(f"unknown concept group {head!r}{hint}", [s + ":" for s in sugg])
        m = _CMP.match(rest)
        name, op, value = rest, None, None
        if m and m.group(1):
            name, op = m.group(1), m.group(2)
            value = self.number(m.group(3), f"{head}:{rest}")
            self._check_score(value, f"{head}:{rest}")
        if not name:
            raise QueryError(f"{head}: needs a label, e.g. {head}:{self._example(g)}")
        keys = self.v.labels_in(g, name)
        if len(keys) > 1:
            self.notes.append(f"{head}:{name} -> {' OR '.join(keys)}")
            return Or(tuple(Label(k, op, value) for k in keys))
        key = keys[0] if keys else None
        if key is None:
            short = g.rsplit(".", 1)[-1]
            found = self.v.suggest(name, pool=list(self.v.in_group[g]), n=6)
            sugg = list(dict.fromkeys(f"{short}:{self.v.tax.label(self.v.in_group[g][s]).short}" for s in found))[:3]
            hint = f"; did you mean {' or '.join(sugg)}?" if sugg else f" (see `cinemanet taxonomy --group {g}`)"
            raise QueryError(f"{name!r} is not a label of {g}{hint}", sugg)
        return Label(key, op, value)

    def _example(self, group: str) -> str:
        return self.v.tax.group(group).labels[0].short

    def words(self) -> Node:
        """Greedy longest match of consecutive plain words against the taxonomy aliases."""
        if self.toks[self.i].text in self.v.keys:
            self.i += 1
            return Label(self.toks[self.i - 1].text)
        j = self.i
        plain: list[str] = []
        while j < len(self.toks) and self.toks[j].kind == "word" and len(plain) < MAX_PHRASE:
            w = self.toks[j].text
            if ":" in w or _CMP.match(w) or (plain and _op_word(self.toks[j]) and w.upper() == w):
                break
            plain.append(w)
            j += 1
        for n in range(len(plain), 0, -1):
            if n == 1 and _op_word(self.toks[self.i]) is not None:
                break
            said = " ".join(plain[:n])
            cand = normalise(said)
            key = self.v.words.get(cand)
            if key:
                self.i += n
                if cand != normalise(self.v.tax.label(key).short):
                    self.notes.append(f"{said} -> {key}")
                return Label(key)
            if cand in self.v.phrases:
                self.i += n
                sub = parse(self.v.phrases[cand], self.v).expr
                self.notes.append(f"{said} -> {sub}")
                return sub
            if cand in self.v.ambiguous:
                self.i += n
                keys = self.v.ambiguous[cand]
                self.notes.append(f"{said} -> {' OR '.join(keys)}")
                return Or(tuple(Label(k) for k in keys))
            if cand in NOT_TAGGED:
                raise QueryError(f"{said!r}: {NOT_TAGGED[cand]}")
        word = plain[0] if plain else self.toks[self.i].text
        self.i += 1
        if normalise(word) in STOP_WORDS:
            self.ignored.append(word)
            return None
        g = self.v.group(word)
        if g is not None:
            short = g.rsplit(".", 1)[-1]
            raise QueryError(f"{word!r} is a concept group: name one of its labels, e.g. {short}:{self._example(g)}")
        raise self.unknown(word)

    def unknown(self, word: str, extra: list[str] | None = None) -> QueryError:
        sugg = self.v.suggest(word, pool=list(self.v.words) + list(extra or []))
        hint = (
            f"; did you mean {', '.join(repr(s) for s in sugg)}?"
            if sugg
            else " (see `cinemanet taxonomy` for the words it knows)"
        )
        return QueryError(f"unknown word {word!r}{hint}", sugg)


def parse(text: str, vocab: Vocabulary | None = None) -> Query:
    """Parse ``text`` into a :class:`Query`. Raises :class:`QueryError` (and nothing else)."""
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if "\x00" in text:
        raise QueryError("the query contains a NUL character")
    p = _Parser(text, vocab or vocabulary())
    try:
        expr = p.parse()
    except QueryError:
        raise
    except RecursionError:
        raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels") from None
    if p.ignored:
        if expr is None:
            raise QueryError(
                f"nothing to search for: {', '.join(repr(w) for w in p.ignored)} "
                "only join words (try e.g. close up of a face)"
            )
        p.notes.append(f"ignored: {' '.join(p.ignored)}")
    return Query(expr, p.sort, p.desc, p.limit, text, tuple(p.notes))


__all__ = [
    "And",
    "Field",
    "File",
    "Label",
    "Not",
    "Or",
    "Query",
    "QueryError",
    "Vocabulary",
    "parse",
    "tokenize",
    "vocabulary",
]


def request(query: str | None, limit: int, offset: int, sort: str | None) -> tuple[Query, str | None, bool, int, int]:
    """A search request made definite, for every search path alike: the parsed query, the
    sort key and direction (``sort`` overrides a ``sort:`` in the query), and the page
    (``limit:`` in the query caps ``limit``; negatives become 0)."""
    q = parse(query or "")
    sort_key, desc = q.sort, q.descending
    if sort:
        sq = parse(f"sort:{sort}")
        sort_key, desc = sq.sort, sq.descending
    if q.limit is not None:
        limit = min(limit, q.limit) if limit else q.limit
    return q, sort_key, desc, max(0, int(limit)), max(0, int(offset))
