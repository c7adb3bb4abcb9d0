"""Commands for data sets, training, evaluation and model export (registered by ``cli.py``):

    cinemanet dataset import SRC --name NAME     folder-per-label tree or CSV/JSONL manifest
    cinemanet dataset stats NAME                 counts per label, split, source; imbalance
    cinemanet dataset export NAME --to folder|webdataset|parquet --out DIR
    cinemanet dataset list
    cinemanet train --dataset NAME ... --out DIR [--groups ...] [--augment ...]
    cinemanet evaluate --dataset NAME ... [--split test] [--model default|PATH] [--augment ...]
    cinemanet model export --format onnx|coreml|tflite [--model ...] [--out FILE]

Thin: every command calls :mod:`cinemanet.datasets` or :mod:`cinemanet.training`.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .console import err as _err


def _csv(values: Optional[list[str]]) -> list[str]:
    """Options given repeatedly or comma-separated -> one list."""
    return [v.strip() for s in (values or []) for v in s.split(",") if v.strip()]


class ExportTo(str, Enum):
    folder = "folder"
    webdataset = "webdataset"
    parquet = "parquet"


class StatsFormat(str, Enum):
    markdown = "markdown"
    json = "json"


class ModelFormat(str, Enum):
    onnx = "onnx"
    coreml = "coreml"
    tflite = "tflite"


def _load(store, names: list[str]):
    try:
        return [store.load(n) for n in names]
    except KeyError as e:
        _err(str(e.args[0]))
        raise typer.Exit(2)


def _groups(values: list[str]) -> list[str]:
    from ..datasets import resolve_group

    out = []
    for v in values:
        g = resolve_group(v)
        if g is None:
            _err(f"{v!r} is not a concept group; see `cinemanet taxonomy`")
            raise typer.Exit(2)
        out.append(g.key)
    return out


def _concepts(values: list[str]) -> list[str]:
    from ..training.augment import CONCEPTS

    bad = [v for v in values if v not in CONCEPTS]
    if bad:
        _err(f"unknown augmentation {', '.join(bad)}; choose from {', '.join(CONCEPTS)}")
        raise typer.Exit(2)
    return values


dataset_app = typer.Typer(help="Labelled data sets: import, inspect, export.", no_args_is_help=True)


@dataset_app.command("import")
def dataset_import(
    src: Path = typer.Argument(
        ..., help="A folder-per-label tree (root/<label>/ or root/<group>/<label>/) or a .csv/.jsonl manifest."
    ),
    name: str = typer.Option(..., "--name", "-n", help="Data set name (created, or extended if it exists)."),
    group: Optional[str] = typer.Option(
        None, "--group", "-g", help="Folder names / manifest labels belong to this group."
    ),
    label_map: Optional[Path] = typer.Option(
        None, "--map", help="YAML file: folder name -> v1 label key, for names without an alias."
    ),
    source: Optional[str] = typer.Option(
        None, "--source", help="Provenance recorded per image (default: the folder or file name)."
    ),
    licence: Optional[str] = typer.Option(
        None, "--licence", "--license", help="Licence recorded per image (manifest column wins)."
    ),
    annotator: Optional[str] = typer.Option(None, "--annotator", help="Who labelled them (manifest column wins)."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", min=0.0, max=0.9),
    val_fraction: float = typer.Option(0.0, "--val-fraction", min=0.0, max=0.9),
    seed: int = typer.Option(0, "--seed"),
    keep_near_duplicates: bool = typer.Option(
        False, "--keep-near-duplicates", help="Keep every near-duplicate (still split together)."
    ),
) -> None:
    """Import labelled images into a data set: labels resolved through the taxonomy's aliases,
    files stored by content hash, duplicates merged, conflicting labels flagged, split assigned."""
    from ..datasets import DatasetStore, LabelResolutionError, resolve_group
    from ..datasets.sources import load_label_map

    g = None
    if group:
        go = resolve_group(group)
        if go is None:
            _err(f"{group!r} is not a concept group; see `cinemanet taxonomy`")
            raise typer.Exit(2)
        g = go.key
    store = DatasetStore()
    try:
        mapping = load_label_map(label_map) if label_map else None
        ds, rep = store.import_source(
            src,
            name,
            group=g,
            label_map=mapping,
            source=source,
            licence=licence,
            annotator=annotator,
            test_fraction=test_fraction,
            val_fraction=val_fraction,
            seed=seed,
            keep_near_duplicates=keep_near_duplicates,
        )
    except LabelResolutionError as e:
        for _, msg in e.problems[:50]:
            _err(msg)
        if len(e.problems) > 50:
            _err(f"... and {len(e.problems) - 50} more")
        _err("nothing imported; fix the names or pass --map")
        raise typer.Exit(2)
    except (FileNotFoundError, ValueError) as e:
        _err(str(e))
        raise typer.Exit(2)
    for w in rep.warnings:
        _err(w)
    for u in rep.unreadable:
        _err(f"unreadable, skipped: {u}")
    for c in rep.conflicts[:20]:
        _err(
            f"conflict in {c['group']}: {' vs '.join(c['labels'])} for {c['origin'][0] if c['origin'] else c['image']} (label dropped)"
        )
    if len(rep.conflicts) > 20:
        _err(f"... {len(rep.conflicts) - 20} more conflicts (see `cinemanet dataset stats {name}`)")
    typer.echo(
        f"{name}: {rep.files} files read, {rep.added} new images, {rep.exact_duplicates} identical and "
        f"{rep.near_duplicates} near-duplicate files merged, {len(rep.conflicts)} conflicts, {len(rep.unreadable)} unreadable; "
        f"{len(ds.records)} images in {store.root / 'datasets' / name}"
    )
    if rep.unreadable:
        raise typer.Exit(1)


@dataset_app.command("stats")
def dataset_stats_cmd(
    name: str = typer.Argument(...),
    format: StatsFormat = typer.Option(StatsFormat.markdown, "--format", "-f", case_sensitive=False),
) -> None:
    """Counts per label and split, per source and licence, imbalance, conflicts."""
    from ..datasets import DatasetStore, dataset_stats, stats_markdown

    (ds,) = _load(DatasetStore(), [name])
    st = dataset_stats(ds)
    typer.echo(json.dumps(st, indent=2, sort_keys=True) if format is StatsFormat.json else stats_markdown(st).rstrip())


@dataset_app.command("export")
def dataset_export(
    name: str = typer.Argument(...),
    to: ExportTo = typer.Option(
        ..., "--to", help="folder (image tree + labels.csv), webdataset (tar shards) or parquet."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split (train, val, test)."),
    group: Optional[str] = typer.Option(None, "--group", "-g", help="Only images labelled in this group."),
    shard_size: int = typer.Option(1000, "--shard-size", min=1, help="Images per WebDataset shard."),
    no_images: bool = typer.Option(False, "--no-images", help="Parquet: labels and provenance only, no image bytes."),
) -> None:
    """Export a data set with its labels, splits and provenance."""
    from ..datasets import DatasetStore
    from ..datasets import exporters as ex

    (ds,) = _load(DatasetStore(), [name])
    g = _groups([group])[0] if group else None
    try:
        if to is ExportTo.folder:
            res = [ex.export_folder(ds, out, split, g)]
        elif to is ExportTo.webdataset:
            res = ex.export_webdataset(ds, out, split, g, shard_size)
        else:
            res = [ex.export_parquet(ds, out, split, g, images=not no_images)]
    except RuntimeError as e:
        _err(str(e))
        raise typer.Exit(2)
    for p in res:
        typer.echo(str(p))


@dataset_app.command("list")
def dataset_list() -> None:
    """The data sets in the store (``CINEMANET_DATA`` or the user data folder)."""
    from ..datasets import DatasetStore

    store = DatasetStore()
    names = store.names()
    if not names:
        typer.echo(f"no data sets in {store.root}")
        return
    for n in names:
        ds = store.load(n)
        typer.echo(f"{n:24s} {len(ds.records):7d} images  groups: {', '.join(ds.groups)}")


def train_cmd(
    dataset: list[str] = typer.Option(
        ..., "--dataset", "-d", help="Data set name (repeat or comma-separate for several)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the trained model (model.yaml, heads/, run.json)."),
    groups: Optional[list[str]] = typer.Option(
        None, "--groups", "-g", help="Only these groups (default: all labelled)."
    ),
    augment: Optional[list[str]] = typer.Option(
        None, "--augment", "-a", help="Label-generating augmentations: tones, saturation, level, focus, key."
    ),
    deep_focus_from: Optional[list[str]] = typer.Option(
        None, "--deep-focus-from", help="Data sets whose untouched photos count as deep focus (for --augment focus)."
    ),
    seed: int = typer.Option(0, "--seed"),
    base_model: str = typer.Option("default", "--base-model", help="Groups not trained keep this model's predictors."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Feature worker processes (0: one per core)."),
    engine: str = typer.Option(
        "local", "--engine", help="Where uncached features are computed: local (worker processes) or ray."
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="With --engine ray: the cluster to join (default $RAY_ADDRESS, else a local Ray)."
    ),
) -> None:
    """Train one multi-task model (a head per group over cached features) on data sets that
    may each label only some groups; writes a model usable with ``cinemanet tag --model``."""
    from ..datasets import DatasetStore
    from ..training.multitask import TrainConfig, train_model

    from ..engines import ENGINES, EngineError

    if ray_address and engine != "ray":
        _err("--ray-address needs --engine ray")
        raise typer.Exit(2)
    try:
        ENGINES.get_plugin(engine)
    except Exception as e:  # noqa: BLE001 - an unknown or unavailable engine: its one-line reason
        _err(f"--engine {engine}: {e}")
        raise typer.Exit(2)
    dss = _load(DatasetStore(), _csv(dataset))
    cfg = TrainConfig(
        groups=tuple(_groups(_csv(groups))) or None,
        augment=tuple(_concepts(_csv(augment))),
        deep_focus_datasets=tuple(_csv(deep_focus_from)),
        seed=seed,
        eval_seed=seed + 1,
        base_model=base_model,
    )
    try:
        run = train_model(
            dss,
            out,
            cfg,
            jobs=jobs or None,
            log=lambda m: typer.echo(m, err=True),
            engine=engine,
            engine_options={"address": ray_address} if ray_address else None,
        )
    except EngineError as e:
        _err(str(e))
        raise typer.Exit(1)
    except ValueError as e:
        _err(str(e))
        raise typer.Exit(2)
    typer.echo(
        f"{out / 'model.yaml'}: {len(run['groups'])} heads in {run['seconds']:.0f}s; run record {out / 'run.json'}"
    )


def evaluate_cmd(
    dataset: list[str] = typer.Option(..., "--dataset", "-d", help="Data set name (repeat or comma-separate)."),
    split: str = typer.Option("test", "--split", help="train, val, test or all."),
    model: str = typer.Option("default", "--model", help="Packaged model name or path to a model.yaml / model folder."),
    groups: Optional[list[str]] = typer.Option(None, "--groups", "-g"),
    augment: Optional[list[str]] = typer.Option(
        None, "--augment", "-a", help="Also score generated examples of these concepts."
    ),
    deep_focus_from: Optional[list[str]] = typer.Option(None, "--deep-focus-from"),
    seed: int = typer.Option(1, "--seed", help="Seed of the generated examples (train with another)."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Report folder (default: evaluation/<data sets>-<split>)."
    ),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0),
) -> None:
    """Accuracy, macro-F1, confusion matrices, within-one, calibration and per-slice accuracy
    of a model on a data set split; writes evaluation.md, evaluation.json and PNGs."""
    from ..datasets import DatasetStore
    from ..training.evaluate import evaluate

    names = _csv(dataset)
    dss = _load(DatasetStore(), names)
    out = out or Path("evaluation") / f"{'+'.join(names)}-{split}"
    try:
        rep = evaluate(
            model,
            dss,
            split,
            _groups(_csv(groups)) or None,
            _concepts(_csv(augment)),
            seed,
            _csv(deep_focus_from),
            out,
            jobs or None,
            log=lambda m: typer.echo(m, err=True),
        )
    except (ValueError, FileNotFoundError) as e:
        _err(str(e))
        raise typer.Exit(2)
    for g, r in rep["groups"].items():
        w1 = f", within one {r['within_one']:.3f}" if "within_one" in r else ""
        typer.echo(
            f"{g:18s} n={r['n_test']:5d} accuracy {r['accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f}{w1}, "
            f"ECE {r['ece']:.3f} -> {r['ece_after_temperature']:.3f} after temperature"
        )
    typer.echo(f"report: {out / 'evaluation.md'}")


def model_export_cmd(
    format: ModelFormat = typer.Option(..., "--format", "-f", case_sensitive=False),
    model: str = typer.Option("default", "--model", help="Packaged model name or model.yaml path."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: cinemanet-<model>.<ext>)."),
) -> None:
    """Export the image network (backbone + trained heads, one input, per-group probabilities,
    label metadata embedded) and check it against the Python model."""
    from ..training.export import ExportUnavailable, export_model

    try:
        res = export_model(model, format.value, out)
    except ExportUnavailable as e:
        _err(str(e))
        raise typer.Exit(2)
    typer.echo(f"{res.path}: outputs {', '.join(res.outputs)}")
    for g, why in res.excluded.items():
        typer.echo(f"  not included: {g}: {why}")
    if res.parity is None:
        typer.echo(f"  parity: not checked ({format.value} models cannot run on this machine)")
    else:
        typer.echo(
            f"  parity with the Python model on {res.parity['images']} images: max abs difference "
            f"{res.parity['max_abs_diff']:.2e} (probabilities), {res.parity['embedding_max_abs_diff']:.2e} (embedding)"
        )


def register(app: typer.Typer, model_app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    model_app.command("export")(model_export_cmd)
