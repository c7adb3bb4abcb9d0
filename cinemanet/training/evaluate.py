"""Evaluate a whole model (as ``cinemanet tag`` runs it) on a data set split.

    cinemanet evaluate --dataset stills --split test [--augment tones,level] [--model path]

Per group: accuracy, macro-F1, confusion matrix (also a PNG), within-one accuracy for ordered
groups, ECE of the model's confidences before and after temperature scaling (the temperature is
fitted on the other half of the evaluated images, never on the images it is scored on), and
accuracy per slice of every manifest column (source, film, annotator, licence, extra columns,
data set). The model's scores are compared on the labels the data set uses for that group
(renormalised over them): a data set that only knows "over the shoulder" and "master" is asked
which of the two the model prefers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..datasets import Dataset
from ..datasets.records import PROVENANCE_FIELDS, Record
from ..taxonomy import get_taxonomy
from . import augment
from .metrics import classification_report, crossfit_temperature_ece
from .sources import ID_CHARS, split_ids

REPORT_SCHEMA = "cinemanet.evaluation/1"


@dataclass
class Case:
    path: str
    sha256: str  # of the file
    recipe: augment.Recipe | None
    group: str
    label: str
    slices: dict[str, str]

    @property
    def key(self) -> tuple:
        return (self.sha256, self.recipe)


def cases(
    datasets: Sequence[Dataset], split: str | None, groups=None, concepts=(), seed: int = 1, deep_focus=()
) -> list[Case]:
    """What to score: every labelled (image, group) of the split, and generated examples of
    ``concepts`` made from the split's images with ``seed``."""
    out: list[Case] = []
    seen: set[tuple[str, str]] = set()
    sources: dict[str, tuple[Dataset, Record]] = {}
    for ds in datasets:
        for r in ds.records:
            if split not in (None, "all") and r.split != split:
                continue
            sources.setdefault(r.sha256, (ds, r))
            sl = {c: r.column(c) or "unknown" for c in PROVENANCE_FIELDS} | dict(r.extra) | {"dataset": ds.name}
            for g, lab in r.labels.items():
                if (groups and g not in groups) or (r.sha256, g) in seen:
                    continue
                seen.add((r.sha256, g))
                out.append(Case(str(ds.path_of(r)), r.sha256, None, g, lab, sl))
    for concept in concepts:
        spec = augment.CONCEPTS[concept]
        for sha, (ds, r) in sorted(sources.items()):
            rec = augment.plan(concept, sha, seed, ds.name in deep_focus)
            sl = {
                "dataset": ds.name,
                "generator": f"{concept}:{rec.label.rsplit('.', 1)[1]}",
                "source": r.source or "unknown",
            }
            out.append(Case(str(ds.path_of(r)), sha, rec, spec.group, rec.label, sl))
    return out


_worker: dict = {}


def _init(model: str, groups: tuple[str, ...] = ()) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ..concepts import ConceptModel, model_spec
    from ..concepts.features import feature_needs
    from ..perception import Perception

    spec = model_spec(model)
    cm = ConceptModel(spec)
    # only the evaluated groups and the groups they read: the analyzers of the rest (OCR, pose...)
    # would cost time and change nothing
    keep: list[str] = []

    def visit(g: str) -> None:
        if g not in keep:
            for dep in cm.predictors[g].after:
                visit(dep)
            keep.append(g)

    for g in groups or cm.predictors:
        visit(g)
    names: list[str] = []
    for g in keep:
        p = cm.predictors[g]
        names += list(p.needs) + [n for h in p.heads.values() for n in feature_needs(h.inputs)]
    options = {k: dict(v) for k, v in spec.analyzer_options.items()}
    options.setdefault("backbone", {})["threads"] = 1
    _worker.update(
        cm=cm, order=[g for g in cm.order if g in keep], perception=Perception(list(dict.fromkeys(names)), options)
    )


def _score(job):
    from ..media import load_image

    path, recipe, sha, groups = job
    cm = _worker["cm"]
    try:
        frame = load_image(path)
        if recipe is not None:
            frame = augment.generate(frame, recipe, sha)
            if frame is None:
                return None
        ev = _worker["perception"].perceive(frame)
        done: dict = {}
        for g in _worker["order"]:
            done[g] = cm.predictors[g].predict(ev, done)
    except Exception:  # noqa: BLE001 - an unreadable image is reported, not fatal
        return None
    return {g: done[g] for g in groups}


