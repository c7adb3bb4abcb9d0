from __future__ import annotations

from ..base import ConceptPredictor, register_predictor, sigmoid

# Where the nose tip sits between the eyes and the mouth on a face seen level (MediaPipe key
# points). A camera below the face pushes the nose tip towards the eyes; above, towards the mouth.
LEVEL_NOSE_RATIO = 0.55


@register_predictor
class AngleFromFaces(ConceptPredictor):
    """Weak, rule-based: camera height from the pitch of the largest face (nose tip between
    eyes and mouth); aerial from a wide, people-free frame with no sky at the top. Confidences
    are kept low: no labelled angle data exists yet (see the model card)."""

    name = "shot.angle/face-pitch"
    group = "shot.angle"
    needs = ("faces", "measure")
    after = ("shot.framing", "shot.subject", "shot.location")
    method = "rule: face key-point pitch; aerial from wide, people-free, sky-less frames (weak)"

    def predict(self, ev, done):
        s = ev.stats
        faces = [f for f in (ev.faces or []) if f.keypoints is not None and f.h > 0.08]
        fr = done.get("shot.framing", {})
        person = done.get("shot.subject", {}).get("shot.subject.person", 0.0)
        exterior = done.get("shot.location", {}).get("shot.location.exterior", 0.0)
        sky = sigmoid((s.top_luma - s.luma_mean - 0.08) * 25.0)
        aerial = -2.0 + 4.0 * fr.get("shot.framing.extremelong", 0.0) * (1.0 - person) * exterior * (1.0 - sky)
        if faces:
            k = faces[0].keypoints
            eye_y = (k[0, 1] + k[1, 1]) / 2
            span = k[3, 1] - eye_y
            r = (k[2, 1] - eye_y) / span if span > 1e-3 else LEVEL_NOSE_RATIO
            d = r - LEVEL_NOSE_RATIO
            return self.softmax(
                {
                    "eyelevel": 1.0 - 8.0 * abs(d),
                    "high": 8.0 * (d - 0.12),
                    "low": 8.0 * (-d - 0.12),
                    "aerial": aerial - 2.0,
                    "na": -1.0,
                }
            )
        return self.softmax(
            {
                "eyelevel": 0.3 + 0.8 * person,
                "high": -0.5,
                "low": -0.5 + 1.5 * sky * (1.0 - person),
                "aerial": aerial,
                "na": 0.8 - 1.5 * person,
            }
        )
