from __future__ import annotations

import numpy as np

from ...perception.evidence import POSE_FACE, POSE_HIPS, POSE_SHOULDERS
from ...perception.imagenet import ANIMAL_CLASSES
from ..base import ConceptPredictor, register_predictor, sigmoid

_LEFT_HAND, _RIGHT_HAND = (15, 17, 19, 21), (16, 18, 20, 22)
_LEFT_FOOT, _RIGHT_FOOT = (27, 29, 31), (28, 30, 32)
_OBJECTS = np.arange(ANIMAL_CLASSES.stop, 1000)
#: the most an ImageNet-only animal claims (unvalidated against labels; see the model card)
ANIMAL_CAP = 0.6


@register_predictor
class SubjectFromDetectors(ConceptPredictor):
    """What the shot is of, each label independently: people and their parts from face, body
    and hand detectors; text from the text detector; animals and objects from ImageNet
    classes; the location itself when a wide frame holds no person or animal."""

    name = "shot.subject/detectors"
    group = "shot.subject"
    needs = ("faces", "pose", "hands", "person_mask", "text", "backbone")
    after = ("shot.framing",)
    method = "detected: MediaPipe face/pose/hands/person mask, PP-OCR text detector, ImageNet animal/object classes"

    def predict(self, ev, done):
        faces = ev.faces or []
        face = max((f.score * sigmoid((f.h - 0.06) * 60.0) for f in faces), default=0.0)
        any_face = max((f.score for f in faces), default=0.0)
        animal = obj = 0.0
        if ev.imagenet is not None:
            animal = sigmoid(8.0 * (float(ev.imagenet[ANIMAL_CLASSES.start : ANIMAL_CLASSES.stop].sum()) - 0.6))
            # ImageNet has no person class: a clear human face reads as dogs and primates, so
            # a face the detector sees explains that mass away
            animal *= 1.0 - face
        # body detectors also fire on four-legged and cartoon bodies: without a human face,
        # trust them less the more the classifier sees an animal
        doubt = (1.0 - animal) if any_face < 0.5 else 1.0
        body = hands = feet = pose_person = 0.0
        if ev.pose is not None:
            p = ev.pose
            pose_person = doubt * max(p.visibility(POSE_SHOULDERS), p.visibility(POSE_FACE))
            body = doubt * min(p.visibility(POSE_SHOULDERS), p.visibility(POSE_HIPS))
            hands = doubt * max(p.visibility(_LEFT_HAND), p.visibility(_RIGHT_HAND))
            feet = doubt * max(p.visibility(_LEFT_FOOT), p.visibility(_RIGHT_FOOT))
        if ev.hands:
            hands = max(hands, max(h.score for h in ev.hands))
        framing = done.get("shot.framing", {})
        wide = framing.get("shot.framing.long", 0.0) + framing.get("shot.framing.extremelong", 0.0)
        mask_person = 0.0
        if ev.person_mask is not None:
            # the person-mask model is made for people near the camera: on wide film frames it
            # marks land and sky (0.3.2, by eye on film stills), so alone it cannot claim a person there
            mask_person = (1.0 - 0.5 * wide) * doubt * 0.85 * sigmoid(((ev.person_mask > 0.5).mean() - 0.04) * 80.0)
        person = max(any_face, pose_person, mask_person, face, body, hands, feet)

        text = 0.0
        if ev.text is not None and ev.text.boxes:
            text = ev.text.score * sigmoid((ev.text.area - 0.004) * 800.0)

        if ev.imagenet is not None:
            obj = sigmoid(10.0 * (float(ev.imagenet[_OBJECTS].max()) - 0.35)) * (1.0 - 0.6 * person)

        location = (1.0 - person) * (1.0 - animal) * wide
        # checked by eye on film stills only (docs/MODEL_CARD.md): weak, so the reported score is
        # capped; the uncapped evidence still discounts body detectors and the location above
        shown_animal = min(animal, ANIMAL_CAP)
        na = float(np.prod([1.0 - x for x in (person, shown_animal, obj, location, text)]))
        return self.full_scores(
            {
                "person": person,
                "person.face": face,
                "person.body": body,
                "person.hands": hands,
                "person.feet": feet,
                "text": text,
                "animal": shown_animal,
                "object": obj,
                "location": location,
                "na": na,
            }
        )
