"""Train the `fast` detector's learned cut score on the TUNE split only, and write it to
cinemanet/video/detectors/data/fast_cuts.json (weights, the features, and the hashes of the
data it was trained on).

    .venv/bin/python benchmarks/train_cuts.py [--seeds 100-111] [--photos 0-39] [--photo-val 0-7]
        [--action 0-11] [--action-val 0-3] [--write]

Data (never the held-out split: Sintel, clips 03/04, and videos derived from them):
  * train: derived videos made only from the tune clips' shots (videogen.derived, split
    "tune", seeds --seeds, generated into benchmarks/out/ as train_tune_<seed>.mp4) and the two
    tune clips themselves (Tears of Steel, Caminandes: real cuts and real false-cut traps);
  * six of the derived videos a second time "held" on twos or threes (every frame shown 2 or
    3 times, as animation and some frame-rate conversions are: a still picture that jumps
    every few frames is no cut);
  * validation: the benchmark's own tune videos (derived_tune_10..12, and 11 held on twos),
    on which the model family and the score threshold are chosen by the end-to-end cut F1;
  * with --photos: also videos made from thousands of real photos (benchmarks/photogen.py:
    many scenes, similar-shot and dark cuts, flashes, whip pans, shapes crossing), train
    photos only; --photo-val videos (the other 20% of the photos) join the validation set;
  * with --action / --action-val: the photo videos with moving subjects (photogen "action"
    videos: cuts between two busy shots, busy shots without cuts), train / validation photos.
Examples are the frames whose difference to the previous one reaches ``cut_gate``: the first
frame of a true cut is positive, frames one away from it are left out (the benchmark matches
cuts within one frame), everything else (motion, flashes, whip pans, shapes crossing, frames
inside fades and dissolves) is negative.

Candidates compared (printed side by side): logistic regression, and one-hidden-layer tanh
MLPs of 8 and 16 units (scikit-learn, used only here; the product runs the weights with
numpy). scikit-learn's gradient boosting is printed as a reference only (not shippable
without a tree runtime). Without --write nothing is written.
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
import videogen  # noqa: E402
from cinemanet.video.detectors.fast import CUT_FEATURES, MODEL_FILE, CutModel, FastDetector  # noqa: E402

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def features(frames: list) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, CUT_FEATURES rows) of every gated frame of one video."""
    det = FastDetector(cuts="rules")
    idx, rows = [], []
    det.feature_sink = lambda i, x: (idx.append(i), rows.append(x))
    for i, t, s in frames:
        det.process(i, t, s)
    det.flush()
    return np.array(idx, np.int64), np.array(rows, np.float32).reshape(-1, len(CUT_FEATURES))


def held(frames: list, k: int) -> list:
    """The video as if animated "on k's": every frame held k times (frame i shows frame
    i - i % k), the way animation on twos and frame-rate conversions with repeated frames look:
    a still picture that jumps every k frames is no cut."""
    return [(i, t, frames[i - i % k][2]) for i, t, _ in frames]


