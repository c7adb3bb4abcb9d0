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


def tag_schema() -> dict:
    tax = get_taxonomy()
    all_keys = [lab.key for lab in tax.labels if not lab.is_na]
    result = {
        "type": "object",
        "required": ["schema", "path", "width", "height", "groups", "tags", "description"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": TAG_SCHEMA},
            "path": {"type": ["string", "null"], "description": "Absolute path of the input (null for in-memory images)."},
            "width": {"type": "integer", "minimum": 1, "description": "Upright width of the original image in pixels."},
            "height": {"type": "integer", "minimum": 1},
            "groups": {
                "type": "object",
                "required": list(tax.group_keys),
                "additionalProperties": False,
                "properties": {g.key: _group_schema(g) for g in tax.groups},
            },
            "tags": {"type": "array", "uniqueItems": True, "items": {"enum": all_keys},
                     "description": "Every label at or above its threshold, all groups; na labels are never tags."},
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


def shipped(name: str = TAG_SCHEMA_FILE) -> dict:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def write_schemas(folder: Path | None = None) -> list[Path]:
    folder = folder or Path(str(resources.files(__package__)))
    path = Path(folder) / TAG_SCHEMA_FILE
    path.write_text(json.dumps(tag_schema(), indent=2) + "\n", encoding="utf-8")
    return [path]
