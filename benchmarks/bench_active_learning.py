"""Active learning, measured: how many labels do uncertainty and diversity selection save
against random selection to reach the same accuracy of a retrained head?

    .venv/bin/python benchmarks/bench_active_learning.py [--error-rate 0.15] [--seeds 5] [--budget 400]

Data: labelled sets in ../shared/data (framing: cinemanet-stills/framing, 5 labels;
location: scene15-train, 15 classes), backbone features from the feature cache (computed once
if missing). A test split (30%, near-duplicates kept on one side, stratified by label) is set
apart before anything else, fixed for every strategy and seed, and used only to score.

Features are standardised and reduced to 128 dimensions by PCA, both fitted on the pool only.
Each round: the current head (logistic regression on the labels so far; C fixed in advance,
never tuned on the test split) picks the next batch from the pool. uncertainty: smallest
margin between its top two probabilities; diversity: k-center greedy on the features (labelled
items as the initial centres); random. Simulated annotators: two per item, each gives the data
set's label with probability 1 - error rate, else a uniformly random other label; when they
disagree a third one decides (majority of three; all different: the third's answer). The
head is retrained on the consensus and scored on the test split against the data set labels.

Prints Markdown, writes benchmarks/results/active_learning.json and active_learning-<group>.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
PCA_DIMS = 128  # logistic regression on 15 classes x 1280 dims is too slow for 600 fits on 2 cores
C = 0.05  # fixed before the run (a typical optimum of the default heads' grid on standardised features)
SETS = {
    "shot.framing": DATA / "cinemanet-stills" / "framing",
    "shot.location (15-Scene classes)": DATA / "scene15-train",
}


def load(group: str, folder: Path):
    from cinemanet.datasets.phash import dhash, near_duplicate_clusters
    from cinemanet.training.featurecache import compute_features
    from cinemanet.training.sources import folder_items

    items = folder_items(folder)  # folder names as classes
    X = compute_features(items, ("backbone",), jobs=2)
    ok = ~np.isnan(X).any(1)
    items = [it for it, k in zip(items, ok) if k]
    X = X[ok].astype(np.float32)
    classes = sorted({it.label for it in items})
    y = np.array([classes.index(it.label) for it in items])
    clusters = near_duplicate_clusters([dhash(it.path) for it in items], [it.sha256 for it in items])
    return X, y, classes, clusters


def test_split(y, clusters, seed=12345, frac=0.3):
    from sklearn.model_selection import StratifiedGroupKFold

    k = int(round(1 / frac))
    tr, te = next(
        StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, clusters)
    )
    return tr, te


def annotate(y_true, idx, n_classes, err, rng):
    """Consensus of simulated annotators for items ``idx``; returns labels and answers used."""

    def one(t):
        if rng.random() >= err:
            return t
        o = int(rng.integers(n_classes - 1))
        return o if o < t else o + 1

    out, answers = [], 0
    for i in idx:
        a, b = one(y_true[i]), one(y_true[i])
        answers += 2
        if a != b:
            c = one(y_true[i])
            answers += 1
            a = a if c == a else b if c == b else c
        out.append(a)
    return np.array(out), answers


def fit(X, y, n_classes):
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    m.fit(X, y)
    return m


def proba(m, X, n_classes):
    P = np.zeros((len(X), n_classes))
    P[:, m.classes_] = m.predict_proba(X)
    return P


def run_strategy(strategy, Xp, yp, Xt, yt, n_classes, budgets, batch, err, seed):
    from cinemanet.labelling.select import k_center_greedy, margin_uncertainty

    rng = np.random.default_rng(seed)
    first = rng.permutation(len(Xp))[: budgets[0]]
    labelled = list(first)
    ylab, answers = annotate(yp, first, n_classes, err, rng)
    ylab = list(ylab)
    curve = []
    while True:
        if len(set(ylab)) < 2:
            acc = float(np.mean(yt == np.bincount(ylab).argmax()))
            m = None
        else:
            m = fit(Xp[labelled], np.array(ylab), n_classes)
            acc = float(np.mean(proba(m, Xt, n_classes).argmax(1) == yt))
        curve.append({"labels": len(labelled), "answers": answers, "accuracy": acc})
        if len(labelled) >= budgets[-1]:
            break
        pool = np.setdiff1d(np.arange(len(Xp)), labelled)
        n = min(batch, budgets[-1] - len(labelled))
        if strategy == "random" or m is None:
            pick = rng.choice(pool, n, replace=False)
        elif strategy == "uncertainty":
            u = margin_uncertainty(proba(m, Xp[pool], n_classes))
            pick = pool[np.argsort(-u, kind="stable")[:n]]
        else:
            sub = np.concatenate([np.array(labelled), pool])
            got = k_center_greedy(Xp[sub], len(labelled) + n, seed=seed, already=np.arange(len(labelled)))
            pick = sub[got[:n]] if len(got) else rng.choice(pool, n, replace=False)
        yl, a = annotate(yp, pick, n_classes, err, rng)
        labelled += list(pick)
        ylab += list(yl)
        answers += a
    return curve


def labels_to_reach(curve_mean, budgets, target):
    for b, a in zip(budgets, curve_mean):
        if a >= target:
            return b
    return None


def saved_vs_random(res: dict, budgets: list[int]) -> float:
    """Target: random selection's mean accuracy at the full budget. For each strategy the
    fewest labels whose mean accuracy reaches it; saved = random's count minus the strategy's."""
    target = res["random"]["accuracy_mean"][-1]
    need_random = labels_to_reach(res["random"]["accuracy_mean"], budgets, target)
    for s in res:
        need = labels_to_reach(res[s]["accuracy_mean"], budgets, target)
        res[s]["labels_to_reach_random_final"] = need
        res[s]["labels_saved_vs_random"] = (need_random - need) if need is not None else None
    return target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--error-rate", type=float, default=0.15)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=400)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument(
        "--report-only", action="store_true", help="Re-render the tables and plots from results/active_learning.json."
    )
    args = ap.parse_args()
    if args.report_only:
        report = json.loads((RESULTS / "active_learning.json").read_text())
        args.error_rate, args.seeds = report["error_rate"], report["seeds"]
        for group, g in report["groups"].items():
            budgets = g["strategies"]["random"]["labels"]
            g["target_accuracy"] = saved_vs_random(g["strategies"], budgets)
            _plot(group, g["strategies"], args)
            print(_table(group, g, budgets))
        (RESULTS / "active_learning.json").write_text(json.dumps(report, indent=2) + "\n")
        return
    if not DATA.is_dir():
        raise SystemExit(f"needs the labelled data in {DATA}")
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    budgets = list(range(args.batch, args.budget + 1, args.batch))
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "error_rate": args.error_rate,
        "seeds": args.seeds,
        "batch": args.batch,
        "C": C,
        "pca_dims": PCA_DIMS,
        "groups": {},
    }
    t0 = time.perf_counter()
    for group, folder in SETS.items():
        X, y, classes, clusters = load(group, folder)
        tr, te = test_split(y, clusters)
        # standardised, then PCA to PCA_DIMS, both fitted on the pool only (its images are
        # available unlabelled in active learning; the test split is never seen)
        sc = StandardScaler().fit(X[tr])
        pca = PCA(PCA_DIMS, random_state=0).fit(sc.transform(X[tr]))
        Xp, Xt = pca.transform(sc.transform(X[tr])), pca.transform(sc.transform(X[te]))
        res = {}
        for strategy in ("random", "uncertainty", "diversity"):
            curves = [
                run_strategy(strategy, Xp, y[tr], Xt, y[te], len(classes), budgets, args.batch, args.error_rate, s)
                for s in range(args.seeds)
            ]
            accs = np.array([[c["accuracy"] for c in cur] for cur in curves])
            res[strategy] = {
                "labels": budgets,
                "accuracy_mean": accs.mean(0).tolist(),
                "accuracy_sd": accs.std(0).tolist(),
                "answers_mean": float(np.mean([cur[-1]["answers"] for cur in curves])),
            }
        target = saved_vs_random(res, budgets)
        report["groups"][group] = {
            "images": len(y),
            "pool": len(tr),
            "test": len(te),
            "classes": classes,
            "target_accuracy": target,
            "strategies": res,
        }
        _plot(group, res, args)
        print(_table(group, report["groups"][group], budgets), flush=True)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        RESULTS.mkdir(parents=True, exist_ok=True)  # after each group: a late failure keeps the first
        (RESULTS / "active_learning.json").write_text(json.dumps(report, indent=2) + "\n")


def _plot(group, res, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for s, r in res.items():
        m, sd = np.array(r["accuracy_mean"]), np.array(r["accuracy_sd"])
        ax.plot(r["labels"], m, label=s)
        ax.fill_between(r["labels"], m - sd, m + sd, alpha=0.15)
    ax.set_xlabel("items labelled (2-3 simulated answers each)")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"{group}: error rate {args.error_rate}, {args.seeds} seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"active_learning-{group.split(' ')[0]}.png", dpi=100)
    plt.close(fig)


def _table(group, g, budgets):
    res = g["strategies"]
    show = [b for b in budgets if b in (budgets[0], 40, 60, 100, 150, 200, 300, budgets[-1])]
    lines = [
        f"\n### {group}: {g['images']} images ({g['pool']} pool, {g['test']} held-out test), {len(g['classes'])} classes",
        "",
        "| labels | " + " | ".join(res) + " |",
        "|---:|" + "---:|" * len(res),
    ]
    for b in show:
        i = budgets.index(b)
        lines.append(
            f"| {b} | "
            + " | ".join(f"{r['accuracy_mean'][i]:.3f} ± {r['accuracy_sd'][i]:.3f}" for r in res.values())
            + " |"
        )
    lines += [
        "",
        f"Random's mean accuracy at {budgets[-1]} labels: {g['target_accuracy']:.3f}. Fewest labels whose mean reaches it: "
        + ", ".join(f"{s} {r['labels_to_reach_random_final'] or 'not reached'}" for s, r in res.items())
        + "; saved against random: "
        + ", ".join(
            f"{s} {r['labels_saved_vs_random'] if r['labels_saved_vs_random'] is not None else 'none'}"
            for s, r in res.items()
            if s != "random"
        )
        + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
