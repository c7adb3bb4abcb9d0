"""Each measured predictor on images whose answer is known by construction, through the full model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import city, rotate


def label(net, img, group):
    return net.tag(img).groups[group]


def test_gray_image_is_black_and_white(net, sample_rgb):
    gray = cv2.cvtColor(cv2.cvtColor(sample_rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    r = net.tag(gray)
    assert r.groups["color.tones"].label == "color.tones.blackwhite"
    assert r.groups["color.saturation"].label == "color.saturation.desaturated"
    assert r.groups["color.theory"].label == "color.theory.monochrome"
    # and the colour original is not
    assert net.tag(sample_rgb).groups["color.tones"].label != "color.tones.blackwhite"


@pytest.mark.parametrize("degrees", [-12, -8, 8, 12])
def test_rotated_horizon_is_tilted(net, degrees):
    assert label(net, rotate(city(), degrees), "shot.level").label == "shot.level.tilted"


def test_level_city_is_level(net):
    assert label(net, city(), "shot.level").label == "shot.level.level"


def test_blurred_image_is_out_of_focus(net, sample_rgb):
    blurred = cv2.GaussianBlur(sample_rgb, (0, 0), 6)
    assert label(net, blurred, "shot.focus").label == "shot.focus.out"
    assert label(net, city(), "shot.focus").label == "shot.focus.deep"


def test_background_blur_is_shallow(net):
    img = city()
    soft = cv2.GaussianBlur(img, (0, 0), 7)
    h, w = img.shape[:2]
    soft[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = img[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3]
    assert label(net, soft, "shot.focus").label == "shot.focus.shallow"


def test_flat_frame_has_no_focus_or_framing(net):
    flat = np.full((360, 640, 3), 90, np.uint8)
    r = net.tag(flat)
    assert r.groups["shot.focus"].label == "shot.focus.na"
    assert r.groups["shot.framing"].label == "shot.framing.na"


@pytest.mark.parametrize("rgb,key", [((0, 177, 64), "color.key.green"), ((0, 71, 187), "color.key.blue")])
def test_chroma_field_is_a_key_screen(net, sample_rgb, rgb, key):
    img = np.empty((360, 640, 3), np.uint8)
    img[:] = rgb
    img = np.clip(img + np.random.default_rng(1).normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    person = cv2.resize(sample_rgb, (w // 4, h // 2))
    img[h // 2 :, w // 2 - w // 8 : w // 2 + w // 8] = person  # something standing in front
    assert label(net, img, "color.key").label == key
    assert label(net, sample_rgb, "color.key").label == "color.key.na"


def test_bright_low_contrast_is_high_key(net, sample_rgb):
    f = sample_rgb.astype(np.float32) / 255
    bright = (0.68 + 0.28 * f) * 255
    assert label(net, bright.astype(np.uint8), "shot.lighting").label == "shot.lighting.key.high"


def test_dark_frame_with_highlights_is_low_key(net, sample_rgb):
    f = sample_rgb.astype(np.float32) / 255
    dark = (f**2.2 * 0.35) * 255
    dark[100:120, 300:330] = 250  # a practical lamp
    assert label(net, dark.astype(np.uint8), "shot.lighting").label == "shot.lighting.key.low"


def test_warm_and_cool_grades(net, sample_rgb):
    f = sample_rgb.astype(np.float32)
    warm = np.clip(f * np.array([1.25, 1.0, 0.7]), 0, 255).astype(np.uint8)
    cool = np.clip(f * np.array([0.7, 0.95, 1.3]), 0, 255).astype(np.uint8)
    assert label(net, warm, "color.tones").label == "color.tones.warm"
    assert label(net, cool, "color.tones").label == "color.tones.cool"


def test_saturation_follows_colourfulness(net, sample_rgb):
    hsv = cv2.cvtColor(sample_rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    vivid = hsv.copy()
    vivid[..., 1] = np.clip(vivid[..., 1] * 3.0 + 60, 0, 255)
    vivid = cv2.cvtColor(vivid.astype(np.uint8), cv2.COLOR_HSV2RGB)
    dull = hsv.copy()
    dull[..., 1] *= 0.15
    dull = cv2.cvtColor(dull.astype(np.uint8), cv2.COLOR_HSV2RGB)
    assert label(net, vivid, "color.saturation").label == "color.saturation.saturated"
    assert label(net, dull, "color.saturation").label == "color.saturation.desaturated"


def test_complementary_and_monochrome_palettes(net):
    img = city()
    teal_orange = img.copy()
    teal_orange[:, : img.shape[1] // 2] = (0, 128, 140)
    teal_orange[:, img.shape[1] // 2 :] = (230, 120, 20)
    assert label(net, teal_orange, "color.theory").label == "color.theory.complementary"
    red = np.zeros_like(img)
    red[..., 0] = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    assert label(net, red, "color.theory").label == "color.theory.monochrome"


def test_text_card_has_text_subject(net):
    img = np.full((360, 640, 3), 15, np.uint8)
    cv2.putText(img, "THE END", (120, 200), cv2.FONT_HERSHEY_DUPLEX, 3.0, (240, 240, 240), 6, cv2.LINE_AA)
    r = net.tag(img)
    assert r.groups["shot.subject"].scores["shot.subject.text"] >= 0.5
    assert "shot.subject.text" in r.tags
    assert net.tag(city()).groups["shot.subject"].scores["shot.subject.text"] < 0.5


def test_no_people_means_no_shot_type(net):
    r = net.tag(city())
    assert r.groups["shot.subject"].scores["shot.subject.person"] < 0.5
    assert r.groups["shot.type"].label == "shot.type.na"


def test_every_group_depends_on_the_image(net, sample_rgb):
    """No group answers with a constant: across a few different images, every group's scores move."""
    green = np.zeros((360, 640, 3), np.uint8)
    green[:] = (0, 177, 64)
    yy, xx = np.mgrid[0:360, 0:640]
    grid = np.repeat(((((yy % 30) < 3) | ((xx % 30) < 3)) * 255).astype(np.uint8)[..., None], 3, 2)
    imgs = [
        sample_rgb,
        city(),
        rotate(city(seed=3), 10),
        cv2.GaussianBlur(sample_rgb, (0, 0), 5),
        np.full((200, 300, 3), 200, np.uint8),
        sample_rgb[:, ::-1] // 3,
        green,
        grid,
    ]
    results = [net.tag(i) for i in imgs]
    for g in results[0].groups:
        vecs = np.array([[r.groups[g].scores[k] for k in sorted(r.groups[g].scores)] for r in results])
        assert np.ptp(vecs, axis=0).max() > 0.02, f"{g} gives the same scores for different images"


