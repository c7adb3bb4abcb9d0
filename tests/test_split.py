"""Long videos split into ranges at keyframes and stitched back (``cinemanet.video.split``):
the stitched shot list is byte-identical to one pass over the same file, with split points
inside shots, next to cuts and inside fades and dissolves, on the shared CC-BY clips (skipped
where absent) and on generated videos; and where the detectors' states do not meet in the
overlap, the range resumed from its neighbour's state gives the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cinemanet.media.video import scan_frames
from cinemanet.video import split
from cinemanet.video.analyze import VideoAnalyzer
from cinemanet.video.detectors import create_detector
from videos import SyntheticShot, compose, random_transitions, shot_lengths_for, synthetic_hard_cuts, write_video

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
CLIPS = sorted(MEDIA.glob("clip_*.mp4")) if MEDIA.is_dir() else []
needs_media = pytest.mark.skipif(not CLIPS, reason=f"needs the shared CC-BY clips in {MEDIA}")


@pytest.fixture(scope="module")
def cnet():
    from cinemanet import CinemaNet

    return CinemaNet(threads=1)


@pytest.fixture(scope="module")
def reference(cnet):
    """One pass over a file, analysed once per file (the thing every split is compared with)."""
    cache: dict[str, str] = {}

    def get(path: Path) -> str:
        if str(path) not in cache:
            cache[str(path)] = _shots(VideoAnalyzer(cnet).analyze_video(path))
        return cache[str(path)]

    return get


def _shots(video) -> str:
    return json.dumps(video.to_dict()["shots"], sort_keys=True)


def _split(cnet, path: Path, frames: int, align: str, rerun_all: bool = False):
    an = VideoAnalyzer(cnet)
    p = split.plan(path, frames, align=align)
    assert p is not None and len(p.starts) >= 2
    specs = split.range_specs(p)
    results = [split.analyze_range(an, p, s) for s in specs]
    if rerun_all:  # no hand-over found anywhere: every range resumes from its neighbour's state
        for r in results:
            r.digests.clear()
    st = split.stitch(p, results, lambda spec: split.analyze_range(an, p, spec))
    return p, st, split.finish(an, p, st)


@pytest.fixture(scope="module")
def gradual_video(tmp_path_factory):
    """Cuts, fades and dissolves, a keyframe every 10 frames."""
    path = tmp_path_factory.mktemp("split") / "gradual.mp4"
    rng = np.random.default_rng(3)
    trs = random_transitions(rng, 8, gradual=True)
    lengths = shot_lengths_for(trs, rng, 16, 40)
    frames, truth = compose([SyntheticShot(3000 + i, n, 160, 96) for i, n in enumerate(lengths)], trs)
    write_video(path, frames, gop=10)
    return path, truth


@needs_media
@pytest.mark.parametrize("clip", [c.name for c in CLIPS])
@pytest.mark.parametrize("frames", [9, 31])
def test_shared_clips_stitched_byte_identical(cnet, reference, clip, frames):
    path = MEDIA / clip
    p, st, video = _split(cnet, path, frames, "any")
    assert len(p.starts) >= 240 // frames - 1
    assert _shots(video) == reference(path)
    # the split points fell inside shots (every clip has shots longer than a range)
    shots = json.loads(reference(path))
    inside = [s for s in p.starts[1:] if any(sh["start_frame"] < s <= sh["end_frame"] for sh in shots)]
    assert len(inside) >= len(p.starts[1:]) // 2


@needs_media
def test_shared_clip_split_at_its_keyframes(cnet, reference):
    path = MEDIA / "clip_04_sintel_408p.mp4"  # 25 keyframes, the end in very fast cutting
    p, st, video = _split(cnet, path, 12, "keyframe")
    _, keys = scan_frames(path)
    assert set(p.starts) <= set(keys) and len(p.starts) >= 10
    assert _shots(video) == reference(path)
    cuts = [sh["start_frame"] for sh in json.loads(reference(path))[1:]]
    assert any(abs(s - c) <= 3 for s in p.starts for c in cuts)  # some split points next to cuts


@needs_media
def test_resumed_ranges_give_the_same(cnet, reference):
    path = MEDIA / "clip_01_tears_of_steel.mp4"
    p, st, video = _split(cnet, path, 20, "any", rerun_all=True)
    assert st.resumed == len(p.starts) - 1
    assert _shots(video) == reference(path)


@pytest.mark.parametrize("frames,align", [(10, "keyframe"), (13, "any"), (37, "any")])
def test_generated_gradual_transitions_across_splits(cnet, reference, gradual_video, frames, align):
    path, truth = gradual_video
    p, st, video = _split(cnet, path, frames, align)
    assert _shots(video) == reference(path)
    spans = [(t.start, t.end) for t in truth if t.kind != "cut"]
    assert any(a < s <= b for s in p.starts for a, b in spans)  # split points inside transitions
    kinds = {sh["transition"]["kind"] for sh in video.to_dict()["shots"]}
    assert {"fade", "dissolve"} & kinds  # and the transitions were found, whole


def test_generated_hard_cuts_and_the_engine_option(cnet, reference, tmp_path):
    path = tmp_path / "cuts.mp4"
    synthetic_hard_cuts(path, n_shots=9, width=160, height=96, seed=5)
    events = []
    video = VideoAnalyzer(cnet, split_seconds=0.5, split_align="any").analyze_video(
        path, progress=lambda d, t: events.append((d, t))
    )
    assert _shots(video) == reference(path)
    # one bar: frames done never go back, end at the total
    assert [d for d, _ in events] == sorted(d for d, _ in events) and events[-1][0] == events[-1][1]


def test_videogen_footage(cnet, reference, tmp_path):
    """benchmarks/videogen.py's hard-cut set (segments of the shared clips where present)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import videogen

    path = tmp_path / "vg.mp4"
    videogen.hard_cuts(path, n_shots=10, width=320, height=180, seed=4)
    p, st, video = _split(cnet, path, 17, "any")
    assert _shots(video) == reference(path)