def held_truth(truth: list, k: int) -> list:
    """Where the boundaries of ``truth`` fall in ``held(frames, k)``."""

    def up(f):
        return -(-f // k) * k

    return [videogen.Truth(up(t.frame), t.kind, up(t.start), up(t.end)) for t in truth]


def labels(idx: np.ndarray, truth: list) -> tuple[np.ndarray, np.ndarray]:
    """(y, keep): 1 on the first frame of a true cut; frames one away from it are not used."""
    y = np.zeros(len(idx), np.int8)
    keep = np.ones(len(idx), bool)
    for t in truth:
        if t.kind == "cut":
            y[idx == t.frame] = 1
            keep[np.abs(idx - t.frame) == 1] = False
    return y, keep


def export(kind: str, clf, mean: np.ndarray, scale: np.ndarray, features=CUT_FEATURES, **extra) -> dict:
    """The ``Mlp`` weights file of a fitted scikit-learn model (``extra``: more keys, e.g. the deep band)."""
    if kind == "logistic":
        layers = [(clf.coef_.T.tolist(), clf.intercept_.tolist())]
    else:
        layers = [(w.tolist(), b.tolist()) for w, b in zip(clf.coefs_, clf.intercepts_)]
    return {
        "format": 1,
        "kind": kind,
        "features": list(features),
        **extra,
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "layers": layers,
    }


def fmt(r: dict) -> str:
    return f"{r['f1']:.3f} ({r['precision']:.2f}/{r['recall']:.2f})"


def end_to_end(doc: dict, videos: list, threshold: float, cuts: str = "learned", kind: str = "cut") -> dict:
    """Cut (or ``kind``) scores of the whole detector with this model on pre-decoded videos."""
    model = CutModel(doc)
    per = []
    for frames, truth in videos:
        det = FastDetector(cuts=cuts, cut_prob=threshold)
        det.model = model
        out = []
        for i, t, s in frames:
            out += det.process(i, t, s)
        out += det.flush()
        per.append(videogen.f1_by_kind(out, truth)[kind])
    return bench_shots.pooled(per)


def seeds(spec: str) -> list[int]:
    """ "A-B" -> [A, ..., B]; "" -> []."""
    if not spec:
        return []
    a_, b_ = (int(v) for v in spec.split("-"))
    return list(range(a_, b_ + 1))


def sources(a) -> tuple[list, int, list, list, list]:
    """The videos a cut model learns and is chosen on (never held-out material): training
    videos (derived tune videos, the tune clips, photo and action videos; the first
    ``n_tune`` are the tune split's own), the benchmark's tune videos, photo and action
    validation videos."""
    lo, hi = (int(v) for v in a.seeds.split("-"))
    if a.photos or a.photo_val or a.action or a.action_val:
        import photogen

        if not photogen.data_available():
            sys.exit(f"{Path(sys.argv[0]).stem}: --photos needs {photogen.DATA}")
    train = [
        bench_shots.generated(f"train_tune_{k}", videogen.derived, split="tune", seed=k) for k in range(lo, hi + 1)
    ]
    train += [(videogen.MEDIA / c, videogen.inspected_truth(c)) for c in videogen.split_clips("tune")]
    n_tune = len(train)
    photo_val, action_val = [], []
    if a.photos or a.photo_val or a.action or a.action_val:
        train += [photogen.generated("train", k) for k in seeds(a.photos)]
        train += [photogen.generated("train", k, action=True) for k in seeds(a.action)]
        photo_val = [photogen.generated("val", k) for k in seeds(a.photo_val)]
        action_val = [photogen.generated("val", k, action=True) for k in seeds(a.action_val)]
    val = [bench_shots.generated(f"derived_tune_{k}", videogen.derived, split="tune", seed=k) for k in (10, 11, 12)]
    for path, _ in train + val + photo_val + action_val:
        assert "heldout" not in path.name and "sintel" not in path.name.lower(), path
    return train, n_tune, val, photo_val, action_val


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="100-111", help="derived tune videos to train on: A-B")
    ap.add_argument("--photos", default="", help="photo videos (benchmarks/photogen.py, train photos) to train on: A-B")
    ap.add_argument("--photo-val", default="", help="photo videos of the validation photos to choose on: A-B")
    ap.add_argument("--action", default="", help="photo videos with moving subjects (train photos) to train on: A-B")
    ap.add_argument("--action-val", default="", help="... and of the validation photos, to choose on: A-B")
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_FILE.relative_to(ROOT)}")
    a = ap.parse_args()
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    t0 = time.perf_counter()
    train_src, n_tune_train, val_src, photo_val, action_val = sources(a)
    photo_val += action_val
    n_action_val = len(action_val)
    X, Y, used = [], [], []
    items = []
    for j, (path, truth) in enumerate(train_src):
        frames = bench_shots.smalls(path)
        items.append((path, truth, frames, 1))
        # six of the derived videos also held on twos (three) or threes (three), and every fifth photo video
        if j < 6 or (j >= n_tune_train and (j - n_tune_train) % 5 == 0):
            k = 2 if j < 3 or (j >= n_tune_train and j % 2 == 0) else 3
            items.append((path, held_truth(truth, k), held(frames, k), k))
    for path, truth, frames, k in items:
        idx, x = features(frames)
        y, keep = labels(idx, truth)
        X.append(x[keep])
        Y.append(y[keep])
        used.append(
            {
                "file": path.name,
                "held": k,
                "sha256": sha256(path),
                "truth_sha256": hashlib.sha256(json.dumps([t.to_dict() for t in truth]).encode()).hexdigest(),
                "examples": int(keep.sum()),
                "cuts": int(y[keep].sum()),
            }
        )
    X, Y = np.concatenate(X), np.concatenate(Y)
    n_cuts_truth = sum(sum(t.kind == "cut" for t in tr) for _, tr in train_src)
    print(
        f"train: {len(X)} examples, {int(Y.sum())} positives (of {n_cuts_truth} true cuts: the rest fall under the gate) [{time.perf_counter() - t0:.0f} s]"
    )
    val = [(bench_shots.smalls(p), tr) for p, tr in val_src]
    val.append((held(val[1][0], 2), held_truth(val[1][1], 2)))  # and one of them held on twos
    n_tune_val = len(val)
    val += [(bench_shots.smalls(p), tr) for p, tr in photo_val]
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    Z = (X - mean) / scale
    # positives repeated so that both classes weigh alike in the MLPs (which take no weights)
    rep = max(1, int(round((len(Y) - Y.sum()) / max(1, Y.sum()) / 4)))
    Zb = np.concatenate([Z] + [Z[Y == 1]] * (rep - 1))
    Yb = np.concatenate([Y] + [Y[Y == 1]] * (rep - 1))
    cands = {
        "logistic": LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000),
        "mlp8": MLPClassifier((8,), activation="tanh", alpha=1e-3, max_iter=3000, random_state=0),
        "mlp16": MLPClassifier((16,), activation="tanh", alpha=1e-3, max_iter=3000, random_state=0),
    }
    if a.photos or a.action:  # enough varied data for a wider layer, regularised harder
        cands["mlp32"] = MLPClassifier((32,), activation="tanh", alpha=1e-2, max_iter=3000, random_state=0)
    results = {}
    print("\n| model | threshold | validation cut F1 (P/R), all | tune videos | photo videos |\n|---|---|---|---|---|")
    for name, clf in cands.items():
        if name == "logistic":
            clf.fit(Z, Y)
        else:
            clf.fit(Zb, Yb)
        doc = export("logistic" if name == "logistic" else "mlp", clf, mean, scale)
        for thr in THRESHOLDS:
            rt = end_to_end(doc, val[:n_tune_val], thr)
            rp = end_to_end(doc, val[n_tune_val:], thr) if len(val) > n_tune_val else None
            r = bench_shots.pooled([rt] + ([rp] if rp else []))
            results[(name, thr)] = (r, doc, rt, rp)
            print(f"| {name} | {thr} | {fmt(r)} | {fmt(rt)} | {fmt(rp) if rp else ''} |")
    hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, class_weight="balanced", random_state=0)
    hgb.fit(Z, Y)
    vx, vy = [], []
    for frames, truth in val:
        idx, x = features(frames)
        y, keep = labels(idx, truth)
        vx.append(x[keep])
        vy.append(y[keep])
    vz, vy = (np.concatenate(vx) - mean) / scale, np.concatenate(vy)
    print("\nper-frame validation AUC-free check (frames over 0.5): model, true positives, false positives")
    for name, clf in [*cands.items(), ("gradient boosting (reference)", hgb)]:
        pr = clf.predict_proba(vz)[:, 1] >= 0.5
        print(f"- {name}: {int((pr & (vy == 1)).sum())} of {int(vy.sum())}, {int((pr & (vy == 0)).sum())} false")
    # choose: best validation F1; ties -> the model with the widest plateau of thresholds at
    # that F1 (least sensitive to the threshold), then the simpler model, then the threshold nearer 0.5
    order = list(cands)

    def plateau(k):
        f = round(results[k][0]["f1"], 4)
        return sum(round(results[(k[0], t)][0]["f1"], 4) >= f for t in THRESHOLDS)

    best = max(
        results,
        key=lambda k: (round(results[k][0]["f1"], 4), plateau(k), -order.index(k[0]), -abs(k[1] - 0.5)),
    )
    r, doc, rt, rp = results[best]
    print(f"\nchosen: {best[0]} at {best[1]}: validation cut F1 {r['f1']:.3f} ({r['precision']:.2f}/{r['recall']:.2f})")
    # the same model in each mode, on the same validation videos (the candidate for the default
    # is chosen from these, before any held-out run); "both" keeps the rules' gradual handling
    parts = [("tune videos", val[:n_tune_val]), ("photo videos", val[n_tune_val : len(val) - n_action_val])]
    if n_action_val:
        parts.append(("action videos", val[len(val) - n_action_val :]))
    print("\n| mode | " + " | ".join(f"{p} cuts | {p} gradual" for p, _ in parts) + " |")
    print("|---|" + "---|---|" * len(parts))
    for mode in ("rules", "learned", "both"):
        cells = []
        for _, vv in parts:
            cells += [
                fmt(end_to_end(doc, vv, best[1], mode)) if vv else "",
                fmt(end_to_end(doc, vv, best[1], mode, "gradual")) if vv else "",
            ]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    doc.update(
        {
            "threshold": best[1],
            "validation": {
                "videos": [p.name for p, _ in val_src]
                + [f"{val_src[1][0].name} held on twos"]
                + [p.name for p, _ in photo_val],
                "cut": r,
                "cut_tune_videos": rt,
                "cut_photo_videos": rp,
            },
            "trained_on": used,
            "split": "tune only (Tears of Steel, Caminandes and videos derived from their shots)"
            + (", and videos made from real photos (benchmarks/photogen.py)" if a.photos else "")
            + (", some with moving subjects" if a.action else ""),
            "command": f".venv/bin/python benchmarks/train_cuts.py --seeds {a.seeds}"
            + (f" --photos {a.photos} --photo-val {a.photo_val}" if a.photos else "")
            + (f" --action {a.action} --action-val {a.action_val}" if a.action else "")
            + " --write",
            "positive_repeat": rep,
        }
    )
    if a.write:
        MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
        MODEL_FILE.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
