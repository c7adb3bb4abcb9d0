"""MediaPipe's own graphs vs cinemanet's ONNX pipelines (perception/blaze.py): agreement and speed.

Runs each people model the way its analyzer does (faces, hands and the person mask on the
480 px working copy, pose on its 320 px view) over the example stills and evenly spaced frames
of the CC-BY clips in ../shared/media, and prints, per model, the agreement figures the parity
tests bound and the median milliseconds per frame of each side (one thread for ONNX Runtime;
MediaPipe's graphs as they come). Needs mediapipe (the development environment has it)::

    .venv/bin/python benchmarks/bench_people.py [--frames-per-clip 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import mediapipe_oracle as oracle  # noqa: E402

from cinemanet.media.images import load_image  # noqa: E402
from cinemanet.perception import blaze  # noqa: E402


def frames(per_clip: int):
    """(name, Frame) for the example stills and ``per_clip`` frames of each shared clip."""
    for p in sorted((ROOT / "examples" / "images").glob("*.jpg")):
        yield p.name, load_image(p)
    media = Path(ROOT.parent / "shared" / "media")
    if not media.is_dir():
        return
    import av

    for clip in sorted(media.glob("*.mp4")):
        with av.open(str(clip)) as c:
            s = c.streams.video[0]
            n = s.frames or 240
            want = set(np.linspace(n * 0.05, n * 0.95, per_clip).astype(int).tolist())
            for i, f in enumerate(c.decode(s)):
                if i in want:
                    yield f"{clip.stem}#{i}", load_image(f.to_ndarray(format="rgb24"))
                if i > max(want):
                    break


def timed(fn, *a):
    t0 = time.perf_counter()
    out = fn(*a)
    return out, (time.perf_counter() - t0) * 1000


def iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def compare(per_clip: int = 8) -> dict:
    ok, why = oracle.available()
    if not ok:
        raise SystemExit(why)
    fd, seg, pose, hands = blaze.FaceDetector(), blaze.SelfieSegmenter(), blaze.PoseLandmarker(), blaze.HandLandmarker()
    stats: dict[str, list] = {
        k: []
        for k in (
            "face_count_equal",
            "face_iou",
            "face_score_diff",
            "face_kp_dist",
            "mask_agree",
            "mask_mad",
            "pose_presence_equal",
            "pose_dist",
            "pose_vis_diff",
            "hand_count_equal",
            "hand_score_diff",
            "hand_dist",
        )
    }
    ms: dict[str, list] = {
        f"{k} {side}": [] for k in ("faces", "person_mask", "pose", "hands") for side in ("old", "new")
    }
    # warm both sides up
    f0 = next(iter(frames(1)))[1]
    for fn in (oracle.faces, fd, oracle.mask, seg, oracle.pose, pose, oracle.hands, hands):
        fn(f0.rgb)
    n = 0
    for _, fr in frames(per_clip):
        n += 1
        rgb, v = fr.rgb, fr.view(320)
        a, t_old = timed(oracle.faces, rgb)
        b, t_new = timed(fd, rgb)
        ms["faces old"].append(t_old)
        ms["faces new"].append(t_new)
        stats["face_count_equal"].append(len(a) == len(b))
        for box, score, kps in a:
            best = max(b, key=lambda d: iou(box, d.box), default=None)
            if best is not None and iou(box, best.box) > 0.5:
                stats["face_iou"].append(iou(box, best.box))
                stats["face_score_diff"].append(abs(score - best.score))
                stats["face_kp_dist"].append(float(np.abs(kps - best.keypoints).max()))
        ma, t_old = timed(oracle.mask, rgb)
        mb, t_new = timed(seg, rgb)
        ms["person_mask old"].append(t_old)
        ms["person_mask new"].append(t_new)
        stats["mask_agree"].append(float(((ma > 0.5) == (mb > 0.5)).mean()))
        stats["mask_mad"].append(float(np.abs(ma - mb).mean()))
        pa, t_old = timed(oracle.pose, v)
        pb, t_new = timed(pose, v)
        ms["pose old"].append(t_old)
        ms["pose new"].append(t_new)
        stats["pose_presence_equal"].append((pa is None) == (pb is None))
        if pa is not None and pb is not None:
            stats["pose_dist"].extend(np.hypot(*(pa[:, :2] - pb[:, :2]).T).tolist())
            stats["pose_vis_diff"].extend(np.abs(pa[:, 3] - pb[:, 3]).tolist())
        ha, t_old = timed(oracle.hands, rgb)
        hb, t_new = timed(hands, rgb)
        ms["hands old"].append(t_old)
        ms["hands new"].append(t_new)
        stats["hand_count_equal"].append(len(ha) == len(hb))
        for (la, sa), (lb, sb) in zip(sorted(ha, key=lambda h: h[0][0, 0]), sorted(hb, key=lambda h: h[0][0, 0])):
            stats["hand_score_diff"].append(abs(sa - sb))
            stats["hand_dist"].append(float(np.abs(la[:, :2] - lb[:, :2]).max()))
    return {"frames": n, "stats": stats, "ms": ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-per-clip", type=int, default=8)
    r = compare(ap.parse_args().frames_per_clip)
    print(f"{r['frames']} frames")
    for k, v in r["stats"].items():
        if not v:
            print(f"{k:22s} (none)")
            continue
        x = np.asarray(v, float)
        print(
            f"{k:22s} n={len(x):4d} mean={x.mean():.5f} median={np.median(x):.5f} p95={np.percentile(x, 95):.5f} min={x.min():.5f} max={x.max():.5f}"
        )
    print("ms per frame (median): model, MediaPipe 0.10.14 graph, cinemanet ONNX")
    for k in ("faces", "person_mask", "pose", "hands"):
        print(f"{k:12s} {statistics.median(r['ms'][k + ' old']):7.2f} {statistics.median(r['ms'][k + ' new']):7.2f}")


if __name__ == "__main__":
    main()
