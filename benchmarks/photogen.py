"""Training videos with many scenes, made from real photos: material for the learned cut score.

    .venv/bin/python benchmarks/photogen.py --split train --seeds 0-3   (writes benchmarks/out/)

The tune clips give the learned score only a handful of scenes (Tears of Steel 4 shots,
Caminandes 1), so it learns those scenes rather than what a cut is. Here every shot is one
real photo from ../shared/data (all nine sets: places, textures, weather, film stills,
grayscale scenes), filmed by a virtual camera, so thousands of scenes, lights and grades pass
through the same decode path (H.264, then ``iter_frames``) as real video. Generated data may
teach, never prove: nothing here is ever scored as a benchmark.

Positives (a hard cut):
  * to another photo;
  * to a photo of the same class with the closest colour histogram (a similar-shot cut);
  * to the same photo re-framed (another zoom and place in it: a new angle on the same scene);
  * any of these in a common dark, flat grade on both sides (kept across the cut);
  * a flash on a frame next to the cut (or on the cut frame itself).
Negatives (inside one shot): slow pans, zooms, handheld shake, whip pans and crash zooms with
motion blur (averaged sub-frame renders), flashes and strobes, a dark shape crossing the lens,
a textured shape sweeping past it, grain and compression (CRF 18-30); and fades and
dissolves, which are gradual transitions, never cuts.

Busy shots (``busy`` > 0; the "action" videos, photo_action_<split>_<seed>): a real photo
behind 1-3 moving subjects (patches of other photos under a blob-and-limbs mask that changes
shape every frame, moving fast, with motion blur, leaving and entering the frame, occluding
each other) and often a hard handheld shake. Cuts then join two busy shots (the same subjects
after a reframe or similar-shot cut, new ones otherwise), and busy shots without a cut are
negatives: a cut between two shots full of action must not look like the action itself.

Photos are split by a hash of their path: "train" videos use 80%, "val" videos the other 20%
(disjoint scenes for choosing the model). Without ../shared/data nothing can be made here;
:func:`photo_video` also takes any list of (class, RGB array) pairs (the unit tests use
synthetic textures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import videogen  # noqa: E402
from videogen import Transition, Truth, compose, shot_lengths_for, write_video  # noqa: E402

DATA = videogen.SHARED / "data"
OUT = ROOT / "benchmarks" / "out"
SIZE = (640, 360)  # as the derived benchmark videos
COLOURS = videogen.COLOURS
CUT_KINDS = ("other", "class", "reframe")


def data_available() -> bool:
    return DATA.is_dir() and any(DATA.glob("*/*"))


@lru_cache(maxsize=1)
def photo_index() -> tuple[tuple[str, str, str], ...]:
    """Every photo of ../shared/data as (relative path, class, split), sorted; class is the
    folder it sits in (e.g. "intel6/forest"); split by a hash of the path (80/20)."""
    out = []
    for p in sorted(DATA.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        rel = str(p.relative_to(DATA))
        h = int(hashlib.sha1(rel.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        out.append((rel, str(p.parent.relative_to(DATA)), "train" if h < 0.8 else "val"))
    return tuple(out)


def load(rel: str) -> np.ndarray:
    f = cv2.imread(str(DATA / rel), cv2.IMREAD_COLOR)
    if f is None:
        raise ValueError(f"unreadable photo {rel}")
    return np.ascontiguousarray(f[..., ::-1])


def _hist(img: np.ndarray) -> np.ndarray:
    small = cv2.resize(img, (32, 18), interpolation=cv2.INTER_AREA)
    h = cv2.calcHist([small], [0, 1, 2], None, [4, 4, 4], [0, 256] * 3).ravel()
    return h / max(1.0, h.sum())


class Subject:
    """A moving foreground layer: ``patch`` (RGB float, any size) seen through a blob-and-limbs
    mask that moves fast along a wavy path, scales, and flexes its limbs every frame (non-rigid,
    like a body in action); rendered with motion blur by :meth:`PhotoShot.frame`."""

    def __init__(self, patch: np.ndarray, length: int, rng):
        W, H = SIZE
        self.size = float(rng.uniform(0.4, 1.3)) * H  # body height in output pixels: up to a close-up
        self.patch = cv2.resize(patch, (int(self.size * 1.6), int(self.size * 1.6))).astype(np.float32)
        self.p0 = np.array([rng.uniform(0.1, 0.9) * W, rng.uniform(0.3, 0.9) * H])
        speed = float(rng.uniform(6, 40))  # peak px per frame: walking to fighting
        ax = float(rng.uniform(0.1, 0.45)) * W  # swings to and fro, so it stays (mostly) in view
        self.swing = (ax, speed / ax, float(rng.uniform(0, 6.3)))
        self.wob = (float(rng.uniform(0.1, 0.6)), float(rng.uniform(0, 6.3)), float(rng.uniform(0.05, 0.25)) * H)
        self.limbs = [
            (float(rng.uniform(0, 6.3)), float(rng.uniform(0.2, 1.2)), float(rng.uniform(0.3, 0.8)))
            for _ in range(int(rng.integers(2, 5)))
        ]  # (angle, swing speed rad/frame, length relative to the body)
        self.scale_rate = float(rng.uniform(-0.015, 0.015))
        self.length = length

    def mask_at(self, t: float) -> tuple[np.ndarray, tuple[int, int]]:
        """(mask of the patch's size, top-left in the output) at (fractional) frame t."""
        f, ph, amp = self.wob
        ax, w, p = self.swing
        c = self.p0 + np.array([ax * np.sin(w * t + p), amp * np.sin(f * t + ph)])
        s = self.size * float(np.exp(self.scale_rate * t))
        n = self.patch.shape[0]
        m = np.zeros((n, n), np.float32)
        o = n / 2
        cv2.ellipse(m, (int(o), int(o)), (int(0.18 * s), int(0.45 * s)), 0, 0, 360, 1.0, -1)
        for a0, w, ln in self.limbs:
            a = a0 + 0.9 * np.sin(w * t + a0)
            e = (int(o + np.cos(a) * ln * s * 0.7), int(o + np.sin(a) * ln * s * 0.7))
            cv2.line(m, (int(o), int(o)), e, 1.0, max(2, int(0.08 * s)))
        m = cv2.GaussianBlur(m, (0, 0), 1.5)
        return m, (int(c[0] - o), int(c[1] - o))


def _paste(f: np.ndarray, patch: np.ndarray, mask: np.ndarray, xy: tuple[int, int]) -> None:
    """Blend ``patch`` under ``mask`` into ``f`` at top-left ``xy``, clipped to the frame."""
    H, W = f.shape[:2]
    x, y = xy
    n = patch.shape[0]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + n), min(H, y + n)
    if x1 <= x0 or y1 <= y0:
        return
    m = mask[y0 - y : y1 - y, x0 - x : x1 - x, None]
    f[y0:y1, x0:x1] = f[y0:y1, x0:x1] * (1 - m) + patch[y0 - y : y1 - y, x0 - x : x1 - x] * m