def _subject(imagenet, faces):
    from cinemanet.concepts.predictors.shot_subject import SubjectFromDetectors
    from cinemanet.perception.evidence import Evidence

    ev = Evidence(width=640, height=360, imagenet=imagenet, faces=faces)
    return SubjectFromDetectors().predict(ev, {})


def test_animal_mass_under_a_clear_face_is_the_person():
    from cinemanet.concepts.predictors.shot_subject import ANIMAL_CAP
    from cinemanet.perception.evidence import Face

    # ImageNet spreads a face over dogs and primates: 0.85 of its mass on animal classes
    probs = np.full(1000, 0.15 / 800, np.float32)
    probs[150:350] = 0.85 / 200
    alone = _subject(probs, [])
    assert alone["shot.subject.animal"] == pytest.approx(ANIMAL_CAP)  # capped: unvalidated evidence
    face = Face(0.4, 0.2, 0.15, 0.24, score=0.9)  # a face a quarter of the frame tall
    with_face = _subject(probs, [face])
    assert with_face["shot.subject.animal"] < 0.15 and with_face["shot.subject.person"] >= 0.9


def test_place_cap_caps_the_places_not_interior_or_exterior():
    from cinemanet.concepts.predictors.shot_location import LocationFromSceneHead
    from cinemanet.perception.evidence import Evidence

    desert = "shot.location.exterior.nature.desert"
    heads = {"scene": lambda ev: {desert: 0.95}, "side": lambda ev: {"shot.location.interior": 0.02}}
    ev = Evidence(width=640, height=360, imagenet=np.full(1000, 1e-3, np.float32))
    wide = {"shot.framing": {"shot.framing.extremelong": 1.0}}
    free = LocationFromSceneHead(heads=heads).predict(ev, wide)
    capped = LocationFromSceneHead(heads=heads, place_cap=0.6).predict(ev, wide)
    assert free[desert] == pytest.approx(0.95) and capped[desert] == pytest.approx(0.6)
    assert capped["shot.location.exterior"] == pytest.approx(0.98) == free["shot.location.exterior"]
    with pytest.raises(ValueError, match="place_cap"):
        LocationFromSceneHead(heads=heads, place_cap=1.5)


def test_default_model_never_emits_a_trained_place(net):
    """Places did not hold on film frames (model card): every place of the scene head is capped
    under its threshold, so only interior/exterior can be emitted."""
    spec = net.spec.groups["shot.location"]
    cap = spec.params["place_cap"]
    head = net.concepts.predictors["shot.location"].heads["scene"]
    places = [k for k in head.meta["thresholds"] if k.count(".") > 2]
    assert places and all(net.concepts.thresholds["shot.location"][k] > cap for k in places)


def test_close_ups_leave_the_location_unknown():
    from cinemanet.concepts.predictors.shot_location import LocationFromSceneHead
    from cinemanet.perception.evidence import Evidence

    heads = {"scene": lambda ev: {}, "side": lambda ev: {"shot.location.interior": 0.9}}
    ev = Evidence(width=640, height=360, imagenet=np.full(1000, 1e-3, np.float32))
    loc = LocationFromSceneHead(heads=heads)
    close = loc.predict(ev, {"shot.framing": {"shot.framing.closeup": 0.7, "shot.framing.extremecloseup": 0.3}})
    assert close["shot.location.na"] == pytest.approx(1.0) and close["shot.location.interior"] == 0.0
    medium = loc.predict(ev, {"shot.framing": {"shot.framing.closeup": 0.2, "shot.framing.medium": 0.8}})
    assert medium["shot.location.interior"] == pytest.approx(0.8 * 0.9)