def score_cases(model: str, cs: list[Case], jobs: int | None = None, progress=None) -> dict[tuple, dict | None]:
    """The model's per-group scores for every distinct image of ``cs`` (parallel processes)."""
    need: dict[tuple, set[str]] = defaultdict(set)
    first: dict[tuple, Case] = {}
    for c in cs:
        need[c.key].add(c.group)
        first.setdefault(c.key, c)
    keys = list(need)
    todo = [(first[k].path, first[k].recipe, first[k].sha256, sorted(need[k])) for k in keys]
    jobs = jobs or os.cpu_count() or 1
    from concurrent.futures import ProcessPoolExecutor

    out = {}
    groups = tuple(sorted({c.group for c in cs}))
    with ProcessPoolExecutor(
        jobs, mp_context=mp.get_context("spawn"), initializer=_init, initargs=(str(model), groups)
    ) as pool:
        for i, (k, s) in enumerate(zip(keys, pool.map(_score, todo, chunksize=4))):
            out[k] = s
            if progress:
                progress(i + 1, len(keys))
    return out


def _group_report(g: str, cs: list[Case], scores: dict) -> dict | None:
    grp = get_taxonomy().group(g)
    rows = [(c, scores.get(c.key)) for c in cs]
    rows = [(c, s[g]) for c, s in rows if s is not None]
    if not rows:
        return None
    labels = [k for k in (grp.order or grp.keys) if any(c.label == k for c, _ in rows)]
    P = np.array([[s.get(k, 0.0) for k in labels] for _, s in rows], np.float64)
    tot = P.sum(1, keepdims=True)
    P = np.where(tot > 0, P / np.where(tot > 0, tot, 1), 1.0 / len(labels))
    y = np.array([labels.index(c.label) for c, _ in rows])
    rep = classification_report(y, P, labels, grp.order if grp.ordered else None)
    rep["ece_after_temperature"], rep["temperatures"] = crossfit_temperature_ece(P, y)
    rep["unscored"] = len(cs) - len(rows)
    pred = P.argmax(1)
    slices: dict[str, dict[str, dict]] = {}
    for col in sorted({k for c, _ in rows for k in c.slices}):
        vals: dict[str, list[bool]] = defaultdict(list)
        for (c, _), ok in zip(rows, pred == y):
            vals[c.slices.get(col, "unknown")].append(bool(ok))
        slices[col] = {
            v: {"n": len(oks), "accuracy": float(np.mean(oks))}
            for v, oks in sorted(vals.items(), key=lambda kv: -len(kv[1]))
        }
    rep["slices"] = slices
    return rep


