from __future__ import annotations

import cv2
import numpy as np

from ..base import ConceptPredictor, register_predictor

_OTS = "shot.type.overtheshoulder"


def mask_people(mask: np.ndarray | None, min_area: float, of_biggest: float = 0.3) -> int:
    """Sizeable blobs of a person mask: each covers ``min_area`` of the frame and at least
    ``of_biggest`` of the largest one (smaller ones are limbs, props and noise)."""
    if mask is None or mask.size == 0:
        return 0
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0.5).astype(np.uint8))
    areas = sorted((stats[i, cv2.CC_STAT_AREA] / mask.size for i in range(1, n)), reverse=True)
    areas = [a for a in areas if a >= min_area]
    return sum(a >= of_biggest * areas[0] for a in areas) if areas else 0


@register_predictor
class TypeFromPeopleAndHead(ConceptPredictor):
    """Shot type needs people: with none it is not applicable. Over-the-shoulder comes from a
    head trained on labelled stills (OTS against wider coverage); the rest from how many people
    are seen (one: portrait, two: two-shot, three or more: master). People are counted by faces
    and, outside close-ups, by separate blobs of the person mask (two at most).

    ``ots_below``: the weight of the OTS head's score where it stays under its own emit
    threshold (1 keeps it whole). ``mask_blob``: the least share of the frame a mask blob needs
    to count as a person (None: the mask does not count people)."""

    name = "shot.type/people"
    group = "shot.type"
    needs = ("faces", "backbone", "pose", "person_mask")
    after = ("shot.subject", "shot.framing")
    method = "trained head (over-the-shoulder) + people-count rules (faces, person-mask blobs)"

    def __init__(self, ots_below: float = 1.0, mask_blob: float | None = None, **kw):
        super().__init__(**kw)
        if not 0.0 <= ots_below <= 1.0:
            raise ValueError(f"ots_below must be in [0, 1], not {ots_below!r}")
        if mask_blob is not None and not 0.0 < mask_blob < 1.0:
            raise ValueError(f"mask_blob must be in (0, 1), not {mask_blob!r}")
        self.ots_below = float(ots_below)
        self.mask_blob = mask_blob
        meta = getattr(self.heads.get("ots"), "meta", {}) or {}
        self.ots_at = float(meta.get("thresholds", {}).get(_OTS, 1.0))

    def predict(self, ev, done):
        person = done["shot.subject"]["shot.subject.person"]
        fr = done["shot.framing"]
        wide = fr.get("shot.framing.long", 0.0) + fr.get("shot.framing.extremelong", 0.0)
        close = fr.get("shot.framing.closeup", 0.0) + fr.get("shot.framing.extremecloseup", 0.0)
        faces = [f for f in (ev.faces or []) if f.score >= 0.5]
        big = [f for f in faces if f.area >= 0.15 * faces[0].area] if faces else []
        n = len(big)
        if self.mask_blob is not None and close < 0.5:
            # profiles and backs turned hide faces; a mask splits one body too, so it counts two at most
            n = max(n, min(2, mask_people(ev.person_mask, self.mask_blob)))
        if n >= 3:
            rest = {"master": 0.8, "twoshot": 0.15, "portrait": 0.05}
        elif n == 2:  # two people share the frame at any width (by eye on film stills, 0.3.3)
            rest = {"twoshot": 0.8, "master": 0.1, "portrait": 0.1}
        else:
            # one face or none: in wide frames small people go unseen, so the count is unknown
            # there and neither master nor two-shot is said (0.3.2 said master: 0 of 5 right, by eye)
            rest = {"portrait": 0.8 * (1 - wide) + 0.1, "master": 0.4 * wide + 0.05, "twoshot": 0.4 * wide + 0.05}
        ots = person * self.heads["ots"](ev)[_OTS]
        if ots < self.ots_at:
            # under its threshold the head is unsure, and on film stills its unsure mass was
            # mostly single people (0.3.3): it counts less against the rules
            ots *= self.ots_below
        total = sum(rest.values())
        out = {k: (person - ots) * v / total for k, v in rest.items()}
        out["overtheshoulder"] = ots
        out["na"] = 1.0 - person
        return self.full_scores(out)
