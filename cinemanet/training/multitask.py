"""Train one multi-task model (a head per concept group, over shared features) from data sets
that each label only some groups.

    cinemanet train --dataset stills --dataset scene15 --augment tones,level --out models/mine

Missing labels are masked, not negatives: each group's head sees only the images labelled in
that group. The split comes from the data sets (an image or near-duplicate that is in any data
set's test split is test everywhere). Label-generating augmentations (:mod:`.augment`) add
examples of concepts defined by the image itself: training images are transformed with the
run's seed, held-out images with another seed. Every run writes ``run.json``: data set manifest
hashes, per-group data hashes, the configuration, timings and held-out metrics.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import yaml

from .._version import __version__
from ..datasets import Dataset
from ..datasets.phash import near_duplicate_clusters
from ..taxonomy import get_taxonomy
from . import augment
from .featurecache import FEATURES_VERSION, FeatureRun, compute_features
from .fit import fit_head, head_proba
from .metrics import classification_report
from .sources import Item, data_hash, train_ids

RUN_SCHEMA = "cinemanet.train-run/1"

#: feature extractors per group (others: the backbone embedding alone)
DEFAULT_INPUTS: dict[str, tuple[str, ...]] = {
    "shot.framing": ("backbone", "geometry"),
    "shot.type": ("backbone", "geometry"),
    **{c.group: ("measured",) for c in augment.CONCEPTS.values()},
}

#: how a trained group is answered in the written model.yaml: (predictor, head name)
PREDICTORS: dict[str, tuple[str, str]] = {
    "shot.framing": ("shot.framing/head", "framing"),
    "shot.location": ("shot.location/scene-head", "scene"),
    "color.tones": ("color.tones/head", "head"),
    "color.saturation": ("color.saturation/head", "head"),
    "shot.level": ("shot.level/head", "head"),
    "shot.focus": ("shot.focus/head", "head"),
    "shot.lighting": ("shot.lighting/key-head", "head"),
}


@dataclass
class TrainConfig:
    """Everything that decides a run's result (recorded in ``run.json``)."""

    groups: tuple[str, ...] | None = None  # None: every group the data sets label
    augment: tuple[str, ...] = ()  # concepts of augment.CONCEPTS to generate examples for
    deep_focus_datasets: tuple[str, ...] = ()  # data sets whose untouched photos count as deep focus
    seed: int = 0
    eval_seed: int = 1  # generated held-out examples use this seed, never the training one
    folds: int = 5
    inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per-group override
    base_model: str = "default"  # groups not trained keep this model's predictors

    def inputs_for(self, group: str) -> tuple[str, ...]:
        return tuple(self.inputs.get(group) or DEFAULT_INPUTS.get(group) or ("backbone",))


@dataclass
class Example:
    item: Item
    group: str
    label: str
    test: bool
    cluster: int
    dataset: str


def merged_examples(datasets: Sequence[Dataset], config: TrainConfig) -> tuple[list[Example], dict]:
    """Labelled (image, group) examples across data sets, with a leakage-free split."""
    recs, where = [], []
    for ds in datasets:
        for r in ds.records:
            recs.append((ds, r))
            where.append(ds.name)
    clusters = near_duplicate_clusters([int(r.dhash, 16) for _, r in recs], [r.sha256 for _, r in recs])
    test_clusters = {int(c) for (_, r), c in zip(recs, clusters) if r.split == "test"}
    # one label per (image, group): two data sets disagreeing on an image is a conflict, masked
    labels: dict[tuple[str, str], set[str]] = {}
    for _, r in recs:
        for g, lab in r.labels.items():
            labels.setdefault((r.sha256, g), set()).add(lab)
    conflicts = sum(1 for v in labels.values() if len(v) > 1)
    wanted = set(config.groups) if config.groups else None
    seen: set[tuple[str, str]] = set()
    out: list[Example] = []
    sources: dict[str, tuple[Dataset, object, int]] = {}
    for (ds, r), c in zip(recs, clusters):
        sources.setdefault(r.sha256, (ds, r, int(c)))
        for g, lab in r.labels.items():
            if (wanted is not None and g not in wanted) or len(labels[(r.sha256, g)]) > 1 or (r.sha256, g) in seen:
                continue
            seen.add((r.sha256, g))
            out.append(Example(Item(ds.path_of(r), lab, r.sha256), g, lab, int(c) in test_clusters, int(c), ds.name))
    for concept in config.augment:
        spec = augment.CONCEPTS[concept]
        if wanted is not None and spec.group not in wanted:
            continue
        for sha, (ds, r, c) in sorted(sources.items()):
            test = c in test_clusters
            rec = augment.plan(
                concept, sha, config.eval_seed if test else config.seed, ds.name in config.deep_focus_datasets
            )
            item = Item(ds.path_of(r), rec.label, rec.key(sha), rec, sha)
            out.append(Example(item, spec.group, rec.label, test, c, ds.name))
    info = {"images": len(sources), "cross_dataset_conflicts": conflicts, "test_clusters": len(test_clusters)}
    return out, info


