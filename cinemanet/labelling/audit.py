"""The bias audit of a data set, and optionally of a model trained on it.

    cinemanet audit --dataset DS [--model M] [--by source,film,annotator] --out DIR

Writes ``audit.json`` (``cinemanet.audit/1``), ``audit.md`` and PNG plots:

- label distribution per group, overall and per slice (a slice = a value of a manifest column
  such as source, film, annotator, licence, or one the audit measures: colour or grayscale,
  aspect);
- slices whose share of a label differs from the rest of the data: Fisher's exact test per
  (group, column, slice, label), Wilson 95% intervals, Holm's correction over every test of
  the audit (family-wise error ``alpha``); only slices with at least ``MIN_SLICE`` images;
- with ``--model``: per-slice accuracy and calibration (ECE) on the images the model was not
  trained on, and detector coverage per slice (how often a face, a body, a person is found);
- annotator disagreement per slice: conflicting labels merged at import, and the per-item
  agreement a crowd project exported;
- a plain-language summary and what the audit cannot see.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..datasets import Dataset
from ..datasets.records import PROVENANCE_FIELDS
from ..taxonomy import get_taxonomy

AUDIT_SCHEMA = "cinemanet.audit/1"
MIN_SLICE = 10  # smaller slices are listed but not tested: too few images to say anything
MAX_VALUES = 40  # a column with more distinct values (file names, ids) is not a slice
DETECTORS = {"face": "shot.subject.person.face", "body": "shot.subject.person.body", "person": "shot.subject.person"}
SKIP_COLUMNS = ("label_item", "label_project")
CANNOT_SEE = [
    "Who is in the pictures. No demographic labels (gender, age, skin tone, ethnicity, disability) are collected, so the audit "
    "cannot say whether a group of people is over- or under-represented, or whether the model works worse for them. A project can "
    "add such a column to its manifest (a slice column, with the consent of the people shown and of the annotators noted in the "
    "data set's import log) and the audit will slice by it like any other.",
    "Stereotypes in what the labels mean (which scenes get called 'low key', whose faces fill close-ups): the audit counts labels, "
    "it does not judge them.",
    "Images that are not in the data set: a missing kind of film (silent, animation, non-Western cinema, night exteriors) shows up "
    "only as a label or slice with few images, never as a finding.",
    "Label noise that every annotator shares: agreement measures consistency, not correctness.",
    "Detector coverage is the model's own face and body detectors; where they fail for some people, the audit sees fewer faces, "
    "not the failure.",
]


# --- statistics ------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p of the 2x2 table [[a, b], [c, d]]."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[a, b], [c, d]])[1])


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p values (monotone, capped at 1)."""
    p = np.asarray(pvalues, np.float64)
    m = len(p)
    order = np.argsort(p)
    adj = np.empty(m)
    run = 0.0
    for rank, i in enumerate(order):
        run = max(run, (m - rank) * p[i])
        adj[i] = min(1.0, run)
    return adj


