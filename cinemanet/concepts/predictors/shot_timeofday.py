from __future__ import annotations

from ..base import ConceptPredictor, register_predictor


@register_predictor
class TimeOfDayFromLight(ConceptPredictor):
    """Time of day from overall and sky-region brightness and colour: bright (day), dark with
    point lights (night), dim with a blue or orange sky band (twilight). Interiors rarely show
    it, so a likely interior leans to not applicable."""

    name = "shot.timeofday/light"
    group = "shot.timeofday"
    needs = ("measure",)
    after = ("shot.location",)
    method = "measured: mean and top-band luma, top-band colour, bright point lights; interior -> not applicable"

    def predict(self, ev, done):
        s = ev.stats
        loc = done.get("shot.location", {})
        interior = loc.get("shot.location.interior", 0.0)
        unknown = loc.get("shot.location.na", 0.0)
        m, top = s.luma_mean, s.top_luma
        dusk_sky = max(0.0, -s.top_blue - 8.0) / 6.0 + max(0.0, s.top_blue + 0.5 * s.lab_a - 18.0) / 6.0
        return self.softmax(
            {
                "day": 8.0 * (m - 0.3) + 5.0 * (top - 0.45),
                "night": 12.0 * (0.18 - m) + 1.5 * s.highlight_points * (m < 0.3),
                "twilight": 1.5 - 12.0 * abs(m - 0.25) + min(dusk_sky, 3.0),
                "na": 5.0 * (interior - 0.45) + 4.0 * unknown,
            }
        )


@register_predictor
class TimeOfDayFromHead(TimeOfDayFromLight):
    """Day against twilight from a head trained on real outdoor photos (weather and
    sunrise/sunset sets); night and not applicable (likely interiors) from the light rule,
    because no real night photos exist to train or check night on."""

    name = "shot.timeofday/head"
    group = "shot.timeofday"
    method = (
        "trained head (day vs twilight, real photos); night and not applicable from the light rule (night unvalidated)"
    )

    def predict(self, ev, done):
        rule = super().predict(ev, done)
        na, night = rule["shot.timeofday.na"], rule["shot.timeofday.night"]
        p = self.heads["head"](ev)
        rest = 1.0 - na - night
        return self.full_scores(
            {
                "day": rest * p["shot.timeofday.day"],
                "twilight": rest * p["shot.timeofday.twilight"],
                "night": night,
                "na": na,
            }
        )
