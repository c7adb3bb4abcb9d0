"""Training aids with known answers: source-balanced weights (by hand), the day-for-night
generator, framing crops from body landmarks, and the capped night answer."""

from __future__ import annotations

import numpy as np
import pytest

from cinemanet.training.augment import Recipe, apply, day_for_night
from cinemanet.training.framing_crops import crops_for
from cinemanet.training.joint import source_balanced_weights


def test_source_balanced_weights_by_hand():
    # class 0: source a has 3 rows, source b 1 row; class 1: source a 2 rows
    y = np.array([0, 0, 0, 0, 1, 1])
    src = ["a", "a", "a", "b", "a", "a"]
    w = source_balanced_weights(y, src)
    # within class 0 each source totals the same (n_class / sources = 4 / 2 = 2)
    assert w[:3] == pytest.approx([2 / 3] * 3) and w[3] == pytest.approx(2.0)
    assert w[4:] == pytest.approx([1.0, 1.0])  # one source: unchanged
    # each class keeps its row count as total weight (fit_softmax's class balance then equalises)
    assert w[y == 0].sum() == pytest.approx(4) and w[y == 1].sum() == pytest.approx(2)


def _daylight(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = 120, 200
    img = np.zeros((h, w, 3), np.float64)
    img[: h // 2] = (140, 180, 235)  # sky
    img[h // 2 :] = (110, 150, 80)  # grass
    img[-15:] = (40, 40, 40)  # a shadow
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def test_day_for_night_is_dark_blue_with_crushed_blacks_and_point_lights():
    day = _daylight()
    night = day_for_night(day, np.random.default_rng(3)).astype(np.float64)
    assert night.shape == day.shape
    assert night.mean() < 0.35 * day.mean()  # 2.5-4 stops under in linear light (0.45-0.28 in gamma-encoded values)
    sky = night[:60].reshape(-1, 3).mean(0)
    assert sky[2] > sky[0]  # blue cast in the sky (the original sky was blue too; the grass below)
    grass = night[60:-15].reshape(-1, 3).mean(0)
    assert grass[2] > 0.8 * grass[1] and grass[0] < grass[1]  # the green grass turns blue-grey
    assert np.median(night[-15:].mean(2)) < 10  # crushed blacks: the shadow goes (nearly) black
    assert night.max() > 200  # at least one bright point light
    assert (night.mean(2) > 150).mean() < 0.02  # and lights are points, not areas


def test_day_for_night_recipe_is_deterministic_and_declines_dark_photos():
    day = _daylight()
    r = Recipe("night", "shot.timeofday.night", 0)
    a, b = apply(r, day, "ab" * 32), apply(r, day, "ab" * 32)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, apply(Recipe("night", "shot.timeofday.night", 1), day, "ab" * 32))
    assert apply(r, (day * 0.2).astype(np.uint8), "ab" * 32) is None  # not daylight: no night made from it


def _standing_pose(W: int, H: int) -> np.ndarray:
    """A person standing in the middle, head at 20% of the height, feet at 90% (normalised)."""
    lm = np.zeros((33, 4), np.float32)
    lm[:, 3] = 0.9
    lm[:, 0] = 0.5
    lm[0, 1] = 0.25  # nose
    lm[[11, 12], 1] = 0.33  # shoulders
    lm[[11, 12], 0] = (0.46, 0.54)
    lm[[23, 24], 1] = 0.58  # hips
    lm[[27, 28], 1] = 0.88  # ankles
    return lm


def test_long_shot_of_a_standing_body_gives_waist_up_and_head_and_shoulders_crops():
    W, H = 1200, 675
    out = dict(crops_for("shot.framing.long", W, H, pose=_standing_pose(W, H)))
    assert set(out) == {"shot.framing.medium", "shot.framing.closeup"}
    x0, y0, x1, y1 = out["shot.framing.medium"]
    assert (x1 - x0) / (y1 - y0) == pytest.approx(W / H, rel=0.02)  # the still's aspect ratio
    assert y0 < 0.25 * H - 0.08 * H * 0.5 and y1 == pytest.approx((0.58 + 0.15 * 0.25) * H, abs=2)  # head to waist
    cx0, cy0, cx1, cy1 = out["shot.framing.closeup"]
    assert cy1 < y1 and cy1 == pytest.approx((0.33 + 0.35 * 0.25) * H, abs=2)  # head and shoulders
    assert 0 <= x0 and x1 <= W and 0 <= cx0 and cx1 <= W


def test_no_crop_from_a_body_that_is_not_upright_or_not_whole():
    W, H = 1200, 675
    lying = _standing_pose(W, H)
    lying[[23, 24], 0] = 0.8  # hips far to the side of the shoulders
    assert crops_for("shot.framing.long", W, H, pose=lying) == []
    cut = _standing_pose(W, H)
    cut[[27, 28], 3] = 0.1  # feet not seen: not a whole body
    assert crops_for("shot.framing.long", W, H, pose=cut) == []
    assert crops_for("shot.framing.extremelong", W, H, pose=_standing_pose(W, H)) == []


def test_closeup_face_gives_an_extreme_closeup_and_medium_gives_a_closeup():
    W, H = 1200, 675
    ecu = crops_for("shot.framing.closeup", W, H, face=(0.35, 0.1, 0.3, 0.8))
    assert [lab for lab, _ in ecu] == ["shot.framing.extremecloseup"]
    _, (x0, y0, x1, y1) = ecu[0]
    assert y0 == pytest.approx(0.26 * H, abs=2) and y1 == pytest.approx(0.74 * H, abs=2)  # eyes to mouth
    med = _standing_pose(W, H)
    med[:, 1] = med[:, 1] * 2.2 - 0.2  # the same body, closer: hips below the frame
    assert [lab for lab, _ in crops_for("shot.framing.medium", W, H, pose=med)] == ["shot.framing.closeup"]


class _Head:
    def __init__(self, p):
        self.p = p

    def __call__(self, ev):
        return dict(self.p)


def _stats(**kw):
    from cinemanet.perception.evidence import ImageStats

    base = dict.fromkeys(ImageStats.__dataclass_fields__, 0.0)
    base.update(luma_mean=0.08, top_luma=0.05, top_blue=-10.0, lab_a=0.0, highlight_points=0.5)
    base.update(kw)
    return ImageStats(**base)


def test_night_from_the_head_is_capped_and_the_rest_left_unknown():
    from cinemanet.concepts.predictors.shot_timeofday import NIGHT_CAP, TimeOfDayFromHead
    from cinemanet.perception.evidence import Evidence

    p = TimeOfDayFromHead()
    p.heads = {
        "head": _Head({"shot.timeofday.day": 0.02, "shot.timeofday.twilight": 0.03, "shot.timeofday.night": 0.95})
    }
    ev = Evidence(width=100, height=60, stats=_stats())
    s = p.predict(ev, {"shot.location": {"shot.location.exterior": 1.0}})
    assert s["shot.timeofday.night"] == pytest.approx(NIGHT_CAP)
    assert sum(s.values()) == pytest.approx(1.0)
    assert s["shot.timeofday.na"] > s["shot.timeofday.day"] + s["shot.timeofday.twilight"]
    # an older head without night leaves night to the light rule
    p.heads = {"head": _Head({"shot.timeofday.day": 0.9, "shot.timeofday.twilight": 0.1})}
    s2 = p.predict(ev, {"shot.location": {"shot.location.exterior": 1.0}})
    assert s2["shot.timeofday.night"] > 0.5  # dark, point lights: the rule says night


@pytest.mark.parametrize("pair", [False, True])
def test_day_for_night_examples_keep_their_photos_split(tmp_path, monkeypatch, pair):
    import cv2

    from cinemanet.training import default_heads as dh

    monkeypatch.setenv("CINEMANET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(dh, "PAIR_DAY", pair)
    images = {}
    for i, (cls, labels, test, bright) in enumerate(
        [
            ("weather/shine", {"shot.timeofday": "shot.timeofday.day"}, False, True),
            ("indoor-outdoor/outdoor", {"shot.location": "shot.location.exterior"}, True, True),
            ("weather/cloudy", {"shot.timeofday": "shot.timeofday.day"}, False, False),  # too dark
            ("indoor-outdoor/indoor", {"shot.location": "shot.location.interior"}, False, True),  # not a source
        ]
    ):
        path = tmp_path / f"{i}.jpg"
        img = _daylight(i) if bright else (_daylight(i) * 0.15).astype(np.uint8)
        cv2.imwrite(str(path), img[..., ::-1])
        sha = f"{i:02d}" * 32
        images[sha] = dh.Image(path, sha, [cls.split("/")[0]], dict(labels), test=test, cluster=i, classes=[cls])
    assert dh.add_day_for_night(images, log=lambda m: None) == 2
    nights = [im for im in images.values() if im.generated]
    assert {im.labels["shot.timeofday"] for im in nights} == {"shot.timeofday.night"}
    assert sorted((im.cluster, im.test) for im in nights) == [(0, False), (1, True)]  # the photo's side and cluster
    assert all(im.path.exists() for im in nights)
    # with PAIR_DAY the outdoor photo, which had no time-of-day label, becomes a day example of its own
    outdoor = images["01" * 32]
    assert (outdoor.labels.get("shot.timeofday") == "shot.timeofday.day") is pair
    assert (outdoor.timeofday_from == dh.PAIRED_DAY) is pair
    assert images["00" * 32].timeofday_from is None  # a real day label stays the set's own
    tasks = dh.build_tasks(images)
    srcs = {r[2] for r in tasks["timeofday"].rows}
    assert srcs == ({"weather", dh.PAIRED_DAY, dh.GEN_NIGHT} if pair else {"weather", dh.GEN_NIGHT})
    assert not any(r[0] in {im.sha256 for im in nights} for r in tasks["texture"].rows)
