"""Time as a value type: a frame position that knows its rate, and SMPTE timecode.

Times in outputs come from the stream's own timestamps (so variable frame rate is right);
timecode is derived from that time at the nominal rate, as editing tools expect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


def _drop_frame(fps: Fraction) -> bool:
    """NTSC rates (29.97, 59.94) use drop-frame timecode."""
    return fps.denominator == 1001 and round(float(fps)) in (30, 60)


@dataclass(frozen=True, order=True)
class Timecode:
    frame: int  # frame count at the nominal rate
    fps: Fraction

    @classmethod
    def from_seconds(cls, seconds: float, fps: Fraction) -> "Timecode":
        # (sidecar times are rounded to 1e-6 s: allow for that, not only for float error)
        return cls(int(math.floor(seconds * float(fps) + 1e-3)), Fraction(fps))

    @property
    def seconds(self) -> float:
        return float(self.frame / self.fps)

    def __str__(self) -> str:
        return smpte(self.frame, self.fps)


def smpte(frame: int, fps: Fraction) -> str:
    """HH:MM:SS:FF (HH:MM:SS;FF for drop-frame NTSC rates)."""
    fps = Fraction(fps)
    base = max(1, round(float(fps)))
    if _drop_frame(fps):
        drop = 2 * (base // 30)  # frames dropped each minute except every tenth
        per_10min = base * 600 - drop * 9
        per_min = base * 60 - drop
        d, m = divmod(frame, per_10min)
        frame += drop * 9 * d + (drop * ((m - drop) // per_min) if m >= drop else 0)
        sep = ";"
    else:
        sep = ":"
    ff = frame % base
    s = frame // base
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{sep}{ff:02d}"
