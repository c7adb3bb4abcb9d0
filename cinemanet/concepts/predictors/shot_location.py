from __future__ import annotations

from ..base import ConceptPredictor, register_predictor
from ..imagenet_evidence import imagenet_scores, load

IMAGENET_CAP = 0.6  # ImageNet objects only hint at a place: never let them reach certainty


@register_predictor
class LocationFromSceneHead(ConceptPredictor):
    """Interior/exterior from its own head (``side``) and places from a place head (``scene``),
    both trained on the scene sets mapped to v1 keys (older models: both from one 15-Scene
    head); other places from ImageNet objects typical of them, capped low. Close-ups and
    extreme close-ups show too little of the setting: as far as the frame is one, not
    applicable. A child never scores above its parent. ``place_cap`` caps the place head's
    places too (the model sets it where they did not hold on film frames), leaving
    interior/exterior as trained."""

    name = "shot.location/scene-head"
    group = "shot.location"
    needs = ("backbone",)
    after = ("shot.framing",)
    method = "trained heads (every scene set mapped to v1) for interior/exterior and places; ImageNet objects for others (capped)"

    def __init__(self, place_cap: float | None = None, **kw):
        super().__init__(**kw)
        if place_cap is not None and not 0.0 <= place_cap <= 1.0:
            raise ValueError(f"place_cap must be in [0, 1], not {place_cap!r}")
        self.place_cap = 1.0 if place_cap is None else float(place_cap)
        g = self.taxonomy_group
        load("location")
        self._ancestors = {k: g.ancestors(k) for k in g.keys}
        self._by_depth = sorted(g.keys, key=g.depth)

    def predict(self, ev, done):
        g = self.taxonomy_group
        anc = self._ancestors
        scene = self.heads["scene"](ev)
        interior_key, exterior_key = f"{g.key}.interior", f"{g.key}.exterior"
        if "side" in self.heads:  # a head of its own for interior/exterior, trained on every source
            p_int = self.heads["side"](ev)[interior_key]
        else:
            p_int = sum(p for k, p in scene.items() if k == interior_key or interior_key in anc[k])
        fr = done.get("shot.framing", {})
        # close-ups show too little of the setting: on film stills judged by eye their side was
        # mostly a guess (0.3.2, docs/MODEL_CARD.md; until then 0.7 x ECU + 0.25 x CU)
        na = min(
            1.0,
            fr.get("shot.framing.extremecloseup", 0.0)
            + fr.get("shot.framing.closeup", 0.0)
            + fr.get("shot.framing.na", 0.0),
        )
        side = {interior_key: (1.0 - na) * p_int, exterior_key: (1.0 - na) * (1.0 - p_int)}
        out = dict(side)
        for k, p in scene.items():
            if k not in side:
                p = min(self.place_cap, p)
            out[k] = max(out.get(k, 0.0), (1.0 - na) * p)
        for k, p in imagenet_scores(ev.imagenet, "location").items():
            top = interior_key if interior_key in anc[k] else exterior_key
            out[k] = max(out.get(k, 0.0), side[top] * min(IMAGENET_CAP, p))
        for k in self._by_depth:  # keep the hierarchy consistent, parents first
            if k in out:
                for a in anc[k]:
                    out[k] = min(out[k], out.get(a, 1.0))
        out[f"{g.key}.na"] = na
        return self.full_scores(out)
