"""Training, evaluation and label-generating augmentations: metric values checked against
hand computations, generators checked by measuring their output, and a tiny end-to-end run
(import -> train -> evaluate -> export -> reload -> predict) on generated images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cinemanet.training import augment
from cinemanet.training.metrics import (
    accuracy,
    classification_report,
    confusion,
    crossfit_temperature_ece,
    expected_calibration_error,
    fit_temperature,
    macro_f1,
    within_one,
)


# ------------------------------------------------------------------------------ metrics
def test_accuracy_macro_f1_confusion_by_hand():
    y = np.array([0, 1, 2, 2])
    pred = np.array([0, 2, 2, 1])
    assert accuracy(y, pred) == 0.5
    assert confusion(y, pred, 3).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    # F1 per class: 1.0, 0.0, 0.5 (precision 1/2, recall 1/2) -> mean 0.5
    assert macro_f1(y, pred, 3) == pytest.approx(0.5)
    # a class never present in the truth does not count towards the mean
    assert macro_f1(np.array([0, 0]), np.array([0, 0]), 3) == pytest.approx(1.0)


def test_within_one_by_hand():
    y, pred = np.array([0, 0, 1]), np.array([2, 1, 1])
    assert within_one(y, pred, [0, 1, 2]) == pytest.approx(2 / 3)
    # the order matters: with 2 between 0 and 1, predicting 2 for 0 is one step away
    assert within_one(np.array([0]), np.array([2]), [0, 1, 2]) == 0.0
    assert within_one(np.array([0]), np.array([2]), [0, 2, 1]) == 1.0


def test_expected_calibration_error_by_hand():
    probs = np.array([[0.9, 0.1], [0.25, 0.75], [0.38, 0.62], [0.3, 0.7]])
    y = np.array([0, 0, 1, 1])
    # one example per bin: |1 - .9| + |0 - .75| + |1 - .62| + |1 - .7|, averaged
    assert expected_calibration_error(probs, y) == pytest.approx((0.1 + 0.75 + 0.38 + 0.3) / 4)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, np.array([0, 1])) == pytest.approx(0.0)


def test_temperature_by_hand():
    # four identical logits (1, 0), three labelled 0: NLL is minimal at sigmoid(1/T) = 3/4, T = 1/ln 3
    logits = np.tile([1.0, 0.0], (4, 1))
    y = np.array([0, 0, 0, 1])
    assert fit_temperature(logits, y) == pytest.approx(1 / math.log(3), rel=0.02)


def test_temperature_scaling_fixes_overconfidence():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (4000, 3))
    p_true = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in p_true])
    over = np.exp(3 * z) / np.exp(3 * z).sum(1, keepdims=True)  # three times too sharp
    assert fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.15)
    after, temps = crossfit_temperature_ece(over, y)
    assert expected_calibration_error(over, y) > 0.1 and after < 0.03
    assert all(t > 2 for t in temps)


def test_classification_report_within_one_only_for_ordered_groups():
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])
    y = np.array([0, 1, 1])
    r = classification_report(y, probs, ["a", "b", "c"], order=["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(2 / 3) and r["within_one"] == pytest.approx(1.0)
    assert r["per_class"]["support"] == [1, 2, 0]
    assert "within_one" not in classification_report(y, probs, ["a", "b", "c"])


# ------------------------------------------------------------------------------ generators
def _photo(seed: int = 0, h: int = 180, w: int = 320) -> np.ndarray:
    """A colourful textured photo-like frame with strong horizontal and vertical edges."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(40, 220, (5, 8, 3)).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img.astype(int) + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    for y in range(30, h, 40):
        cv2.line(img, (0, y), (w, y), (20, 20, 20), 3)
    for x in range(40, w, 70):
        cv2.line(img, (x, 0), (x, h), (235, 235, 235), 2)
    return img


def _recipe(concept: str, label: str, seed: int = 0) -> augment.Recipe:
    return augment.Recipe(concept, label, seed)


def test_colour_generators_produce_their_label():
    rgb = _photo()
    warm = augment.apply(_recipe("tones", "color.tones.warm"), rgb, "a" * 64)
    cool = augment.apply(_recipe("tones", "color.tones.cool"), rgb, "a" * 64)
    bw = augment.apply(_recipe("tones", "color.tones.blackwhite"), rgb, "a" * 64)
    assert augment.colour_cast(warm) > 6 and augment.colour_cast(cool) < -6
    assert augment.mean_chroma(bw) < 1.0
    des = augment.apply(_recipe("saturation", "color.saturation.desaturated"), rgb, "a" * 64)
    sat = augment.apply(_recipe("saturation", "color.saturation.saturated"), rgb, "a" * 64)
    assert augment.mean_chroma(des) < 6 < 25 < augment.mean_chroma(sat)
    # a grey photo cannot be warmed into a "warm grade": the generator declines
    assert augment.apply(_recipe("tones", "color.tones.warm"), bw, "a" * 64) is None