# --- inputs ----------------------------------------------------------------------------------
def _measured_slices(path: Path) -> dict[str, str]:
    """Slices the audit measures itself: colour or grayscale, aspect."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            im.draft("RGB", (64, 64))
            a = np.asarray(im.convert("RGB").resize((32, 32)), np.int16)
    except Exception:  # noqa: BLE001 - an unreadable file gets no measured slices
        return {}
    gray = bool(np.abs(a[..., 0] - a[..., 1]).mean() < 2 and np.abs(a[..., 1] - a[..., 2]).mean() < 2)
    r = w / max(1, h)
    aspect = (
        "portrait"
        if r < 0.9
        else "square"
        if r < 1.1
        else "3:2 or narrower"
        if r < 1.6
        else "16:9"
        if r < 1.9
        else "scope (wider than 1.9)"
    )
    return {"colour": "grayscale" if gray else "colour", "aspect": aspect}


def _rows(datasets: Sequence[Dataset]) -> list[dict]:
    out, seen = [], {}
    for ds in datasets:
        for r in ds.records:
            if r.sha256 in seen:  # one image in several data sets: one row, labels merged
                row = seen[r.sha256]
                for g, lab in r.labels.items():
                    row["labels"].setdefault(g, lab)
                row["conflicts"].update(r.conflicts)
                row["agreement"].update(
                    {k.split(".", 1)[1]: float(v) for k, v in r.extra.items() if k.startswith("agreement.") and v}
                )
                if ds.name not in row["slices"]["dataset"].split("+"):
                    row["slices"]["dataset"] += f"+{ds.name}"
                continue
            sl = {c: (r.column(c) or "unknown") for c in PROVENANCE_FIELDS}
            sl |= {
                k: v
                for k, v in r.extra.items()
                if not k.startswith(("answers.", "agreement.", "decided_by.")) and k not in SKIP_COLUMNS
            }
            sl["dataset"] = ds.name
            sl["split"] = r.split or "unknown"
            agree = {
                k.split(".", 1)[1]: float(v)
                for k, v in r.extra.items()
                if k.startswith("agreement.") and v not in ("", None)
            }
            seen[r.sha256] = {
                "sha256": r.sha256,
                "path": ds.path_of(r),
                "labels": dict(r.labels),
                "conflicts": dict(r.conflicts),
                "slices": sl,
                "agreement": agree,
            }
            out.append(seen[r.sha256])
    return out


def _columns(rows: list[dict], by: Sequence[str] | None) -> list[str]:
    if by:
        missing = [c for c in by if not any(c in r["slices"] for r in rows)]
        if missing:
            raise ValueError(
                f"no slice column {', '.join(missing)} in the data set(s); known: {', '.join(sorted({k for r in rows for k in r['slices']}))}"
            )
        return list(by)
    cols = []
    for c in sorted({k for r in rows for k in r["slices"]}):
        vals = {r["slices"].get(c, "unknown") for r in rows}
        if 1 < len(vals) <= MAX_VALUES:
            cols.append(c)
    return cols


# --- the audit -------------------------------------------------------------------------------
def distribution(rows: list[dict], cols: list[str]) -> dict:
    """Per group: label counts overall and per slice value of each column."""
    out: dict[str, dict] = {}
    groups = sorted({g for r in rows for g in r["labels"]})
    for g in groups:
        lab = [r for r in rows if g in r["labels"]]
        overall = Counter(r["labels"][g] for r in lab)
        per: dict[str, dict] = {}
        for c in cols:
            by: dict[str, Counter] = defaultdict(Counter)
            for r in lab:
                by[r["slices"].get(c, "unknown")][r["labels"][g]] += 1
            per[c] = {v: dict(cnt) for v, cnt in sorted(by.items(), key=lambda kv: -sum(kv[1].values()))}
        out[g] = {"n": len(lab), "labels": dict(overall.most_common()), "by": per}
    return out


def share_tests(dist: dict, alpha: float) -> tuple[list[dict], int]:
    """Every (group, column, slice, label) with a big enough slice: Fisher's exact test of the
    slice's share of the label against the rest; Holm-corrected. Returns significant ones."""
    tests = []
    for g, d in dist.items():
        n_all = d["n"]
        for c, per in d["by"].items():
            if len(per) < 2:
                continue
            for v, cnt in per.items():
                n_s = sum(cnt.values())
                if n_s < MIN_SLICE or n_all - n_s < MIN_SLICE:
                    continue
                for lab, n_lab in d["labels"].items():
                    k_s = cnt.get(lab, 0)
                    k_r = n_lab - k_s
                    n_r = n_all - n_s
                    tests.append(
                        {
                            "group": g,
                            "column": c,
                            "slice": v,
                            "label": lab,
                            "n_slice": n_s,
                            "k_slice": k_s,
                            "n_rest": n_r,
                            "k_rest": k_r,
                            "share_slice": k_s / n_s,
                            "share_rest": k_r / n_r,
                            "ci_slice": wilson(k_s, n_s),
                            "ci_rest": wilson(k_r, n_r),
                            "p": fisher_p(k_s, n_s - k_s, k_r, n_r - k_r),
                        }
                    )
    if not tests:
        return [], 0
    adj = holm([t["p"] for t in tests])
    found = []
    for t, a in zip(tests, adj):
        t["p_holm"] = float(a)
        if a < alpha:
            t["ratio"] = (t["share_slice"] / t["share_rest"]) if t["share_rest"] > 0 else None
            found.append(t)
    found.sort(key=lambda t: (t["p_holm"], -abs(t["share_slice"] - t["share_rest"])))
    return found, len(tests)