class PhotoShot:
    """One photo filmed by a virtual camera: ``zoom``/``centre`` frame it (zoom 1 just covers the
    output); ``motion`` is "still" (a slight drift), "pan", "zoom", "shake", "whip" (a fast pan
    of a few frames with motion blur, starting at ``event``) or "crash" (a fast zoom);
    ``grade`` is (gain, lift, grey); ``flashes`` {t: strength}; ``cross`` (t0, frames, luma,
    radius) a dark shape crossing the lens; ``sweep`` (t0, frames, patch) a textured shape
    sweeping past it; ``noise`` the grain's sigma."""

    def __init__(self, img, length, rng, zoom, centre, motion="still", grade=(1.0, 0.0, False), flip=False):
        self.img, self.length = img, length
        self.zoom, self.centre, self.motion, self.grade, self.flip = zoom, centre, motion, grade, flip
        self.flashes: dict = {}
        self.cross = self.sweep = None
        self.noise = 0.0
        self.subjects: list[Subject] = []
        self.shake_blur = False
        self.seed = int(rng.integers(0, 2**31))
        n = max(1, length - 1)
        self.event = int(rng.integers(4, max(5, length - 12))) if motion in ("whip", "crash") else 0
        self.event_len = int(rng.integers(3, 9))
        self.drift = (float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.05, 0.05)))
        if motion == "pan":
            self.drift = (float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.0)), float(rng.uniform(-0.2, 0.2)))
        self.zoom_to = zoom * (float(rng.uniform(1.2, 1.6)) ** float(rng.choice([-1, 1]))) if motion == "zoom" else zoom
        self.whip_to = (1.0 - centre[0], float(rng.random()))
        if motion == "shake":
            s = float(rng.uniform(2, 10))
            j = rng.normal(0, s, (length + 4, 2))
            self.jitter = np.stack([np.convolve(j[:, k], np.ones(3) / 3, "same") for k in range(2)], 1)[:length]
        else:
            self.jitter = None
        self._n = n

    def __len__(self) -> int:
        return self.length

    def _camera(self, t: float) -> tuple[float, float, float, float, float]:
        """(zoom, centre x, centre y, shift x, shift y) at (fractional) frame t."""
        u = t / self._n
        z, (cx, cy) = self.zoom, self.centre
        if self.motion in ("still", "pan", "shake"):
            cx, cy = cx + self.drift[0] * u, cy + self.drift[1] * u
        elif self.motion == "zoom":
            z = self.zoom * (self.zoom_to / self.zoom) ** u
        elif self.motion in ("whip", "crash"):
            v = float(np.clip((t - self.event) / self.event_len, 0, 1))
            v = v * v * (3 - 2 * v)  # ease in and out
            if self.motion == "whip":
                cx, cy = cx + (self.whip_to[0] - cx) * v, cy + (self.whip_to[1] - cy) * v
            else:
                z = self.zoom * (1 + 1.2 * v)
        sx = sy = 0.0
        if self.jitter is not None:
            u = float(np.clip(t, 0, self.length - 1))  # interpolated, for the sub-frame renders of blur
            i0 = int(u)
            i1 = min(i0 + 1, self.length - 1)
            sx, sy = self.jitter[i0] + (self.jitter[i1] - self.jitter[i0]) * (u - i0)
        return z, cx, cy, sx, sy

    def _render(self, t: float) -> np.ndarray:
        W, H = SIZE
        h, w = self.img.shape[:2]
        z, cx, cy, sx, sy = self._camera(t)
        s = max(W / w, H / h) * z  # output pixels per photo pixel
        vw, vh = W / s, H / s
        x0 = float(np.clip(cx, 0, 1)) * max(0.0, w - vw) + sx / s
        y0 = float(np.clip(cy, 0, 1)) * max(0.0, h - vh) + sy / s
        m = np.array([[1 / s, 0, x0], [0, 1 / s, y0]], np.float32)
        return cv2.warpAffine(
            self.img, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        )

    def frame(self, t: int) -> np.ndarray:
        W, H = SIZE
        fast = self.motion in ("whip", "crash") and self.event - 1 <= t <= self.event + self.event_len
        if self.shake_blur and not fast:  # a shaking camera blurs the background too
            f = np.mean([self._render(t + d).astype(np.float32) for d in (-0.4, 0.0, 0.4)], axis=0)
        elif fast:  # motion blur: the average of sub-frame renders over the open shutter
            f = np.mean([self._render(t + d).astype(np.float32) for d in np.linspace(-0.45, 0.45, 7)], axis=0)
        else:
            f = self._render(t).astype(np.float32)
        if self.flip:
            f = f[:, ::-1]
        if self.subjects:  # motion blur: each subject averaged over the open shutter
            f = np.ascontiguousarray(f)
            for sub in self.subjects:
                acc = np.zeros_like(f)
                for d in np.linspace(-0.4, 0.4, 4):
                    g = f.copy()
                    m, xy = sub.mask_at(t + d)
                    _paste(g, sub.patch, m, xy)
                    acc += g
                f = acc / 4
        if self.sweep is not None:
            t0, dur, patch = self.sweep
            if t0 <= t < t0 + dur:
                u = (t - t0 + 0.5) / dur
                mask = np.zeros((H, W), np.float32)
                r = W * 0.3
                cv2.ellipse(
                    mask, (int(-r + u * (W + 2 * r)), int(H * 0.55)), (int(r), int(H * 0.8)), 0, 0, 360, 1.0, -1
                )
                k = int(W / dur) | 1
                mask = cv2.blur(cv2.GaussianBlur(mask, (0, 0), 6), (min(k, 61), 1))[..., None]
                f = f * (1 - mask) + cv2.blur(patch, (min(k, 61), 1)) * mask
        gain, lift, grey = self.grade
        if grey:
            f = np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2)
        if gain != 1.0 or lift:
            f = f * gain + lift
        mask = videogen.crossing_mask(self.cross, t, H, W)
        if mask is not None:
            f = f * (1 - mask) + self.cross[2] * mask
        if t in self.flashes:
            g = self.flashes[t]
            f = f * (1 - g) + g * 255 if g > 0 else f * (1 - 2 * g)  # towards white, or a gain burst
        if self.noise:
            f = f + np.random.default_rng(self.seed + t).normal(0, self.noise, f.shape).astype(np.float32)
        return np.clip(f + 0.5, 0, 255).astype(np.uint8)


