"""Perception: the backbone and analyzers that turn a frame into :class:`Evidence`."""

from .analyzer import Analyzer, analyzer_class, register_analyzer
from .evidence import Box, Evidence, Face, ImageStats, Pose, TextEvidence
from .pipeline import Perception, StageTimer

__all__ = [
    "Analyzer",
    "Box",
    "Evidence",
    "Face",
    "ImageStats",
    "Perception",
    "Pose",
    "StageTimer",
    "TextEvidence",
    "analyzer_class",
    "register_analyzer",
]
