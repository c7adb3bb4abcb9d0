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


@register_predictor
class TextureFromHead(TextureFromImageNet):
    """Ten textures from a head trained on DTD photos against frames of the other sets where no
    texture stands out ("none", not a v1 label: its share stays unassigned, so scores sum to
    less than 1). Other textures: the weak ImageNet evidence, capped low and scaled by how
    likely some texture is at all."""

    name = "texture/head"
    group = "texture"
    needs = ("backbone", "measure")
    method = "trained head (DTD, 10 classes, against 'no texture' frames); ImageNet classes for the others (capped)"

    def predict(self, ev, done):
        p = self.heads["head"](ev)
        some = 1.0 - p.get("none", 0.0)
        out = {k: v for k, v in p.items() if k != "none"}
        for k, v in imagenet_scores(ev.imagenet, "texture").items():
            if k not in out:
                out[k] = some * min(CAP, v) * 0.5
        total = sum(out.values())
        if total > 1.0:
            out = {k: v / total for k, v in out.items()}
        return self.full_scores(out)
