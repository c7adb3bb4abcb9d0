"""One module per concept group; importing this package registers every predictor."""

from . import (  # noqa: F401
    color_key,
    color_saturation,
    color_theory,
    color_tones,
    shot_angle,
    shot_focus,
    shot_framing,
    shot_level,
    shot_lighting,
    shot_location,
    shot_subject,
    shot_timeofday,
    shot_type,
    texture,
    trained_heads,  # heads from `cinemanet train` / the default model's generated heads
)
