from __future__ import annotations

from ..base import ConceptPredictor, register_predictor, sigmoid
from ..imagenet_evidence import imagenet_scores, load

CAP = 0.6


@register_predictor
class TextureFromImageNet(ConceptPredictor):
    """Weak: textures from ImageNet classes that carry them (zebra: striped, honeycomb:
    honeycombed...), only when edges fill the frame, capped low. v1 has no 'none' label for
    texture: scores may sum to less than 1, the rest meaning no texture stands out."""

    name = "texture/imagenet"
    group = "texture"
    needs = ("backbone", "measure")
    method = "weak: ImageNet classes typical of each texture, gated by edge density, capped at 0.6"

    def __init__(self, **kw):
        super().__init__(**kw)
        load("texture")

    def predict(self, ev, done):
        busy = sigmoid((ev.stats.edge_density - 0.08) * 40.0)
        scores = {k: busy * min(CAP, p) for k, p in imagenet_scores(ev.imagenet, "texture").items()}
        total = sum(scores.values())
        if total > 1.0:
            scores = {k: v / total for k, v in scores.items()}
        return self.full_scores(scores)