def disagreement(rows: list[dict], cols: list[str]) -> dict:
    """Per column and slice: images whose labels conflicted at import (dropped), and the mean
    disagreement (1 - per-item agreement) of crowd-labelled images."""
    out: dict[str, dict] = {}
    for c in cols:
        by: dict[str, dict] = defaultdict(lambda: {"n": 0, "conflicts": 0, "crowd_items": 0, "disagreement_sum": 0.0})
        for r in rows:
            s = by[r["slices"].get(c, "unknown")]
            s["n"] += 1
            s["conflicts"] += int(bool(r["conflicts"]))
            for a in r["agreement"].values():
                s["crowd_items"] += 1
                s["disagreement_sum"] += 1.0 - a
        out[c] = {
            v: {
                "n": s["n"],
                "conflicts": s["conflicts"],
                "conflict_rate": s["conflicts"] / s["n"],
                "crowd_items": s["crowd_items"],
                "mean_disagreement": s["disagreement_sum"] / s["crowd_items"] if s["crowd_items"] else None,
            }
            for v, s in sorted(by.items(), key=lambda kv: -kv[1]["n"])
        }
    return out


def _model_part(rows: list[dict], cols: list[str], model: str, jobs, log) -> dict:
    """Accuracy and calibration per slice on unseen images; detector coverage per slice."""
    from ..training.evaluate import Case, trained_on, score_cases
    from ..training.metrics import expected_calibration_error
    from ..training.sources import ID_CHARS

    tax = get_taxonomy()
    seen = trained_on(model)
    cases = []
    for r in rows:
        for g, lab in r["labels"].items():
            cases.append(Case(str(r["path"]), r["sha256"], None, g, lab, r["slices"]))
        cases.append(Case(str(r["path"]), r["sha256"], None, "shot.subject", "", r["slices"]))
    log(f"scoring {len(rows)} images with model {model} (accuracy, calibration, detector coverage)...")
    scores = score_cases(model, cases, jobs)
    acc: dict[str, dict] = {}
    left_out: dict[str, int] = {}
    for g in sorted({c.group for c in cases if c.group != "shot.subject" or c.label}):
        cs = [c for c in cases if c.group == g and c.label]
        unseen = [c for c in cs if c.sha256[:ID_CHARS] not in seen.get(g, ())]
        left_out[g] = len(cs) - len(unseen)
        grp = tax.group(g)
        if grp.multi_label:
            continue  # independent per-label scores (a parent outscores its child): argmax accuracy means nothing
        labels = [k for k in (grp.order or grp.keys) if any(c.label == k for c in unseen)]
        rows_ = [(c, (scores.get(c.key) or {}).get(g)) for c in unseen]
        rows_ = [(c, s) for c, s in rows_ if s is not None]
        if len(labels) < 2 or not rows_:
            continue
        P = np.array([[s.get(k, 0.0) for k in labels] for _, s in rows_])
        tot = P.sum(1, keepdims=True)
        P = np.where(tot > 0, P / np.where(tot > 0, tot, 1), 1.0 / len(labels))
        y = np.array([labels.index(c.label) for c, _ in rows_])
        ok = P.argmax(1) == y
        res = {
            "n": len(y),
            "accuracy": float(ok.mean()),
            "ci": wilson(int(ok.sum()), len(ok)),
            "ece": expected_calibration_error(P, y),
            "left_out_seen_in_training": left_out[g],
            "by": {},
        }
        for col in cols:
            vals = np.array([c.slices.get(col, "unknown") for c, _ in rows_])
            per = {}
            for v in sorted(set(vals.tolist()), key=lambda v: -(vals == v).sum()):
                m = vals == v
                k = int(ok[m].sum())
                rest_n, rest_k = int((~m).sum()), int(ok[~m].sum())
                per[v] = {
                    "n": int(m.sum()),
                    "accuracy": k / int(m.sum()),
                    "ci": wilson(k, int(m.sum())),
                    "ece": expected_calibration_error(P[m], y[m]) if m.sum() >= MIN_SLICE else None,
                    "p_vs_rest": fisher_p(k, int(m.sum()) - k, rest_k, rest_n - rest_k)
                    if m.sum() >= MIN_SLICE and rest_n >= MIN_SLICE
                    else None,
                }
            res["by"][col] = per
        acc[g] = res
    # detector coverage: the subject group's face / body / person scores at the 0.5 threshold
    cov: dict[str, dict] = {}
    subj = {r["sha256"]: (scores.get((r["sha256"], None)) or {}).get("shot.subject") for r in rows}
    have = [r for r in rows if subj.get(r["sha256"]) is not None]
    for col in ["all"] + cols:
        by: dict[str, dict] = defaultdict(lambda: {"n": 0, **{d: 0 for d in DETECTORS}})
        for r in have:
            v = "all" if col == "all" else r["slices"].get(col, "unknown")
            s = by[v]
            s["n"] += 1
            for d, key in DETECTORS.items():
                s[d] += int(subj[r["sha256"]].get(key, 0.0) >= 0.5)
        cov[col] = {
            v: {
                "n": s["n"],
                **{d: {"found": s[d], "share": s[d] / s["n"], "ci": wilson(s[d], s["n"])} for d in DETECTORS},
            }
            for v, s in sorted(by.items(), key=lambda kv: -kv[1]["n"])
        }
    return {"model": str(model), "accuracy": acc, "coverage": cov, "scored_images": len(have)}


