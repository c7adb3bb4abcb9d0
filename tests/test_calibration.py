"""Calibration, thresholds and abstention against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cinemanet.training.calibrate import NEVER, WILSON_Z, emitted, label_thresholds, softmax, wilson_lower
from cinemanet.training.metrics import expected_calibration_error, fit_temperature


def test_threshold_is_the_lowest_that_keeps_precision():
    # class 0 is the best answer for five images: 0.95 right, 0.9 right, 0.8 wrong, 0.7 right, 0.6 wrong
    p0 = np.array([0.95, 0.9, 0.8, 0.7, 0.6])
    P = np.stack([p0, 1 - p0], 1)
    y = np.array([0, 0, 1, 0, 1])
    thr = label_thresholds(P, y, target=0.75, min_emitted=2, z=0)
    assert thr[0] == pytest.approx(0.7)  # 3 of the 4 images at >= 0.7 are right: 0.75
    assert thr[1] == NEVER  # class 1 is never the best answer
    e = emitted(P, y, thr)
    assert e == {"coverage": pytest.approx(0.8), "precision": pytest.approx(0.75), "n_emitted": 4}


def test_threshold_needs_enough_images_and_ties_go_together():
    P = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])
    y = np.array([0, 1, 0])
    # the two images at 0.9 come together (one wrong: 0.5), all three: 2/3
    assert label_thresholds(P, y, target=0.6, min_emitted=1, z=0)[0] == pytest.approx(0.6)
    assert label_thresholds(P, y, target=0.9, min_emitted=1, z=0)[0] == NEVER
    assert label_thresholds(P, y, target=0.5, min_emitted=4, z=0)[0] == NEVER


def test_wilson_lower_bound_by_hand():
    # 9 of 10 right, z = 1.2816: (0.9 + z^2/20 - z sqrt(0.009 + z^2/400)) / (1 + z^2/10)
    assert wilson_lower(9, 10, 1.2816) == pytest.approx(0.71755, abs=1e-5)
    assert wilson_lower(3, 4, 0.0) == pytest.approx(0.75)  # z = 0: the observed rate


def test_default_threshold_asks_for_the_bound_not_the_rate():
    # the 15 most confident of 20 images are right, the other 5 wrong. Observed rate: 15/16 =
    # 0.94 still passes 0.9, so z = 0 cuts at the 16th. Bound: n right of n is 1 / (1 + z^2 / n),
    # 0.901 at n = 15, and 15 of 16 is 0.81, so the bound cuts at the 15th
    p0 = np.linspace(0.99, 0.6, 20)
    P = np.stack([p0, 1 - p0], 1)
    y = np.r_[np.zeros(15, int), np.ones(5, int)]
    assert label_thresholds(P, y)[0] == pytest.approx(p0[14])
    assert label_thresholds(P, y, z=0)[0] == pytest.approx(p0[15])
    assert WILSON_Z == pytest.approx(1.2816)


def test_ece_by_hand():
    P = np.array([[0.8, 0.2], [0.6, 0.4]])
    y = np.array([0, 1])
    # bin of 0.8: right (|1 - 0.8|), bin of 0.6: wrong (|0 - 0.6|), each half the images
    assert expected_calibration_error(P, y) == pytest.approx(0.5 * 0.2 + 0.5 * 0.6)


def test_temperature_by_hand():
    # every image has logits (0, 4) and 3 of 4 are class 1: the best temperature makes
    # sigmoid(4 / T) = 0.75, T = 4 / ln 3
    z = np.tile([[0.0, 4.0]], (4, 1))
    y = np.array([1, 1, 1, 0])
    assert fit_temperature(z, y) == pytest.approx(4 / math.log(3), rel=0.03)
    assert softmax(z, 4 / math.log(3))[0, 1] == pytest.approx(0.75)


def test_per_label_thresholds_and_caps_decide_the_answer():
    from cinemanet.concepts.model import choose
    from cinemanet.taxonomy import get_taxonomy

    g = get_taxonomy().group("shot.framing")
    scores = {k: 0.0 for k in g.keys}
    scores.update({"shot.framing.medium": 0.55, "shot.framing.closeup": 0.45})
    thr = {k: 0.5 for k in g.keys}
    assert choose(g, scores, thr)[0] == "shot.framing.medium"
    thr["shot.framing.medium"] = 0.6  # not sure enough: the group abstains, the runner-up never answers
    thr["shot.framing.closeup"] = 0.1
    assert choose(g, scores, thr)[0] == "shot.framing.na"


def test_unvalidated_groups_are_capped():
    from cinemanet.concepts import ConceptModel, model_spec

    cm = ConceptModel(model_spec("default"))
    assert cm.spec.groups["shot.angle"].cap == 0.6
    capped = cm.cap("shot.angle", {"shot.angle.eye": 0.9, "shot.angle.na": 0.95})
    assert capped["shot.angle.eye"] == 0.6 and capped["shot.angle.na"] == 0.95
    assert cm.cap("shot.framing", {"shot.framing.medium": 0.9})["shot.framing.medium"] == 0.9


def test_layout_grid_cells_cover_the_map():
    from cinemanet.perception.backbone import grid_cells

    assert grid_cells(7) == [(0, 3), (2, 5), (4, 7)]
    assert grid_cells(9) == [(0, 3), (3, 6), (6, 9)]
    assert grid_cells(8)[0][0] == 0 and grid_cells(8)[-1][1] == 8
