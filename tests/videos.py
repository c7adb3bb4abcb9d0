"""Small test videos with known shot boundaries, and the boundary-matching score.

Everything here is synthetic and deterministic (seeded), so the tests need no footage, no
../shared and no network. ``benchmarks/videogen.py`` builds its larger sets on top of this
module (with real footage when ../shared/media exists).

A *shot source* is anything with ``len(shot)`` and ``shot.frame(t) -> HxWx3 uint8 RGB`` for
``0 <= t < len(shot)``. :func:`compose` joins shot sources with hard cuts, cross-dissolves
and fades, and returns the frames together with the ground-truth boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class Truth:
    """A true boundary: ``frame`` is the first frame of the new shot (cuts) or the middle of
    the transition; ``start``..``end`` (inclusive) is the span of a gradual transition."""

    frame: int
    kind: str  # "cut", "fade", "dissolve"
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"frame": self.frame, "kind": self.kind, "start": self.start, "end": self.end}


# --------------------------------------------------------------------------- writing


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int = 24,
    crf: int = 20,
    preset: str = "veryfast",
    gop: int | None = None,
    open_gop: bool = False,
) -> int:
    """Encode RGB frames as H.264 (libx264, yuv420p) with PyAV. Returns the frame count.
    ``gop``: a keyframe every this many frames (else x264's own choice); ``open_gop``: B-frames
    before a keyframe may refer across it (decoding from that keyframe cannot show them)."""
    import av

    n = 0
    with av.open(str(path), "w") as c:
        s = None
        for rgb in frames:
            if s is None:
                h, w = rgb.shape[:2]
                s = c.add_stream("libx264", rate=fps)
                s.width, s.height, s.pix_fmt = w, h, "yuv420p"
                # threads=1 keeps the bitstream identical from run to run
                s.options = {"crf": str(crf), "preset": preset, "threads": "1"}
                if gop:
                    extra = ":open-gop=1:bframes=3" if open_gop else ""
                    s.options = {**s.options, "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0{extra}"}
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                c.mux(pkt)
            n += 1
        if s is not None:
            for pkt in s.encode():
                c.mux(pkt)
    return n


# --------------------------------------------------------------------------- synthetic shots


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful random texture: blurred noise at several scales, a gradient, shapes."""
    base = np.zeros((h, w, 3), np.float32)
    for scale, amp in ((64, 70.0), (16, 40.0), (4, 18.0)):
        n = rng.normal(0, 1, (max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        base += amp * cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = (np.cos(ang) * xx / w + np.sin(ang) * yy / h) * rng.uniform(40, 120)
    base += grad[..., None] * rng.uniform(-1, 1, 3).astype(np.float32)
    base += rng.uniform(40, 200, 3).astype(np.float32)  # overall colour of the "scene"
    img = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(8, 20))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(max(3, h // 40), max(4, h // 6)))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, col, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (x, y), (x + 2 * r, y + int(r * rng.uniform(0.5, 2))), col, -1)
    return img


class SyntheticShot:
    """A moving synthetic shot: a random texture seen through a camera that pans, zooms and
    turns a little, with an object crossing the frame and a little grain."""

    def __init__(
        self, seed: int, length: int, width: int = 320, height: int = 180, speed: float = 1.0, zoom: float | None = None
    ):
        rng = np.random.default_rng(seed)
        self.length, self.width, self.height = length, width, height
        self.tex = _texture(rng, 2 * height, 2 * width)
        s = speed * width / 320.0
        self.v = rng.uniform(-3.0, 3.0, 2) * s  # pan, pixels per frame
        self.zoom = rng.uniform(-0.004, 0.004) if zoom is None else zoom
        self.rot = rng.uniform(-0.15, 0.15)  # degrees per frame
        self.obj_col = tuple(int(c) for c in rng.integers(0, 256, 3))
        self.obj_p = rng.uniform([0, 0], [width, height])
        self.obj_v = rng.uniform(-6, 6, 2) * s
        self.obj_r = int(rng.integers(height // 10, height // 4))
        self.grain = rng.normal(0, 2.0, (height + 16, width + 16, 3)).astype(np.float32)

    def __len__(self) -> int:
        return self.length

    def frame(self, t: int) -> np.ndarray:
        h, w = self.height, self.width
        th, tw = self.tex.shape[:2]
        cx = tw / 2 + self.v[0] * (t - self.length / 2)
        cy = th / 2 + self.v[1] * (t - self.length / 2)
        scale = float(np.exp(self.zoom * t)) * 1.1
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), self.rot * t, scale)
        m[0, 2] += w / 2 - cx
        m[1, 2] += h / 2 - cy
        img = cv2.warpAffine(self.tex, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        p = self.obj_p + self.obj_v * t
        p = np.abs(np.mod(p, 2 * np.array([w, h])) - np.array([w, h]))  # bounce inside the frame
        cv2.circle(img, (int(p[0]), int(p[1])), self.obj_r, self.obj_col, -1, cv2.LINE_AA)
        oy, ox = (t * 7) % 16, (t * 11) % 16  # moving grain, cheap
        return np.clip(img + self.grain[oy : oy + h, ox : ox + w], 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- composing


@dataclass(frozen=True)
class Transition:
    """How shot i is joined to shot i+1.

    kind "cut"; "dissolve" (``length`` blended frames); "fade" through ``color`` (0 black,
    255 white, or an RGB triple): ``out`` frames fading shot i to the colour, ``hold`` frames of pure colour,
    ``into`` frames fading shot i+1 in (``out`` or ``into`` may be 0: a cut to/from the colour).
    """

    kind: str = "cut"
    length: int = 0
    out: int = 0
    hold: int = 0
    into: int = 0
    color: int | tuple = 0


def compose(shots: Sequence, transitions: Sequence[Transition]) -> tuple[Iterator[np.ndarray], list[Truth]]:
    """Join ``shots`` with ``transitions`` (one fewer). Returns a frame iterator (lazy, so a
    long video never sits in memory) and the ground truth. A dissolve of length L overlaps the
    last L frames of the outgoing shot with the first L of the incoming one."""
    assert len(transitions) == len(shots) - 1
    plan: list[tuple] = []  # per output frame: ("shot", i, t) | ("mix", i, t, j, u, a) | ("fade", i, t, a, color)
    truth: list[Truth] = []
    start_t = 0  # first frame of the current shot not yet used
    for i, shot in enumerate(shots):
        n = len(shot)
        tr = transitions[i] if i < len(transitions) else None
        tail = 0
        if tr is not None and tr.kind == "dissolve":
            tail = tr.length
        elif tr is not None and tr.kind == "fade":
            tail = tr.out
        for t in range(start_t, n - tail):
            plan.append(("shot", i, t))
        if tr is None:
            break
        nxt = shots[i + 1]
        if tr.kind == "cut":
            truth.append(Truth(len(plan), "cut", len(plan), len(plan)))
            start_t = 0
        elif tr.kind == "dissolve":
            L = tr.length
            assert L <= n and L <= len(nxt)
            s = len(plan)
            for k in range(L):
                a = (k + 1) / (L + 1)
                plan.append(("mix", i, n - L + k, i + 1, k, a))
            truth.append(Truth(s + L // 2, "dissolve", s, s + L - 1))
            start_t = L
        elif tr.kind == "fade":
            s = len(plan)
            for k in range(tr.out):
                plan.append(("fade", i, n - tr.out + k, (k + 1) / (tr.out + 1), tr.color))
            for _ in range(tr.hold):
                plan.append(("color", tr.color))
            for k in range(tr.into):
                plan.append(("fade", i + 1, k, 1 - (k + 1) / (tr.into + 1), tr.color))
            e = len(plan) - 1
            if tr.out == 0 and tr.into == 0:
                raise ValueError("a fade needs out or into frames")
            truth.append(Truth((s + e + 1) // 2, "fade", s, e))
            start_t = tr.into
        else:
            raise ValueError(tr.kind)
    h, w = shots[0].frame(0).shape[:2]

    def frames() -> Iterator[np.ndarray]:
        for p in plan:
            if p[0] == "shot":
                yield shots[p[1]].frame(p[2])
            elif p[0] == "mix":
                _, i, t, j, u, a = p
                f = (1 - a) * shots[i].frame(t).astype(np.float32) + a * shots[j].frame(u).astype(np.float32)
                yield np.clip(f + 0.5, 0, 255).astype(np.uint8)
            elif p[0] == "fade":
                _, i, t, a, color = p
                f = (1 - a) * shots[i].frame(t).astype(np.float32) + a * np.asarray(color, np.float32)
                yield np.clip(f + 0.5, 0, 255).astype(np.uint8)
            else:
                yield np.full((h, w, 3), np.asarray(p[1], np.uint8), np.uint8)

    return frames(), truth


def random_transitions(rng: np.random.Generator, n: int, gradual: bool) -> list[Transition]:
    """A varied, seeded list of ``n`` transitions. With ``gradual`` about four in five are
    fades (to black, to white, out-only, in-only) and dissolves of 12-36 frames."""
    out = []
    for k in range(n):
        if not gradual:
            out.append(Transition("cut"))
            continue
        r = k % 10 if n >= 10 else int(rng.integers(0, 10))
        if r in (0, 1, 2, 3):
            out.append(Transition("dissolve", length=int(rng.integers(12, 37))))
        elif r in (4, 5):
            out.append(
                Transition(
                    "fade",
                    out=int(rng.integers(8, 25)),
                    hold=int(rng.integers(0, 9)),
                    into=int(rng.integers(8, 25)),
                    color=0,
                )
            )
        elif r == 6:
            out.append(
                Transition(
                    "fade",
                    out=int(rng.integers(8, 25)),
                    hold=int(rng.integers(0, 5)),
                    into=int(rng.integers(8, 25)),
                    color=255,
                )
            )
        elif r == 7:  # fade out to black, then cut in / cut to black, then fade in
            if rng.random() < 0.5:
                out.append(
                    Transition("fade", out=int(rng.integers(10, 25)), hold=int(rng.integers(2, 8)), into=0, color=0)
                )
            else:
                out.append(
                    Transition("fade", out=0, hold=int(rng.integers(2, 8)), into=int(rng.integers(10, 25)), color=0)
                )
        else:
            out.append(Transition("cut"))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def shot_lengths_for(transitions: Sequence[Transition], rng: np.random.Generator, lo: int, hi: int) -> list[int]:
    """Shot lengths (frames) leaving at least ``lo`` clean frames between transitions."""
    n = len(transitions) + 1
    lengths = []
    for i in range(n):
        extra = 0
        if i > 0 and transitions[i - 1].kind == "dissolve":
            extra += transitions[i - 1].length
        if i > 0 and transitions[i - 1].kind == "fade":
            extra += transitions[i - 1].into
        if i < n - 1 and transitions[i].kind == "dissolve":
            extra += transitions[i].length
        if i < n - 1 and transitions[i].kind == "fade":
            extra += transitions[i].out
        lengths.append(int(rng.integers(lo, hi + 1)) + extra)
    return lengths


def synthetic_hard_cuts(
    path: str | Path, n_shots: int = 10, width: int = 320, height: int = 180, seed: int = 0, lo: int = 14, hi: int = 40
) -> list[Truth]:
    """Synthetic moving shots joined by hard cuts."""
    rng = np.random.default_rng(seed)
    trs = random_transitions(rng, n_shots - 1, gradual=False)
    lengths = shot_lengths_for(trs, rng, lo, hi)
    shots = [SyntheticShot(seed * 1000 + i, n, width, height) for i, n in enumerate(lengths)]
    frames, truth = compose(shots, trs)
    write_video(path, frames)
    return truth


def synthetic_gradual(
    path: str | Path, n_shots: int = 11, width: int = 320, height: int = 180, seed: int = 1, lo: int = 16, hi: int = 36
) -> list[Truth]:
    """Synthetic moving shots joined by fades (black, white), dissolves of 12-36 frames and a
    few hard cuts."""
    rng = np.random.default_rng(seed)
    trs = random_transitions(rng, n_shots - 1, gradual=True)
    lengths = shot_lengths_for(trs, rng, lo, hi)
    shots = [SyntheticShot(seed * 1000 + i, n, width, height) for i, n in enumerate(lengths)]
    frames, truth = compose(shots, trs)
    write_video(path, frames)
    return truth


def pan_zoom(path: str | Path, frames: int = 144, width: int = 320, height: int = 180, seed: int = 7) -> list[Truth]:
    """One continuous shot, no boundary: a fast pan with a strong zoom and a fast object."""
    shot = SyntheticShot(seed, frames, width, height, speed=3.0, zoom=0.006)
    write_video(path, (shot.frame(t) for t in range(frames)))
    return []


def flash(
    path: str | Path,
    frames: int = 96,
    width: int = 320,
    height: int = 180,
    seed: int = 8,
    at: Sequence[int] = (30, 60, 61),
) -> list[Truth]:
    """One continuous shot with white flashes (a camera flash, a lightning strike) on the
    frames ``at``: a single-frame flash and, by default, a two-frame one. No boundary."""
    shot = SyntheticShot(seed, frames, width, height)
    flashes = set(at)

    def gen():
        for t in range(frames):
            f = shot.frame(t)
            if t in flashes:
                f = np.clip(f.astype(np.float32) * 0.25 + 0.75 * 255, 0, 255).astype(np.uint8)
            yield f

    write_video(path, gen())
    return []


# --------------------------------------------------------------------------- scoring


def match(detected: Sequence, truth: Sequence, tolerance: int = 1, margin: int = 2) -> list[tuple[int, int]]:
    """One-to-one matches ``(detected index, truth index)``, nearest first. A true cut matches a
    detection whose ``frame`` is within ``tolerance`` frames; a true gradual transition one whose
    ``frame`` lies inside its span widened by ``margin`` frames."""
    pairs = []
    for ti, t in enumerate(truth):
        for di, d in enumerate(detected):
            if t.kind == "cut":
                dist = abs(d.frame - t.frame)
                ok = dist <= tolerance
            else:
                ok = t.start - margin <= d.frame <= t.end + margin
                dist = abs(d.frame - t.frame)
            if ok:
                pairs.append((dist, di, ti))
    pairs.sort()
    used_d, used_t, out = set(), set(), []
    for _, di, ti in pairs:
        if di not in used_d and ti not in used_t:
            used_d.add(di)
            used_t.add(ti)
            out.append((di, ti))
    return out


def f1(detected: Sequence, truth: Sequence, tolerance: int = 1, margin: int = 2) -> dict:
    """Precision, recall and F1 of ``detected`` boundaries against ``truth`` (see :func:`match`),
    plus ``exact``: the share of matched true cuts found on exactly the right frame. With no
    true and no detected boundaries all three scores are 1."""
    m = match(detected, truth, tolerance, margin)
    tp, fp, fn = len(m), len(detected) - len(m), len(truth) - len(m)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    cut_matches = [(di, ti) for di, ti in m if truth[ti].kind == "cut"]
    exact = (
        sum(detected[di].frame == truth[ti].frame for di, ti in cut_matches) / len(cut_matches) if cut_matches else None
    )
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f, "exact": exact}


def detect(path: str | Path, detector) -> list:
    """Run a shot detector over a video with the product's decoder; all boundaries, in order."""
    from cinemanet.media.video import iter_frames

    out = []
    for fr in iter_frames(path):
        out += detector.process(fr.index, fr.time, fr.small)
    out += detector.flush()
    return sorted(out, key=lambda b: b.frame)


def f1_by_kind(detected: Sequence, truth: Sequence, tolerance: int = 1, margin: int = 2) -> dict:
    """:func:`f1` split into hard cuts and gradual transitions (fades, dissolves). Matching is
    done once over everything; a true boundary counts for its own kind, an unmatched
    detection as a false alarm of the kind the detector gave it."""
    m = match(detected, truth, tolerance, margin)
    md, mt = {d for d, _ in m}, {t for _, t in m}
    out = {}
    for cls, is_cut in (("cut", True), ("gradual", False)):
        tp = sum(1 for _, t in m if (truth[t].kind == "cut") == is_cut)
        fn = sum(1 for t in range(len(truth)) if t not in mt and (truth[t].kind == "cut") == is_cut)
        fp = sum(1 for d in range(len(detected)) if d not in md and (detected[d].kind == "cut") == is_cut)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        out[cls] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0,
        }
    out["all"] = f1(detected, truth, tolerance, margin)
    return out
