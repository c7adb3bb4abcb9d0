"""Typed records of an analysed video: :class:`Shot` (``cinemanet.shot/1``) and :class:`Video`
(``cinemanet.video/1``, a sidecar).

Video analysis produces them once; the sidecar writer, the catalog, search results and the
web app use them. ``to_dict()`` is exactly the JSON contract, and the shipped JSON Schemas are
generated from these classes (:func:`contract_schema`): each field carries its contract
fragment as ``Annotated`` metadata, and a field without a default is a required property.

Adding an optional field later is one line here (``name: Annotated[T | None, C({...})] = None``)
plus ``python -m cinemanet.schemas``; unset optional fields are left out of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..contracts import READABLE_VIDEO_SCHEMAS, SHOT_SCHEMA, VIDEO_SCHEMA

TIMECODE = "^[0-9]{2}:[0-9]{2}:[0-9]{2}[:;][0-9]{2}$"


@dataclass(frozen=True)
class C:
    """A field's JSON Schema fragment in the public contract (a dict, or a function giving one,
    for fragments built from the taxonomy)."""

    schema: dict | Callable[[], dict]

    def build(self) -> dict:
        return self.schema() if callable(self.schema) else dict(self.schema)


def _groups() -> dict:
    from ..schemas import _groups_schema

    return _groups_schema()


def _tags() -> dict:
    from ..schemas import _tags_schema

    return _tags_schema()


_FRAME = {"type": "integer", "minimum": 0}
TRANSITION_KINDS = ("start", "cut", "fade", "dissolve", "other")


class _Record(BaseModel):
    # unknown keys (from a newer writer) are kept and written back, after the known ones
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict:
        """The JSON contract: declared fields in order, unset optional ones left out."""
        return self.model_dump(mode="python", exclude_unset=True, by_alias=True)


class GroupAnswer(_Record):
    """One concept group's answer for a shot (the same shape as a still's, ``cinemanet.tag/1``)."""

    label: str | None
    confidence: float
    scores: dict[str, float]


class Color(_Record):
    hex: str
    fraction: float


class Transition(_Record):
    """How the shot begins: ``start`` for the first shot, else the boundary's kind (cut, fade,
    dissolve, other) and span; times in seconds, the end exclusive (absent in /1 documents)."""

    kind: str
    start_frame: int
    end_frame: int
    start_time: float | None = None
    end_time: float | None = None


class Shot(_Record):
    """One shot: a line of ``cinemanet analyze --format jsonl``, an item of a sidecar's ``shots``."""

    schema_: Annotated[str, C({"const": SHOT_SCHEMA}), Field(alias="schema")] = SHOT_SCHEMA
    path: Annotated[str, C({"type": "string"})]
    shot: Annotated[int, C({"type": "integer", "minimum": 0, "description": "0-based shot number in the video."})]
    start_frame: Annotated[int, C(_FRAME)]
    end_frame: Annotated[int, C({**_FRAME, "description": "Inclusive last frame (presentation order, from 0)."})]
    start_time: Annotated[float, C({"type": "number", "description": "Seconds, from the stream's own timestamps."})]
    end_time: Annotated[float, C({"type": "number", "description": "Seconds; exclusive: the next shot's start_time."})]
    start_timecode: Annotated[str, C({"type": "string", "pattern": TIMECODE})]
    end_timecode: Annotated[
        str, C({"type": "string", "pattern": TIMECODE, "description": "Timecode of end_frame (inclusive)."})
    ]
    groups: Annotated[dict[str, GroupAnswer], C(_groups)]
    tags: Annotated[list[str], C(_tags)]
    description: Annotated[str, C({"type": "string", "minLength": 1})]
    keyframes: Annotated[list[int], C({"type": "array", "items": _FRAME, "minItems": 1, "maxItems": 3})]
    keyframe_times: Annotated[
        list[float] | None, C({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3})
    ] = None
    # embedding is written last (see to_dict), so a JSONL line reads left to right
    embedding: Annotated[list[float] | None, C({"type": "array", "items": {"type": "number"}})] = None
    dominant_colors: Annotated[
        list[Color] | None,
        C(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["hex", "fraction"],
                    "additionalProperties": False,
                    "properties": {
                        "hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
                        "fraction": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                },
            }
        ),
    ] = None
    motion: Annotated[
        float | None, C({"type": "number", "minimum": 0, "description": "Mean absolute luma change per frame (0..1)."})
    ] = None
    transition: Annotated[
        Transition | None,
        C(
            {
                "type": "object",
                "required": ["kind", "start_frame", "end_frame"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": list(TRANSITION_KINDS)},
                    "start_frame": {**_FRAME, "description": "First frame of the transition."},
                    "end_frame": {
                        **_FRAME,
                        "description": "Last frame of the transition (inclusive); start_frame for a cut.",
                    },
                    "start_time": {"type": "number", "description": "Seconds of start_frame."},
                    "end_time": {"type": "number", "description": "Seconds after end_frame (exclusive)."},
                },
                "description": "How the shot begins: 'start' for the first shot; a cut (on start_frame, the shot's first "
                "frame), a fade (through black, white or a colour), a dissolve, or another gradual transition, with its "
                "span. The shot's own start_frame lies inside a gradual span.",
            }
        ),
    ] = None

    def to_dict(self) -> dict:
        d = super().to_dict()
        d = {"schema": d.pop("schema", self.schema_), **d}
        if "embedding" in d:
            d["embedding"] = d.pop("embedding")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Shot":
        """Validate a ``cinemanet.shot/1`` object; raises :class:`RecordError` naming the field."""
        return _validate(cls, d, f"shot {d.get('shot', '?')}")


