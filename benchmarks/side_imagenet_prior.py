"""Interior/exterior: does ImageNet's own knowledge of indoor and outdoor objects help on a source
the head never saw?

    python benchmarks/side_imagenet_prior.py --data ../shared/data [--out FILE]

Why: the interior/exterior head learns interiors from few kinds of room (15-Scene's bedroom,
kitchen, living room, office and store; SUN's auditorium and kitchen; the indoor-outdoor web
photos). Left out, the web photos' interiors (any room) are what it misses most. ImageNet's
classifier, which the backbone already runs, knows bathtubs, pool tables and altars. The
evidence is the log ratio ``r = log(m_in + 1e-3) - log(m_out + 1e-3)`` of the summed ImageNet
probabilities of the classes that ``concepts/data/imagenet_evidence.yaml`` already lists under
interior and under exterior places (written for other labels before this test; not edited for
it).

Three answers, each a logistic regression on leave-one-source-out predictions (so it pays for a
change of source), every source weighing the same:

- ``shipped``: the head's own argmax (what 0.3.3 answers);
- ``control``: ``a*d + c`` (``d`` the head's logit difference): only a re-centred head;
- ``prior``: ``a*d + b*r + c``.

Judged **nested leave one source out** on the 80% part: for held-out source S the head is fitted
on the other sources; the combination is fitted on predictions for each other source T from a
head fitted without S and T. Then once on the kept-apart 20% (head on the whole 80% part, the
combination on every source's leave-one-source-out predictions).

Decision rule, fixed before the run: ``prior`` ships if its nested figure on indoor-outdoor is at
least 0.01 above both ``shipped`` and ``control``, no other source falls more than 0.005 below
``shipped``, and its ECE on the pooled nested predictions is at most 0.05; and not if its
kept-apart indoor-outdoor accuracy is below ``shipped``'s.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from heads_variants import bench_args, log, shipped_metrics  # noqa: E402

from cinemanet.concepts.imagenet_evidence import _table  # noqa: E402
from cinemanet.training import default_heads as dh  # noqa: E402
from cinemanet.training.metrics import expected_calibration_error as ece  # noqa: E402

EPS = 1e-3
INTERIOR = "shot.location.interior"


def fc_weights() -> tuple[np.ndarray, np.ndarray]:
    """The backbone's ImageNet classifier (the ``logits`` Gemm of the shipped ONNX file)."""
    import onnx
    from onnx import numpy_helper

    from cinemanet.perception.backbone import onnx_path

    init = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_path())).graph.initializer}
    return init["net._fc.weight"].astype(np.float32), init["net._fc.bias"].astype(np.float32)


def evidence(prep: dh.Prepared, shas: list[str]) -> np.ndarray:
    """r per image, from its cached colour features (the first 1280 numbers are the embedding)."""
    W, b = fc_weights()
    keys, m = _table("location")
    inside = np.array([k.startswith(INTERIOR) for k in keys])
    sel_in = m[inside].max(0)
    sel_out = m[~inside].max(0) * (1 - sel_in)  # a class listed under both counts as interior
    X = np.stack([prep.feats["rgb"][s][:1280] for s in shas]).astype(np.float32)
    z = X @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return np.log(p @ sel_in + EPS) - np.log(p @ sel_out + EPS)