def _features(
    examples: list[Example], config: TrainConfig, jobs, log, engine: str = "local", engine_options: dict | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    by_inputs: dict[tuple[str, ...], list[Example]] = {}
    for e in examples:
        by_inputs.setdefault(config.inputs_for(e.group), []).append(e)
    feats: dict[str, np.ndarray] = {}
    rates = {}
    for inputs, exs in by_inputs.items():
        t0 = time.perf_counter()
        run = FeatureRun()
        X = compute_features(
            [e.item for e in exs], inputs, jobs=jobs, run=run, engine=engine, engine_options=engine_options
        )
        rates["+".join(inputs)] = run.rate
        log(f"features {'+'.join(inputs)}: {len(exs)} examples in {time.perf_counter() - t0:.1f}s")
        for e, x in zip(exs, X):
            feats[f"{e.group}:{e.item.sha256}"] = x
    return feats, rates


def train_model(
    datasets: Sequence[Dataset],
    out_dir: Path,
    config: TrainConfig | None = None,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    engine: str = "local",
    engine_options: dict | None = None,
) -> dict:
    """Train heads for every requested group and write a complete model folder to ``out_dir``:
    ``model.yaml`` (usable with ``cinemanet tag --model``), ``heads/<group>.npz`` and ``run.json``.
    ``engine``: where missing features are computed (``local``, ``ray``; see ``compute_features``)."""
    config = config or TrainConfig()
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    examples, info = merged_examples(datasets, config)
    if "focus" in config.augment and not config.deep_focus_datasets:
        log("focus: no --deep-focus-from data set, so the head learns shallow vs out only and never answers deep")
    if not examples:
        raise ValueError("no labelled examples for the requested groups")
    feats, rates = _features(examples, config, jobs, log, engine, engine_options)
    bad = sorted(
        {
            str(e.item.path)
            for e in examples
            if e.item.recipe is None and not np.isfinite(feats[f"{e.group}:{e.item.sha256}"]).all()
        }
    )
    for p in bad:
        log(f"{p}: unreadable image, skipped")
    tax = get_taxonomy()
    run: dict = {
        "schema": RUN_SCHEMA,
        "cinemanet": __version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {
            **asdict(config),
            "inputs": {g: list(config.inputs_for(g)) for g in sorted({e.group for e in examples})},
        },
        "datasets": [
            {"name": d.name, "manifest_sha256": d.manifest_sha256(), "images": len(d.records)} for d in datasets
        ],
        "data": info,
        "features": {"version": FEATURES_VERSION, "augment_version": augment.AUGMENT_VERSION, "images_per_s": rates},
        "environment": _environment(),
        "groups": {},
    }
    heads_dir = out_dir / "heads"
    heads_dir.mkdir(parents=True, exist_ok=True)
    trained: dict[str, tuple[str, str]] = {}
    for g in sorted({e.group for e in examples}):
        exs = [e for e in examples if e.group == g and np.isfinite(feats[f"{g}:{e.item.sha256}"]).all()]
        train = [e for e in exs if not e.test]
        test = [e for e in exs if e.test]
        grp = tax.group(g)
        outputs = [k for k in (grp.order or grp.keys) if any(e.label == k for e in train)]
        if len(outputs) < 2:
            log(f"{g}: skipped (needs at least two labels in the training split, has {len(outputs)})")
            continue
        t1 = time.perf_counter()
        X = np.stack([feats[f"{g}:{e.item.sha256}"] for e in train])
        y = np.array([outputs.index(e.label) for e in train])
        ots = g == "shot.type" and set(outputs) == {"shot.type.master", "shot.type.overtheshoulder"}
        head, fit = fit_head(
            X,
            y,
            outputs,
            config.inputs_for(g),
            np.array([e.cluster for e in train]),
            seed=config.seed,
            folds=config.folds,
            binary_output="shot.type.overtheshoulder" if ots else None,
        )
        fit["train_seconds"] = time.perf_counter() - t1
        test = [e for e in test if e.label in outputs]
        ev = {}
        if test:
            Xt = np.stack([feats[f"{g}:{e.item.sha256}"] for e in test])
            yt = np.array([outputs.index(e.label) for e in test])
            ev = classification_report(yt, head_proba(head, Xt), outputs, grp.order if grp.ordered else None)
        head.meta = {
            "group": g,
            "dataset": "+".join(sorted({e.dataset for e in exs})),  # what `cinemanet model info` shows
            "datasets": sorted({e.dataset for e in exs}),
            "augment": sorted({e.item.recipe.concept for e in exs if e.item.recipe is not None}),
            "data_sha256": data_hash([e.item for e in exs]),
            "train_sha256": data_hash([e.item for e in train]),
            "train_ids": train_ids([e.item for e in train]),
            "test_sha256": data_hash([e.item for e in test]),
            "n_train": len(train),
            "n_test": len(test),
            "fit": fit,
            "heldout": {k: v for k, v in ev.items() if k != "confusion"},
        }
        rel = f"heads/{g}.npz"
        head.save(out_dir / rel)
        companion = _export_companion(
            head,
            X,
            y,
            outputs,
            config,
            np.array([e.cluster for e in train]),
            fit,
            [feats[f"{g}:{e.item.sha256}"] for e in test],
            [outputs.index(e.label) for e in test],
            grp.order if grp.ordered else None,
        )
        if companion is not None:
            companion.save(out_dir / "heads" / "export" / f"{g}.npz")
        trained[g] = (rel, "ots" if ots else PREDICTORS.get(g, (None, "head"))[1])
        run["groups"][g] = {
            "file": rel,
            "outputs": outputs,
            **{k: v for k, v in head.meta.items() if k not in ("heldout", "train_ids")},
            "heldout": ev,
        }
        acc = f"{ev['accuracy']:.3f} (n={ev['n_test']})" if ev else "n/a (no test images)"
        log(
            f"{g}: held-out accuracy {acc}, CV {fit['cv_accuracy']:.3f}, T={fit['temperature']:.2f}, {fit['train_seconds']:.1f}s"
        )
    _write_spec(out_dir, config.base_model, trained)
    run["seconds"] = time.perf_counter() - t_start
    (out_dir / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True, default=_json) + "\n")
    return run


