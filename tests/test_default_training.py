"""`cinemanet model train-default` end to end on a tiny labelled folder with known answers:
train -> kept-apart figures -> export -> reload -> predict, and bad input named, not fatal."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest


def stripes(seed: int, size: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    period = int(rng.integers(10, 24))
    x = np.arange(size)
    band = ((x // (period // 2)) % 2).astype(np.uint8)
    img = np.repeat(band[None, :], size, 0) if seed % 2 else np.repeat(band[:, None], size, 1)
    col = rng.integers(40, 220, 3)
    out = np.where(img[..., None] == 1, col, 255 - col).astype(np.float64)
    return np.clip(out + rng.normal(0, 8, out.shape), 0, 255).astype(np.uint8)


def checks(seed: int, size: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    cell = int(rng.integers(12, 30))
    y, x = np.mgrid[:size, :size]
    img = ((x // cell + y // cell) % 2).astype(np.uint8)
    col = rng.integers(40, 220, 3)
    out = np.where(img[..., None] == 1, col, 255 - col).astype(np.float64)
    return np.clip(out + rng.normal(0, 8, out.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    data = root / "data" / "dtd10"
    for cls, fn in (("banded", stripes), ("chequered", checks)):
        (data / cls).mkdir(parents=True)
        for i in range(24):
            cv2.imwrite(str(data / cls / f"{i}.jpg"), fn(i)[..., ::-1])
    (data / "bumpy").mkdir()  # an empty class
    (data / "zigzagzag").mkdir()  # a class the mapping table does not know
    cv2.imwrite(str(data / "zigzagzag" / "a.jpg"), stripes(99))
    (data / "banded" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    shutil.copy(data / "chequered" / "0.jpg", data / "banded" / "dup.jpg")  # conflicting duplicate
    model = root / "model"
    shutil.copytree(Path(str(resources.files("cinemanet").joinpath("models", "default"))), model)
    return root, model


def test_train_evaluate_export_reload_predict(tiny, monkeypatch, tmp_path):
    from cinemanet.training.default_heads import evaluate_heads, train_default

    root, model = tiny
    monkeypatch.setenv("CINEMANET_CACHE", str(root / "cache"))
    before = {p.name: p.read_bytes() for p in (model / "heads").glob("*.npz") if p.name != "texture.npz"}
    messages: list[str] = []
    report = train_default(root / "data", model, jobs=1, log=messages.append, tasks=("texture",))
    text = "\n".join(messages)
    # bad input: each named with its reason, the rest trained
    assert "corrupt.jpg: unreadable image" in text
    assert "empty class" in text and "bumpy" in text
    assert "'zigzagzag' is not in source_map.yaml" in text
    assert "dup.jpg" in text and "conflicting duplicate" in text
    t = report["tasks"]["texture"]
    assert t["kept_apart"]["texture_top1"] >= 0.9, t["kept_apart"]
    assert set(t["thresholds"]) == {"texture.banded", "texture.chequered", "none"}
    # only the trained head changed
    assert {p.name: p.read_bytes() for p in (model / "heads").glob("*.npz") if p.name != "texture.npz"} == before
    ev = evaluate_heads(root / "data", model, jobs=1, log=lambda m: None)
    assert ev["texture"]["data_sha256"] == ev["texture"]["trained_on_sha256"]

    from cinemanet import CinemaNet

    r = CinemaNet(model=model / "model.yaml", threads=1).tag(stripes(301))
    assert r.groups["texture"].scores["texture.banded"] > r.groups["texture"].scores["texture.chequered"]

    from cinemanet.perception._ort import session
    from cinemanet.training.export import export_input, export_model

    res = export_model(str(model / "model.yaml"), "onnx", tmp_path / "m.onnx")
    assert res.parity["max_abs_diff"] < 1e-4
    got = dict(zip(res.outputs, session(res.path, 1).run(res.outputs, {"image": export_input(checks(302))})))
    labels = ["texture.banded", "texture.chequered", "none"]
    assert labels[int(np.argmax(got["texture"][0]))] == "texture.chequered"


def test_kill_9_while_fitting_leaves_the_previous_model(tiny, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    root, model = tiny
    target = tmp_path / "model"
    shutil.copytree(model, target)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    code = (
        "import sys; from pathlib import Path; from cinemanet.training.default_heads import train_default\n"
        "if __name__ == '__main__':\n"
        f"    train_default(Path({str(root / 'data')!r}), Path({str(target)!r}), jobs=1, tasks=('texture',),"
        " log=lambda m: print(m, flush=True))\n"
    )
    env = dict(os.environ, CINEMANET_CACHE=str(root / "cache"))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    for line in p.stdout:
        if line.startswith("texture:"):  # fitting has started
            os.kill(p.pid, signal.SIGKILL)
            break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    after = {q.relative_to(target): q.read_bytes() for q in target.rglob("*") if q.is_file()}
    assert after == before


def test_place_figures_per_set_among_its_own_classes():
    """Each scene set is also scored on its own benchmark's terms: top-1 among the classes that
    set defines (hand-computed here), beside the head's answer over every place."""
    from cinemanet.training.default_heads import Task, _report

    outputs = ["city", "road", "desert", "bed"]
    # set A defines city/road, set B desert/bed; rows: (sha, class, source)
    rows = [("a1", 0, "A"), ("a2", 1, "A"), ("a3", 0, "A"), ("b1", 2, "B"), ("b2", 3, "B")]
    task = Task("place", "shot.location", outputs, rows)
    P = np.array(
        [
            [0.30, 0.20, 0.50, 0.00],  # city; best overall desert (wrong), best of A's: city (right)
            [0.10, 0.40, 0.00, 0.50],  # road; overall bed (wrong), of A's: road (right)
            [0.20, 0.60, 0.10, 0.10],  # city; road either way (wrong)
            [0.00, 0.00, 0.90, 0.10],  # desert: right either way
            [0.60, 0.00, 0.30, 0.10],  # bed; overall city (wrong), of B's: desert (wrong)
        ]
    )
    y = np.array([r[1] for r in rows])
    rep = _report(P, y, task, np.full(4, 1.01), [r[2] for r in rows])
    a, b = rep["by_source"]["A"], rep["by_source"]["B"]
    assert a["accuracy"] == 0.0 and a["in_set_accuracy"] == pytest.approx(2 / 3) and a["in_set_classes"] == 2
    assert b["accuracy"] == 0.5 and b["in_set_accuracy"] == 0.5 and b["in_set_classes"] == 2