def fit_combo(cols: np.ndarray, y: np.ndarray, src: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    w = np.zeros(len(y))
    for s in np.unique(src):
        w[src == s] = 1.0 / np.sum(src == s)
    return LogisticRegression(C=1e4, max_iter=1000).fit(cols, y, sample_weight=w * len(y) / w.sum())


def head_d(tr: dh.Trainer, task: dh.Task, fit_rows, pred_rows, wd: float, k_int: int) -> np.ndarray:
    z = tr.predict(tr.fit(task, fit_rows, wd), pred_rows)
    return z[:, k_int] - z[:, 1 - k_int]


def main() -> None:
    a = bench_args(__doc__, "side_imagenet_prior.json")
    t0 = time.perf_counter()
    metrics = shipped_metrics()
    prep = dh.prepare(a.data, None, log)
    task = prep.tasks["side"]
    wd = metrics["side"]["cv"]["wd"]
    k_int = task.outputs.index(INTERIOR)
    tr = dh.Trainer(prep, 0, log)
    imgs = prep.images
    train = [r for r in task.rows if not imgs[r[0]].test]
    test = [r for r in task.rows if imgs[r[0]].test]
    sources = sorted({r[2] for r in train})
    by = {s: [r for r in train if r[2] == s] for s in sources}
    r_of = dict(zip([r[0] for r in task.rows], evidence(prep, [r[0] for r in task.rows])))

    def cols(rows, d, with_r):
        c = [d]
        if with_r:
            c.append(np.array([r_of[r[0]] for r in rows]))
        return np.stack(c, 1)

    def y_of(rows):
        return (np.array([r[1] for r in rows]) == k_int).astype(int)

    nested: dict[str, dict] = {}
    pooled = {"y": [], "p_prior": [], "p_control": []}
    loso_d = {}  # the head fitted without S, on S: used nested below and for the kept-apart fit
    for s in sources:
        held = by[s]
        d_held = loso_d[s] = head_d(tr, task, [r for r in train if r[2] != s], held, wd, k_int)
        inner_rows, inner_d = [], []
        for t in sources:
            if t == s:
                continue
            rest = [r for r in train if r[2] not in (s, t)]
            if len({r[1] for r in rest}) < 2:
                continue
            inner_rows += by[t]
            inner_d.append(head_d(tr, task, rest, by[t], wd, k_int))
        inner_d = np.concatenate(inner_d)
        src_in = np.array([r[2] for r in inner_rows])
        yy = y_of(held)
        res = {"n": len(held), "shipped": float(np.mean((d_held > 0) == yy))}
        for name, with_r in (("control", False), ("prior", True)):
            m = fit_combo(cols(inner_rows, inner_d, with_r), y_of(inner_rows), src_in)
            p = m.predict_proba(cols(held, d_held, with_r))[:, 1]
            res[name] = float(np.mean((p > 0.5) == yy))
            res[f"{name}_coef"] = [float(x) for x in m.coef_[0]] + [float(m.intercept_[0])]
            pooled[f"p_{name}"].append(p)
        pooled["y"].append(yy)
        nested[s] = res
        log(
            f"nested LOSO {s:16s} n={len(held):5d} shipped {res['shipped']:.3f} control {res['control']:.3f} prior {res['prior']:.3f}"
        )
    y_all = np.concatenate(pooled["y"])
    ece_nested = {
        k: float(ece(np.stack([1 - np.concatenate(pooled[f"p_{k}"]), np.concatenate(pooled[f"p_{k}"])], 1), y_all))
        for k in ("control", "prior")
    }
    io = "indoor-outdoor"
    others_ok = all(nested[s]["prior"] >= nested[s]["shipped"] - 0.005 for s in sources if s != io)
    rule_nested = (
        nested[io]["prior"] >= nested[io]["shipped"] + 0.01
        and nested[io]["prior"] >= nested[io]["control"] + 0.01
        and others_ok
        and ece_nested["prior"] <= 0.05
    )

    # kept apart, read once: head on the whole 80% part, combination on every source's LOSO predictions
    loso_rows = [r for s in sources for r in by[s]]
    loso_d = np.concatenate([loso_d[s] for s in sources])
    src_l = np.array([r[2] for r in loso_rows])
    d_test = tr.predict(tr.fit(task, train, wd), test)
    d_test = d_test[:, k_int] - d_test[:, 1 - k_int]
    yt = y_of(test)
    st = np.array([r[2] for r in test])
    kept: dict[str, dict] = {}
    preds = {"shipped": d_test > 0}
    for name, with_r in (("control", False), ("prior", True)):
        m = fit_combo(cols(loso_rows, loso_d, with_r), y_of(loso_rows), src_l)
        preds[name] = m.predict_proba(cols(test, d_test, with_r))[:, 1] > 0.5
        kept[f"{name}_coef"] = [float(x) for x in m.coef_[0]] + [float(m.intercept_[0])]
    for s in sorted(set(st.tolist())):
        ix = st == s
        kept[s] = {"n": int(ix.sum()), **{k: float(np.mean(v[ix] == yt[ix])) for k, v in preds.items()}}
        log(f"kept apart  {s:16s} n={int(ix.sum()):5d} " + " ".join(f"{k} {kept[s][k]:.3f}" for k in preds))
    veto = kept[io]["prior"] < kept[io]["shipped"]
    report = {
        "protocol": __doc__.split("\n\n")[3],
        "rule": __doc__.split("\n\n")[4],
        "wd": wd,
        "nested_loso": nested,
        "nested_ece": ece_nested,
        "kept_apart": kept,
        "ships": bool(rule_nested and not veto),
        "cores": os.cpu_count(),
        "load_average_end": os.getloadavg(),
        "seconds": time.perf_counter() - t0,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(
        f"ECE (pooled nested): {ece_nested}; rule on nested LOSO: {rule_nested}; kept-apart veto: {veto}; ships: {report['ships']}"
    )


if __name__ == "__main__":
    main()