class FileFacts(_Record):
    size: int
    sha256: str
    mtime: float


class Video(_Record):
    """A sidecar (``cinemanet.video/1``): one analysed video, its summary and every shot."""

    schema_: Annotated[str, C({"const": VIDEO_SCHEMA}), Field(alias="schema")] = VIDEO_SCHEMA
    path: Annotated[str, C({"type": "string"})]
    file: Annotated[
        FileFacts,
        C(
            {
                "type": "object",
                "required": ["size", "sha256", "mtime"],
                "properties": {
                    "size": {"type": "integer"},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "mtime": {"type": "number"},
                },
            }
        ),
    ]
    # model and stream facts are open objects: writers add keys (detector options, timecode)
    model: Annotated[
        dict[str, Any],
        C(
            {
                "type": "object",
                "required": ["name", "version", "taxonomy", "detector", "detector_options", "cinemanet"],
                "properties": {
                    "detector_options": {
                        "type": "object",
                        "description": "Every option of the shot detector with its value; a change means re-analysis.",
                    }
                },
            }
        ),
    ]
    video: Annotated[
        dict[str, Any],
        C(
            {
                "type": "object",
                "required": [
                    "width",
                    "height",
                    "rotation",
                    "fps",
                    "fps_rational",
                    "time_base",
                    "duration",
                    "frame_count",
                    "codec",
                    "pix_fmt",
                    "bit_depth",
                    "start_time",
                ],
            }
        ),
    ]
    created: Annotated[str, C({"type": "string"})]
    shots: Annotated[list[Shot], C(lambda: {"type": "array", "items": contract_schema(Shot)})]

    def to_dict(self) -> dict:
        d = {"schema": VIDEO_SCHEMA}
        for name in type(self).model_fields:
            if name in ("schema_", "shots"):
                continue
            v = getattr(self, name)
            d[name] = v.to_dict() if isinstance(v, _Record) else v
        d["shots"] = [s.to_dict() for s in self.shots]
        d.update(self.model_extra or {})
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Video":
        """Validate a ``cinemanet.video/1`` document; raises :class:`RecordError` naming the field."""
        d = dict(d)
        if d.get("schema", VIDEO_SCHEMA) not in READABLE_VIDEO_SCHEMAS:
            raise RecordError(f"not a {VIDEO_SCHEMA} document (schema is {d.get('schema')!r})")
        d.pop("schema", None)
        shots = d.pop("shots", None)
        if not isinstance(shots, list):
            raise RecordError("shots: not a list")
        v = _validate(cls, {**d, "shots": []}, "video")
        v.shots = [Shot.from_dict(s) if isinstance(s, dict) else s for s in shots]
        return v


class RecordError(ValueError):
    """A record does not match its contract; the message names the field and why."""


def _validate(cls: type[_Record], d: dict, what: str):
    try:
        return cls.model_validate(d)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]).replace("schema_", "schema")
        raise RecordError(f"{what}: {where}: {err['msg']}") from None


def contract_schema(cls: type[BaseModel]) -> dict:
    """The JSON Schema object of ``cls`` in the public contract, from its fields' :class:`C`."""
    props, required = {}, []
    for name, f in cls.model_fields.items():
        key = "schema" if name == "schema_" else name
        frag = next((m for m in f.metadata if isinstance(m, C)), None)
        if frag is None:
            raise TypeError(f"{cls.__name__}.{name} has no contract fragment")
        props[key] = frag.build()
        if f.is_required() or name == "schema_":
            required.append(key)
    return {"type": "object", "required": required, "additionalProperties": False, "properties": props}


__all__ = ["C", "Color", "FileFacts", "GroupAnswer", "RecordError", "Shot", "Transition", "Video", "contract_schema"]
