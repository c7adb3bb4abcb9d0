"""How much annotators agree: Krippendorff's alpha, Fleiss' kappa, gold accuracy, agreement
with the consensus, and the confusion of disagreements.

Missing data: "not sure" and "skip" are no answer. "Not applicable" is a category for the
nominal statistics and missing for the ordinal one (it has no place on the scale).

- Krippendorff's alpha from the coincidence matrix (Krippendorff 2011, "Computing
  Krippendorff's alpha-reliability"): units with at least two answers are pairable;
  alpha = 1 - (n - 1) * sum_ck o_ck d_ck / sum_ck n_c n_k d_ck.
- Fleiss' kappa (Fleiss 1971), with the usual generalisation to a varying number of raters per
  item: P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)) over items with n_i >= 2,
  p_j = sum_i n_ij / sum_i n_i, kappa = (mean P_i - sum p_j^2) / (1 - sum p_j^2). With the same
  number of raters everywhere it is exactly Fleiss' statistic.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from ..taxonomy import get_taxonomy

AGREEMENT_SCHEMA = "cinemanet.label-agreement/1"
#: groups answered on an ordered scale besides the taxonomy's ordered ones: camera height
ORDINAL_ORDER = {"shot.angle": ("shot.angle.low", "shot.angle.eyelevel", "shot.angle.high", "shot.angle.aerial")}


def ordinal_order(group: str) -> tuple[str, ...] | None:
    g = get_taxonomy().group(group)
    if g.ordered and g.order:
        return tuple(g.order)
    return ORDINAL_ORDER.get(group)


# --- the statistics --------------------------------------------------------------------------
def coincidence_matrix(units: Sequence[Sequence[Hashable]], categories: Sequence[Hashable]) -> np.ndarray:
    """o_ck: each pairable unit (m_u >= 2 values, None = missing) adds its ordered value pairs
    from different coders, weighted 1 / (m_u - 1)."""
    idx = {c: i for i, c in enumerate(categories)}
    o = np.zeros((len(categories), len(categories)))
    for u in units:
        vals = [v for v in u if v is not None and v in idx]
        m = len(vals)
        if m < 2:
            continue
        cnt = np.zeros(len(categories))
        for v in vals:
            cnt[idx[v]] += 1
        o += (np.outer(cnt, cnt) - np.diag(cnt)) / (m - 1)
    return o


def _delta2(categories: Sequence, n_c: np.ndarray, metric: str) -> np.ndarray:
    k = len(categories)
    if metric == "nominal":
        return 1.0 - np.eye(k)
    if metric == "interval":
        v = np.asarray(categories, np.float64)
        return (v[:, None] - v[None, :]) ** 2
    if metric == "ordinal":  # categories in scale order; distance = marginal mass between
        cs = np.concatenate([[0.0], np.cumsum(n_c)])
        d = np.zeros((k, k))
        for c in range(k):
            for j in range(k):
                lo, hi = min(c, j), max(c, j)
                d[c, j] = (cs[hi + 1] - cs[lo] - (n_c[c] + n_c[j]) / 2.0) ** 2
        return d
    raise ValueError(f"metric must be nominal, ordinal or interval, not {metric!r}")


def krippendorff_alpha(
    units: Sequence[Sequence[Hashable]], metric: str = "nominal", categories: Sequence[Hashable] | None = None
) -> float | None:
    """Krippendorff's alpha over ``units`` (one list of coders' values per unit, None missing).
    ``categories`` fixes the scale order for ordinal (default: sorted values). None when fewer
    than two pairable values or no variation to disagree about."""
    if categories is None:
        categories = sorted({v for u in units for v in u if v is not None})
    o = coincidence_matrix(units, categories)
    n_c = o.sum(1)
    n = n_c.sum()
    if n < 2:
        return None
    d = _delta2(categories, n_c, metric)
    expected = (np.outer(n_c, n_c) * d).sum()
    if expected == 0:
        return None
    return float(1.0 - (n - 1.0) * (o * d).sum() / expected)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa of an items x categories count matrix (rows may have different totals;
    rows with fewer than two ratings are left out)."""
    X = np.asarray(counts, np.float64)
    n_i = X.sum(1)
    X, n_i = X[n_i >= 2], n_i[n_i >= 2]
    if len(X) == 0:
        return None
    P_i = ((X * X).sum(1) - n_i) / (n_i * (n_i - 1))
    p_j = X.sum(0) / n_i.sum()
    Pe = float((p_j * p_j).sum())
    if Pe >= 1.0:
        return None
    return float((P_i.mean() - Pe) / (1.0 - Pe))