def evaluate(
    model: str | Path,
    datasets: Sequence[Dataset],
    split: str | None = "test",
    groups: Sequence[str] | None = None,
    concepts: Sequence[str] = (),
    seed: int = 1,
    deep_focus: Sequence[str] = (),
    out_dir: Path | None = None,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Score ``model`` on the data sets and write ``evaluation.json``, ``evaluation.md`` and
    ``confusion-<group>.png`` into ``out_dir`` (if given). Returns the report."""
    t0 = time.perf_counter()
    cs = cases(datasets, split, groups, concepts, seed, deep_focus)
    if not cs:
        raise ValueError(f"nothing to evaluate: no labelled images in split {split!r}")
    seen = trained_on(model)
    dropped: dict[str, int] = defaultdict(int)
    for c in cs:
        if c.sha256[:ID_CHARS] in seen.get(c.group, ()):
            dropped[c.group] += 1
    if dropped:
        # scoring a model on its own training images would overstate it: leave them out, say so
        cs = [c for c in cs if c.sha256[:ID_CHARS] not in seen.get(c.group, ())]
        for g, n in sorted(dropped.items()):
            log(f"{g}: {n} images of this split were in the model's training data; left out")
        if not cs:
            raise ValueError(
                f"nothing to evaluate: every labelled image of split {split!r} was used to train the model"
            )
    log(f"scoring {len({c.key for c in cs})} images ({len(cs)} labels) with model {model}...")
    scores = score_cases(str(model), cs, jobs)
    by_group: dict[str, list[Case]] = defaultdict(list)
    for c in cs:
        by_group[c.group].append(c)
    report = {
        "schema": REPORT_SCHEMA,
        "model": str(model),
        "datasets": [{"name": d.name, "manifest_sha256": d.manifest_sha256()} for d in datasets],
        "split": split,
        "generated": {"concepts": list(concepts), "seed": seed} if concepts else None,
        "groups": {},
    }
    for g in sorted(by_group):
        rep = _group_report(g, by_group[g], scores)
        if rep is not None:
            rep["left_out_seen_in_training"] = dropped.get(g, 0)
            report["groups"][g] = rep
    report["seconds"] = time.perf_counter() - t0
    if out_dir is not None:
        write_report(report, Path(out_dir))
    return report


def trained_on(model: str | Path) -> dict[str, set[str]]:
    """Per group, the hash prefixes of the images the model's heads were fitted on."""
    from ..concepts.heads import LinearHead
    from ..concepts.model import model_spec

    spec = model_spec(model)
    out: dict[str, set[str]] = {}
    for g, gs in spec.groups.items():
        for rel in (gs.heads or {}).values():
            ids = LinearHead.load(spec.root / rel).meta.get("train_ids")
            if ids:
                out.setdefault(g, set()).update(split_ids(ids))
    return out


def write_report(report: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    for g, rep in report["groups"].items():
        confusion_png(rep, g, out_dir / f"confusion-{g}.png")
    (out_dir / "evaluation.md").write_text(report_markdown(report))


def _short(k: str) -> str:
    return k.split(".", 2)[-1] if k.count(".") >= 2 else k


def confusion_png(rep: dict, group: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array(rep["confusion"])
    labels = [_short(l) for l in rep["labels"]]
    rows = m / np.maximum(1, m.sum(1, keepdims=True))
    size = 2.5 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(
                j, i, str(m[i, j]), ha="center", va="center", fontsize=7, color="white" if rows[i, j] > 0.5 else "black"
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{group}: accuracy {rep['accuracy']:.3f} (n={rep['n_test']})", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true label")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_markdown(report: dict, max_slice_values: int = 12) -> str:
    names = ", ".join(d["name"] for d in report["datasets"])
    out = [f"# Evaluation of `{report['model']}`", "", f"Data sets: {names}; split: `{report['split']}`."]
    if report.get("generated"):
        out.append(
            f"Generated examples: {', '.join(report['generated']['concepts'])} (seed {report['generated']['seed']})."
        )
    out += [
        "",
        "| group | n | accuracy | macro-F1 | within one | ECE | ECE after T |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for g, r in report["groups"].items():
        w1 = f"{r['within_one']:.3f}" if "within_one" in r else ""
        out.append(
            f"| `{g}` | {r['n_test']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {w1} | {r['ece']:.3f} | {r['ece_after_temperature']:.3f} |"
        )
    for g, r in report["groups"].items():
        labels = [_short(l) for l in r["labels"]]
        out += [
            "",
            f"## `{g}`",
            "",
            f"![confusion](confusion-{g}.png)",
            "",
            "| true \\ predicted | " + " | ".join(labels) + " | recall |",
            "|---|" + "---:|" * (len(labels) + 1),
        ]
        for lab, row, rec in zip(labels, r["confusion"], r["per_class"]["recall"]):
            out.append(f"| {lab} | " + " | ".join(map(str, row)) + f" | {rec:.2f} |")
        for col, vals in r["slices"].items():
            if len(vals) < 2 and col != "source":
                continue
            out += ["", f"Accuracy by {col}:", "", f"| {col} | n | accuracy |", "|---|---:|---:|"]
            items = list(vals.items())
            out += [f"| {v} | {s['n']} | {s['accuracy']:.3f} |" for v, s in items[:max_slice_values]]
            if len(items) > max_slice_values:
                out.append(f"| ({len(items) - max_slice_values} more) | | |")
    return "\n".join(out) + "\n"
