"""Train the heads of the default model on ``../shared/data`` and write them into the package.

    cinemanet model train-default --data ../shared/data

Reproducible: features are cached by content hash, the split is a pure function of the
image contents, seeds are fixed, and every head records the hash of its data.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..taxonomy import get_taxonomy
from .featurecache import FeatureRun, compute_features
from .fit import fit_head, head_proba
from .metrics import accuracy, confusion, expected_calibration_error, macro_f1, within_one
from .sources import Item, data_hash, folder_items, scene15_mapping, train_ids
from .multitask import BACKBONE_DIM
from .split import duplicate_groups, holdout_mask

FRAMING_INPUTS = ("backbone", "geometry")
OTS_INPUTS = ("backbone", "geometry")
SCENE_INPUTS = ("backbone",)


@dataclass
class Dataset:
    name: str
    items: list[Item]
    inputs: tuple[str, ...]


def load_datasets(data: Path) -> dict[str, Dataset]:
    data = Path(data)
    stills = data / "cinemanet-stills"
    framing = folder_items(stills / "framing", "shot.framing")
    types = folder_items(stills / "type", "shot.type")
    mapping = scene15_mapping()
    scene = [Item(it.path, mapping[it.label]["label"], it.sha256) for it in folder_items(data / "scene15-train")]
    scene_cls = [Item(it.path, it.label, it.sha256) for it in folder_items(data / "scene15-train")]
    return {
        "framing": Dataset("cinemanet-stills/framing", framing, FRAMING_INPUTS),
        "ots": Dataset("cinemanet-stills/type", types, OTS_INPUTS),
        "scene": Dataset("scene15-train", scene, SCENE_INPUTS),
        "_scene_classes": Dataset("scene15-train", scene_cls, SCENE_INPUTS),
    }


def _evaluate(head, X, y, outputs, order=None) -> dict:
    p = head_proba(head, X)
    pred = p.argmax(1)
    k = len(outputs)
    out = {
        "n_test": int(len(y)),
        "accuracy": accuracy(y, pred),
        "macro_f1": macro_f1(y, pred, k),
        "ece": expected_calibration_error(p, y),
        "confusion": confusion(y, pred, k).tolist(),
        "labels": list(outputs),
    }
    if order is not None:
        out["within_one"] = within_one(y, pred, [outputs.index(o) for o in order])
    return out


@dataclass
class Prepared:
    """Labelled items, their features and the held-out split, shared by training and evaluation."""

    sets: dict[str, Dataset]
    features: dict[tuple[str, ...], dict[str, np.ndarray]]
    group_of: dict[str, int]
    is_test: dict[str, bool]
    rates: dict[str, float | None]

    def xy(self, ds: Dataset, outputs: list[str]):
        by_sha = self.features[ds.inputs]
        items = [it for it in ds.items if np.isfinite(by_sha[it.sha256]).all()]
        X = np.stack([by_sha[it.sha256] for it in items])
        y = np.array([outputs.index(it.label) for it in items])
        g = np.array([self.group_of[it.sha256] for it in items])
        t = np.array([self.is_test[it.sha256] for it in items])
        return items, X, y, g, t


def prepare(data: Path, jobs: int | None = None, log: Callable[[str], None] = print) -> Prepared:
    sets = load_datasets(data)
    used = {k: d for k, d in sets.items() if not k.startswith("_")}
    everything = [it for d in used.values() for it in d.items]
    log(f"{len(everything)} labelled images; computing features (cached by content hash)...")
    t0 = time.perf_counter()
    by_inputs: dict[tuple[str, ...], dict[str, np.ndarray]] = {}
    rates: dict[str, float | None] = {}
    for d in used.values():
        if d.inputs not in by_inputs:
            items = [it for e in used.values() if e.inputs == d.inputs for it in e.items]
            run = FeatureRun()
            feats = compute_features(items, d.inputs, jobs=jobs, run=run)
            rates["+".join(d.inputs)] = run.rate
            by_inputs[d.inputs] = {it.sha256: x for it, x in zip(items, feats)}
    log(f"features ready in {time.perf_counter() - t0:.1f}s")
    log("grouping near-duplicates for a leakage-free split...")
    groups_all = duplicate_groups(everything)
    test_all = holdout_mask(everything, groups_all)
    return Prepared(
        sets=sets,
        features=by_inputs,
        group_of={it.sha256: int(g) for it, g in zip(everything, groups_all)},
        is_test={it.sha256: bool(t) for it, t in zip(everything, test_all)},
        rates=rates,
    )


def _outputs(name: str, prep: Prepared) -> list[str]:
    if name == "framing":
        return list(get_taxonomy().group("shot.framing").order)
    if name == "ots":
        return ["shot.type.master", "shot.type.overtheshoulder"]
    return sorted({it.label for it in prep.sets["scene"].items})


HEAD_FILES = {
    "framing": "heads/shot.framing.npz",
    "ots": "heads/shot.type.overtheshoulder.npz",
    "scene": "heads/shot.location.npz",
}


def _interior_exterior(head, prep: Prepared) -> tuple[float, int]:
    """Interior/exterior accuracy as the location predictor derives it from the scene head."""
    g = get_taxonomy().group("shot.location")
    outputs = _outputs("scene", prep)
    interior = np.array(["shot.location.interior" in g.ancestors(k) for k in outputs])
    mapping = scene15_mapping()
    side = {it.sha256: mapping[it.label]["side"] for it in prep.sets["_scene_classes"].items}
    items, X, y, _, t = prep.xy(prep.sets["scene"], outputs)
    p_int = head_proba(head, X[t])[:, interior].sum(1)
    truth = np.array([side[it.sha256] for it, tt in zip(items, t) if tt])
    known = truth != None  # noqa: E711  (industrial mixes both)
    return accuracy(truth[known] == "interior", p_int[known] >= 0.5), int(known.sum())


def evaluate_heads(data: Path, model_dir: Path, jobs: int | None = None, log: Callable[[str], None] = print) -> dict:
    """Held-out metrics of the heads in ``model_dir`` on the same split training used."""
    from ..concepts.heads import LinearHead

    prep = prepare(data, jobs, log)
    out = {}
    order = list(get_taxonomy().group("shot.framing").order)
    for name, file in HEAD_FILES.items():
        head = LinearHead.load(Path(model_dir) / file)
        outputs = _outputs(name, prep)
        items, X, y, _, t = prep.xy(prep.sets[name], outputs)
        out[name] = _evaluate(head, X[t], y[t], outputs, order if name == "framing" else None)
        out[name]["data_sha256"] = data_hash(items)
        out[name]["trained_on_sha256"] = head.meta.get("data_sha256")
    out["scene"]["interior_exterior_accuracy"], out["scene"]["interior_exterior_n"] = _interior_exterior(
        LinearHead.load(Path(model_dir) / HEAD_FILES["scene"]), prep
    )
    return out


def train_default(
    data: Path,
    out_dir: Path,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    seed: int = 0,
) -> dict:
    prep = prepare(data, jobs, log)
    report: dict = {"data": Path(data).name, "seed": seed, "heads": {}}
    if any(prep.rates.values()):  # only when features were computed now, not read from the cache
        report["feature_images_per_s"] = prep.rates

    def train(name: str, binary_output=None):
        ds = prep.sets[name]
        outputs = _outputs(name, prep)
        order = outputs if name == "framing" else None
        t1 = time.perf_counter()
        items, X, y, g, t = prep.xy(ds, outputs)
        head, info = fit_head(X[~t], y[~t], outputs, ds.inputs, g[~t], seed=seed, binary_output=binary_output)
        info["train_seconds"] = time.perf_counter() - t1
        ev = _evaluate(head, X[t], y[t], outputs, order)
        head.meta = {
            "dataset": ds.name,
            "data_sha256": data_hash(items),
            "train_sha256": data_hash([it for it, tt in zip(items, t) if not tt]),
            "train_ids": train_ids([it for it, tt in zip(items, t) if not tt]),
            "n_train": int((~t).sum()),
            "n_test": int(t.sum()),
            "fit": info,
            "heldout": {k: v for k, v in ev.items() if k != "confusion"},
        }
        head.save(Path(out_dir) / HEAD_FILES[name])
        report["heads"][name] = {"file": HEAD_FILES[name], **{k: v for k, v in head.meta.items() if k != "train_ids"}, "heldout": ev}
        if len(ds.inputs) > 1 and ds.inputs[0] == "backbone":
            # backbone-only companion: what `cinemanet model export` puts into the single network
            # (MediaPipe geometry cannot be part of it)
            c, cinfo = fit_head(X[~t][:, :BACKBONE_DIM], y[~t], outputs, ("backbone",), g[~t], seed=seed, binary_output=binary_output)
            cev = _evaluate(c, X[t][:, :BACKBONE_DIM], y[t], outputs, order)
            c.meta = {**head.meta, "fit": cinfo, "heldout": {k: v for k, v in cev.items() if k != "confusion"},
                      "companion_of": list(ds.inputs)}
            rel = str(Path(HEAD_FILES[name]).parent / "export" / Path(HEAD_FILES[name]).name)
            c.save(Path(out_dir) / rel)
            report["heads"][name]["export_companion"] = {"file": rel, "heldout": cev}
            log(f"{name} (backbone only, for export): held-out accuracy {cev['accuracy']:.3f}")
        log(f"{name}: held-out accuracy {ev['accuracy']:.3f} (n={ev['n_test']}), CV {info['cv_accuracy']:.3f}, "
            f"T={info['temperature']:.2f}, {info['train_seconds']:.1f}s")
        return head

    train("framing")
    train("ots", binary_output="shot.type.overtheshoulder")
    scene = train("scene")
    io_acc, io_n = _interior_exterior(scene, prep)
    report["heads"]["scene"]["heldout"]["interior_exterior_accuracy"] = io_acc
    report["heads"]["scene"]["heldout"]["interior_exterior_n"] = io_n
    log(f"interior/exterior: held-out accuracy {io_acc:.3f} (n={io_n})")
    (Path(out_dir) / "metrics.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=float) + "\n")
    return report


#: label-generated concepts the default model answers with a trained head (see model.yaml):
#: only those whose head beat the pixel rule on held-out generated examples (docs/MODEL_CARD.md)
GENERATED = {"saturation": "color.saturation", "key": "shot.lighting"}


def generated_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "heads" / "generated"


def train_generated(data: Path, out_dir: Path, jobs: int | None = None, log: Callable[[str], None] = print,
                    seed: int = 0, concepts: dict[str, str] | None = None) -> dict:
    """Heads for label-generated concepts, learnt from the real colour film stills of ``data``
    transformed by :mod:`.augment` (training split with ``seed``, held-out split with ``seed + 1``).
    The stills go through the data-set library (a temporary store) so the split is the library's
    stratified, near-duplicate-aware one. Writes ``heads/generated/<group>.npz`` and
    ``heads/generated/run.json``."""
    import shutil
    import tempfile

    from ..datasets import DatasetStore
    from .multitask import TrainConfig, _json, train_model

    concepts = concepts or GENERATED
    stills = Path(data) / "cinemanet-stills"
    with tempfile.TemporaryDirectory(prefix="cinemanet-gen-") as tmp:
        store = DatasetStore(Path(tmp) / "store")
        dss = []
        for sub, group in (("framing", "shot.framing"), ("type", "shot.type")):
            ds, _ = store.import_source(stills / sub, f"stills-{sub}", group=group, seed=0)
            dss.append(ds)
        cfg = TrainConfig(groups=tuple(concepts.values()), augment=tuple(concepts), seed=seed, eval_seed=seed + 1)
        run = train_model(dss, Path(tmp) / "model", cfg, jobs=jobs, log=log)
        dst = generated_dir(out_dir)
        dst.mkdir(parents=True, exist_ok=True)
        for g in concepts.values():
            shutil.copyfile(Path(tmp) / "model" / "heads" / f"{g}.npz", dst / f"{g}.npz")
        run["config"]["datasets_from"] = str(stills.name)
        (dst / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True, default=_json) + "\n")
    return run
