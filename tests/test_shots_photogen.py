"""The photo-video generator that teaches the learned cut score (benchmarks/photogen.py): its
labels say what the frames show. Synthetic textures stand in for the photos, so no ../shared."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import videos
from cinemanet.video.detectors import create_detector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import photogen  # noqa: E402
import train_cuts  # noqa: E402


def _photos(n=3):
    rng = np.random.default_rng(0)
    return [("textures", videos._texture(rng, 120, 160)) for _ in range(n)]


def _mean(f):
    return float(f.astype(np.float32).mean())


def test_a_similar_shot_cut_is_labelled_on_its_first_frame(tmp_path):
    for kind in ("reframe", "class"):
        frames, truth, kinds = photogen.photo_video(_photos(), n_joins=1, seed=3, p_gradual=0.0, cut_kinds=(kind,))
        frames = list(frames)
        assert kinds == [kind] and [t.kind for t in truth] == ["cut"]
        c = truth[0].frame
        assert 16 <= c < len(frames) - 15
        # the labels the trainer makes from it: the cut frame positive, its neighbours unused
        idx = np.arange(len(frames))
        y, keep = train_cuts.labels(idx, truth)
        assert y.sum() == 1 and y[c] == 1 and not keep[c - 1] and not keep[c + 1]
    # and the detector sees the cut where the label is
    path = tmp_path / "cut.mp4"
    frames, truth, _ = photogen.photo_video(_photos(), n_joins=1, seed=3, p_gradual=0.0, cut_kinds=("other",))
    videos.write_video(path, frames)
    out = videos.detect(path, create_detector("fast"))
    assert truth[0].frame in [b.frame for b in out if b.kind == "cut"]


def test_a_flash_inside_a_shot_is_no_boundary(tmp_path):
    rng = np.random.default_rng(1)
    shot = photogen.PhotoShot(_photos(1)[0][1], 40, rng, 1.2, (0.3, 0.5))
    shot.flashes = {20: 0.8}
    frames, truth = videos.compose([shot], [])
    frames = list(frames)
    assert truth == []
    assert _mean(frames[20]) > _mean(frames[19]) + 40 and abs(_mean(frames[21]) - _mean(frames[19])) < 5
    path = tmp_path / "flash.mp4"
    videos.write_video(path, frames)
    assert videos.detect(path, create_detector("fast")) == []


def test_whip_pans_are_blurred_and_inside_one_shot():
    rng = np.random.default_rng(2)
    shot = photogen.PhotoShot(_photos(1)[0][1], 30, rng, 1.8, (0.0, 0.5), motion="whip")
    e = shot.event + shot.event_len // 2
    sharp = np.abs(np.diff(shot.frame(0).astype(np.float32), axis=1)).mean()
    blurred = np.abs(np.diff(shot.frame(e).astype(np.float32), axis=1)).mean()
    assert blurred < 0.8 * sharp  # averaged sub-frame renders: motion blur along the pan


def test_generated_videos_are_deterministic():
    a = photogen.photo_video(_photos(), n_joins=4, seed=5)
    b = photogen.photo_video(_photos(), n_joins=4, seed=5)
    assert a[1] == b[1] and a[2] == b[2]
    fa, fb = list(a[0]), list(b[0])
    assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa[::7], fb[::7]))


def test_busy_shots_have_moving_subjects_on_both_sides_of_their_cuts():
    frames, truth, kinds = photogen.photo_video(_photos(4), n_joins=6, seed=2, p_gradual=0.0, busy=1.0)
    frames = list(frames)
    assert all(k.endswith("+busy") for k in kinds) and [t.kind for t in truth] == ["cut"] * 6
    # busy=0 (the default) renders what it rendered before the busy shots existed
    plain = photogen.photo_video(_photos(4), n_joins=6, seed=2, p_gradual=0.0)
    calm = photogen.photo_video(_photos(4), n_joins=6, seed=2, p_gradual=0.0, busy=0.0)
    assert plain[1] == calm[1] and plain[2] == calm[2] and "+busy" not in "".join(plain[2])
    assert all(np.array_equal(a, b) for a, b in zip(list(plain[0])[::9], list(calm[0])[::9]))
    c = truth[0].frame
    y, _ = train_cuts.labels(np.arange(len(frames)), truth)
    assert y[c] == 1 and y.sum() == 6


def test_a_subject_moves_and_changes_shape_inside_its_shot():
    rng = np.random.default_rng(4)
    img, patch = _photos(2)[0][1], np.full((80, 80, 3), 250.0, np.float32)
    still = photogen.PhotoShot(img, 30, rng, 1.2, (0.5, 0.5))
    busy = photogen.PhotoShot(img, 30, rng, 1.2, (0.5, 0.5))
    sub = photogen.Subject(patch, 30, rng)
    sub.swing = (150.0, 0.2, 0.0)  # 30 px per frame at its fastest, through the frame's middle
    sub.p0 = np.array([320.0, 180.0])
    busy.subjects = [sub]
    d_still = np.abs(still.frame(11).astype(np.float32) - still.frame(10)).mean()
    d_busy = np.abs(busy.frame(11).astype(np.float32) - busy.frame(10)).mean()
    assert d_busy > d_still + 1  # the background is the same; the subject moved
    (m0, _), (m1, _) = sub.mask_at(0), sub.mask_at(3)
    assert abs(float(m0.sum()) - float(m1.sum())) > 0.02 * m0.sum() or not np.array_equal(m0 > 0.5, m1 > 0.5)
    # motion blur: the subject's edge is soft where it moves fastest (t=0: the middle of its swing)
    bg = busy._render(0).astype(np.float32)
    sharp = bg.copy()
    m, xy = sub.mask_at(0)
    photogen._paste(sharp, sub.patch, m, xy)
    blurred = busy.frame(0).astype(np.float32)
    covered = lambda f: int((np.abs(f - bg).max(axis=2) > 8).sum())  # noqa: E731
    assert covered(blurred) > 1.1 * covered(sharp)  # smeared over more of the frame
