"""Train the CNN confirmation of doubtful cut candidates (``fast -D cuts=deep``) on the TUNE split
and the photo videos only, and write cinemanet/video/detectors/data/fast_deep.json.

    .venv/bin/python benchmarks/train_deep_cuts.py [--seeds 100-111] [--photos 0-39] [--photo-val 0-7]
        [--action 0-5] [--action-val 0-2] [--size 112] [--models 'mlp16, deep + jump'] [--write]

The same data, examples and labels as ``train_cuts.py`` (it reuses its machinery), the shipped
learned score (``data/fast_cuts.json``) left as it is. Every gated frame of the training videos,
and every gated frame of the validation videos whose learned score lies in a wide band
(``WIDE``), gets the CNN embeddings of frames c-2, c-1, c, c+1 (EfficientNet-Lite0 at ``--size``
px; cached in benchmarks/out/deep_cache/), and ``DEEP_FEATURES`` from them. Set-ups compared:
logistic, MLP-8, MLP-16 over CUT_FEATURES + the learned score's logit + DEEP_FEATURES trained on
the training examples in the wide band; logistic and MLP-16 trained on every gated frame, over
all inputs, without the learned score, or over DEEP_FEATURES and the jump only. The set-up, the
band sent to the CNN and the threshold are chosen by the whole detector's cut F1 on the
validation videos (tune videos derived_tune_10..12 and one held on twos, photo and action
validation videos), then fewer CNN candidates. ``--models`` restricts the set-ups (the weights
were written by a run restricted to the chosen one). Never the held-out split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_shots  # noqa: E402
import train_cuts  # noqa: E402
import videogen  # noqa: E402
from cinemanet.media.video import iter_frames  # noqa: E402
from cinemanet.video.detectors.deep import (  # noqa: E402
    DEEP_FEATURES,
    FEATURE_FILE,
    PICTURE_SIDE,
    DeepCutModel,
    Embedder,
    deep_features,
    logit,
)
from cinemanet.video.detectors.fast import CUT_FEATURES, FastDetector, cut_model  # noqa: E402

WIDE = (0.002, 0.995)  # learned scores whose frames get embeddings (every band tried lies inside)
BANDS = ((0.005, 0.9), (0.02, 0.9), (0.05, 0.9), (0.02, 0.98))
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
CACHE = ROOT / "benchmarks" / "out" / "deep_cache"


class HeldCache:
    """The embedding cache of a video as seen held on k's (frame i shows frame i - i % k)."""

    def __init__(self, cache: dict, k: int):
        self.c, self.k = cache, k

    def _m(self, i):
        return i - i % self.k

    def __contains__(self, i):
        return self._m(i) in self.c

    def __getitem__(self, i):
        return self.c[self._m(i)]

    def __setitem__(self, i, v):
        self.c[self._m(i)] = v


def decode(path: Path) -> tuple[list, list]:
    frames, pics = [], []
    for f in iter_frames(path):
        frames.append((f.index, f.time, f.small))
        pics.append(f.rgb(PICTURE_SIDE))
    return frames, pics