def majority(values: Sequence[str]) -> str | None:
    """The most frequent value; None on a tie or when empty."""
    c = Counter(v for v in values if v is not None).most_common(2)
    if not c or (len(c) == 2 and c[0][1] == c[1][1]):
        return None
    return c[0][0]


# --- a project's report ----------------------------------------------------------------------
def _value(a: dict) -> str | None:
    return a["label"] if a["kind"] in ("label", "na") else None


def consensus(store, project) -> dict[int, dict]:
    """Per task: the decided label (the reviewer's, else the majority of answers), how it was
    decided, per-item agreement (share of answers equal to it) and every answer."""
    tasks = {t["id"]: t for t in store.tasks(project)}
    items = {r["id"]: r for r in store.items(project)}
    reviews = store.reviews(project)
    by_task: dict[int, list[dict]] = defaultdict(list)
    for a in store.answers(project):
        by_task[a["task"]].append(a)
    out = {}
    for tid, t in tasks.items():
        answers = by_task.get(tid, [])
        vals = [_value(a) for a in answers if _value(a) is not None]
        gold = json.loads(items[t["item"]]["gold"] or "null") or {}
        rv = reviews.get(tid)
        if rv is not None:
            label, how = rv["label"], "review"
        else:
            label, how = majority(vals), "majority"
        agree = (sum(v == label for v in vals) / len(vals)) if vals and label is not None else None
        out[tid] = {
            "task": tid,
            "item": t["item"],
            "item_key": t["item_key"],
            "group": t["grp"],
            "label": label,
            "decided_by": how if label is not None else None,
            "agreement": agree,
            "n_answers": len(vals),
            "gold": gold.get(t["grp"]),
            "answers": answers,
            "review": rv,
        }
    return out


def needs_review(c: dict, redundancy: int) -> str | None:
    """Why a task goes to the review queue (None: it does not)."""
    if c["review"] is not None:
        return None
    vals = [_value(a) for a in c["answers"] if _value(a) is not None]
    if c["gold"] is not None and any(v != c["gold"] for v in vals):
        return "failed gold check"
    if len(vals) >= 2 and len(set(vals)) > 1:
        return "disagreement"
    if len(vals) < 2 and c["n_answers"] < len(c["answers"]) and len(c["answers"]) >= redundancy:
        return "not enough sure answers"
    return None


