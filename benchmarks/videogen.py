"""Test videos with known shot boundaries, for the shot-detection benchmark and tests.

    hard_cuts(path)      real footage segments joined by hard cuts
    gradual(path)        the same joined by fades (black, white), 12-36 frame dissolves, some cuts
    concat_1080p(path)   a 1920x1080 24 fps H.264 file of >= 2 minutes from the three clips
    f1(detected, truth)  one-to-one matching score (cuts +-1 frame; gradual: inside the span +-2)

Real footage is the three CC-BY clips in ../shared/media (see its README for attribution);
without ../shared the generators fall back to synthetic moving textures (tests/videos.py).
Every generator is deterministic for a given seed and returns its ground truth.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CINEMANET_SHARED", ROOT.parent / "shared"))
MEDIA = SHARED / "media"
sys.path.insert(0, str(ROOT / "tests"))
from videos import (  # noqa: E402 - importable once tests/ is on the path
    SyntheticShot,
    Transition,
    Truth,
    compose,
    f1,  # noqa: F401 - re-exported for the benchmark scripts
    f1_by_kind,  # noqa: F401
    match,  # noqa: F401
    random_transitions,
    shot_lengths_for,
    write_video,
)

# Ground truth of the three shared clips (240 frames each, 24 fps, 640x360): the first frame of
# every new shot. Established by inspection: contact sheets of every frame (0-239) of each clip
# rendered with the frame index burnt in (decoded with cinemanet.media.video.iter_frames), then
# larger side-by-side views of every frame around each candidate, and a list of the frames with
# the largest frame-to-frame differences checked against the sheets so none was missed.
#  - clip_01 (Tears of Steel): cuts at 21 (robot close-up -> man by the canal), 65 (-> lab,
#    two people), 185 (-> robot close-up). Frames 192-213 are the same shot flickering between
#    two looks every 2 frames (a hologram effect) and 214-229 morph the robot into a woman's
#    face in one continuous shot: no boundaries there.
#  - clip_02 (Caminandes 1): one continuous shot, no cut. Cars cross right in front of the
#    camera on frames 103-104, 111-112, 210-211, 218-219 and 223-224 (one or two frames of the
#    frame filled by a car); the background, the llama's motion and the dust trail continue
#    across them (compared 101-114 at 400 px wide).
#  - clip_03 (Sintel): cuts at 58, 76, 96, 118, 140, 176, 209 (checked one by one at 400 px:
#    57|58, 75|76, 95|96, 117|118, 139|140, 175|176, 208|209). Fast fight action, motion blur and
#    bodies sweeping past the lens at 79-86, 121-124, 166-172, 179-182, 203-207, 226-229 are
#    inside shots. Letterboxed (black bars top and bottom).
CLIP_TRUTH: dict[str, list[int]] = {
    "clip_01_tears_of_steel.mp4": [21, 65, 185],
    "clip_02_caminandes.mp4": [],
    "clip_03_sintel.mp4": [58, 76, 96, 118, 140, 176, 209],
}
CLIP_FRAMES = 240


def shared_available() -> bool:
    return all((MEDIA / name).is_file() for name in CLIP_TRUTH)


def clip_truth(name: str) -> list[Truth]:
    return [Truth(c, "cut", c, c) for c in CLIP_TRUTH[name]]


@lru_cache(maxsize=8)
def _clip_rgb(name: str, width: int, height: int) -> np.ndarray:
    """All frames of a shared clip as RGB at width x height (T, H, W, 3)."""
    import av

    with av.open(str(MEDIA / name)) as c:
        out = [f.reformat(width=width, height=height, format="rgb24").to_ndarray() for f in c.decode(video=0)]
    return np.stack(out)


def clip_shots() -> list[tuple[str, int, int]]:
    """Every shot of the shared clips as (clip name, first frame, end frame exclusive)."""
    out = []
    for name, cuts in CLIP_TRUTH.items():
        b = [0, *cuts, CLIP_FRAMES]
        out += [(name, b[i], b[i + 1]) for i in range(len(b) - 1)]
    return out


class ClipShot:
    """A segment of one shot of a shared clip, optionally mirrored, cropped in (a different
    framing) and/or played backwards, so that few real shots give many distinct segments."""

    def __init__(self, name: str, first: int, length: int, width: int, height: int, rng: np.random.Generator):
        self.frames = _clip_rgb(name, width, height)
        self.first, self.length = first, length
        self.flip = bool(rng.random() < 0.5)
        self.reverse = bool(rng.random() < 0.25)
        z = float(rng.uniform(1.0, 1.35)) if rng.random() < 0.5 else 1.0
        cw, ch = int(width / z), int(height / z)
        self.box = (int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1)), cw, ch)
        self.size = (width, height)

    def __len__(self) -> int:
        return self.length

    def frame(self, t: int) -> np.ndarray:
        import cv2

        i = self.first + (self.length - 1 - t if self.reverse else t)
        f = self.frames[i]
        x, y, cw, ch = self.box
        if (cw, ch) != self.size:
            f = cv2.resize(f[y : y + ch, x : x + cw], self.size, interpolation=cv2.INTER_LINEAR)
        return f[:, ::-1] if self.flip else f


def _real_shots(lengths: list[int], width: int, height: int, rng: np.random.Generator) -> list[ClipShot]:
    """One segment per requested length, from real shots long enough, never the same source
    shot twice in a row."""
    pool = clip_shots()
    shots, last = [], None
    for n in lengths:
        fits = [s for s in pool if s[2] - s[1] >= n and s != last]
        if not fits:  # shorten to the longest available shot
            n = max(s[2] - s[1] for s in pool if s != last)
            fits = [s for s in pool if s[2] - s[1] >= n and s != last]
        name, a, b = fits[int(rng.integers(0, len(fits)))]
        first = int(rng.integers(a, b - n + 1))
        shots.append(ClipShot(name, first, n, width, height, rng))
        last = (name, a, b)
    return shots


def _shots(lengths, width, height, rng, source, seed):
    if source == "auto":
        source = "real" if shared_available() else "synthetic"
    if source == "real":
        return _real_shots(lengths, width, height, rng), "real"
    return [SyntheticShot(seed * 1000 + i, n, width, height) for i, n in enumerate(lengths)], "synthetic"


def hard_cuts(
    path: str | Path, n_shots: int = 40, width: int = 640, height: int = 360, seed: int = 0, source: str = "auto"
) -> list[Truth]:
    """Segments of real footage (or synthetic moving shots) of 12-72 frames joined by hard
    cuts. Returns the ground truth: one "cut" per join, at the first frame of the new shot."""
    rng = np.random.default_rng(seed)
    trs = random_transitions(rng, n_shots - 1, gradual=False)
    lengths = shot_lengths_for(trs, rng, 12, 72)
    shots, _ = _shots(lengths, width, height, rng, source, seed)
    trs = [Transition("cut")] * (len(shots) - 1)
    frames, truth = compose(shots, trs)
    write_video(path, frames)
    return truth


def gradual(
    path: str | Path, n_shots: int = 30, width: int = 640, height: int = 360, seed: int = 1, source: str = "auto"
) -> list[Truth]:
    """Segments joined by fades out/in through black, fades through white, fade-out-then-cut
    and cut-then-fade-in, cross-dissolves of 12-36 frames, and some hard cuts (about 1 in 5).
    Ground truth spans are inclusive; ``frame`` is the middle of the transition."""
    rng = np.random.default_rng(seed)
    trs = random_transitions(rng, n_shots - 1, gradual=True)
    src = "real" if source == "real" or (source == "auto" and shared_available()) else "synthetic"
    # real shots are 18-240 frames: keep each segment's own clean part 12-30 frames there
    lengths = shot_lengths_for(trs, rng, 12, 30) if src == "real" else shot_lengths_for(trs, rng, 16, 48)
    shots, _ = _shots(lengths, width, height, rng, src, seed)
    assert [len(s) for s in shots] == lengths  # two real shots of 120+ frames always fit
    frames, truth = compose(shots, trs)
    write_video(path, frames)
    return truth


def concat_1080p(path: str | Path, seconds: float = 120, seed: int = 2, fps: int = 24) -> list[Truth]:
    """A 1920x1080 24 fps H.264 file of ``seconds`` (at least 2 minutes by default): segments of
    the three shared clips (2-5 s, never the same clip twice in a row) scaled up and joined.
    Ground truth: a hard cut at every join plus the clips' own cuts inside the segments.
    Without ../shared, synthetic shots are used (joins only)."""
    import av

    rng = np.random.default_rng(seed)
    total = int(round(seconds * fps))
    truth: list[Truth] = []
    names = list(CLIP_TRUTH)
    real = shared_available()
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast", "threads": "2"}
        n, last, k = 0, None, 0
        while n < total:
            length = min(int(rng.integers(48, 121)), total - n)
            if total - n - length < 24:  # no stub of a shot at the very end
                length = total - n
            if real:
                name = names[int(rng.integers(0, 3))]
                while name == last:
                    name = names[int(rng.integers(0, 3))]
                last = name
                cuts = CLIP_TRUTH[name]
                # start away from the clip's own cuts so no join makes a shot under 6 frames
                length = min(length, CLIP_FRAMES - 24)
                while True:
                    a = int(rng.integers(0, CLIP_FRAMES - length + 1)) if length < CLIP_FRAMES else 0
                    ln = min(length, CLIP_FRAMES - a)
                    if all(abs(c - a) >= 6 or c == a for c in cuts) and all(abs(c - (a + ln)) >= 6 for c in cuts):
                        break
                length = ln
                src = _clip_yuv(name)
                frames = (src[i] for i in range(a, a + length))
                inner = [n + (c - a) for c in cuts if a < c < a + length]
            else:
                shot = SyntheticShot(seed * 1000 + k, length, 640, 360)
                frames = (shot.frame(t) for t in range(length))
                inner = []
            if n > 0:
                truth.append(Truth(n, "cut", n, n))
            truth += [Truth(c, "cut", c, c) for c in inner]
            for f in frames:
                if f.ndim == 3:  # synthetic RGB
                    vf = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
                        width=1920, height=1080, format="yuv420p"
                    )
                else:
                    vf = av.VideoFrame.from_ndarray(f, format="yuv420p").reformat(width=1920, height=1080)
                for pkt in s.encode(vf):
                    out.mux(pkt)
                n += 1
            k += 1
        for pkt in s.encode():
            out.mux(pkt)
    return truth


@lru_cache(maxsize=3)
def _clip_yuv(name: str) -> np.ndarray:
    """All frames of a shared clip as yuv420p (I420) arrays, (T, H*3/2, W)."""
    import av

    with av.open(str(MEDIA / name)) as c:
        return np.stack([f.to_ndarray(format="yuv420p") for f in c.decode(video=0)])


# --------------------------------------------------------------------------- all four clips, inspected

GROUND_TRUTH = ROOT / "benchmarks" / "groundtruth" / "clips.json"
DERIVED_SIZE = (640, 360)


@lru_cache(maxsize=1)
def inspected() -> dict:
    """The inspected ground truth of the four clips (benchmarks/groundtruth/clips.json: how it
    was established is in its "about" field), by clip name."""
    import json

    return json.loads(GROUND_TRUTH.read_text())["clips"]


def inspected_truth(name: str) -> list[Truth]:
    return [Truth(**b) for b in inspected()[name]["boundaries"]]


def split_clips(split: str) -> list[str]:
    """Clips of a split: "tune" (Tears of Steel, Caminandes) or "heldout" (the two Sintel
    excerpts, never tuned on)."""
    return [n for n, c in inspected().items() if c["split"] == split]


@lru_cache(maxsize=4)
def _clip_boxed(name: str) -> np.ndarray:
    """All frames of a clip fitted into DERIVED_SIZE, aspect kept (letterboxed), RGB."""
    import av
    import cv2

    W, H = DERIVED_SIZE
    out = []
    with av.open(str(MEDIA / name)) as c:
        for f in c.decode(video=0):
            x = f.to_ndarray(format="rgb24")
            h = int(round(x.shape[0] * W / x.shape[1] / 2)) * 2
            x = cv2.resize(x, (W, min(h, H)), interpolation=cv2.INTER_AREA)
            if x.shape[0] < H:
                pad = (H - x.shape[0]) // 2
                x = cv2.copyMakeBorder(x, pad, H - x.shape[0] - pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            out.append(x)
    return np.stack(out)


def source_shots(split: str, min_len: int = 8) -> list[tuple[str, int, int]]:
    """The clean part of every real shot of a split's clips, as (clip, first, end exclusive):
    frames outside any transition span, at least ``min_len`` long and not a near-uniform
    picture (black frames, a title on black)."""
    out = []
    for name in split_clips(split):
        c = inspected()[name]
        frames = _clip_boxed(name)
        edges = [(-1, -1)] + [(b["start"], b["end"]) for b in c["boundaries"]] + [(c["frames"], c["frames"])]
        for (s0, e0), (s1, _e1) in zip(edges, edges[1:]):
            a = e0 + 1 if s0 != e0 else s0  # a cut's frame starts the shot
            a = max(a, 0)
            b = s1  # exclusive: the next boundary's first frame
            if b - a >= min_len and float(frames[a:b, ..., 1].std(axis=(1, 2)).mean()) > 14:
                out.append((name, a, b))
    return out


class DerivedShot:
    """A segment of a real shot, reframed, with distractors that are not boundaries.

    Playback runs through the source shot ping-pong (forward, then backward) when the segment
    is longer than it. ``zoom``/``centre`` choose a crop (a different framing of the same
    scene); ``pan`` sweeps the crop across the frame at speed with motion blur (a whip pan);
    ``flashes`` brighten single frames; ``cross`` sweeps a dark blurred shape past the lens;
    ``grade`` below 1 darkens and flattens the picture (a night or low-key grade).
    """

    def __init__(
        self,
        src: tuple[str, int, int],
        length: int,
        start: int,
        zoom: float,
        centre: tuple[float, float],
        flip: bool = False,
        pan: float = 0.0,
        flashes: tuple = (),
        cross: tuple | None = None,
        grade: float = 1.0,
    ):
        self.frames = _clip_boxed(src[0])
        self.a, self.b = src[1], src[2]
        self.length, self.start = length, start
        self.zoom, self.centre, self.flip, self.pan = zoom, centre, flip, pan
        self.flashes, self.cross, self.grade = dict(flashes), cross, grade

    def __len__(self) -> int:
        return self.length

    def _src_index(self, t: int) -> int:
        n = self.b - self.a
        if n == 1:
            return self.a
        k = (self.start + t) % (2 * (n - 1))
        return self.a + (k if k < n else 2 * (n - 1) - k)

    def frame(self, t: int) -> np.ndarray:
        import cv2

        W, H = DERIVED_SIZE
        f = self.frames[self._src_index(t)]
        z = self.zoom
        cw, ch = W / z, H / z
        cx, cy = self.centre
        if self.pan:
            u = t / max(1, self.length - 1)
            cx = u if self.pan > 0 else 1.0 - u  # sweep across the frame
        x0 = float(np.clip(cx * (W - cw), 0, W - cw))
        y0 = float(np.clip(cy * (H - ch), 0, H - ch))
        m = np.array([[1 / z, 0, x0], [0, 1 / z, y0]], np.float32)
        f = cv2.warpAffine(f, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        if self.pan:
            k = int(min(31, max(3, abs(self.pan) * (W - cw) / max(1, self.length))))
            f = cv2.blur(f, (k, 1))
        if self.flip:
            f = np.ascontiguousarray(f[:, ::-1])
        if self.grade != 1.0:  # a dark, flat night grade: low contrast, lifted blacks
            f = (f.astype(np.float32) * self.grade + 12.0).astype(np.uint8)
        mask = crossing_mask(self.cross, t, H, W)
        if mask is not None:
            f = (f * (1 - mask) + self.cross[2] * mask).astype(np.uint8)
        if t in self.flashes:
            g = self.flashes[t]
            f = np.clip(f.astype(np.float32) * (1 - g) + g * 255, 0, 255).astype(np.uint8)
        return f


def crossing_mask(cross, t: int, H: int, W: int) -> np.ndarray | None:
    """Soft HxWx1 mask of a dark shape crossing the lens left to right, frame t, or None
    outside it; ``cross`` is (first frame, frames, luma, radius)."""
    if cross is None:
        return None
    t0, dur, _, r = cross
    if not t0 <= t < t0 + dur:
        return None
    import cv2

    u = (t - t0 + 0.5) / dur
    mask = np.zeros((H, W), np.float32)
    cv2.ellipse(mask, (int(-r + u * (W + 2 * r)), int(H * 0.6)), (int(r), int(H * 0.9)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), 12)[..., None]


COLOURS = ((180, 30, 30), (128, 128, 128), (40, 60, 170), (200, 170, 120), (30, 120, 60))

DERIVED_KINDS = ("cut", "similar", "dissolve", "long dissolve", "fade", "colour fade", "half fade")


def derived(path: str | Path, split: str, n_joins: int = 40, seed: int = 0) -> list[Truth]:
    """Harder real material than concatenation, made from the clean shots of ``split``'s clips:
    cuts to another shot, cuts to the same scene at another moment and framing (a new angle:
    same colours and light), dissolves of 12-36 and 40-72 frames, fades through black or
    white, through a colour, fade-out-then-cut and cut-then-fade-in; a quarter of the shots
    in a dark, flat grade (kept across a similar cut); inside shots (no
    boundary) one- to three-frame flashes, whip pans and dark shapes crossing the lens.
    640x360 24 fps H.264. Returns the ground truth."""
    rng = np.random.default_rng(seed)
    pool = source_shots(split)
    kinds = rng.choice(DERIVED_KINDS, size=n_joins, p=[0.2, 0.2, 0.12, 0.12, 0.12, 0.14, 0.1])
    trs = []
    for k in kinds:
        if k in ("cut", "similar"):
            trs.append(Transition("cut"))
        elif k == "dissolve":
            trs.append(Transition("dissolve", length=int(rng.integers(12, 37))))
        elif k == "long dissolve":
            trs.append(Transition("dissolve", length=int(rng.integers(40, 73))))
        elif k == "fade":
            trs.append(
                Transition(
                    "fade",
                    out=int(rng.integers(8, 25)),
                    hold=int(rng.integers(0, 9)),
                    into=int(rng.integers(8, 25)),
                    color=int(rng.choice([0, 0, 255])),
                )
            )
        elif k == "colour fade":
            trs.append(
                Transition(
                    "fade",
                    out=int(rng.integers(8, 25)),
                    hold=int(rng.integers(0, 9)),
                    into=int(rng.integers(8, 25)),
                    color=COLOURS[int(rng.integers(0, len(COLOURS)))],
                )
            )
        else:
            out_ = bool(rng.random() < 0.5)
            trs.append(
                Transition(
                    "fade",
                    out=int(rng.integers(10, 25)) if out_ else 0,
                    hold=int(rng.integers(2, 8)),
                    into=0 if out_ else int(rng.integers(10, 25)),
                    color=0,
                )
            )
    lengths = shot_lengths_for(trs, rng, 20, 56)
    shots: list[DerivedShot] = []
    prev = None
    for i, n in enumerate(lengths):
        similar = i > 0 and kinds[i - 1] == "similar"
        if similar:
            src = prev
            # a new angle on the same scene: the other end of the zoom range, elsewhere in it
            z = float(rng.uniform(1.0, 1.15)) if shots[-1].zoom > 1.4 else float(rng.uniform(1.5, 1.9))
        else:
            choices = [s for s in pool if s != prev]
            src = choices[int(rng.integers(0, len(choices)))]
            z = float(rng.uniform(1.0, 1.9))
        r = rng.random()
        pan = float(rng.choice([-1.0, 1.0])) if r < 0.15 and not similar else 0.0
        if pan:
            z = max(z, 1.6)
        flashes = ()
        if rng.random() < 0.2 and n > 16:
            t0 = int(rng.integers(6, n - 8))
            flashes = tuple((t0 + j, float(rng.uniform(0.5, 0.8))) for j in range(int(rng.integers(1, 4))))
        cross = None
        if rng.random() < 0.2 and n > 20:
            cross = (
                int(rng.integers(6, n - 14)),
                int(rng.integers(4, 11)),
                float(rng.uniform(10, 50)),
                float(rng.uniform(0.3, 0.55) * DERIVED_SIZE[0]),
            )
        start = int(rng.integers(0, 2 * max(1, src[2] - src[1] - 1)))
        # a similar cut keeps the grade; other shots are dark and flat one time in four
        grade = shots[-1].grade if similar else (float(rng.uniform(0.2, 0.45)) if rng.random() < 0.25 else 1.0)
        shots.append(
            DerivedShot(
                src,
                n,
                start,
                z,
                (float(rng.random()), float(rng.random())),
                bool(rng.random() < 0.3),
                pan,
                flashes,
                cross,
                grade,
            )
        )
        prev = src
    frames, truth = compose(shots, trs)
    write_video(path, frames)
    return truth