def prepare(path: Path, size: int, embedder: Embedder, every: bool = False) -> tuple[list, dict]:
    """The video's small frames and the embeddings of every frame near a wide-band candidate
    (``every``: near any gated frame) of the video itself and of it held on twos and threes,
    cached on disk."""
    band = (0.0, 2.0) if every else WIDE
    key = hashlib.sha1(f"{train_cuts.sha256(path)}-{size}-{band}-v1".encode()).hexdigest()[:12]
    cf = CACHE / f"{path.stem}-{key}.npz"
    if cf.exists():
        with np.load(cf) as z:  # (each z[...] reads the whole array again: once each)
            idx, emb, lay = z["idx"], z["emb"], z["lay"]
        frames = bench_shots.smalls(path)
        return frames, {int(i): (emb[j], lay[j]) for j, i in enumerate(idx)}
    frames, pics = decode(path)
    model = cut_model()
    need: set[int] = set()
    for k in (1, 2, 3):
        fr = frames if k == 1 else train_cuts.held(frames, k)
        idx, x = train_cuts.features(fr)
        for i, row in zip(idx, x):
            if band[0] <= model.score(row) < band[1]:
                for t in range(int(i) - 2, int(i) + 2):
                    t = max(0, min(len(frames) - 1, t))
                    need.add(t - t % k)  # held on k's, frame t shows frame t - t % k
    order = sorted(need)
    out = {}
    for j in range(0, len(order), 16):
        chunk = order[j : j + 16]
        for t, e in zip(chunk, embedder.batch([pics[t] for t in chunk])):
            out[t] = e
    CACHE.mkdir(parents=True, exist_ok=True)
    if out:
        np.savez(
            cf,
            idx=np.array(order, np.int64),
            emb=np.stack([out[t][0] for t in order]),
            lay=np.stack([out[t][1] for t in order]),
        )
    else:
        np.savez(
            cf, idx=np.zeros(0, np.int64), emb=np.zeros((0, 1280), np.float32), lay=np.zeros((0, 4, 320), np.float32)
        )
    return frames, out