def _short(k: str) -> str:
    return k.rsplit(".", 1)[-1]


def summary(rep: dict) -> list[str]:
    """Plain sentences: what is over- and under-represented, where the model is weaker."""
    tax = get_taxonomy()
    out = []
    labelled = set(rep["distribution"])
    missing = [g.title for g in tax.groups if g.key not in labelled]
    if missing:
        out.append(
            f"The data set labels {len(labelled)} of {len(tax.groups)} concept groups; nothing is known here about: {', '.join(missing)}."
        )
    for g, d in rep["distribution"].items():
        offered = [lab for lab in tax.group(g).labels if not lab.is_na]
        have = d["labels"]
        top, n_top = next(iter(have.items()))
        rare = [k for k, n in have.items() if n / d["n"] < 0.05]
        absent = [
            lab.key
            for lab in offered
            if lab.key not in have and (not tax.group(g).multi_label or tax.group(g).depth(lab.key) <= 1)
        ]
        s = f"{tax.group(g).title}: {d['n']} labelled images; the most common label, {_short(top)}, is {100 * n_top / d['n']:.0f}%."
        if rare:
            s += f" Under 5% each: {', '.join(_short(k) for k in rare)}."
        if absent and len(absent) <= 12:
            s += f" Never labelled: {', '.join(_short(k) for k in absent)}."
        elif absent:
            s += f" {len(absent)} labels of the group are never labelled."
        out.append(s)
    per_pair: Counter = Counter()
    shown = 0
    for t in rep["findings"]:
        # a two-valued column or a two-label group gives mirror images of one finding: say it once
        key = (t["group"], t["column"])
        if per_pair[key] >= 1 and (
            len(rep["distribution"][t["group"]]["labels"]) == 2
            or len(rep["distribution"][t["group"]]["by"][t["column"]]) == 2
        ):
            continue
        if per_pair[key] >= 2 or shown >= 8:
            continue
        per_pair[key] += 1
        shown += 1
        more = "more" if t["share_slice"] > t["share_rest"] else "less"
        ratio = f" ({t['ratio']:.1f}x)" if t.get("ratio") and t["share_slice"] > t["share_rest"] else ""
        out.append(
            f"{t['column']} = {t['slice']}: {_short(t['label'])} is {100 * t['share_slice']:.0f}% of its {t['group']} labels "
            f"against {100 * t['share_rest']:.0f}% in the rest: {more} often{ratio}, p = {t['p_holm']:.2g} after Holm's correction."
        )
    m = rep.get("model")
    if m:
        for g, a in m["accuracy"].items():
            for col, per in a["by"].items():
                for v, s in per.items():
                    if s["p_vs_rest"] is not None and s["p_vs_rest"] < rep["alpha"] and s["accuracy"] < a["accuracy"]:
                        out.append(
                            f"The model is less accurate on {g} for {col} = {v}: {100 * s['accuracy']:.0f}% against "
                            f"{100 * a['accuracy']:.0f}% overall (n = {s['n']}, uncorrected p = {s['p_vs_rest']:.2g})."
                        )
        allc = m["coverage"].get("all", {}).get("all")
        if allc:
            out.append(
                f"Detectors find a face in {100 * allc['face']['share']:.0f}% and a body in {100 * allc['body']['share']:.0f}% "
                f"of the {allc['n']} images."
            )
    return out


