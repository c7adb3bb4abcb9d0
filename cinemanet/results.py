"""Typed results of the public API; ``to_dict()`` is exactly the documented JSON contract.

Contract ``cinemanet.tag/1`` (``schemas/cinemanet.tag-1.schema.json``): one object per input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .contracts import TAG_SCHEMA

SCORE_DIGITS = 4


def _r(x: float) -> float:
    return round(float(x), SCORE_DIGITS)


@dataclass
class GroupPrediction:
    """One concept group's answer. ``label`` is None only for groups without an ``na`` label
    (colour saturation, theory and tones; texture) when no label reaches its threshold."""

    label: str | None
    confidence: float
    scores: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": _r(self.confidence),
            "scores": {k: _r(v) for k, v in self.scores.items()},
        }


@dataclass
class TagResult:
    path: str | None
    width: int
    height: int
    groups: dict[str, GroupPrediction]
    tags: list[str]
    description: str
    embedding: list[float] | None = None
    schema: str = TAG_SCHEMA

    ok = True

    def label(self, group: str) -> str | None:
        return self.groups[group].label

    def to_dict(self) -> dict:
        d = {
            "schema": self.schema,
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "groups": {g: p.to_dict() for g, p in self.groups.items()},
            "tags": list(self.tags),
            "description": self.description,
        }
        if self.embedding is not None:
            d["embedding"] = [round(float(x), 6) for x in self.embedding]
        return d

    def to_json(self) -> str:
        return dumps(self.to_dict())


@dataclass
class TagError:
    path: str | None
    error: str
    schema: str = TAG_SCHEMA

    ok = False

    def to_dict(self) -> dict:
        return {"schema": self.schema, "path": self.path, "error": self.error}

    def to_json(self) -> str:
        return dumps(self.to_dict())


def dumps(obj: dict) -> str:
    """Compact JSON, UTF-8 where possible; non-UTF-8 file names keep Python's surrogate escapes
    (``\\udcXX``), which ``json.loads`` turns back into the same path."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return s


__all__ = ["GroupPrediction", "TAG_SCHEMA", "TagError", "TagResult", "dumps"]
