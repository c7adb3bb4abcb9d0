from __future__ import annotations

from ..base import ConceptPredictor, register_predictor, sigmoid


@register_predictor
class FramingFromHead(ConceptPredictor):
    """Framing from a head trained on labelled film stills over the backbone features (the
    default model: colour embedding + 3x3 layout grid; older heads also read body geometry).
    A frame with almost no structure (black, a flat colour) is not applicable."""

    name = "shot.framing/head"
    group = "shot.framing"
    needs = ("backbone", "faces", "pose", "person_mask", "measure")
    method = "trained head: linear softmax on EfficientNet-Lite0 colour features + 3x3 layout grid"

    def predict(self, ev, done):
        probs = self.heads["framing"](ev)
        blank = sigmoid((0.012 - ev.stats.edge_density) * 600.0) * sigmoid((0.03 - ev.stats.luma_std) * 150.0)
        out = {k: (1.0 - blank) * v for k, v in probs.items()}
        out["shot.framing.na"] = blank
        return self.full_scores(out)
