"""Concepts: evidence to per-group label probabilities, labels, tags and descriptions."""

from .base import ConceptPredictor, register_predictor, registered_predictors
from .model import ConceptModel, GroupResult, ModelSpec, model_spec

__all__ = [
    "ConceptModel",
    "ConceptPredictor",
    "GroupResult",
    "ModelSpec",
    "model_spec",
    "register_predictor",
    "registered_predictors",
]