def test_generators_are_deterministic_per_seed():
    rgb = _photo()
    a = augment.apply(_recipe("key", "shot.lighting.key.high", 0), rgb, "b" * 64)
    b = augment.apply(_recipe("key", "shot.lighting.key.high", 0), rgb, "b" * 64)
    c = augment.apply(_recipe("key", "shot.lighting.key.high", 1), rgb, "b" * 64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert _recipe("tones", "color.tones.warm", 0).key("x") != _recipe("tones", "color.tones.warm", 1).key("x")


def test_key_curves_move_lightness():
    rgb = _photo()
    y = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).mean()  # noqa: E731
    hi = augment.apply(_recipe("key", "shot.lighting.key.high"), rgb, "c" * 64)
    lo = augment.apply(_recipe("key", "shot.lighting.key.low"), rgb, "c" * 64)
    assert y(hi) > y(rgb) + 30 and y(lo) < y(rgb) - 30


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_defocus_whole_frame_and_background_only():
    rgb = _photo()
    out = augment.apply(_recipe("focus", "shot.focus.out"), rgb, "d" * 64)
    assert _sharpness(out) < 0.3 * _sharpness(rgb)
    mask = np.zeros(rgb.shape[:2], np.float32)
    mask[40:150, 110:220] = 1.0
    shallow = augment.apply(_recipe("focus", "shot.focus.shallow"), rgb, "d" * 64, mask)
    inside, outside = (slice(60, 130), slice(130, 200)), (slice(0, 180), slice(0, 80))
    assert _sharpness(shallow[inside]) > 0.8 * _sharpness(rgb[inside])
    assert _sharpness(shallow[outside]) < 0.3 * _sharpness(rgb[outside])


def test_rotation_generator_tilts_the_measured_lines():
    from cinemanet.media import load_image
    from cinemanet.perception import Perception

    rgb = _photo()
    per = Perception(["measure"])
    tilt = lambda im: abs(per.perceive(load_image(im)).stats.tilt_deg)  # noqa: E731
    tilted = augment.apply(_recipe("level", "shot.level.tilted"), rgb, "e" * 64)
    level = augment.apply(_recipe("level", "shot.level.level"), rgb, "e" * 64)
    assert tilt(level) < 1.5 and 5.0 < tilt(tilted) < 16.0