BACKBONE_DIM = 1280  # EfficientNet-Lite0 embedding, first in every feature vector that has it


def _export_companion(head, X, y, outputs, config, clusters, fit, Xt, yt, order):
    """A backbone-only head trained beside one that also reads MediaPipe geometry or pixel
    measurements, so `cinemanet model export` can put the group into a single network."""
    if head.inputs[0] != "backbone" or len(head.inputs) == 1:
        return None
    from .fit import fit_head as _fit

    binary = head.outputs[0] if len(head.outputs) == 1 else None
    c, info = _fit(
        X[:, :BACKBONE_DIM],
        y,
        outputs,
        ("backbone",),
        clusters,
        seed=config.seed,
        folds=config.folds,
        binary_output=binary,
    )
    ev = {}
    if Xt:
        ev = classification_report(np.asarray(yt), head_proba(c, np.stack(Xt)[:, :BACKBONE_DIM]), outputs, order)
    c.meta = {
        **head.meta,
        "fit": info,
        "heldout": {k: v for k, v in ev.items() if k != "confusion"},
        "companion_of": list(head.inputs),
    }
    return c


def _write_spec(out_dir: Path, base: str, trained: dict[str, tuple[str, str]]) -> None:
    """model.yaml for the trained model: the base model with the trained groups swapped in."""
    from ..concepts.model import model_spec

    spec = model_spec(base)
    data = yaml.safe_load((spec.root / "model.yaml").read_text(encoding="utf-8"))
    data["name"] = f"{data['name']}+trained"
    for g, gs in data["groups"].items():
        if g in trained:
            rel, hname = trained[g]
            if hname == "ots":
                predictor = "shot.type/people"
            else:
                predictor = PREDICTORS.get(g, (f"{g}/trained-head",))[0]
            gs.update(predictor=predictor, heads={hname: rel})
            gs.pop("params", None)
        else:  # untouched groups keep the base model's heads, copied alongside
            for rel in (gs.get("heads") or {}).values():
                dst = out_dir / rel
                if not dst.exists() or dst.resolve() != (spec.root / rel).resolve():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(spec.root / rel, dst)
    (out_dir / "model.yaml").write_text(
        "# Written by `cinemanet train`; run.json says from what data and with which settings.\n"
        + yaml.safe_dump(data, sort_keys=False)
    )


def _environment() -> dict:
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "machine": platform.machine(),
    }


def _json(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(type(o).__name__)
