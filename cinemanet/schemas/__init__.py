"""Public JSON contracts, built from the taxonomy and shipped as JSON Schema files.

``python -m cinemanet.schemas`` rewrites the files; a test fails if they are out of date.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..results import TAG_SCHEMA
from ..taxonomy import get_taxonomy

TAG_SCHEMA_FILE = "cinemanet.tag-1.schema.json"
# /2: the transition's times and kind "other", the detector's options. The /1 files stay
# shipped, unchanged, for sidecars written before.
SHOT_SCHEMA_FILE = "cinemanet.shot-2.schema.json"
VIDEO_SCHEMA_FILE = "cinemanet.video-2.schema.json"
TIMECODE = "^[0-9]{2}:[0-9]{2}:[0-9]{2}[:;][0-9]{2}$"


def _group_schema(group) -> dict:
    keys = list(group.keys)
    return {
        "type": "object",
        "description": f"{group.title}: {group.question}",
        "required": ["label", "confidence", "scores"],
        "additionalProperties": False,
        "properties": {
            "label": {"enum": keys + ([] if group.na else [None])},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "scores": {
                "type": "object",
                "required": keys,
                "additionalProperties": False,
                "properties": {k: {"type": "number", "minimum": 0, "maximum": 1} for k in keys},
            },
        },
    }


def _groups_schema() -> dict:
    tax = get_taxonomy()
    return {
        "type": "object",
        "required": list(tax.group_keys),
        "additionalProperties": False,
        "properties": {g.key: _group_schema(g) for g in tax.groups},
    }


def _tags_schema() -> dict:
    keys = [lab.key for lab in get_taxonomy().labels if not lab.is_na]
    return {"type": "array", "uniqueItems": True, "items": {"enum": keys},
            "description": "Every label at or above its threshold, all groups; na labels are never tags."}


def tag_schema() -> dict:
    tax = get_taxonomy()
    result = {
        "type": "object",
        "required": ["schema", "path", "width", "height", "groups", "tags", "description"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": TAG_SCHEMA},
            "path": {"type": ["string", "null"], "description": "Absolute path of the input (null for in-memory images)."},
            "width": {"type": "integer", "minimum": 1, "description": "Upright width of the original image in pixels."},
            "height": {"type": "integer", "minimum": 1},
            "groups": _groups_schema(),
            "tags": _tags_schema(),
            "description": {"type": "string", "minLength": 1},
            "embedding": {"type": "array", "items": {"type": "number"}, "minItems": 1,
                          "description": "L2-normalised image embedding (with --embeddings)."},
        },
    }
    error = {
        "type": "object",
        "required": ["schema", "path", "error"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": TAG_SCHEMA},
            "path": {"type": ["string", "null"]},
            "error": {"type": "string", "minLength": 1, "pattern": "^[^\\n]+$", "description": "One-line reason."},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cinemanet.dev/schemas/cinemanet.tag-1.schema.json",
        "title": "cinemanet.tag/1",
        "description": f"One result of `cinemanet tag --format jsonl` (taxonomy {tax.name} {tax.version}): "
        "a tagged image, or an error for an input that could not be read.",
        "oneOf": [result, error],
    }


def _shot_object() -> dict:
    frame = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "required": ["schema", "path", "shot", "start_frame", "end_frame", "start_time", "end_time",
                     "start_timecode", "end_timecode", "groups", "tags", "description", "keyframes"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": "cinemanet.shot/2"},
            "path": {"type": "string"},
            "shot": {"type": "integer", "minimum": 0, "description": "0-based shot number in the video."},
            "start_frame": frame,
            "end_frame": {**frame, "description": "Inclusive last frame (presentation order, from 0)."},
            "start_time": {"type": "number", "description": "Seconds, from the stream's own timestamps."},
            "end_time": {"type": "number", "description": "Seconds; exclusive: the next shot's start_time."},
            "start_timecode": {"type": "string", "pattern": TIMECODE},
            "end_timecode": {"type": "string", "pattern": TIMECODE, "description": "Timecode of end_frame (inclusive)."},
            "groups": _groups_schema(),
            "tags": _tags_schema(),
            "description": {"type": "string", "minLength": 1},
            "keyframes": {"type": "array", "items": frame, "minItems": 1, "maxItems": 3},
            "keyframe_times": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
            "embedding": {"type": "array", "items": {"type": "number"}},
            "dominant_colors": {"type": "array", "items": {
                "type": "object", "required": ["hex", "fraction"], "additionalProperties": False,
                "properties": {"hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
                               "fraction": {"type": "number", "minimum": 0, "maximum": 1}}}},
            "motion": {"type": "number", "minimum": 0, "description": "Mean absolute luma change per frame (0..1)."},
            "transition": {"type": "object", "required": ["kind", "start_frame", "end_frame", "start_time", "end_time"],
                           "additionalProperties": False,
                           "properties": {"kind": {"enum": ["start", "cut", "fade", "dissolve", "other"]},
                                          "start_frame": {**frame, "description": "First frame of the transition."},
                                          "end_frame": {**frame, "description": "Last frame of the transition (inclusive); "
                                                        "equal to start_frame for a cut."},
                                          "start_time": {"type": "number", "description": "Seconds of start_frame."},
                                          "end_time": {"type": "number", "description": "Seconds after end_frame (exclusive)."}},
                           "description": "How the shot begins: 'start' for the first shot; a cut (on start_frame, the "
                           "shot's first frame), a fade (through black, white or a colour), a dissolve, or another "
                           "gradual transition, with its span. The shot's own start_frame lies inside a gradual span."},
        },
    }


def shot_schema() -> dict:
    error = {
        "type": "object", "required": ["schema", "path", "error"], "additionalProperties": False,
        "properties": {"schema": {"const": "cinemanet.shot/2"}, "path": {"type": "string"},
                       "error": {"type": "string", "minLength": 1, "pattern": "^[^\\n]+$"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cinemanet.dev/schemas/cinemanet.shot-2.schema.json",
        "title": "cinemanet.shot/2",
        "description": "One line of `cinemanet analyze --format jsonl`: a shot, or an error for a video that failed.",
        "oneOf": [_shot_object(), error],
    }


def video_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cinemanet.dev/schemas/cinemanet.video-2.schema.json",
        "title": "cinemanet.video/2",
        "description": "A sidecar: one analysed video, its summary and every shot.",
        "type": "object",
        "required": ["schema", "path", "file", "model", "video", "created", "shots"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": "cinemanet.video/2"},
            "path": {"type": "string"},
            "file": {"type": "object", "required": ["size", "sha256", "mtime"], "properties": {
                "size": {"type": "integer"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "mtime": {"type": "number"}}},
            "model": {"type": "object", "required": ["name", "version", "taxonomy", "detector", "detector_options", "cinemanet"],
                      "properties": {"detector": {"type": "string"},
                                     "detector_options": {"type": "object", "description": "Every option of the detector "
                                                          "with its value; a change means re-analysis."}}},
            "video": {"type": "object", "required": ["width", "height", "rotation", "fps", "fps_rational", "time_base",
                                                      "duration", "frame_count", "codec", "pix_fmt", "bit_depth", "start_time"]},
            "created": {"type": "string"},
            "shots": {"type": "array", "items": _shot_object()},
        },
    }


SCHEMAS = {TAG_SCHEMA_FILE: tag_schema, SHOT_SCHEMA_FILE: shot_schema, VIDEO_SCHEMA_FILE: video_schema}


def shipped(name: str = TAG_SCHEMA_FILE) -> dict:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def write_schemas(folder: Path | None = None) -> list[Path]:
    folder = folder or Path(str(resources.files(__package__)))
    out = []
    for name, build in SCHEMAS.items():
        path = Path(folder) / name
        path.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
        out.append(path)
    return out