# ------------------------------------------------------------------------------ end to end
def _frame(rng: np.random.Generator, radius: int, colour) -> np.ndarray:
    """Distinct smooth background + a filled disc: the disc size decides the label."""
    small = rng.integers(0, 256, (6, 9, 3)).astype(np.uint8)
    img = cv2.resize(small, (240, 144), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img.astype(int) + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    c = (int(rng.integers(100, 140)), int(rng.integers(60, 84)))
    cv2.circle(img, c, radius, colour, -1)
    return img


def _write_set(root: Path, labels: dict[str, tuple[int, tuple]], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, (radius, colour) in labels.items():
        for i in range(n):
            p = root / name / f"{i:03d}.jpg"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), _frame(rng, radius, colour)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private data-set store and feature cache (the backbone's ONNX file is reused)."""
    from cinemanet.perception.backbone import cache_dir

    real_onnx = cache_dir() / "onnx"
    monkeypatch.setenv("CINEMANET_DATA", str(tmp_path / "store"))
    monkeypatch.setenv("CINEMANET_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    if real_onnx.is_dir():
        (tmp_path / "cache" / "onnx").symlink_to(real_onnx)
    return tmp_path


def test_end_to_end_train_evaluate_export_reload_predict(env):
    import onnx

    from cinemanet.api import CinemaNet
    from cinemanet.interfaces.cli import app
    from cinemanet.media import load_image
    from cinemanet.perception._ort import session
    from cinemanet.training.export import export_input

    run = CliRunner().invoke
    # two data sets, each labelling a different group: the other group's label is missing, not negative
    _write_set(env / "framing", {"CU": (60, (250, 250, 250)), "wide": (10, (250, 250, 250))}, 12, 1)
    _write_set(env / "scenes", {"kitchen": (35, (230, 40, 40)), "forest": (35, (40, 40, 230))}, 12, 2)
    for src, name, group in (("framing", "toyframing", "shot.framing"), ("scenes", "toyscenes", "shot.location")):
        r = run(app, ["dataset", "import", str(env / src), "--name", name, "--group", group, "--test-fraction", "0.3"])
        assert r.exit_code == 0, r.output
    r = run(app, ["train", "--dataset", "toyframing,toyscenes", "--out", str(env / "m"), "-j", "1"])
    assert r.exit_code == 0, r.output
    rec = json.loads((env / "m" / "run.json").read_text())
    assert set(rec["groups"]) == {"shot.framing", "shot.location"}
    fr, loc = rec["groups"]["shot.framing"], rec["groups"]["shot.location"]
    assert fr["datasets"] == ["toyframing"] and loc["datasets"] == ["toyscenes"]  # masked, not negatives
    assert fr["n_train"] + fr["n_test"] <= 24 and len(fr["data_sha256"]) == 64
    assert all(len(d["manifest_sha256"]) == 64 for d in rec["datasets"]) and rec["config"]["seed"] == 0
    assert fr["heldout"]["accuracy"] >= 0.8 and loc["heldout"]["accuracy"] >= 0.8
    assert (env / "m" / "heads" / "export" / "shot.framing.npz").exists()  # backbone-only companion

    r = run(
        app,
        [
            "evaluate",
            "--dataset",
            "toyframing,toyscenes",
            "--model",
            str(env / "m"),
            "--out",
            str(env / "ev"),
            "-j",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    ev = json.loads((env / "ev" / "evaluation.json").read_text())
    g = ev["groups"]["shot.framing"]
    assert {"accuracy", "macro_f1", "within_one", "ece", "ece_after_temperature", "confusion"} <= set(g)
    assert g["accuracy"] >= 0.8 and "within_one" not in ev["groups"]["shot.location"]
    assert (env / "ev" / "evaluation.md").read_text().count("| `shot.") >= 2
    assert list((env / "ev").glob("confusion-*.png"))

    # asked to score everything, evaluation leaves out the images the heads were trained on
    r = run(
        app,
        [
            "evaluate",
            "--dataset",
            "toyframing",
            "--split",
            "all",
            "--model",
            str(env / "m"),
            "--out",
            str(env / "ev2"),
            "-j",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    g2 = json.loads((env / "ev2" / "evaluation.json").read_text())["groups"]["shot.framing"]
    assert g2["left_out_seen_in_training"] == fr["n_train"] and g2["n_test"] == g["n_test"]

    r = run(app, ["model", "export", "--format", "onnx", "--model", str(env / "m"), "--out", str(env / "m.onnx")])
    assert r.exit_code == 0, r.output
    diff = float(r.output.split("max abs difference ")[1].split(" ")[0])
    assert diff < 1e-4

    # reload: the trained model.yaml tags images, and the exported network agrees with it
    net = CinemaNet(env / "m" / "model.yaml", threads=1)
    sess = session(env / "m.onnx", 1)
    meta = json.loads(onnx.load(str(env / "m.onnx")).metadata_props[0].value)
    labels = meta["outputs"]["shot_framing"]["labels"]
    right_py = right_onnx = 0
    files = sorted((env / "framing" / "CU").glob("*.jpg"))[:4] + sorted((env / "framing" / "wide").glob("*.jpg"))[:4]
    for f in files:
        truth = "shot.framing.closeup" if f.parent.name == "CU" else "shot.framing.long"
        scores = net.concepts.scores(net.evidence(f))["shot.framing"]
        right_py += max(scores, key=scores.get) == truth
        p = sess.run(["shot_framing"], {"image": export_input(load_image(f).rgb)})[0][0]
        right_onnx += labels[int(p.argmax())] == truth
    assert right_py >= 7 and right_onnx >= 7  # its speed: benchmarks/bench_training.py


def test_train_rejects_unknown_dataset_and_augmentation(env):
    from cinemanet.interfaces.cli import app

    r = CliRunner().invoke(app, ["train", "--dataset", "nope", "--out", str(env / "m")])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["evaluate", "--dataset", "nope", "--augment", "sparkle"])
    assert r.exit_code == 2


def test_default_model_answers_generated_concepts_with_its_heads():
    """The shipped saturation and key heads (learnt from generated examples) on frames made by
    the generators with seeds and a photo they never saw."""
    from cinemanet.api import CinemaNet

    net = CinemaNet("default", threads=1)
    assert net.spec.groups["color.saturation"].predictor == "color.saturation/head"
    assert net.spec.groups["shot.lighting"].predictor == "shot.lighting/key-head"
    rgb = _photo(seed=11)
    cases = [
        ("saturation", "color.saturation.desaturated"),
        ("saturation", "color.saturation.saturated"),
        ("key", "shot.lighting.key.high"),
        ("key", "shot.lighting.key.low"),
    ]
    for concept, label in cases:
        img = augment.apply(_recipe(concept, label, seed=7), rgb, "f" * 64)
        scores = net.concepts.scores(net.evidence(img))[
            label.rsplit(".", 1)[0] if concept == "saturation" else "shot.lighting"
        ]
        assert max(scores, key=scores.get) == label, (label, scores)