def _plot_distribution(rep: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for g, d in rep["distribution"].items():
        labels = list(d["labels"])[:12]
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(d["labels"]) + 1.2))
        ks = list(d["labels"])[:30]
        ax.barh(range(len(ks)), [d["labels"][k] for k in ks], color="#4c78a8")
        ax.set_yticks(range(len(ks)), [_short(k) for k in ks])
        ax.invert_yaxis()
        ax.set_xlabel("images")
        ax.set_title(f"{g}: labels ({d['n']} images)")
        fig.tight_layout()
        fig.savefig(out / f"distribution-{g}.png", dpi=90)
        plt.close(fig)
        files.append(f"distribution-{g}.png")
        for col, per in d["by"].items():
            vals = list(per)[:12]
            if len(vals) < 2:
                continue
            M = np.array([[per[v].get(k, 0) for k in labels] for v in vals], np.float64)
            M = M / np.maximum(M.sum(1, keepdims=True), 1)
            fig, ax = plt.subplots(figsize=(8, 0.5 * len(vals) + 1.5))
            left = np.zeros(len(vals))
            cmap = plt.get_cmap("tab20")
            for j, k in enumerate(labels):
                ax.barh(range(len(vals)), M[:, j], left=left, color=cmap(j % 20), label=_short(k))
                left += M[:, j]
            ax.set_yticks(range(len(vals)), [f"{v[:30]} (n={sum(per[v].values())})" for v in vals])
            ax.invert_yaxis()
            ax.set_xlim(0, 1)
            ax.set_xlabel("share of labels")
            ax.set_title(f"{g} by {col}")
            ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
            fig.tight_layout()
            name = f"distribution-{g}-{col}.png".replace("/", "_")
            fig.savefig(out / name, dpi=90)
            plt.close(fig)
            files.append(name)
    m = rep.get("model")
    if m:
        for g, a in m["accuracy"].items():
            for col, per in a["by"].items():
                vals = [v for v in per if per[v]["n"] >= MIN_SLICE][:15]
                if len(vals) < 2:
                    continue
                fig, ax = plt.subplots(figsize=(7, 0.4 * len(vals) + 1.5))
                accs = [per[v]["accuracy"] for v in vals]
                err = np.maximum(
                    np.array(
                        [[per[v]["accuracy"] - per[v]["ci"][0], per[v]["ci"][1] - per[v]["accuracy"]] for v in vals]
                    ).T,
                    0.0,
                )
                ax.barh(range(len(vals)), accs, xerr=err, color="#4c78a8")
                ax.axvline(a["accuracy"], color="k", lw=1, ls="--")
                ax.set_yticks(range(len(vals)), [f"{v[:30]} (n={per[v]['n']})" for v in vals])
                ax.invert_yaxis()
                ax.set_xlim(0, 1)
                ax.set_title(f"{g}: accuracy by {col}\n(95% CI; dashed: overall)", fontsize=9)
                fig.tight_layout()
                name = f"accuracy-{g}-{col}.png"
                fig.savefig(out / name, dpi=90)
                plt.close(fig)
                files.append(name)
    return files


