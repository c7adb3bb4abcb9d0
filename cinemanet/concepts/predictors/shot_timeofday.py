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


#: night is taught and checked on generated day-for-night images only: its score never exceeds this
NIGHT_CAP = 0.6


@register_predictor
class TimeOfDayFromHead(TimeOfDayFromLight):
    """Day, twilight and night from a head trained on real outdoor photos (weather and
    sunrise/sunset sets: day and twilight) and on day-for-night images generated from daylight
    exteriors (night: no real night photos exist here, so night is validated on generated
    images only and its score is capped at :data:`NIGHT_CAP`); not applicable as far as the
    location is not an exterior (interiors, and close-ups that show little of the setting). A
    head without a night output (an older model) leaves night to the light rule."""

    name = "shot.timeofday/head"
    group = "shot.timeofday"
    method = (
        "trained head (day vs twilight on real photos; night on generated day-for-night images only, "
        "capped); not applicable where no exterior is seen"
    )

    def predict(self, ev, done):
        rule = super().predict(ev, done)
        ext = done.get("shot.location", {}).get("shot.location.exterior")
        # the head learnt from exteriors only: time of day is told where an exterior is seen
        # (interiors, and close-ups that show little of the setting, are not applicable)
        na = rule["shot.timeofday.na"] if ext is None else 1.0 - ext
        p = self.heads["head"](ev)
        if "shot.timeofday.night" not in p:
            night = rule["shot.timeofday.night"]
            rest = 1.0 - na - night
            return self.full_scores(
                {
                    "day": rest * p["shot.timeofday.day"],
                    "twilight": rest * p["shot.timeofday.twilight"],
                    "night": night,
                    "na": na,
                }
            )
        rest = 1.0 - na
        night = rest * p["shot.timeofday.night"]
        capped = min(night, NIGHT_CAP)
        return self.full_scores(
            {
                "day": rest * p["shot.timeofday.day"],
                "twilight": rest * p["shot.timeofday.twilight"],
                "night": capped,
                "na": na + night - capped,  # what night cannot claim is left unknown
            }
        )