def _grade(rng, dark: bool) -> tuple[float, float, bool]:
    if dark:  # a night or low-key grade: dark, flat, lifted blacks
        return float(rng.uniform(0.15, 0.45)), float(rng.uniform(6, 20)), bool(rng.random() < 0.1)
    if rng.random() < 0.1:  # haze: flat and bright
        return float(rng.uniform(0.3, 0.5)), float(rng.uniform(80, 130)), False
    return float(rng.uniform(0.8, 1.15)), float(rng.uniform(-10, 10)), bool(rng.random() < 0.08)


def _motion(rng) -> str:
    return str(rng.choice(["still", "pan", "zoom", "shake", "whip", "crash"], p=[0.3, 0.2, 0.12, 0.18, 0.12, 0.08]))


def photo_video(
    photos: list[tuple[str, np.ndarray]],
    n_joins: int = 40,
    seed: int = 0,
    p_gradual: float = 0.3,
    cut_kinds: tuple = CUT_KINDS,
    busy: float = 0.0,
) -> tuple[object, list[Truth], list[str]]:
    """Frames (an iterator of RGB SIZE frames), ground truth, and the kind of every join, of a
    video made from ``photos`` ((class, RGB) pairs; at least 2). ``busy``: the share of shots
    with moving subjects (a join between two busy shots is marked "+busy" in its kind)."""
    rng = np.random.default_rng(seed)
    # busy shots draw from their own stream, so busy=0 renders the videos made before them
    brng = np.random.default_rng([seed, 7])
    by_class: dict[str, list[int]] = {}
    for i, (c, _) in enumerate(photos):
        by_class.setdefault(c, []).append(i)
    kinds, trs = [], []
    for _ in range(n_joins):
        if rng.random() < p_gradual:
            k = str(rng.choice(["dissolve", "long dissolve", "fade", "colour fade", "half fade"]))
            if k == "dissolve":
                tr = Transition("dissolve", length=int(rng.integers(12, 37)))
            elif k == "long dissolve":
                tr = Transition("dissolve", length=int(rng.integers(40, 61)))
            elif k == "half fade":
                o = bool(rng.random() < 0.5)
                tr = Transition("fade", out=int(rng.integers(10, 25)) * o, hold=int(rng.integers(2, 8)),
                                into=int(rng.integers(10, 25)) * (not o), color=0)  # fmt: skip
            else:
                col = (
                    COLOURS[int(rng.integers(0, len(COLOURS)))] if k == "colour fade" else int(rng.choice([0, 0, 255]))
                )
                tr = Transition("fade", out=int(rng.integers(8, 25)), hold=int(rng.integers(0, 9)),
                                into=int(rng.integers(8, 25)), color=col)  # fmt: skip
        else:
            k = str(rng.choice(cut_kinds))
            tr = Transition("cut")
        kinds.append(k)
        trs.append(tr)
    lengths = shot_lengths_for(trs, rng, 16, 56)
    shots: list[PhotoShot] = []
    cur = int(rng.integers(0, len(photos)))
    for i, n in enumerate(lengths):
        k = kinds[i - 1] if i else None
        prev = shots[-1] if shots else None
        if k == "reframe":
            z = float(rng.uniform(1.0, 1.15)) if prev.zoom > 1.4 else float(rng.uniform(1.5, 2.0))
        else:
            if k == "class" and len(by_class[photos[cur][0]]) > 1:
                # the same kind of place, the closest colours of a few candidates: a similar shot
                same = [j for j in by_class[photos[cur][0]] if j != cur]
                cand = [same[int(j)] for j in rng.integers(0, len(same), min(12, len(same)))]
                h0 = _hist(photos[cur][1])
                cur = min(cand, key=lambda j: float(np.abs(_hist(photos[j][1]) - h0).sum()))
            elif i:
                nxt = int(rng.integers(0, len(photos) - 1))
                cur = nxt + (nxt >= cur)
            z = float(rng.uniform(1.0, 1.9))
        keep_grade = k in ("reframe", "class") and rng.random() < 0.7
        grade = prev.grade if keep_grade else _grade(rng, dark=bool(rng.random() < 0.25))
        motion = _motion(rng)
        if motion == "pan":
            z = max(z, 1.5)
        shot = PhotoShot(photos[cur][1], n, rng, z, (float(rng.random()), float(rng.random())), motion, grade,
                         bool(rng.random() < 0.3))  # fmt: skip
        shot.noise = float(rng.choice([0.0, 0.0, rng.uniform(1, 6)]))
        if rng.random() < 0.2 and n > 16:  # flashes and strobes inside the shot
            t0 = int(rng.integers(4, n - 8))
            strobe = rng.random() < 0.3
            for j in range(int(rng.integers(4, 8)) if strobe else int(rng.integers(1, 4))):
                if not strobe or j % 2 == 0:
                    g = float(rng.uniform(0.3, 0.85))
                    shot.flashes[t0 + j] = g if rng.random() < 0.7 else -g * 0.6
        if rng.random() < 0.15 and n > 20:
            shot.cross = (int(rng.integers(4, n - 14)), int(rng.integers(3, 11)), float(rng.uniform(5, 50)),
                          float(rng.uniform(0.3, 0.6) * SIZE[0]))  # fmt: skip
        if rng.random() < 0.12 and n > 20:
            src = photos[int(rng.integers(0, len(photos)))][1]
            patch = cv2.resize(src, SIZE, interpolation=cv2.INTER_LINEAR).astype(np.float32)
            shot.sweep = (int(rng.integers(4, n - 12)), int(rng.integers(2, 8)), patch)
        if busy and brng.random() < busy:
            same_scene = k in ("reframe", "class") and prev is not None and prev.subjects
            for j in range(int(brng.integers(1, 5))):
                if same_scene and j < len(prev.subjects):  # the same people from another angle
                    patch = prev.subjects[j].patch
                else:
                    src = photos[int(brng.integers(0, len(photos)))][1]
                    h, w = src.shape[:2]
                    c = int(min(h, w) * brng.uniform(0.3, 0.8))
                    y0, x0 = int(brng.integers(0, h - c + 1)), int(brng.integers(0, w - c + 1))
                    patch = src[y0 : y0 + c, x0 : x0 + c].astype(np.float32)
                shot.subjects.append(Subject(patch, n, brng))
            if brng.random() < 0.8:  # the handheld camera of an action scene, blurred
                shot.shake_blur = True
                s_ = float(brng.uniform(6, 28))
                jit = brng.normal(0, s_, (n + 4, 2))
                shot.jitter = np.stack([np.convolve(jit[:, q], np.ones(3) / 3, "same") for q in range(2)], 1)[:n]
        shots.append(shot)
    if busy:
        for i, tr in enumerate(trs):
            if tr.kind == "cut" and shots[i].subjects and shots[i + 1].subjects:
                kinds[i] += "+busy"
    for i in range(len(kinds)):  # a flash next to a cut (before it, on it, or just after)
        if trs[i].kind == "cut" and rng.random() < 0.15:
            off = int(rng.choice([-2, -1, 0, 1, 2]))
            g = float(rng.uniform(0.4, 0.85))
            if off < 0:
                shots[i].flashes[len(shots[i]) + off] = g
            else:
                shots[i + 1].flashes[off] = g
    frames, truth = compose(shots, trs)
    return frames, truth, kinds