def run_audit(
    datasets: Sequence[Dataset],
    out: Path,
    *,
    model: str | None = None,
    by: Sequence[str] | None = None,
    split: str = "all",
    alpha: float = 0.05,
    jobs: int | None = None,
    measure_images: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    t0 = time.perf_counter()
    rows = _rows(datasets)
    if not rows:
        raise ValueError("nothing to audit: the data set(s) have no images")
    if measure_images:
        for r in rows:
            r["slices"] |= _measured_slices(r["path"])
    cols = _columns(rows, by)
    dist = distribution(rows, cols)
    found, n_tests = share_tests(dist, alpha)
    rep = {
        "schema": AUDIT_SCHEMA,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "datasets": [
            {"name": d.name, "manifest_sha256": d.manifest_sha256(), "images": len(d.records)} for d in datasets
        ],
        "images": len(rows),
        "columns": cols,
        "alpha": alpha,
        "min_slice": MIN_SLICE,
        "tests": n_tests,
        "distribution": dist,
        "findings": found,
        "disagreement": disagreement(rows, cols),
        "model": None,
        "cannot_see": CANNOT_SEE,
    }
    if model:
        mrows = rows if split in ("all", None) else [r for r in rows if r["slices"].get("split") == split]
        rep["model"] = _model_part(mrows, cols, model, jobs, log)
    rep["summary"] = summary(rep)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep["plots"] = _plot_distribution(rep, out)
    rep["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "audit.json").write_text(json.dumps(rep, indent=2, sort_keys=True, default=float) + "\n", encoding="utf-8")
    (out / "audit.md").write_text(audit_markdown(rep), encoding="utf-8")
    return rep


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def audit_markdown(rep: dict, heading: str = "#", plots: bool = True) -> str:
    h = heading
    data = ", ".join(
        "`%s` (%d images, manifest %s)" % (d["name"], d["images"], d["manifest_sha256"][:12]) for d in rep["datasets"]
    )
    L = (
        [
            f"{h} Bias audit",
            "",
            f"Data: {data}. "
            f"Slice columns: {', '.join(rep['columns']) or 'none'}. {rep['tests']} share tests (Fisher's exact, slices of at least "
            f"{rep['min_slice']} images), Holm-corrected at a family-wise error rate of {rep['alpha']}.",
            "",
            f"{h}# Summary",
            "",
        ]
        + [f"- {s}" for s in rep["summary"]]
        + [""]
    )
    L += [f"{h}# Label distribution", ""]
    for g, d in rep["distribution"].items():
        L += [
            f"**{g}** ({d['n']} images): "
            + ", ".join(f"{_short(k)} {n} ({_pct(n / d['n'])})" for k, n in d["labels"].items()),
            "",
        ]
    L += [f"{h}# Slices that differ from the rest", ""]
    if rep["findings"]:
        L += [
            "| group | slice | label | share in slice (95% CI) | share in the rest (95% CI) | p (Holm) |",
            "|---|---|---|---|---|---:|",
        ]
        for t in rep["findings"][:40]:
            L.append(
                f"| {t['group']} | {t['column']} = {t['slice']} (n={t['n_slice']}) | {_short(t['label'])} | "
                f"{_pct(t['share_slice'])} ({_pct(t['ci_slice'][0])}-{_pct(t['ci_slice'][1])}) | "
                f"{_pct(t['share_rest'])} ({_pct(t['ci_rest'][0])}-{_pct(t['ci_rest'][1])}) | {t['p_holm']:.2g} |"
            )
        if len(rep["findings"]) > 40:
            L.append(f"\n... and {len(rep['findings']) - 40} more in audit.json.")
    else:
        L.append("None significant.")
    L.append("")
    m = rep.get("model")
    if m:
        L += [
            f"{h}# Model `{m['model']}`: accuracy and calibration per slice",
            "",
            "On images the model was not trained on (its training images are left out of every figure).",
        ]
        for g, a in m["accuracy"].items():
            L += [
                "",
                f"**{g}**: accuracy {_pct(a['accuracy'])} ({_pct(a['ci'][0])}-{_pct(a['ci'][1])}), ECE {a['ece']:.3f}, "
                f"n = {a['n']} ({a['left_out_seen_in_training']} training images left out)",
                "",
                "| slice | n | accuracy (95% CI) | ECE |",
                "|---|---:|---|---:|",
            ]
            for col, per in a["by"].items():
                for v, s in list(per.items())[:12]:
                    L.append(
                        f"| {col} = {v} | {s['n']} | {_pct(s['accuracy'])} ({_pct(s['ci'][0])}-{_pct(s['ci'][1])}) | "
                        f"{'n/a' if s['ece'] is None else format(s['ece'], '.3f')} |"
                    )
        L += [
            "",
            f"{h}# Detector coverage per slice",
            "",
            "| slice | n | face found | body found | person found |",
            "|---|---:|---:|---:|---:|",
        ]
        for col, per in m["coverage"].items():
            for v, s in list(per.items())[:12]:
                L.append(
                    f"| {col} = {v} | {s['n']} | {_pct(s['face']['share'])} | {_pct(s['body']['share'])} | {_pct(s['person']['share'])} |"
                )
        L.append("")
    L += [
        f"{h}# Annotator disagreement per slice",
        "",
        "Conflicts: images given two labels of one group at import (the label was dropped). Crowd disagreement: mean of "
        "1 - per-item agreement over images exported from a labelling project.",
        "",
        "| slice | n | conflicts | crowd-labelled | mean disagreement |",
        "|---|---:|---:|---:|---:|",
    ]
    for col, per in rep["disagreement"].items():
        for v, s in list(per.items())[:12]:
            md = "n/a" if s["mean_disagreement"] is None else f"{s['mean_disagreement']:.3f}"
            L.append(
                f"| {col} = {v} | {s['n']} | {s['conflicts']} ({_pct(s['conflict_rate'])}) | {s['crowd_items']} | {md} |"
            )
    L += ["", f"{h}# What this audit cannot see", ""] + [f"- {s}" for s in rep["cannot_see"]] + [""]
    if plots and rep.get("plots"):
        L += [f"{h}# Plots", ""] + [f"- [{p}]({p})" for p in rep["plots"]] + [""]
    return "\n".join(L)
