from __future__ import annotations

from ..base import ConceptPredictor, register_predictor


@register_predictor
class TypeFromPeopleAndHead(ConceptPredictor):
    """Shot type needs people: with none it is not applicable. Over-the-shoulder comes from a
    head trained on labelled stills (OTS against wider coverage); the rest from how many faces
    are seen and how wide the framing is (one: portrait, two: two-shot, wide or a group: master)."""

    name = "shot.type/people"
    group = "shot.type"
    needs = ("faces", "backbone", "pose", "person_mask")
    after = ("shot.subject", "shot.framing")
    method = "trained head (over-the-shoulder) + face count and framing rules"

    def predict(self, ev, done):
        person = done["shot.subject"]["shot.subject.person"]
        fr = done["shot.framing"]
        wide = fr.get("shot.framing.long", 0.0) + fr.get("shot.framing.extremelong", 0.0)
        faces = [f for f in (ev.faces or []) if f.score >= 0.5]
        big = [f for f in faces if f.area >= 0.15 * faces[0].area] if faces else []
        n = len(big)
        ots = self.heads["ots"](ev)["shot.type.overtheshoulder"]
        if n >= 3:
            rest = {"master": 0.8, "twoshot": 0.15, "portrait": 0.05}
        elif n == 2:
            rest = {"twoshot": 0.75 * (1 - wide) + 0.3 * wide, "master": 0.7 * wide + 0.1, "portrait": 0.1}
        else:  # one face, or a person without a visible face
            rest = {"portrait": 0.8 * (1 - wide) + 0.1, "master": 0.8 * wide + 0.05, "twoshot": 0.05}
        total = sum(rest.values())
        out = {k: person * (1.0 - ots) * v / total for k, v in rest.items()}
        out["overtheshoulder"] = person * ots
        out["na"] = 1.0 - person
        return self.full_scores(out)