def agreement_report(store, project) -> dict:
    """The ``cinemanet.label-agreement/1`` report (keys documented in its JSON Schema)."""
    cons = consensus(store, project)
    tax = get_taxonomy()
    groups: dict[str, dict] = {}
    ann: dict[str, dict] = defaultdict(
        lambda: {
            "answers": 0,
            "not_sure": 0,
            "gold_answered": 0,
            "gold_correct": 0,
            "compared": 0,
            "agree_with_others": 0,
        }
    )
    for g in project.groups:
        tasks = [c for c in cons.values() if c["group"] == g]
        coders = sorted({a["annotator"] for c in tasks for a in c["answers"]})
        units = []
        for c in tasks:
            by = {a["annotator"]: _value(a) for a in c["answers"]}
            units.append([by.get(n) for n in coders])
        cats = sorted({v for u in units for v in u if v is not None})
        order = ordinal_order(g)
        alpha_ord = None
        if order:
            ord_units = [[v if v in order else None for v in u] for u in units]
            alpha_ord = krippendorff_alpha(ord_units, "ordinal", [k for k in order])
        counts = (
            np.array([[sum(v == k for v in u) for k in cats] for u in units], np.float64) if cats else np.zeros((0, 0))
        )
        o = coincidence_matrix(units, cats)
        paired = [u for u in units if sum(v is not None for v in u) >= 2]
        pct = [max(Counter(v for v in u if v is not None).values()) / sum(v is not None for v in u) for u in paired]
        dis = o.copy()
        np.fill_diagonal(dis, 0.0)
        groups[g] = {
            "title": tax.group(g).title,
            "items": len(tasks),
            "answers": sum(c["n_answers"] for c in tasks),
            "pairable_items": len(paired),
            "annotators": len(coders),
            "alpha_nominal": krippendorff_alpha(units, "nominal", cats),
            "alpha_ordinal": alpha_ord,
            "fleiss_kappa": fleiss_kappa(counts) if cats else None,
            "percent_agreement": float(np.mean(pct)) if pct else None,
            "no_consensus": sum(1 for c in tasks if c["label"] is None and c["n_answers"] > 0),
            "reviewed": sum(1 for c in tasks if c["review"] is not None),
            "disagreements": {"labels": cats, "matrix": [[round(float(x), 3) for x in row] for row in dis]},
        }
        for c in tasks:
            vals = {a["annotator"]: _value(a) for a in c["answers"]}
            for a in c["answers"]:
                s = ann[a["annotator"]]
                if a["kind"] == "skip":
                    continue
                s["answers"] += 1
                v = vals[a["annotator"]]
                if v is None:
                    s["not_sure"] += 1
                    continue
                if c["gold"] is not None:
                    s["gold_answered"] += 1
                    s["gold_correct"] += int(v == c["gold"])
                # leave-one-out: the others' majority, so nobody agrees with themselves
                ref = (
                    c["review"]["label"]
                    if c["review"]
                    else majority([x for n, x in vals.items() if n != a["annotator"]])
                )
                if ref is not None:
                    s["compared"] += 1
                    s["agree_with_others"] += int(v == ref)
    annotators = {}
    for n, s in sorted(ann.items()):
        annotators[n] = {
            **s,
            "gold_accuracy": s["gold_correct"] / s["gold_answered"] if s["gold_answered"] else None,
            "agreement_with_consensus": s["agree_with_others"] / s["compared"] if s["compared"] else None,
        }
    return {
        "schema": AGREEMENT_SCHEMA,
        "project": project.name,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "redundancy": project.redundancy,
        "groups": groups,
        "annotators": annotators,
        "review_queue": sum(1 for c in cons.values() if needs_review(c, project.redundancy)),
    }


def _f(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def agreement_markdown(rep: dict) -> str:
    lines = [
        f"# Agreement: {rep['project']}",
        "",
        "| group | items | answers | annotators | Krippendorff alpha (nominal) | alpha (ordinal) | Fleiss kappa | % agreement | no consensus | reviewed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g, r in rep["groups"].items():
        lines.append(
            f"| {g} | {r['items']} | {r['answers']} | {r['annotators']} | {_f(r['alpha_nominal'])} | {_f(r['alpha_ordinal'])} | "
            f"{_f(r['fleiss_kappa'])} | {_f(r['percent_agreement'])} | {r['no_consensus']} | {r['reviewed']} |"
        )
    lines += [
        "",
        "## Annotators",
        "",
        "| annotator | answers | not sure | gold answered | gold accuracy | agreement with the others |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n, s in rep["annotators"].items():
        lines.append(
            f"| {n} | {s['answers']} | {s['not_sure']} | {s['gold_answered']} | {_f(s['gold_accuracy'])} | {_f(s['agreement_with_consensus'])} |"
        )
    lines += ["", f"Items waiting for review: {rep['review_queue']}.", ""]
    for g, r in rep["groups"].items():
        d = r["disagreements"]
        pairs = [
            (d["matrix"][i][j], a, b)
            for i, a in enumerate(d["labels"])
            for j, b in enumerate(d["labels"])
            if i < j and d["matrix"][i][j] > 0
        ]
        if pairs:
            lines += (
                [f"### Disagreements in {g}", ""]
                + [
                    f"- {a.rsplit('.', 1)[-1]} vs {b.rsplit('.', 1)[-1]}: {x:g}"
                    for x, a, b in sorted(pairs, reverse=True)[:10]
                ]
                + [""]
            )
    return "\n".join(lines)


def disagreement_png(rep: dict, group: str, path: Path) -> Path | None:
    d = rep["groups"][group]["disagreements"]
    if not d["labels"]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k.rsplit(".", 1)[-1] for k in d["labels"]]
    M = np.array(d["matrix"])
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 + 0.6 * len(names)), max(4.0, 1.2 + 0.6 * len(names))))
    ax.imshow(M, cmap="Reds")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            if M[i, j]:
                ax.text(j, i, f"{M[i, j]:g}", ha="center", va="center", fontsize=8)
    ax.set_title(f"{group}\npairs of differing answers", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
