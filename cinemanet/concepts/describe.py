"""One plain-language sentence from the chosen labels, in the voice of the original CinemaNet
page: "an interior, close-up shot in a bedroom, with shallow depth of field, of a person,
softly and warmly lit, at night". Groups that are not applicable or not confident are left out.
"""

from __future__ import annotations

import re
from typing import Mapping

from ..taxonomy import get_taxonomy

FRAMING = {
    "extremecloseup": "extreme close-up",
    "closeup": "close-up",
    "medium": "medium",
    "long": "long",
    "extremelong": "extreme long",
}
TYPE_NOUN = {
    "overtheshoulder": "over-the-shoulder shot",
    "twoshot": "two-shot",
    "portrait": "portrait",
    "master": "master shot",
}
ANGLE = {"high": "from a high angle", "low": "from a low angle", "eyelevel": "at eye level", "aerial": "from the air"}
FOCUS = {"shallow": "with shallow depth of field", "deep": "with deep focus", "out": "out of focus"}
LIGHT_ADVERB = {"soft": "softly", "hard": "harshly", "neutral": "evenly"}
LIGHT_PHRASE = {"key.high": "in high key", "key.low": "in low key", "silhouette": "in silhouette"}
TONE_ADVERB = {"warm": "warmly", "cool": "coolly"}
TIME = {"day": "by day", "night": "at night", "twilight": "at twilight"}
KEY = {
    "green": "against a green screen",
    "blue": "against a blue screen",
    "luma": "against a luma-key backdrop",
    "matte": "as a matte",
}
SATURATION = {"saturated": "in saturated colour", "pastel": "in pastel colour", "desaturated": "in desaturated colour"}


def article(word: str) -> str:
    return "an" if re.match(r"[aeiou]", word, re.I) and not re.match(r"(one|uni|eu)", word, re.I) else "a"


def place_phrase(label_key: str) -> str:
    lab = get_taxonomy().label(label_key)
    if lab.phrase:
        return lab.phrase
    name = re.sub(r"\s*\((interior|exterior)\)", "", lab.title).strip()
    noun = name[0].lower() + name[1:]
    where = "outside" if "(exterior)" in lab.title else "in"
    return f"{where} {article(noun)} {noun}"


def _short(label: str | None, group: str) -> str | None:
    if label is None or label == f"{group}.na":
        return None
    return label[len(group) + 1 :]


def describe(labels: Mapping[str, str | None], tags: list[str] | None = None) -> str:
    """Sentence from each group's chosen label (``{group: label key or None}``)."""
    tags = tags or []
    s = {g: _short(lab, g) for g, lab in labels.items()}
    loc = s.get("shot.location")
    side = loc.split(".")[0] if loc else None

    # head: "an interior, close-up two-shot"
    framing = FRAMING.get(s.get("shot.framing") or "")
    noun = TYPE_NOUN.get(s.get("shot.type") or "", "shot")
    shot = f"{framing} {noun}" if framing else noun
    if s.get("shot.level") == "tilted":
        shot = f"tilted {shot}"
    if side:  # "an interior, close-up two-shot"; with nothing known of the shot itself, "an interior shot"
        head = f"{article(side)} {side} shot" if shot == "shot" else f"{article(side)} {side}, {shot}"
    else:
        head = f"{article(shot)} {shot}"

    parts = [head]
    if loc and "." in loc:
        parts[-1] += " " + place_phrase(labels["shot.location"])
    if s.get("shot.angle") in ANGLE:
        parts.append(ANGLE[s["shot.angle"]])
    if s.get("shot.focus") in FOCUS:
        parts.append(FOCUS[s["shot.focus"]])

    subjects = _subjects(s.get("shot.subject"), tags)
    if subjects:
        parts.append("of " + subjects)

    tone = s.get("color.tones")
    light = s.get("shot.lighting")
    adverbs = [a for a in (LIGHT_ADVERB.get(light or ""), TONE_ADVERB.get(tone or "")) if a]
    if adverbs:
        parts.append(" and ".join(adverbs) + " lit")
    if light in LIGHT_PHRASE:
        parts.append(LIGHT_PHRASE[light])
    if tone == "blackwhite":
        parts.append("in black and white")
    elif s.get("color.saturation") in SATURATION:
        parts.append(SATURATION[s["color.saturation"]])
    if s.get("color.key") in KEY:
        parts.append(KEY[s["color.key"]])
    if s.get("shot.timeofday") in TIME:
        parts.append(TIME[s["shot.timeofday"]])
    return ", ".join(parts)


def _subjects(best: str | None, tags: list[str]) -> str:
    present = {t[len("shot.subject.") :] for t in tags if t.startswith("shot.subject.")}
    if best:
        present.add(best)
    words = []
    if "person" in present or any(p.startswith("person.") for p in present):
        parts = [p for p in ("face", "hands", "feet") if f"person.{p}" in present]
        if parts == ["hands"] and "person.face" not in present and "person.body" not in present:
            words.append("hands")
        elif parts == ["feet"] and "person.face" not in present and "person.body" not in present:
            words.append("feet")
        else:
            words.append("a person")
    if "animal" in present:
        words.append("an animal")
    if "object" in present and not words:
        words.append("an object")
    if "text" in present:
        words.append("text")
    if not words and "location" in present:
        words.append("the location")
    return " and ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " and " + words[-1]
