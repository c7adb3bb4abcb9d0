"""Public JSON contracts, built from the taxonomy and shipped as JSON Schema files.

``python -m cinemanet.schemas`` rewrites the files; a test fails if they are out of date.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..contracts import SHOT_SCHEMA, VIDEO_SCHEMA
from ..results import TAG_SCHEMA
from ..taxonomy import get_taxonomy

TAG_SCHEMA_FILE = "cinemanet.tag-1.schema.json"
# /2 since the shot's transition times and the detector options; the /1 files stay shipped,
# unchanged, for documents written before
SHOT_SCHEMA_FILE = "cinemanet.shot-2.schema.json"
VIDEO_SCHEMA_FILE = "cinemanet.video-2.schema.json"


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
    return {
        "type": "array",
        "uniqueItems": True,
        "items": {"enum": keys},
        "description": "Every label at or above its threshold, all groups; na labels are never tags.",
    }


def tag_schema() -> dict:
    tax = get_taxonomy()
    result = {
        "type": "object",
        "required": ["schema", "path", "width", "height", "groups", "tags", "description"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": TAG_SCHEMA},
            "path": {
                "type": ["string", "null"],
                "description": "Absolute path of the input (null for in-memory images).",
            },
            "width": {"type": "integer", "minimum": 1, "description": "Upright width of the original image in pixels."},
            "height": {"type": "integer", "minimum": 1},
            "groups": _groups_schema(),
            "tags": _tags_schema(),
            "description": {"type": "string", "minLength": 1},
            "embedding": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": 1,
                "description": "L2-normalised image embedding (with --embeddings).",
            },
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
    from ..video.records import Shot, contract_schema

    return contract_schema(Shot)


def shot_schema() -> dict:
    error = {
        "type": "object",
        "required": ["schema", "path", "error"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": SHOT_SCHEMA},
            "path": {"type": "string"},
            "error": {"type": "string", "minLength": 1, "pattern": "^[^\\n]+$"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://cinemanet.dev/schemas/{SHOT_SCHEMA_FILE}",
        "title": SHOT_SCHEMA,
        "description": "One line of `cinemanet analyze --format jsonl`: a shot, or an error for a video that failed.",
        "oneOf": [_shot_object(), error],
    }


def video_schema() -> dict:
    from ..video.records import Video, contract_schema

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://cinemanet.dev/schemas/{VIDEO_SCHEMA_FILE}",
        "title": VIDEO_SCHEMA,
        "description": "A sidecar: one analysed video, its summary and every shot.",
        **contract_schema(Video),
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
