from __future__ import annotations

import itertools
import random
import re

from cinemanet.concepts.describe import describe, place_phrase
from cinemanet.taxonomy import get_taxonomy


def _check(sentence: str) -> None:
    assert sentence and sentence == sentence.strip()
    assert "  " not in sentence and ",," not in sentence and ", ," not in sentence
    assert not sentence.endswith(",") and " ," not in sentence
    assert re.match(r"^an? ", sentence), sentence
    for art, word in re.findall(r"\b(a|an) ([a-z-]+)", sentence):
        vowel = word[0] in "aeiou" and not word.startswith(("one", "uni", "eu"))
        assert (art == "an") == vowel, f"'{art} {word}' in: {sentence}"


def test_seed_example():
    s = describe(
        {
            "shot.location": "shot.location.interior.structure.building.room.bed",
            "shot.framing": "shot.framing.closeup",
            "shot.focus": "shot.focus.shallow",
            "shot.subject": "shot.subject.person",
            "shot.lighting": "shot.lighting.soft",
            "color.tones": "color.tones.warm",
            "shot.timeofday": "shot.timeofday.night",
        },
        ["shot.subject.person"],
    )
    assert (
        s
        == "an interior, close-up shot in a bedroom, with shallow depth of field, of a person, softly and warmly lit, at night"
    )


def test_na_and_missing_groups_are_left_out():
    tax = get_taxonomy()
    labels = {g.key: (g.na.key if g.na else None) for g in tax.groups}
    s = describe(labels)
    _check(s)
    assert s == "a shot"
    assert "na" not in s.split()


def test_every_place_phrase_reads_well():
    loc = get_taxonomy().group("shot.location")
    for lab in loc.labels:
        if lab.is_na or lab.parent is None:
            continue
        p = place_phrase(lab.key)
        assert re.match(r"^(in|on|at|by|outside|among|aboard) ", p), p
        _check("a shot " + p)
        assert "(" not in p


def test_grammatical_for_random_combinations():
    tax = get_taxonomy()
    rng = random.Random(0)
    options = {g.key: [None] + list(g.keys) for g in tax.groups}
    for _ in range(3000):
        labels = {g: rng.choice(opts) for g, opts in options.items()}
        tags = [k for k in tax.group("shot.subject").keys if rng.random() < 0.3 and not k.endswith(".na")]
        _check(describe(labels, tags))


def test_all_framing_and_type_pairs():
    tax = get_taxonomy()
    for f, t in itertools.product(tax.group("shot.framing").keys, tax.group("shot.type").keys):
        _check(describe({"shot.framing": f, "shot.type": t}))


def test_nothing_known_of_the_shot_reads_as_a_plain_shot():
    from cinemanet.concepts.describe import describe

    s = describe(
        {"shot.location": "shot.location.interior", "shot.framing": "shot.framing.na", "shot.type": "shot.type.na"}
    )
    assert s.startswith("an interior shot") and ", shot" not in s
    s = describe({"shot.location": "shot.location.interior.structure.building.room.bed", "shot.framing": None})
    assert s.startswith("an interior shot in a bed")
