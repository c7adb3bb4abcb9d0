"""``fast``: CinemaNet's own shot-boundary detector (the default).

It works on the tiny YUV copy of each frame that the decoder hands over (36x64, planes taken
straight from the decoded picture) and costs a few dozen small OpenCV/NumPy calls per frame,
far below the cost of decoding a 1080p frame. Memory is a fixed ring of recent frames.

Per frame it keeps, in a ring of the last 66 frames: the frame, 9x16 and 5x8 block-mean copies,
the mean absolute difference (MAD, 0-255, Y+U+V) to the previous frame, and mean/std of luma
(whole frame and centre band). Other frame pairs are compared only for candidates.

Hard cuts (frame ``c`` = first frame of the new shot), decided 8 frames later:
  * ``cross``: the smallest MAD between any of the 4 frames before ``c`` and any of ``c`` and
    the 4 after. A cut makes every such pair differ; a flash, a strobe or a car crossing the
    lens makes some later frame look like an earlier one again.
  * ``cross >= cut_threshold`` and ``cross >= cut_ratio * median`` of the 16 surrounding
    frame-to-frame MADs (an adaptive baseline: fast action raises it).
  * transient check: after a cut the frames keep their distance from the old shot, so the
    closest "return" pair (before ``c``, after ``c``) must stay >= ``return_ratio`` of the jump.
  * block check: the 25th percentile of the per-block change (9x16 blocks, blocks that are black
    in both frames -- letterbox bars -- left out) must be >= ``block_threshold``: a cut changes
    nearly every part of the picture, an object sweeping past the lens only part of it.
  * of several candidates closer than ``min_gap`` frames the strongest is kept.

With ``cuts="learned"`` a small learned score decides instead (``CUT_FEATURES``: 22 cheap
features of the window, the rules' verdict among them; ``CutModel``, numpy only; weights and
their training data's hashes in ``data/fast_cuts.json``, made by ``benchmarks/train_cuts.py``
from the tune split and videos made from real photos). ``cuts="both"`` takes either's cuts.
``cuts="deep"`` (a prototype, benchmarks only: it needs the decoded frames, ``process(...,
picture=)``): the learned score, its doubtful candidates confirmed by a CNN (``deep.py``).
The rules stay the default: the learned score wins on the tune split but loses recall on the
held-out film, whose cuts between busy shots it scores low (docs/SHOTS.md).

Fades: a run of uniform black (or white, judged on the centre band so that letterbox bars do
not hide it) frames, with the monotone ramps of "distance from that colour" before and after
it. A fade-out followed by a fade-in is one boundary, ``frame`` in the middle of the uniform run.

Dissolves: for centres ``c`` and half-widths ``h`` (4-18 frames) the frame ``c`` is compared
with the average of frames ``c-h`` and ``c+h``, on 9x16 and (more tolerant of motion) 5x8 block
means. Inside a cross-dissolve a frame is a linear mix of the two shots, so that error is small
compared with the difference between the ends, and the luma variance dips in the middle;
camera motion and action break the linearity and keep the variance. The change must also be
spread over the window (no single frame carries most of it). Overlapping candidates form one
transition, reported at its most linear candidate, if it has ``dissolve_support`` candidates or
one clearly linear (``dissolve_sure_linearity``); lone marginal candidates are motion, unless
(``cuts="learned"``/``"deep"``) the window holds a jump the rules call a cut and the learned
score turned down: the rules would keep that transition as a cut (docs/SHOTS.md, 7th look).

Priorities: a fade absorbs the cuts and dissolves within its span (cuts within ``min_gap``
frames of it too); a cut absorbs a dissolve whose span contains it. Boundaries come out in
frame order, typically 64 frames (2.7 s at 24 fps) after the frame they mark, later while a
fade or a dissolve is still open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from statistics import median

import cv2
import numpy as np

from ._mlp import Mlp
from .base import Boundary, Option, ShotDetector, register_detector
from .deep import PICTURE_SIDE, DeepCutModel, Embedder, deep_features, deep_model, logit

log = logging.getLogger("cinemanet")

_P = 4  # frames before a candidate cut that are compared
_Q = 4  # frames after
_BASE_W = 8  # frames each side for the adaptive baseline


_HIST_BINS = 32  # Y in 16 bins, U and V in 8 each
_KERNEL3 = np.ones((3, 3), np.uint8)

#: the inputs of the learned cut score (``FastDetector.cut_features``), in order
CUT_FEATURES = (
    "log_jump",  # frame difference (MAD, Y+U+V) to the previous frame
    "jump_vs_calm_side",  # against the calmer side's median difference (8 frames each side)
    "jump_vs_busy_side",
    "before_cross",  # smallest difference of the new frame to the 4 before, relative to the jump
    "return_cross",  # smallest difference of the 4 after to the 4 before (flashes come back)
    "sharpness",  # difference 4-5 frames apart, relative to the jump (slow changes are not sharp)
    "block_p25",  # 25th percentile of the 9x16 block change
    "block_p50_rel",
    "hist_diff",  # Y/U/V histogram distance to the previous frame (0-1)
    "hist_vs_window",  # ... against its median in the 16 frames around
    "hist_window",  # histogram of 3 frames before against the 3 after
    "ecr",  # edge change ratio
    "ecr_vs_window",
    "motion_rel",  # difference left after the best small shift, relative to the jump
    "log_motion",
    "log_contrast",  # luma spread
    "prev_step_rel",  # the differences one frame before and after, relative to the jump
    "next_step_rel",
    "window_max_rel",  # the largest other difference in the 16 frames around
    "chroma_share",  # share of the change in U, V
    "luma_mean",
    "rules_cut",  # 1 where the hand-set rules (cuts=rules) call it a cut
)


_MOTION = CUT_FEATURES.index("log_motion")
_RETURN, _BEFORE = CUT_FEATURES.index("return_cross"), CUT_FEATURES.index("before_cross")
_RULES = CUT_FEATURES.index("rules_cut")


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return cv2.norm(a, b, cv2.NORM_L1) / a.size


class CutModel(Mlp):
    """The learned cut score: a small MLP (one hidden layer, tanh) over ``CUT_FEATURES``,
    standardised; numpy only. Weights and how they were made: ``data/fast_cuts.json``."""

    def __init__(self, doc: dict):
        if tuple(doc["features"]) != CUT_FEATURES:
            raise ValueError("fast_cuts.json was trained on other features; re-train it (benchmarks/train_cuts.py)")
        super().__init__(doc)


MODEL_FILE = Path(__file__).with_name("data") / "fast_cuts.json"


@lru_cache(maxsize=1)
def cut_model() -> CutModel:
    return CutModel(json.loads(MODEL_FILE.read_text()))


@register_detector
class FastDetector(ShotDetector):
    name = "fast"
    summary = "CinemaNet's own (default): cuts, fades and dissolves from the tiny YUV frames, ~0.1 ms/frame"
    options = (
        Option(
            "cut_threshold",
            float,
            9.0,
            0.5,
            100.0,
            "frame difference (0-255 MAD) that is a cut on a picture of normal contrast",
        ),
        Option(
            "cut_min_threshold",
            float,
            2.5,
            0.5,
            100.0,
            "the least difference that is a cut, on a dark, flat or still picture",
        ),
        Option(
            "cut_ratio",
            float,
            2.0,
            1.0,
            20.0,
            "a cut must exceed this many times the calmer side's median frame difference",
        ),
        Option(
            "still_ratio",
            float,
            5.0,
            1.0,
            100.0,
            "between still shots, this many times the median difference is enough",
        ),
        Option(
            "return_ratio",
            float,
            0.7,
            0.0,
            1.0,
            "frames after a cut must stay this far (share of the jump) from the old shot",
        ),
        Option(
            "block_threshold", float, 3.0, 0.0, 100.0, "a quarter of the 9x16 blocks must change at least this much"
        ),
        Option("block_ratio", float, 0.3, 0.0, 1.0, "... or this share of the jump, whichever is less"),
        Option(
            "sharp_ratio",
            float,
            1.6,
            1.0,
            10.0,
            "a weak jump: frames 4 steps away may differ at most this many times it",
        ),
        Option(
            "cuts",
            str,
            "rules",
            help="how hard cuts are decided: the learned score over 22 cheap features, the hand-set rules, or both (either finds a cut); deep: the learned score, its doubtful candidates confirmed by a CNN (needs the decoded frames: benchmarks only)",
            choices=("learned", "rules", "both", "deep"),
        ),
        Option("cut_prob", float, 0.2, 0.01, 0.99, "learned cuts: the score (0-1) a cut must reach"),
        Option("cut_gate", float, 1.0, 0.0, 100.0, "learned cuts: the least frame difference that is scored"),
        Option(
            "cut_gate_ratio",
            float,
            2.0,
            1.0,
            100.0,
            "learned cuts: ... and the least ratio of it to the calmer side's median difference",
        ),
        Option(
            "cut_return_veto",
            float,
            0.4,
            0.0,
            1.0,
            "learned cuts: no cut where a later frame comes back within this share of the jump to the old shot",
        ),
        Option("min_gap", int, 6, 1, 1000, "of cuts closer than this (frames) the strongest is kept"),
        Option("fades", bool, True, help="detect fades"),
        Option("colour_fades", bool, True, help="fades through colours other than black and white"),
        Option("uniform_std", float, 8.0, 0.0, 64.0, "luma spread under which a frame is uniform black/white"),
        Option("colour_std", float, 2.0, 0.0, 64.0, "spread under which a frame is a uniform colour"),
        Option("max_ramp", int, 60, 1, 240, "longest fade ramp followed (frames)"),
        Option("dissolves", bool, True, help="detect dissolves"),
        Option("dissolve_min_change", float, 10.0, 0.0, 255.0, "least change across a dissolve"),
        Option(
            "dissolve_linearity", float, 0.45, 0.0, 1.0, "most non-linearity of a dissolve's middle frame (fine blocks)"
        ),
        Option("dissolve_support", int, 4, 1, 100, "candidates needed for a dissolve (unless clearly linear)"),
    )
    stats_columns = (
        "diff",
        "block_diff",
        "luma_mean",
        "luma_std",
        "cut_base",
        "cut_bar",
        "cut_cross",
        "cut_block",
        "dissolve_linearity",
        "uniform",
        "hist_diff",
        "ecr",
        "cut_motion",
        "cut_p",
        "cut_deep",
    )

    def __init__(
        self,
        cut_threshold: float = 9.0,
        cut_min_threshold: float = 2.5,
        contrast_ref: float = 40.0,
        base_side: str = "min",
        still_ratio: float = 5.0,
        return_bar: float = 3.0,
        block_ratio: float = 0.3,
        sharp_ratio: float = 1.6,
        cut_ratio: float = 2.0,
        return_ratio: float = 0.7,
        block_threshold: float = 3.0,
        min_gap: int = 6,
        fades: bool = True,
        uniform_std: float = 8.0,
        black_level: float = 40.0,
        white_level: float = 200.0,
        colour_fades: bool = True,
        colour_std: float = 2.0,
        max_ramp: int = 60,
        dissolves: bool = True,
        dissolve_halfwidths: tuple[int, ...] = (4, 6, 9, 12, 18),
        dissolve_min_change: float = 10.0,
        dissolve_linearity: float = 0.45,
        dissolve_coarse_linearity: float = 0.3,
        dissolve_variance_dip: float = 0.88,
        dissolve_smoothness: float = 3.0,
        dissolve_support: int = 4,
        dissolve_sure_linearity: float = 0.2,
        cuts: str = "rules",
        cut_prob: float = 0.2,
        cut_gate: float = 1.0,
        cut_gate_ratio: float = 2.0,
        cut_return_veto: float = 0.4,
        deep_lo: float | None = None,
        deep_hi: float | None = None,
        deep_prob: float | None = None,
    ):
        # cuts="deep": the band of learned scores the CNN confirms and the score it must give;
        # None: as chosen on validation (data/fast_deep.json). Not user options (yet): a new
        # option would re-analyse every sidecar
        self.deep_lo, self.deep_hi, self.deep_prob = deep_lo, deep_hi, deep_prob
        self.cut_return_veto = cut_return_veto
        self.cuts = cuts
        self.cut_prob = cut_prob
        self.cut_gate = cut_gate
        self.cut_gate_ratio = cut_gate_ratio
        self.cut_threshold = cut_threshold
        self.cut_min_threshold = cut_min_threshold
        self.contrast_ref = contrast_ref
        self.base_side = base_side
        self.still_ratio = still_ratio
        self.return_bar = return_bar
        self.block_ratio = block_ratio
        self.sharp_ratio = sharp_ratio
        self.cut_ratio = cut_ratio
        self.return_ratio = return_ratio
        self.block_threshold = block_threshold
        self.min_gap = min_gap
        self.fades = fades
        self.uniform_std = uniform_std
        self.black_level = black_level
        self.white_level = white_level
        self.colour_fades = colour_fades
        self.colour_std = colour_std
        self.max_ramp = max_ramp
        self.dissolves = dissolves
        self.dissolve_halfwidths = dissolve_halfwidths
        self.dissolve_min_change = dissolve_min_change
        self.dissolve_linearity = dissolve_linearity
        self.dissolve_coarse_linearity = dissolve_coarse_linearity
        self.dissolve_variance_dip = dissolve_variance_dip
        self.dissolve_smoothness = dissolve_smoothness
        self.dissolve_support = dissolve_support
        self.dissolve_sure_linearity = dissolve_sure_linearity
        # (scikit-learn style: only parameters here; the state is made on the first frame)

    #: training hook (benchmarks/train_cuts.py): called with (frame index, CUT_FEATURES vector)
    #: for every frame whose difference reaches ``cut_gate``
    feature_sink = None
    #: the learned cut score; None: the shipped one (``cut_model()``)
    model: "CutModel | None" = None
    #: cuts="deep": the confirming model (None: ``deep.deep_model()``), the CNN (None: the
    #: packaged one), and an optional frame index -> embedding cache shared between runs (training)
    deep_model: "DeepCutModel | None" = None
    embedder = None
    embed_cache: dict | None = None
    #: cuts="deep": (frame index, CUT_FEATURES, learned score, DEEP_FEATURES) of every confirmed candidate
    deep_sink = None

    # ------------------------------------------------------------------ state

    def _setup(self, small: np.ndarray) -> None:
        hmax = max(self.dissolve_halfwidths) if self.dissolve_halfwidths else 0
        self._learned = self.cuts != "rules" or self.feature_sink is not None
        if self.cuts != "rules":
            self._model = self.model or cut_model()
        if self.cuts == "deep":
            self._deep = self.deep_model or deep_model()
            lo, hi = self._deep.band
            self._band = (lo if self.deep_lo is None else self.deep_lo, hi if self.deep_hi is None else self.deep_hi)
            self._deep_prob = self._deep.threshold if self.deep_prob is None else self.deep_prob
            self._pics: dict[int, object] = {}  # internal frame -> picture, the last few only
            self._embs: dict[int, tuple] = {}
            self._warned = False
        self._hmax = hmax
        self._la = max(_Q, _BASE_W)  # cut decision delay
        self._R = max(2 * hmax + 2, self._la + _P + _BASE_W + 2, self.max_ramp + 4) + 2
        R = self._R
        self._frames = np.zeros((R, *small.shape), np.uint8)
        ch = small.shape[2] if small.ndim == 3 else 1
        self._blocks = np.zeros((R, 9, 16, ch), np.float32)
        self._coarse = np.zeros((R, 5, 8, ch), np.float32)
        self._d1 = np.zeros(R, np.float32)  # MAD to the previous frame
        self._d1b = np.zeros(R, np.float32)  # block MAD to the previous frame
        # mean Y, std Y; centre band: mean Y, std Y, mean U, mean V, std U, std V
        self._stat = np.zeros((R, 8), np.float32)
        self._index = np.zeros(R, np.int64)  # caller's frame index
        # for the learned cut score: colour histograms, edge maps, their changes to the previous frame
        self._hist = np.zeros((R, _HIST_BINS), np.float32)
        self._hd1 = np.zeros(R, np.float32)  # histogram distance to the previous frame (0-2)
        self._edges = np.zeros((R, *small.shape[:2]), np.uint8)
        self._edil = np.zeros((R, *small.shape[:2]), np.uint8)  # the edges, dilated by one pixel
        self._ecr1 = np.zeros(R, np.float32)  # edge change ratio to the previous frame (0-1)
        h, w = small.shape[:2]
        self._centre = (
            slice(int(h * 0.3), max(int(h * 0.7), int(h * 0.3) + 1)),
            slice(int(w * 0.15), max(int(w * 0.85), int(w * 0.15) + 1)),
        )
        self._cut_next = self._first + 1  # next candidate cut to evaluate (internal frame number)
        self._cut_pending: tuple[int, float, int] | None = None  # (frame, strength, index) awaiting min_gap
        self._rules_memo: tuple[int, float | None] | None = None
        # cuts=learned/deep: candidates the rules call a cut and the score (or the CNN) turned down
        self._doubt: list[int] = []
        self._diss: list[tuple] = []  # cluster of (c, h, linearity, change, index c-h, index c, index c+h)
        self._diss_hi = 0
        self._fade_state = "idle"
        self._fade: dict = {}
        self._out: list[tuple[Boundary, int, int]] = []  # decided, not yet released: (boundary, internal span)
        self._hold_from: int | None = None  # no release from this internal frame on (fade in progress)
        self._flat: set[tuple[int, int, int]] = set()  # dissolves to or from a uniform frame: fades

    def reset(self) -> None:
        """Forget everything seen (start a new video)."""
        self._first = None

    # ------------------------------------------------------------------ split ranges

    splittable = True

    def sync_state(self) -> bytes | None:
        """A digest of everything that decides this detector's future output (see
        :meth:`ShotDetector.sync_state`); None until the ring holds only frames it was fed.

        Left out, because no later decision reads them: the frame of the first frame fed, a
        finished fade's record (replaced when the next one starts), a closed dissolve
        cluster's reach, and the "dissolve through a colour" marks of boundaries already
        released."""
        if getattr(self, "_first", None) is None or self._n - self._first <= self._R:
            return None
        fade = None
        if self._fade_state != "idle":
            fade = {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in self._fade.items()}
        queued = {(b.frame, b.start, b.end) for b, _, _ in self._out}
        state = (
            self._n,
            self._cut_next,
            self._cut_pending,
            self._diss,
            self._diss_hi if self._diss else None,
            self._fade_state,
            fade,
            self._out,
            self._hold_from,
            sorted(x for x in self._flat if x in queued),
            *(a.tobytes() for a in (self._frames, self._blocks, self._coarse, self._d1, self._d1b, self._stat)),
            self._index.tobytes(),
            self._learned,
            [t for t in self._doubt if t > self._n - self._R],
            *(a.tobytes() for a in (self._hist, self._hd1, self._edges, self._edil, self._ecr1) if self._learned),
        )
        return hashlib.blake2b(pickle.dumps(state, protocol=4), digest_size=16).digest()

    def __getstate__(self):
        # a split range hands its state on pickled: decoded frames become the RGB copies the
        # CNN reads, and the ONNX session is made again where it is needed
        state = self.__dict__.copy()
        if "_pics" in state:
            state["_pics"] = {
                t: p if p is None or isinstance(p, np.ndarray) else p.rgb(PICTURE_SIDE) for t, p in self._pics.items()
            }
            state["embedder"] = None
        return state

    # ------------------------------------------------------------------ feed

    def process_decoded(self, frame) -> list[Boundary]:
        # cuts=deep's CNN reads the colour picture (converted only for doubtful candidates)
        return self.process(frame.index, frame.time, frame.small, picture=frame if self.cuts == "deep" else None)

    def process(self, index: int, time: float, small: np.ndarray, picture=None) -> list[Boundary]:
        """``picture`` (cuts="deep" only): the frame in colour, an HxWx3 RGB array or anything
        with ``rgb(long_side)`` (a ``DecodedFrame``: converted only if the CNN needs it)."""
        if getattr(self, "_first", None) is None:
            # internal frame numbers are the caller's indices: a detector started part-way
            # through a video (a split range's warm-up) numbers its ring slots as one that saw
            # the whole video, so the two states can be compared (``sync_state``)
            self._first = self._n = int(index)
            self._setup(small)
        n = self._n
        R = self._R
        s = n % R
        fr = self._frames[s]
        np.copyto(fr, small)
        self._index[s] = index
        blk = cv2.resize(small, (16, 9), interpolation=cv2.INTER_AREA).astype(np.float32)
        self._blocks[s] = blk.reshape(self._blocks[s].shape)
        self._coarse[s] = cv2.resize(blk, (8, 5), interpolation=cv2.INTER_AREA).reshape(self._coarse[s].shape)
        y = small[..., 0] if small.ndim == 3 else small
        m, sd = cv2.meanStdDev(y)
        cm, csd = cv2.meanStdDev(np.ascontiguousarray(small[self._centre]))
        cm, csd = cm.ravel(), csd.ravel()
        if cm.size == 1:  # grey input: no chroma
            cm, csd = np.array([cm[0], 128.0, 128.0]), np.array([csd[0], 0.0, 0.0])
        self._stat[s] = (m[0, 0], sd[0, 0], cm[0], csd[0], cm[1], cm[2], csd[1], csd[2])
        self._d1[s] = _mad(fr, self._frames[(n - 1) % R]) if n > self._first else 0.0
        self._d1b[s] = _mad(self._blocks[s], self._blocks[(n - 1) % R]) if n > self._first else 0.0
        if self._learned:
            self._frame_features(n, s, small, y)
        if self.cuts == "deep":
            self._pics[n] = picture
            old = n - self._la - 4  # candidates are decided _la frames late and look 2 back
            self._pics.pop(old, None)
            self._embs.pop(old, None)
        self._n = n + 1
        if self.stats_sink is not None:
            for k, v in (
                ("diff", self._d1[s]),
                ("block_diff", self._d1b[s]),
                ("luma_mean", m[0, 0]),
                ("luma_std", sd[0, 0]),
            ):
                self.stats_sink(index, k, float(v))
            u = self._uniform(n) if self.fades else None
            self.stats_sink(index, "uniform", {"black": 1.0, "white": 2.0, "colour": 3.0}.get(u, 0.0))
            if self._learned:
                self.stats_sink(index, "hist_diff", float(self._hd1[s]))
                self.stats_sink(index, "ecr", float(self._ecr1[s]))

        # hard cuts: evaluate the candidate whose look-ahead is now complete
        while self._cut_next <= n - self._la:
            self._eval_cut(self._cut_next, n)
            self._cut_next += 1
        if self._cut_pending is not None and self._cut_next - self._cut_pending[0] >= self.min_gap:
            self._emit_cut()
        if self.dissolves:
            self._eval_dissolves(n)
        if self.fades:
            self._step_fade(n)
        # release what no later decision can touch any more: late dissolve clusters, cut
        # candidates waiting for min_gap, fades whose ramp reaches back max_ramp frames
        return self._release(n - max(self._la + 2 * self._hmax + self.min_gap, self.max_ramp) - 4)

    def flush(self) -> list[Boundary]:
        if getattr(self, "_first", None) is None:
            return []
        last = self._n - 1
        while self._cut_next <= last - 2:
            self._eval_cut(self._cut_next, last)
            self._cut_next += 1
        self._emit_cut()
        if self.dissolves:
            self._close_dissolves()
        if self.fades and self._fade_state == "ramp_in":
            self._finish_fade(last, last)
        self._hold_from = None
        out = self._release(None)
        self._first = None
        return out

    # ------------------------------------------------------------------ helpers

    def _D(self, p: int, q: int) -> float:
        """MAD between internal frames p and q (both still in the ring)."""
        R = self._R
        return _mad(self._frames[p % R], self._frames[q % R])

    def _g(self, t: int, white: bool, level) -> float:
        """Distance of frame t from the uniform colour ``level`` (black: whole-frame luma;
        white or another colour: the centre band, chroma included, as a (Y, U, V) triple)."""
        st = self._stat[t % self._R]
        if not white:
            return abs(float(st[0]) - level) + float(st[1])
        return abs(float(st[2]) - level[0]) + float(st[3]) + abs(float(st[4]) - level[1]) + abs(float(st[5]) - level[2])

    @staticmethod
    def _rise(g: float) -> float:
        """The least value that counts as a step of a fade ramp away from ``g``."""
        return g + max(0.3, 0.015 * g)

    def _uniform(self, t: int) -> str | None:
        m, sd, cm, csd = self._stat[t % self._R, :4]
        if sd <= self.uniform_std and m <= self.black_level:
            return "black"
        if csd <= self.uniform_std and cm >= self.white_level:
            return "white"
        st = self._stat[t % self._R]
        if (
            self.colour_fades
            and max(csd, st[6], st[7]) <= self.colour_std
            and cm > self.black_level
            and self._flat_outside_bars(t)
        ):
            return "colour"  # a fade through red, grey, sepia...
        return None

    def _flat_outside_bars(self, t: int) -> bool:
        """The whole picture, letterbox bars aside, is one colour (not only the centre band:
        a flat backdrop with something moving above or below it is no fade)."""
        f = self._frames[t % self._R]
        if f.ndim == 2:
            f = f[..., None]
        rows = f[..., 0].mean(axis=1) > 28
        if not rows.any():
            return False
        px = f[rows].reshape(-1, f.shape[-1]).astype(np.float32)
        return float(px.std(axis=0).max()) <= self.colour_std

    # ------------------------------------------------------------------ learned cut score

    def _frame_features(self, n: int, s: int, small: np.ndarray, y: np.ndarray) -> None:
        """Per-frame pieces of the learned cut score: a Y/U/V histogram, an edge map (luma's
        3x3 morphological gradient over 30), and their changes to the previous frame."""
        R = self._R
        h = self._hist[s]
        k = float(y.size)
        h[:16] = cv2.calcHist([y], [0], None, [16], (0, 256)).ravel()
        if small.ndim == 3:
            h[16:24] = cv2.calcHist([small], [1], None, [8], (0, 256)).ravel()
            h[24:32] = cv2.calcHist([small], [2], None, [8], (0, 256)).ravel()
        else:
            h[16:32] = 0.0
            h[19] = h[27] = k
        h *= 1.0 / k
        e = self._edges[s]
        cv2.threshold(cv2.morphologyEx(y, cv2.MORPH_GRADIENT, _KERNEL3), 30, 255, cv2.THRESH_BINARY, dst=e)
        cv2.dilate(e, _KERNEL3, dst=self._edil[s])
        if n > self._first:
            p = (n - 1) % R
            self._hd1[s] = cv2.norm(h, self._hist[p], cv2.NORM_L1) / 3.0
            self._ecr1[s] = self._ecr(p, s)
        else:
            self._hd1[s] = self._ecr1[s] = 0.0

    def _ecr(self, a: int, b: int) -> float:
        """Edge change ratio between ring slots a and b (Zabih et al.): the larger share of
        edge pixels of one frame with no edge of the other near them."""
        ea, eb = self._edges[a], self._edges[b]
        na, nb = cv2.countNonZero(ea), cv2.countNonZero(eb)
        if na + nb < 8:
            return 0.0
        out_ = cv2.countNonZero(cv2.bitwise_and(ea, cv2.bitwise_not(self._edil[b]))) / max(na, 1)
        in_ = cv2.countNonZero(cv2.bitwise_and(eb, cv2.bitwise_not(self._edil[a]))) / max(nb, 1)
        return float(max(out_, in_))

    def _motion_mad(self, p: int, c: int) -> float:
        """MAD between frames p and c after the best small shift of p (up to 3 pixels across,
        2 down, on the 36x64 copy): what is left of the change once the camera's motion is
        taken out."""
        R = self._R
        a, b = self._frames[p % R], self._frames[c % R]
        hh, ww = a.shape[:2]
        best = _mad(a, b)
        for dy in (-2, -1, 0, 1, 2):
            for dx in (-3, -2, -1, 0, 1, 2, 3):
                if dx == 0 and dy == 0:
                    continue
                ya, yb = (slice(dy, hh), slice(0, hh - dy)) if dy >= 0 else (slice(0, hh + dy), slice(-dy, hh))
                xa, xb = (slice(dx, ww), slice(0, ww - dx)) if dx >= 0 else (slice(0, ww + dx), slice(-dx, ww))
                best = min(best, _mad(a[ya, xa], b[yb, xb]))
        return best

    def cut_features(self, c: int, last: int) -> np.ndarray:
        """The learned cut score's inputs for internal frame ``c`` (the first frame of the new
        shot, if it is one), from the ring: ``CUT_FEATURES`` in order."""
        R = self._R
        d1 = self._d1
        jump = float(d1[c % R])
        j = jump + 0.5
        lo, hi = max(self._first + 1, c - _BASE_W, last - R + 2), min(last, c + _BASE_W)
        before = [float(d1[t % R]) for t in range(lo, c)]
        after = [float(d1[t % R]) for t in range(c + 1, hi + 1)]
        mb = median(before) if before else 0.0
        ma = median(after) if after else mb
        if not before:
            mb = ma
        first = max(self._first, c - _P, last - R + 1)
        ps = range(first, c)
        pre = min((self._D(p, c) for p in ps), default=jump)
        ret = min((self._D(p, q) for q in range(c + 1, min(last, c + _Q) + 1) for p in ps), default=pre)
        lo_, hi_ = max(self._first, c - 1 - _P, last - R + 1), min(last, c + _Q)
        sharp = max(self._D(lo_, c), self._D(c - 1, hi_))
        a, b = self._blocks[(c - 1) % R], self._blocks[c % R]
        active = (a[..., 0] > 28) | (b[..., 0] > 28)
        blk = cv2.absdiff(a, b).reshape(-1, a.shape[-1]).sum(axis=-1)[active.ravel()] * (1.0 / a.shape[-1])
        if blk.size:
            i25, i50 = (blk.size - 1) // 4, (blk.size - 1) // 2
            part = np.partition(blk, (i25, i50))
            b25, b50 = float(part[i25]), float(part[i50])
        else:
            b25 = b50 = 0.0
        hd, ec = self._hd1, self._ecr1
        nb = [t % R for t in range(lo, hi + 1) if t != c]
        hmed = median(hd[nb].tolist()) if nb else 0.0
        emed = median(ec[nb].tolist()) if nb else 0.0
        hmax = max(before + after, default=0.0)
        st0, st1 = self._stat[(c - 1) % R], self._stat[c % R]
        contrast = max(float(st0[1]), float(st1[1]))
        fa, fb = self._frames[(c - 1) % R], self._frames[c % R]
        if fa.ndim == 3:
            chroma = cv2.norm(fa[..., 1:], fb[..., 1:], cv2.NORM_L1) / (fa[..., 1:].size)
            yd = cv2.norm(fa[..., 0], fb[..., 0], cv2.NORM_L1) / (fa[..., 0].size)
        else:
            chroma, yd = 0.0, jump
        mm = self._motion_mad(c - 1, c)
        # the histogram of the 3 frames before against the 3 after (stable across motion)
        ib = [t % R for t in range(max(first, c - 3), c)]
        ia = [t % R for t in range(c, min(last, c + 2) + 1)]
        hb = self._hist[ib].sum(axis=0) * (1.0 / len(ib))
        ha = self._hist[ia].sum(axis=0) * (1.0 / len(ia))
        hwin = cv2.norm(hb, ha, cv2.NORM_L1) / 3.0
        lg = np.log
        return np.array(
            [
                lg(j),
                lg(j / (min(mb, ma) + 0.5)),
                lg(j / (max(mb, ma) + 0.5)),
                lg(pre + 0.5) - lg(j),
                lg(ret + 0.5) - lg(j),
                lg(sharp + 0.5) - lg(j),
                lg(b25 + 0.5),
                lg(b50 + 0.5) - lg(j),
                float(hd[c % R]),
                lg((float(hd[c % R]) + 0.01) / (hmed + 0.01)),
                hwin,
                float(ec[c % R]),
                float(ec[c % R]) - emed,
                lg(mm + 0.5) - lg(j),
                lg(mm + 0.5),
                lg(contrast + 1.0),
                lg(float(d1[(c - 1) % R]) + 0.5) - lg(j),
                lg(float(d1[(c + 1) % R]) + 0.5) - lg(j) if c + 1 <= last else 0.0,
                lg(hmax + 0.5) - lg(j),
                (chroma + 0.1) / (yd + chroma + 0.2),
                float(st1[0]) / 255.0,
                0.0 if self._rules_cut(c, last) is None else 1.0,
            ],
            np.float32,
        )

    def _eval_learned(self, c: int, last: int) -> bool:
        """Score candidate ``c``; True if it is (or competes as) a cut."""
        R = self._R
        d1 = self._d1
        jump = float(d1[c % R])
        if jump < self.cut_gate:
            return False
        # a cheap first test: the jump stands out against the calmer side (the weakest true cut
        # of the tune data stood 3.3 times over it; the bar is 2)
        lo, hi = max(self._first + 1, c - _BASE_W, last - R + 2), min(last, c + _BASE_W)
        before = [float(d1[t % R]) for t in range(lo, c)]
        after = [float(d1[t % R]) for t in range(c + 1, hi + 1)]
        sides = [median(v) for v in (before, after) if v]
        if sides and (jump + 0.5) < self.cut_gate_ratio * (min(sides) + 0.5):
            return False
        x = self.cut_features(c, last)
        idx = int(self._index[c % R])
        if self.feature_sink is not None:
            self.feature_sink(idx, x)
        if self.cuts == "rules":
            return False
        p = self._model.score(x)
        if self.stats_sink is not None:
            self.stats_sink(idx, "cut_motion", math.exp(float(x[_MOTION])) - 0.5)
            self.stats_sink(idx, "cut_p", p)
        if self.cuts == "deep" and self._band[0] <= p < self._band[1]:
            q = self._confirm(c, last, x, p, idx)
            if q is not None:
                if self.stats_sink is not None:
                    self.stats_sink(idx, "cut_deep", q)
                if q < self._deep_prob:
                    return self._turned_down(c, x)
                p = max(p, q, self.cut_prob)  # confirmed: a cut, whatever the learned score
        if p < self.cut_prob:
            return self._turned_down(c, x)
        # a hard veto on top of the score: a later frame that looks like the old shot again
        # (a flash, a strobe) is no cut, however strong the jump (on the tune data every true
        # cut's return stays over 0.47 of its jump)
        if math.exp(float(x[_RETURN] - x[_BEFORE])) < self.cut_return_veto:
            return self._turned_down(c, x)
        pend = self._cut_pending
        if pend is not None and c - pend[0] < self.min_gap:
            if p > pend[1]:
                self._cut_pending = (c, p, idx)
            return True
        self._emit_cut()
        self._cut_pending = (c, p, idx)
        return True

    def _turned_down(self, c: int, x: np.ndarray) -> bool:
        """Remember a candidate the rules call a cut and the score turned down: inside a weak
        dissolve cluster it is the second sign of a gradual change (``_close_dissolves``)."""
        if x[_RULES] > 0 and self.cuts in ("learned", "deep"):
            self._doubt = [t for t in self._doubt if t > c - self._R]
            self._doubt.append(c)
        return False

    def _embedding(self, t: int):
        idx = int(self._index[t % self._R])
        cache = self.embed_cache
        if cache is not None and idx in cache:
            return cache[idx]
        e = self._embs.get(t)
        if e is None:
            pic = self._pics.get(t)
            if pic is None:
                return None
            if not isinstance(pic, np.ndarray):
                pic = pic.rgb(PICTURE_SIDE)
            if self.embedder is None:
                self.embedder = Embedder(self._deep.size)
            e = self._embs[t] = self.embedder(pic)
        if cache is not None:
            cache[idx] = e
        return e

    def _confirm(self, c: int, last: int, x: np.ndarray, p: float, idx: int) -> float | None:
        """The CNN's verdict on a doubtful candidate ``c`` (None where its frames are missing:
        the learned score alone decides then)."""
        ts = [min(max(t, self._first, last - self._R + 1), last) for t in (c - 2, c - 1, c, c + 1)]
        es = [self._embedding(t) for t in ts]
        if any(e is None for e in es):
            if not self._warned:
                self._warned = True
                log.warning("fast: cuts=deep without the decoded frames: the learned score decides alone")
            return None
        dx = deep_features(es)
        if self.deep_sink is not None:
            self.deep_sink(idx, x, p, dx)
        return self._deep.score(np.concatenate([x, np.float32([logit(p)]), dx]))

    # ------------------------------------------------------------------ cuts

    def _eval_cut(self, c: int, last: int) -> None:
        if self._learned and (self._eval_learned(c, last) or self.cuts in ("learned", "deep")):
            return  # ("both": the rules may still find a cut the score passed over)
        cross = self._rules_cut(c, last)
        if cross is None:
            return
        R = self._R
        if self.cuts == "both":
            cross = self.cut_prob  # on the score's scale: a cut the score found wins a min_gap contest
        pend = self._cut_pending
        if pend is not None and c - pend[0] < self.min_gap:
            if cross > pend[1]:
                self._cut_pending = (c, cross, int(self._index[c % R]))
            return
        self._emit_cut()
        self._cut_pending = (c, cross, int(self._index[c % R]))

    def _rules_cut(self, c: int, last: int) -> float | None:
        """The hand-set rules' verdict on candidate ``c``: its strength (the smallest
        before/after difference) if they call it a cut, else None. (Also an input of the
        learned score; asked once per candidate.)"""
        memo = self._rules_memo
        if memo is not None and memo[0] == c:
            return memo[1]
        v = self._rules_cut_uncached(c, last)
        self._rules_memo = (c, v)
        return v

    def _rules_cut_uncached(self, c: int, last: int) -> float | None:
        R = self._R
        jump = float(self._d1[c % R])
        if jump < min(self.cut_threshold, self.cut_min_threshold):
            return None
        lo, hi = max(self._first + 1, c - _BASE_W, last - R + 2), min(last, c + _BASE_W)
        before = [float(self._d1[t % R]) for t in range(lo, c)]
        after = [float(self._d1[t % R]) for t in range(c + 1, hi + 1)]
        # the calmer side's baseline: a cut into a whip pan or out of a flash is still a cut
        sides = [median(v) for v in (before, after) if len(v) >= 3]  # (a side of 1-2 frames says nothing)
        base = min(sides) if sides and self.base_side == "min" else median(before + after or [0.0])
        # a dark or flat picture changes less in absolute terms: the bar follows its contrast
        st0, st1 = self._stat[(c - 1) % R], self._stat[c % R]
        contrast = max(float(st0[1]), float(st1[1]))
        thr = max(self.cut_min_threshold, min(self.cut_threshold, self.cut_threshold * contrast / self.contrast_ref))
        # and so does a cut between two still shots: nothing moves on either side
        thr = max(self.cut_min_threshold, min(thr, self.still_ratio * (base + 0.5)))
        bar = max(thr, self.cut_ratio * base)  # every before/after pair must differ this much
        if self.stats_sink is not None:
            self.stats_sink(int(self._index[c % R]), "cut_base", base)
            self.stats_sink(int(self._index[c % R]), "cut_bar", bar)
        if jump < bar:
            return None
        if jump < self.cut_threshold:
            # a weak jump must be sharp: the frames a few steps away on either side are no
            # further from the other shot than the jump (the edge of a slow dissolve or fade is)
            lo_, hi_ = max(self._first, c - 1 - _P, last - R + 1), min(last, c + _Q)
            if max(self._D(lo_, c), self._D(c - 1, hi_)) > self.sharp_ratio * jump:
                return None
        first = max(self._first, c - _P, last - R + 1)
        ps = range(first, c)
        cross = jump
        for p in ps:  # the new frame against the frames before it
            d = self._D(p, c)
            if d < bar:
                return None
            cross = min(cross, d)
        # and no later frame may look like the old shot again (a flash, a shape crossing the lens)
        ret_bar = max(bar, min(self.return_ratio * jump, self.return_bar * bar))
        for q in range(c + 1, min(last, c + _Q) + 1):
            for p in ps:
                d = self._D(p, q)
                if d < ret_bar:
                    return None
                cross = min(cross, d)
        a, b = self._blocks[(c - 1) % R], self._blocks[c % R]
        active = (a[..., 0] > 28) | (b[..., 0] > 28)
        blk = np.abs(a - b).mean(axis=-1)[active]
        b25 = float(np.percentile(blk, 25)) if blk.size else 0.0
        if self.stats_sink is not None:
            self.stats_sink(int(self._index[c % R]), "cut_cross", cross)
            self.stats_sink(int(self._index[c % R]), "cut_block", b25)
        if blk.size and b25 < min(self.block_threshold, self.block_ratio * jump):
            return None
        return cross

    def _emit_cut(self) -> None:
        if self._cut_pending is None:
            return
        c, strength, f = self._cut_pending
        self._cut_pending = None
        self._add(Boundary(f, "cut", f, f, float(strength)), c, c)

    # ------------------------------------------------------------------ dissolves

    def _eval_dissolves(self, n: int) -> None:
        R = self._R
        B = self._blocks
        for h in self.dissolve_halfwidths:
            c = n - h
            if c - h < self._first:
                continue
            a, mid, b = B[(c - h) % R], B[c % R], B[n % R]
            e = _mad(a, b)
            if e < self.dissolve_min_change:
                continue
            lin = _mad(mid, cv2.addWeighted(a, 0.5, b, 0.5, 0.0)) / e
            if lin > self.dissolve_linearity:
                continue
            C = self._coarse
            ca, cb = C[(c - h) % R], C[n % R]
            ce = _mad(ca, cb)
            clin = _mad(C[c % R], cv2.addWeighted(ca, 0.5, cb, 0.5, 0.0)) / max(ce, 1e-3)
            if clin > self.dissolve_coarse_linearity:
                continue
            sa, sm, sb = self._stat[(c - h) % R, 1], self._stat[c % R, 1], self._stat[n % R, 1]
            dip = float(sm * sm) / max(float(sa * sa + sb * sb) / 2.0, 1.0)
            if dip > self.dissolve_variance_dip:
                continue
            steps = self._d1b[[(t % R) for t in range(c - h + 1, n + 1)]]
            if float(steps.max()) > self.dissolve_smoothness * max(float(steps.mean()), 1e-3):
                continue
            if self.stats_sink is not None:
                self.stats_sink(int(self._index[c % R]), "dissolve_linearity", float(clin))
            if self._diss and c - h > self._diss_hi:  # windows no longer overlap: a new transition
                self._close_dissolves()
            self._diss_hi = max(self._diss_hi, c + h) if self._diss else c + h
            # a dissolve from or to a uniform frame (black, white, a colour) is a fade
            flat = self.fades and (self._uniform(c - h) is not None or self._uniform(n) is not None)
            self._diss.append((c, h, clin, e, self._index[(c - h) % R], self._index[c % R], self._index[n % R], flat))
        if self._diss and n - 2 * self._hmax > self._diss_hi:
            self._close_dissolves()

    def _close_dissolves(self) -> None:
        if not self._diss:
            return
        c, h, lin, e, a, f, b, flat = min(self._diss, key=lambda x: (x[2], -x[3]))
        support = len(self._diss)
        self._diss = []
        # a real dissolve passes the tests at several centres and half-widths; a lone
        # candidate must be clearly linear
        if support < self.dissolve_support and lin > self.dissolve_sure_linearity:
            # ... or have a second sign of a change across it: with cuts=learned/deep, a jump
            # inside it that the rules call a cut and the learned score does not (the rules
            # would report that jump as a cut, which keeps the transition for them)
            if not any(c - h <= t <= c + h for t in self._doubt):
                return
        f, a, b = int(f), int(a), int(b)
        if flat:  # reported as a fade, but resolved against the others as a dissolve
            self._flat.add((f, a, b))
        self._add(Boundary(f, "dissolve", a, b, float(1.0 - lin)), c - h, c + h)

    # ------------------------------------------------------------------ fades

    def _step_fade(self, n: int) -> None:
        st = self._fade_state
        kind = self._uniform(n)
        F = self._fade
        if st == "idle":
            if kind is None or n == self._first:
                return
            white = kind != "black"
            R = self._R
            st = self._stat[n % R]
            level = (float(st[2]), float(st[4]), float(st[5])) if white else float(st[0])  # the colour faded to
            # walk back along the monotone ramp towards the colour
            t = n
            oldest = max(self._first, n - self.max_ramp, n - R + 2)
            while t - 1 >= oldest and self._g(t - 1, white, level) > self._rise(self._g(t, white, level)):
                t -= 1
            # t is the last frame at the shot's own level; the ramp starts where the picture is
            # clearly (10%) on its way to the colour, so noise before a flash is no ramp
            g_full = self._g(t, white, level)
            ramp_start = t
            while ramp_start < n and self._g(ramp_start, white, level) >= 0.9 * g_full:
                ramp_start += 1
            pre = self._frames[t % R].copy() if t < n and t >= self._first + 1 else None
            self._fade = {
                "kind": kind,
                "white": white,
                "level": level,
                "start": ramp_start,
                "start_idx": int(self._index[ramp_start % R]),
                "u0": n,
                "u0_idx": int(self._index[n % R]),
                "u1": n,
                "u1_idx": int(self._index[n % R]),
                "pre": pre,
                "full": t,  # last frame at the old shot's level: cuts from here on belong to the fade
                "maxsd": float(self._stat[n % R, 3 if white else 1]),
            }
            self._fade_state = "run"
            self._hold_from = min(t, ramp_start)
            return
        if st == "run":
            if kind == F["kind"]:
                F["u1"], F["u1_idx"] = n, int(self._index[n % self._R])
                m = float(self._stat[n % self._R, 2 if F["white"] else 0])
                if F["kind"] == "white":  # the colour itself
                    F["level"] = (max(F["level"][0], m), *F["level"][1:])
                elif F["kind"] == "black":
                    F["level"] = min(F["level"], m)
                F["maxsd"] = max(F["maxsd"], float(self._stat[n % self._R, 3 if F["white"] else 1]))
                return
            self._fade_state = "ramp_in"
            F["rising"] = n  # last frame seen still moving away from the colour
            return
        # ramp_in: follow the rise away from the colour
        if kind == F["kind"] and n - F["u1"] <= 4:  # a blip inside the hold: the same fade
            self._fade_state = "run"
            self._step_fade(n)
            return
        if (
            kind is not None
            or self._g(n, F["white"], F["level"]) <= self._rise(self._g(n - 1, F["white"], F["level"]))
            or n - F["u1"] > self.max_ramp
        ):
            self._finish_fade(n - 1, n)
            if kind is not None:  # a new uniform run begins right away
                self._step_fade(n)
            return
        F["rising"] = n

    def _finish_fade(self, last_rising: int, post: int) -> None:
        F = self._fade
        self._fade_state = "idle"
        self._hold_from = None
        end = F["u1"]
        if last_rising > F["u1"]:  # the ramp ends where the picture is within 10% of its own level
            w, lv = F["white"], F["level"]
            g_final = self._g(last_rising, w, lv)
            for t in range(F["u1"] + 1, last_rising + 1):
                if self._g(t, w, lv) < 0.9 * g_final:
                    end = t
        if F["pre"] is None or F["start"] <= self._first:
            return  # the video starts in the colour: a fade-in from black is no boundary
        ramps = (F["u0"] - F["start"]) + (end - F["u1"])
        run = F["u1"] - F["u0"] + 1
        if not (ramps >= 3 or F["maxsd"] <= 3.0):
            return
        R = self._R
        change = _mad(F["pre"], self._frames[post % R])
        if change < 0.5 * self.cut_threshold and run < 12:
            return  # same picture before and after: a flash or a blink, not a transition
        mid = (F["u0_idx"] + F["u1_idx"]) // 2
        # the fade claims everything from the old shot's last full frame to the new one's first
        self._add(
            Boundary(mid, "fade", F["start_idx"], int(self._index[end % R]), 1.0),
            min(F["full"], F["start"]),
            max(end, last_rising),
        )

    # ------------------------------------------------------------------ output

    def _add(self, b: Boundary, start: int, end: int) -> None:
        """Queue a decided boundary (internal span start..end), resolving overlaps."""
        keep = []
        g = self.min_gap  # no shot is shorter than this next to a fade
        for item in self._out:
            o, os_, oe = item
            if b.kind == "fade":
                m = g if o.kind == "cut" else 2
                if os_ - m <= end and start - m <= oe and o.kind != "fade":
                    continue  # the fade absorbs cuts and dissolves inside it
            elif (
                o.kind == "fade"
                and os_ - (g if b.kind == "cut" else 2) <= end
                and start - (g if b.kind == "cut" else 2) <= oe
            ):
                return
            elif b.kind == "cut" and o.kind == "dissolve" and os_ <= start <= oe:
                continue  # a cut inside a dissolve's span wins
            elif b.kind == "dissolve" and o.kind == "cut" and start <= os_ <= end:
                return
            keep.append(item)
        keep.append((b, start, end))
        self._out = keep

    def _release(self, upto: int | None) -> list[Boundary]:
        return [
            replace(b, kind="fade") if b.kind == "dissolve" and (b.frame, b.start, b.end) in self._flat else b
            for b in self._release_raw(upto)
        ]

    def _release_raw(self, upto: int | None) -> list[Boundary]:
        if not self._out:
            return []
        if upto is None:
            out = [b for b, _, _ in self._out]
            self._out = []
            return sorted(out, key=lambda b: b.frame)
        if self._hold_from is not None:
            upto = min(upto, self._hold_from - 3)
        if self._diss:  # an open dissolve cluster may still be dropped for, or drop, what is queued
            upto = min(upto, min(c - h for c, h, *_ in self._diss) - 3)
        ready = [it for it in self._out if it[2] < upto]
        if not ready:
            return []
        self._out = [it for it in self._out if it[2] >= upto]
        return sorted((b for b, _, _ in ready), key=lambda b: b.frame)