def test_time_of_day_is_told_only_as_far_as_an_exterior_is_seen(net, sample_rgb):
    ev = net.evidence(sample_rgb)
    tod = net.concepts.predictors["shot.timeofday"]
    for ext in (1.0, 0.3, 0.0):
        s = tod.predict(ev, {"shot.location": {"shot.location.exterior": ext, "shot.location.interior": 1 - ext}})
        told = sum(s[f"shot.timeofday.{k}"] for k in ("day", "twilight", "night"))
        assert told == pytest.approx(ext, abs=1e-6) and s["shot.timeofday.na"] == pytest.approx(1 - ext, abs=1e-6)


def test_person_mask_alone_is_no_person_in_a_wide_frame():
    """On wide film frames the person-mask model marks land and sky: alone it cannot tag a person
    there, while the same mask in a medium shot still does."""
    from cinemanet.concepts.predictors.shot_subject import SubjectFromDetectors
    from cinemanet.perception.evidence import Evidence

    mask = np.zeros((90, 160), np.float32)
    mask[30:80, 60:100] = 1.0  # 14% of the frame
    ev = Evidence(width=640, height=360, imagenet=np.full(1000, 1e-3, np.float32), faces=[], person_mask=mask)
    wide = SubjectFromDetectors().predict(ev, {"shot.framing": {"shot.framing.extremelong": 1.0}})
    medium = SubjectFromDetectors().predict(ev, {"shot.framing": {"shot.framing.medium": 1.0}})
    assert wide["shot.subject.person"] < 0.5 <= medium["shot.subject.person"]


class _Ots:
    """A stand-in over-the-shoulder head: a fixed score, emitted from 0.8."""

    meta = {"thresholds": {"shot.type.overtheshoulder": 0.8}}

    def __init__(self, p):
        self.p = p

    def __call__(self, ev):
        return {"shot.type.overtheshoulder": self.p}


def _shot_type(faces=(), mask=None, framing="medium", ots=0.1, **params):
    from cinemanet.concepts.model import choose
    from cinemanet.concepts.predictors.shot_type import TypeFromPeopleAndHead
    from cinemanet.perception.evidence import Evidence

    pred = TypeFromPeopleAndHead(heads={"ots": _Ots(ots)}, **params)
    ev = Evidence(width=640, height=360, faces=list(faces), person_mask=mask)
    done = {"shot.subject": {"shot.subject.person": 1.0}, "shot.framing": {f"shot.framing.{framing}": 1.0}}
    scores = pred.predict(ev, done)
    assert sum(scores.values()) == pytest.approx(1.0)
    return choose(pred.taxonomy_group, scores, {k: 0.5 for k in scores} | {"shot.type.overtheshoulder": 0.8})[0]


def test_shot_type_counts_people():
    from cinemanet.perception.evidence import Face

    def face(x):
        return Face(x, 0.2, 0.08, 0.14, score=0.9)

    assert _shot_type([face(0.4)]) == "shot.type.portrait"
    assert _shot_type([face(0.2), face(0.6)], framing="extremelong") == "shot.type.twoshot"
    assert _shot_type([face(0.1), face(0.4), face(0.7)], framing="long") == "shot.type.master"
    # one face in a wide frame: others may be too small to see, so no count is claimed
    assert _shot_type([face(0.4)], framing="long") == "shot.type.na"


def test_shot_type_counts_person_mask_blobs_outside_close_ups():
    """Two people in profile show no face the detector trusts, but two separate mask blobs."""
    mask = np.zeros((120, 213), np.float32)
    mask[20:120, 20:70] = mask[20:120, 140:190] = 1.0  # two bodies, 20% of the frame each
    assert _shot_type(mask=mask, mask_blob=0.02) == "shot.type.twoshot"
    assert _shot_type(mask=mask) == "shot.type.portrait"  # mask_blob unset: faces only
    assert _shot_type(mask=mask, mask_blob=0.02, framing="closeup") == "shot.type.portrait"
    speck = mask.copy()
    speck[20:120, 140:190] = 0.0
    speck[0:4, 200:204] = 1.0  # a speck is no second person
    assert _shot_type(mask=speck, mask_blob=0.02) == "shot.type.portrait"


def test_an_unsure_over_the_shoulder_head_weighs_less():
    from cinemanet.concepts.predictors.shot_type import TypeFromPeopleAndHead

    assert _shot_type(ots=0.5) == "shot.type.na"  # the unsure head's whole score wins no label
    assert _shot_type(ots=0.5, ots_below=0.5) == "shot.type.portrait"
    # where the head is sure it is emitted as before
    assert _shot_type(ots=0.85, ots_below=0.5) == "shot.type.overtheshoulder"
    with pytest.raises(ValueError, match="ots_below"):
        TypeFromPeopleAndHead(heads={"ots": _Ots(0.1)}, ots_below=2.0)