@pytest.mark.parametrize("cuts", ["rules", "learned", "both", "deep"])
def test_detectors_started_apart_meet_and_agree(gradual_video, cuts):
    """The hand-over rule itself: a fast detector started part-way reaches the digest of one
    that saw everything, and from there on reports exactly the same boundaries (in every cut
    mode: the learned score's per-frame features are part of the state; cuts=deep's pictures
    survive the pickling a split range hands its detector on with)."""
    import pickle

    from cinemanet.media.video import iter_frames

    path, _ = gradual_video
    frames = list(iter_frames(path))
    full, late = create_detector("fast", cuts=cuts), create_detector("fast", cuts=cuts)
    a, b, meet = {}, {}, None
    for f in frames:
        i = f.index
        a[i] = full.process_decoded(f)
        if i >= 150:
            b[i] = late.process_decoded(f)
            if i == 200:
                late = pickle.loads(pickle.dumps(late, protocol=4))
            if meet is None and late.sync_state() is not None and late.sync_state() == full.sync_state():
                meet = i
    assert meet is not None and meet < 300
    assert all(a[i] == b[i] for i in range(meet + 1, len(frames)))
    assert full.flush() == late.flush()


def test_unsplittable_detector_is_not_split(gradual_video):
    path, _ = gradual_video
    assert split.plan(path, 10, detector="content") is None  # PySceneDetect's state is not comparable
    assert split.plan(path, 1000) is None  # shorter than two ranges


@needs_media
def test_late_hand_over_inside_the_zone(cnet, reference, monkeypatch):
    """Without warm-up the later range's detector only fills its ring part-way into the zone:
    the hand-over is proven there, later than the split point, and the list is still exact."""
    monkeypatch.setattr(split, "WARMUP", 0)
    path = MEDIA / "clip_01_tears_of_steel.mp4"  # keyframes 0, 65, 185
    p, st, video = _split(cnet, path, 100, "any")
    assert p.starts == [0, 100] and st.resumed == 0
    assert 100 < st.handovers[0] < 100 + split.TAIL  # handed over inside the zone, not at its start
    assert _shots(video) == reference(path)


def test_a_range_that_cannot_be_split_safely_falls_back_to_one_pass(cnet, reference, gradual_video, monkeypatch):
    path, _ = gradual_video

    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise split.SplitError("frame 12 decoded where frame 11 was due")

    monkeypatch.setattr(split, "analyze_range", broken)
    video = VideoAnalyzer(cnet, split_seconds=0.5).analyze_video(path)
    assert calls and _shots(video) == reference(path)  # the split was tried, then one pass


def test_open_gop_b_frames(cnet, reference, tmp_path):
    """Open GOPs with B-frames: the pictures before a keyframe that refer across it are never
    taken from a range decoding from that keyframe."""
    path = tmp_path / "opengop.mp4"
    rng = np.random.default_rng(5)
    trs = random_transitions(rng, 8, gradual=True)
    lengths = shot_lengths_for(trs, rng, 16, 40)
    frames, _ = compose([SyntheticShot(5000 + i, n, 160, 96) for i, n in enumerate(lengths)], trs)
    write_video(path, frames, gop=15, open_gop=True)
    for frames_, align in ((40, "keyframe"), (11, "any")):
        p, st, video = _split(cnet, path, frames_, align)
        assert _shots(video) == reference(path), (frames_, align)