def photos_of(split: str, n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """``n`` photos of one split, drawn across all sets, plus same-class companions (so similar
    cuts find a near neighbour): (class, RGB)."""
    idx = [(r, c) for r, c, s in photo_index() if s == split]
    rng = np.random.default_rng(10_000 + seed)
    classes = sorted({c for _, c in idx})
    pick = []
    for j in range(n):
        c = classes[(seed * 7 + j) % len(classes)]
        members = [r for r, cc in idx if cc == c]
        pick += [members[int(k)] for k in rng.integers(0, len(members), 6)]
    seen, out = set(), []
    for r in pick:
        if r not in seen:
            seen.add(r)
            out.append((str(Path(r).parent), load(r)))
    return out


#: bump when what the generator renders changes (the videos in benchmarks/out/ are then remade)
RECIPE = 1


def _key(name: str, **params) -> str:
    return hashlib.sha1(json.dumps([name, params, RECIPE, len(photo_index())], sort_keys=True).encode()).hexdigest()[
        :12
    ]


def generated(split: str, seed: int, n_joins: int = 40, action: bool = False) -> tuple[Path, list[Truth]]:
    """Make (or reuse) benchmarks/out/photo_<split>_<seed>.mp4 (``action``: the busy videos,
    photo_action_<split>_<seed>.mp4, 80% of shots with moving subjects) and its ground truth."""
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"photo_action_{split}_{seed}" if action else f"photo_{split}_{seed}"
    key = _key(name, n_joins=n_joins) if not action else _key(name, n_joins=n_joins, busy=0.8, subjects=3)
    path, meta = OUT / f"{name}.mp4", OUT / f"{name}.json"
    if path.exists() and meta.exists():
        m = json.loads(meta.read_text())
        if m.get("key") == key:
            return path, [Truth(**t) for t in m["truth"]]
    t0 = time.perf_counter()
    photos = photos_of(split, 24, seed + (1000 if action else 0))
    vseed = seed + (0 if split == "train" else 5000) + (20_000 if action else 0)
    # action scenes cut mostly within the scene (same place and light): the jump is smallest there
    ck = ("reframe", "reframe", "class", "class", "other") if action else CUT_KINDS
    frames, truth, kinds = photo_video(photos, n_joins=n_joins, seed=vseed, cut_kinds=ck, busy=0.8 if action else 0.0)
    crf = int(np.random.default_rng(seed).integers(18, 31))
    write_video(path, frames, crf=crf)
    meta.write_text(json.dumps({"key": key, "truth": [t.to_dict() for t in truth], "kinds": kinds, "crf": crf}))
    print(f"  generated {path.relative_to(ROOT)} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path, truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="train", choices=("train", "val"))
    ap.add_argument("--seeds", default="0-3", help="A-B")
    ap.add_argument("--action", action="store_true", help="the busy videos (moving subjects)")
    a = ap.parse_args()
    if not data_available():
        sys.exit(f"photogen: {DATA} not found")
    lo, hi = (int(v) for v in a.seeds.split("-"))
    for s in range(lo, hi + 1):
        generated(a.split, s, action=a.action)


if __name__ == "__main__":
    main()