def examples(frames: list, cache, truth: list, band=WIDE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, labels, learned scores) of the gated frames of one video whose learned score
    lies in ``band``."""
    idx, x = train_cuts.features(frames)
    y, keep = train_cuts.labels(idx, truth)
    model = cut_model()
    rows, ys, ps = [], [], []
    n = len(frames)
    for i, row, yy, kk in zip(idx, x, y, keep):
        if not kk:
            continue
        p = model.score(row)
        if not (band[0] <= p < band[1]):
            continue
        es = [cache[max(0, min(n - 1, int(t)))] for t in range(i - 2, i + 2)]
        rows.append(np.concatenate([row, np.float32([logit(p)]), deep_features(es)]))
        ys.append(yy)
        ps.append(p)
    d = len(CUT_FEATURES) + 1 + len(DEEP_FEATURES)
    return np.array(rows, np.float32).reshape(-1, d), np.array(ys, np.int8), np.array(ps, np.float32)


#: the inputs a confirming model may see (indices into CUT_FEATURES + learned_logit + DEEP_FEATURES)
_NC = len(CUT_FEATURES)
COLUMNS = {
    "all inputs": list(range(_NC + 1 + len(DEEP_FEATURES))),
    "no learned score": list(range(_NC)) + list(range(_NC + 1, _NC + 1 + len(DEEP_FEATURES))),
    "deep + jump": [0, 1, 2] + list(range(_NC + 1, _NC + 1 + len(DEEP_FEATURES))),
}


def export(kind: str, clf, mean, scale, band, threshold, size, columns=None) -> dict:
    return train_cuts.export(
        kind,
        clf,
        mean,
        scale,
        features=[*CUT_FEATURES, "learned_logit", *DEEP_FEATURES],
        size=size,
        band=list(band),
        threshold=threshold,
        columns=columns,
    )


def end_to_end(doc, videos, band, threshold, cuts="deep", kind="cut", stats=None):
    """Scores of the whole detector on pre-decoded videos (embeddings from the caches)."""
    model = DeepCutModel(doc) if doc else None
    per = []
    for frames, truth, cache in videos:
        det = FastDetector(cuts=cuts, deep_lo=band[0], deep_hi=band[1], deep_prob=threshold)
        det.deep_model = model
        det.embed_cache = cache
        asked = []
        det.deep_sink = lambda i, *_, asked=asked: asked.append(i)
        out = []
        for i, t, s in frames:
            out += det.process(i, t, s)
        out += det.flush()
        if cuts == "deep" and getattr(det, "_warned", False):
            raise RuntimeError("a candidate's embeddings are not in the cache")
        per.append(videogen.f1_by_kind(out, truth)[kind])
        if stats is not None:
            stats["candidates"] += len(asked)
            stats["frames"] += len(frames)
    return bench_shots.pooled(per)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="100-111")
    ap.add_argument("--photos", default="0-39")
    ap.add_argument("--photo-val", default="0-7")
    ap.add_argument("--action", default="0-5")
    ap.add_argument("--action-val", default="0-2")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--models", default="", help="only the setups whose name contains this")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    t0 = time.perf_counter()
    train_src, n_tune_train, val_src, photo_val, action_val = train_cuts.sources(a)
    emb = Embedder(a.size)
    X, Y, P, used = [], [], [], []
    for j, (path, truth) in enumerate(train_src):
        frames, cache = prepare(path, a.size, emb, every=True)
        variants = [(frames, cache, truth, 1)]
        if j < 6 or (j >= n_tune_train and (j - n_tune_train) % 5 == 0):  # as train_cuts holds them
            k = 2 if j < 3 or (j >= n_tune_train and j % 2 == 0) else 3
            variants.append((train_cuts.held(frames, k), HeldCache(cache, k), train_cuts.held_truth(truth, k), k))
        for fr, ca, tr, k in variants:
            x, y, p = examples(fr, ca, tr, (0.0, 2.0))
            X.append(x)
            Y.append(y)
            P.append(p)
            used.append(
                {
                    "file": path.name,
                    "held": k,
                    "sha256": train_cuts.sha256(path),
                    "examples": len(y),
                    "cuts": int(y.sum()),
                }
            )
        print(f"  {path.name}: {len(cache)} frames embedded [{time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    X, Y, P = np.concatenate(X), np.concatenate(Y), np.concatenate(P)
    wide = (P >= WIDE[0]) & (P < WIDE[1])
    print(
        f"train: {len(Y)} gated examples, {int(Y.sum())} positive; {int(wide.sum())} in the wide band, "
        f"{int(Y[wide].sum())} positive [{time.perf_counter() - t0:.0f} s]"
    )
    val = []
    for path, truth in val_src + photo_val + action_val:
        frames, cache = prepare(path, a.size, emb)
        val.append((frames, truth, cache))
    val.append((train_cuts.held(val[1][0], 2), train_cuts.held_truth(val[1][1], 2), HeldCache(val[1][2], 2)))
    parts = {
        "tune videos": val[:3] + val[-1:],
        "photo videos": val[3 : 3 + len(photo_val)],
        "action videos": val[3 + len(photo_val) : 3 + len(photo_val) + len(action_val)],
    }
    allval = val
    print(f"validation ready [{time.perf_counter() - t0:.0f} s]")
    # the per-example view on validation: how the learned score's errors fall in its bands
    vx, vy, vp = [], [], []
    for frames, truth, cache in allval:
        x, y, p = examples(frames, cache, truth)
        vx.append(x)
        vy.append(y)
        vp.append(p)
    vx, vy, vp = np.concatenate(vx), np.concatenate(vy), np.concatenate(vp)
    print("\nvalidation wide-band examples by learned score: band, positives, negatives")
    for b0, b1 in (
        (0.002, 0.01),
        (0.01, 0.02),
        (0.02, 0.05),
        (0.05, 0.2),
        (0.2, 0.6),
        (0.6, 0.9),
        (0.9, 0.98),
        (0.98, 0.995),
    ):
        m = (vp >= b0) & (vp < b1)
        print(f"- [{b0}, {b1}): {int(vy[m].sum())} cuts, {int((vy[m] == 0).sum())} not")
    print("\nper-example validation (wide band, score over 0.5): true positives, false positives")
    lp = vp >= 0.2
    print(
        f"- the learned score at 0.2: {int((lp & (vy == 1)).sum())} of {int(vy.sum())}, {int((lp & (vy == 0)).sum())} false"
    )
    docs = {}
    # trained on the wide band's examples only (what the model will see), or on every gated
    # frame (many more cuts between busy shots; the learned score is over-sure on its own
    # training videos, so the models trained so do not see it)
    setups = [("band", "all inputs", k) for k in ("logistic", "mlp8", "mlp16")]
    setups += [("all", c, k) for c in ("all inputs", "no learned score", "deep + jump") for k in ("logistic", "mlp16")]
    if a.models:
        setups = [x for x in setups if a.models in f"{x[2]}, {x[1]}, {x[0]}"]
    for train_on, cols, kind in setups:
        m = wide if train_on == "band" else np.ones(len(Y), bool)
        Xs, Ys = X[m][:, COLUMNS[cols]], Y[m]
        mean, scale = Xs.mean(axis=0), Xs.std(axis=0) + 1e-6
        Z = (Xs - mean) / scale
        rep = max(1, int(round((len(Ys) - Ys.sum()) / max(1, Ys.sum()) / 4)))
        if kind == "logistic":
            clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
            clf.fit(Z, Ys)
        else:
            clf = MLPClassifier((int(kind[3:]),), activation="tanh", alpha=1e-2, max_iter=3000, random_state=0)
            clf.fit(np.concatenate([Z] + [Z[Ys == 1]] * (rep - 1)), np.concatenate([Ys] + [Ys[Ys == 1]] * (rep - 1)))
        pr = clf.predict_proba((vx[:, COLUMNS[cols]] - mean) / scale)[:, 1] >= 0.5
        name = f"{kind}, {cols}, trained on {'the band' if train_on == 'band' else 'every gated frame'}"
        print(f"- {name}: {int((pr & (vy == 1)).sum())} of {int(vy.sum())}, {int((pr & (vy == 0)).sum())} false")
        docs[name] = export(
            "logistic" if kind == "logistic" else "mlp", clf, mean, scale, WIDE, 0.5, a.size, COLUMNS[cols]
        )
        docs[name]["positive_repeat"] = rep
    fmt = train_cuts.fmt
    print(f"\nbaselines on validation [{time.perf_counter() - t0:.0f} s]:")
    base = {}
    for mode in ("rules", "learned"):
        base[mode] = end_to_end(None, allval, (0, 0), 0.5, cuts=mode)
        print(f"- {mode}: cuts {fmt(base[mode])}")
    results = {}
    print(
        "\n| model | band | threshold | validation cut F1 (P/R) | CNN candidates per 1000 frames |\n|---|---|---|---|---|"
    )
    for name, doc in docs.items():
        for band in BANDS:
            for thr in THRESHOLDS:
                st = {"candidates": 0, "frames": 0}
                r = end_to_end(doc, allval, band, thr, stats=st)
                share = 1000 * st["candidates"] / max(1, st["frames"])
                results[(name, band, thr)] = (r, share)
                print(f"| {name} | {band} | {thr} | {fmt(r)} | {share:.1f} |", flush=True)
    order = list(docs)
    best = max(
        results, key=lambda k: (round(results[k][0]["f1"], 4), -results[k][1], -order.index(k[0]), -abs(k[2] - 0.5))
    )
    r, share = results[best]
    name, band, thr = best
    print(
        f"\nchosen: {name}, band {band}, threshold {thr}: validation cut F1 {fmt(r)}, {share:.1f} CNN candidates per 1000 frames"
    )
    doc = dict(docs[name], band=list(band), threshold=thr)
    print("\n| mode | " + " | ".join(f"{p} cuts | {p} gradual" for p in parts) + " |")
    print("|---|" + "---|---|" * len(parts))
    for mode in ("rules", "learned", "deep"):
        cells = []
        for vv in parts.values():
            cells += [fmt(end_to_end(doc, vv, band, thr, mode)), fmt(end_to_end(doc, vv, band, thr, mode, "gradual"))]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    doc.update(
        {
            "validation": {"cut": r, "cnn_candidates_per_1000_frames": share, "baselines": base},
            "trained_on": used,
            "split": "tune only (Tears of Steel, Caminandes, derived videos) and photo videos (benchmarks/photogen.py)",
            "command": f".venv/bin/python benchmarks/train_deep_cuts.py --seeds {a.seeds} --photos {a.photos} "
            f"--photo-val {a.photo_val} --action {a.action} --action-val {a.action_val} --size {a.size}"
            + (f" --models '{a.models}'" if a.models else "")
            + " --write",
        }
    )
    if a.write:
        FEATURE_FILE.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {FEATURE_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
