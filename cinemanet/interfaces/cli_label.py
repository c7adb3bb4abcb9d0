"""Commands for crowd labelling and the bias audit (registered by ``cli.py``):

    cinemanet label create NAME --group G[,G] --from-dataset DS | --from-catalog CAT [--size N] [--strategy ...]
    cinemanet label status [NAME]
    cinemanet label annotator add NAME [--reviewer]      prints the token, once
    cinemanet label agreement NAME [--format json|markdown] [--png DIR]
    cinemanet label import NAME FILE                     CSV (item,annotator,group,label) or Label Studio JSON
    cinemanet label export NAME --dataset DS
    cinemanet label suggestions NAME
    cinemanet audit --dataset DS [--model M] [--by source,film,...] --out DIR

Thin: every command calls :mod:`cinemanet.labelling`.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .console import err as _err


class Strategy(str, Enum):
    uncertainty = "uncertainty"
    diversity = "diversity"
    random = "random"


class Measure(str, Enum):
    margin = "margin"
    entropy = "entropy"


class Fmt(str, Enum):
    markdown = "markdown"
    json = "json"


def _csv(values: Optional[list[str]]) -> list[str]:
    return [v.strip() for s in (values or []) for v in s.split(",") if v.strip()]


def _store():
    from ..labelling import LabelStore

    return LabelStore()


def _project(store, name: str):
    from ..labelling import LabellingError

    try:
        return store.project(name)
    except LabellingError as e:
        _err(str(e))
        raise typer.Exit(2)


def register(app: typer.Typer, model_app: typer.Typer) -> None:
    label_app = typer.Typer(
        help="Crowd labelling projects: select items, annotators, agreement, import/export.", no_args_is_help=True
    )
    app.add_typer(label_app, name="label")
    ann_app = typer.Typer(help="People who label (tokens for the labelling page).", no_args_is_help=True)
    label_app.add_typer(ann_app, name="annotator")

    @label_app.command("create")
    def create(
        name: str = typer.Argument(..., help="Project name (letters, digits, '.', '_', '-')."),
        group: list[str] = typer.Option(
            ..., "--group", "-g", help="Concept group(s) to ask (repeat or comma-separate)."
        ),
        from_dataset: Optional[str] = typer.Option(
            None, "--from-dataset", help="Take items from this data set of the library."
        ),
        from_catalog: Optional[Path] = typer.Option(
            None, "--from-catalog", help="Take items (shots) from this catalog."
        ),
        size: int = typer.Option(200, "--size", "-n", min=1, help="Items to label (gold items included)."),
        strategy: Strategy = typer.Option(Strategy.uncertainty, "--strategy", "-s", case_sensitive=False),
        measure: Measure = typer.Option(Measure.margin, "--measure", case_sensitive=False, help="Uncertainty measure."),
        gold: float = typer.Option(
            0.1, "--gold", min=0.0, max=0.9, help="Share of gold items (known answers, data sets only)."
        ),
        redundancy: int = typer.Option(2, "--redundancy", min=2, help="Annotators per item."),
        model: str = typer.Option("default", "--model", help="Model whose scores and embeddings drive the selection."),
        seed: int = typer.Option(0, "--seed"),
        jobs: int = typer.Option(0, "--jobs", "-j", min=0),
    ) -> None:
        """Pick items to label with a strategy and create the project."""
        from ..datasets import DatasetStore, resolve_group
        from ..labelling import LabellingError
        from ..labelling.build import build_project, model_scorer, pool_from_catalog, pool_from_dataset

        if (from_dataset is None) == (from_catalog is None):
            _err("give exactly one of --from-dataset or --from-catalog")
            raise typer.Exit(2)
        groups = []
        for g in _csv(group):
            go = resolve_group(g)
            if go is None:
                _err(f"{g!r} is not a concept group; see `cinemanet taxonomy`")
                raise typer.Exit(2)
            groups.append(go.key)
        store = _store()
        catalog = None
        try:
            if from_dataset:
                ds = DatasetStore(store.root).load(from_dataset)
                pool, source = pool_from_dataset(ds), {"dataset": from_dataset, "manifest_sha256": ds.manifest_sha256()}
            else:
                from ..catalog.store import Catalog

                catalog = Catalog.open(from_catalog, readonly=True)
                pool, source = pool_from_catalog(catalog), {"catalog": str(Path(from_catalog).absolute())}
            p = build_project(
                store,
                name,
                groups,
                pool,
                size=size,
                strategy=strategy.value,
                gold_share=gold,
                redundancy=redundancy,
                seed=seed,
                measure=measure.value,
                scorer=model_scorer(model, jobs or None),
                catalog=catalog,
                source=source | {"model": model},
                log=lambda m: typer.echo(m, err=True),
            )
        except KeyError as e:
            _err(str(e.args[0]))
            raise typer.Exit(2)
        except Exception as e:
            from ..catalog.store import CatalogError

            if isinstance(e, (LabellingError, CatalogError)):
                _err(str(e))
                raise typer.Exit(2)
            raise
        finally:
            if catalog is not None:
                catalog.close()
        c = store.counts(p)
        typer.echo(
            f"{p.name}: {c['items']} items ({c['gold_items']} gold), {c['tasks']} tasks in {', '.join(p.groups)}; "
            f"strategy {p.strategy}; each served to {p.redundancy} annotators"
        )

    @label_app.command("status")
    def status(
        name: Optional[str] = typer.Argument(None), format: Fmt = typer.Option(Fmt.markdown, "--format", "-f")
    ) -> None:
        """Progress of one project (or a line per project)."""
        store = _store()
        projects = [_project(store, name)] if name else store.projects()
        if not projects:
            typer.echo(f"no labelling projects in {store.path}")
            return
        out = {
            p.name: {"groups": list(p.groups), "strategy": p.strategy, "redundancy": p.redundancy, **store.counts(p)}
            for p in projects
        }
        if format is Fmt.json:
            typer.echo(json.dumps(out, indent=2, sort_keys=True))
            return
        for n, c in out.items():
            typer.echo(
                f"{n}: {c['items']} items ({c['gold_items']} gold) x {len(c['groups'])} group(s) = {c['tasks']} tasks; "
                f"{c['tasks_complete']} complete, {c['tasks_started']} started; {c['answers']} answers by {c['annotators']} "
                f"annotator(s), {c['skips']} skips; {c['reviews']} review decisions; {c['suggestions']} suggestions"
            )

    @ann_app.command("add")
    def annotator_add(
        name: str = typer.Argument(...),
        reviewer: bool = typer.Option(False, "--reviewer", help="May review disagreements."),
    ) -> None:
        """Register an annotator and print their token (shown only now; stored hashed)."""
        from ..labelling import LabellingError

        try:
            token = _store().add_annotator(name, "reviewer" if reviewer else "annotator")
        except LabellingError as e:
            _err(str(e))
            raise typer.Exit(2)
        typer.echo(token)
        _err(f"{'reviewer' if reviewer else 'annotator'} {name} added; give them this token (it is not shown again)")

    @ann_app.command("list")
    def annotator_list() -> None:
        """Registered annotators (names and roles; tokens are never shown again)."""
        for a in _store().annotators():
            typer.echo(f"{a.name}\t{a.role}")

    @label_app.command("agreement")
    def agreement(
        name: str = typer.Argument(...),
        format: Fmt = typer.Option(Fmt.markdown, "--format", "-f", case_sensitive=False),
        png: Optional[Path] = typer.Option(None, "--png", help="Write disagreement-<group>.png into this folder."),
    ) -> None:
        """Krippendorff's alpha, Fleiss' kappa, gold accuracy and agreement per annotator."""
        from ..labelling.agreement import agreement_markdown, agreement_report, disagreement_png

        store = _store()
        rep = agreement_report(store, _project(store, name))
        typer.echo(json.dumps(rep, indent=2, sort_keys=True) if format is Fmt.json else agreement_markdown(rep))
        if png:
            for g in rep["groups"]:
                p = disagreement_png(rep, g, png / f"disagreement-{g}.png")
                if p:
                    _err(f"wrote {p}")

    @label_app.command("import")
    def import_cmd(
        name: str = typer.Argument(...),
        file: Path = typer.Argument(..., help="CSV (item,annotator,group,label) or Label Studio JSON export."),
    ) -> None:
        """Import answers made elsewhere: all rows or none."""
        from ..labelling import LabellingError
        from ..labelling.interchange import ImportProblems, import_annotations

        store = _store()
        p = _project(store, name)
        try:
            n = import_annotations(store, p, file)
        except ImportProblems as e:
            for m in e.problems[:100]:
                _err(m)
            if len(e.problems) > 100:
                _err(f"... and {len(e.problems) - 100} more")
            _err(f"{file}: {e}")
            raise typer.Exit(1)
        except LabellingError as e:
            _err(str(e))
            raise typer.Exit(1)
        typer.echo(f"{p.name}: {n} answers imported from {file}")

    @label_app.command("export")
    def export_cmd(
        name: str = typer.Argument(...),
        dataset: str = typer.Option(..., "--dataset", "-d", help="Data set to write (created or extended)."),
        licence: Optional[str] = typer.Option(None, "--licence", "--license"),
        test_fraction: float = typer.Option(0.2, "--test-fraction", min=0.0, max=0.9),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Write the consensus (reviewer decision, else majority) into the data-set library."""
        from ..labelling import LabellingError
        from ..labelling.interchange import export_dataset

        store = _store()
        p = _project(store, name)
        try:
            ds, rep, n = export_dataset(store, p, dataset, test_fraction=test_fraction, seed=seed, licence=licence)
        except (LabellingError, ValueError) as e:
            _err(str(e))
            raise typer.Exit(2)
        for c in rep.conflicts[:10]:
            _err(f"conflict in {c['group']}: {' vs '.join(c['labels'])} (label dropped)")
        typer.echo(
            f"{dataset}: {n} labels from project {p.name}; {len(ds.records)} images in {ds.folder} "
            f"(train with: cinemanet train --dataset {dataset} --out DIR)"
        )

    @label_app.command("suggestions")
    def suggestions(
        name: str = typer.Argument(...), format: Fmt = typer.Option(Fmt.markdown, "--format", "-f")
    ) -> None:
        """Concepts and missing tags annotators suggested, with the item they saw."""
        store = _store()
        rows = store.suggestions(_project(store, name))
        if format is Fmt.json:
            typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        if not rows:
            typer.echo("no suggestions yet")
        for r in rows:
            typer.echo(f"{r['at']}  {r['annotator']}  {r['item_key']}: {r['text']!r}")

    @app.command("audit")
    def audit_cmd(
        dataset: list[str] = typer.Option(
            ..., "--dataset", "-d", help="Data set(s) to audit (repeat or comma-separate)."
        ),
        model: Optional[str] = typer.Option(
            None, "--model", help="Also audit this model: accuracy, calibration, detector coverage per slice."
        ),
        by: Optional[list[str]] = typer.Option(
            None, "--by", help="Slice columns (default: source,film,annotator,licence,dataset and any the data has)."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Folder for audit.md, audit.json and plots."),
        split: str = typer.Option(
            "all",
            "--split",
            help="Images the model is scored on: train, val, test or all (images it was trained on are always left out).",
        ),
        alpha: float = typer.Option(
            0.05, "--alpha", min=0.0001, max=0.5, help="Family-wise error rate (Holm) of the share tests."
        ),
        jobs: int = typer.Option(0, "--jobs", "-j", min=0),
    ) -> None:
        """What a data set (and a model trained on it) over- and under-represents, per slice."""
        from ..datasets import DatasetStore
        from ..labelling.audit import run_audit

        store = DatasetStore()
        try:
            dss = [store.load(n) for n in _csv(dataset)]
        except KeyError as e:
            _err(str(e.args[0]))
            raise typer.Exit(2)
        try:
            rep = run_audit(
                dss,
                out,
                model=model,
                by=_csv(by) or None,
                split=split,
                alpha=alpha,
                jobs=jobs or None,
                log=lambda m: typer.echo(m, err=True),
            )
        except ValueError as e:
            _err(str(e))
            raise typer.Exit(2)
        typer.echo(f"{out / 'audit.md'}: {rep['images']} images, {len(rep['findings'])} significant differences")
