"""The ``cinemanet`` command line. Thin: every command calls the library.

Exit status: 0 all inputs done, 1 some input failed (the rest were still processed),
2 usage error.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .._version import __version__

app = typer.Typer(
    name="cinemanet",
    help="Read film and video in the language of cinema: tag stills with framing, angle, focus, "
    "lighting, location, subject, time of day, shot type, colour and texture.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
model_app = typer.Typer(help="Inspect, train and build models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


class TagFormat(str, Enum):
    jsonl = "jsonl"
    table = "table"
    csv = "csv"


class TaxFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _err(msg: str) -> None:
    sys.stderr.write(f"cinemanet: {msg}\n")
    sys.stderr.flush()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cinemanet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """CinemaNet command line."""


# --------------------------------------------------------------------------------------- tag
@app.command()
def tag(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively).", show_default=False),
    format: Optional[TagFormat] = typer.Option(
        None, "--format", "-f", help="jsonl: one cinemanet.tag/1 object per input; table: a readable summary "
        "(default on a terminal); csv: one row per image.", case_sensitive=False),
    embeddings: bool = typer.Option(False, "--embeddings", help="Add the 1280-d image embedding to JSON output."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0: one per CPU core)."),
    model: str = typer.Option("default", "--model", help="Packaged model name or path to a model.yaml."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results to this file instead of stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Tag still images with all 14 CinemaNet concept groups.

    Supports JPEG, PNG, WebP, TIFF and BMP (8/16-bit, grayscale, CMYK, alpha, EXIF rotation).
    An unreadable input is reported (in the output and on stderr) and the batch goes on;
    the exit status is then 1.
    """
    from ..media import IMAGE_EXTENSIONS, discover

    out = open(output, "w", encoding="utf-8", errors="surrogateescape", newline="") if output else sys.stdout
    fmt = format or (TagFormat.table if (out is sys.stdout and sys.stdout.isatty()) else TagFormat.jsonl)
    inputs = list(discover(paths, IMAGE_EXTENSIONS))
    if not inputs:
        _err("nothing to tag")
        raise typer.Exit(1)
    from ..api import tag_files
    from ..concepts import model_spec
    from ..taxonomy import get_taxonomy

    try:
        model_spec(model)
    except Exception as e:  # model missing or broken: a usage-level failure, say why
        _err(f"cannot load model {model!r}: {e}")
        raise typer.Exit(2)

    writer = _Writer(fmt, out, get_taxonomy().group_keys)
    failed = 0
    progress = _Progress(len(inputs), quiet or len(inputs) < 2)
    try:
        for res in tag_files(inputs, model, embeddings=embeddings, jobs=jobs or None):
            if not res.ok:
                failed += 1
                _err(f"{res.path}: {res.error}")
            writer.write(res)
            progress.advance()
    finally:
        progress.close()
        writer.close()
        if output:
            out.close()
    if failed:
        _err(f"{failed} of {len(inputs)} input(s) failed")
        raise typer.Exit(1)


class _Progress:
    """A rich progress bar on stderr (only on a terminal)."""

    def __init__(self, total: int, quiet: bool):
        self.p = None
        if quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.p = Progress(
            TextColumn("tagging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.p.start()
        self.task = self.p.add_task("tag", total=total)

    def advance(self) -> None:
        if self.p:
            self.p.advance(self.task)

    def close(self) -> None:
        if self.p:
            self.p.stop()


TABLE_GROUPS = ("shot.framing", "shot.type", "shot.location", "shot.timeofday")


class _Writer:
    def __init__(self, fmt: TagFormat, out, group_keys):
        self.fmt, self.out, self.group_keys = fmt, out, group_keys
        self.rows = []
        if fmt is TagFormat.csv:
            self.csv = csv.writer(out)
            header = ["path", "width", "height"]
            for g in group_keys:
                header += [g, f"{g}.confidence"]
            self.csv.writerow(header + ["tags", "description", "error"])

    def write(self, res) -> None:
        if self.fmt is TagFormat.jsonl:
            self.out.write(res.to_json() + "\n")
            self.out.flush()
        elif self.fmt is TagFormat.csv:
            if res.ok:
                row = [res.path, res.width, res.height]
                for g in self.group_keys:
                    p = res.groups[g]
                    row += [p.label or "", f"{p.confidence:.4f}"]
                row += [" ".join(res.tags), res.description, ""]
            else:
                row = [res.path, "", ""] + ["", ""] * len(self.group_keys) + ["", "", res.error]
            self.csv.writerow(row)
            self.out.flush()
        else:
            self.rows.append(res)

    def close(self) -> None:
        if self.fmt is not TagFormat.table or not self.rows:
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(show_lines=True)
        t.add_column("image", overflow="fold", max_width=28)
        for g in TABLE_GROUPS:
            t.add_column(g.split(".")[-1])
        t.add_column("description", overflow="fold")
        for r in self.rows:
            name = os.path.basename(r.path or "")
            if not r.ok:
                t.add_row(name, *([""] * len(TABLE_GROUPS)), f"[red]error: {r.error}[/red]")
                continue
            cells = []
            for g in TABLE_GROUPS:
                p = r.groups[g]
                short = (p.label or "-")[len(g) + 1 :] if p.label else "-"
                cells.append(f"{short.split('.')[-1]} {p.confidence:.2f}")
            t.add_row(name, *cells, r.description)
        Console(file=self.out, width=None if self.out.isatty() else 160).print(t)


# ---------------------------------------------------------------------------------- taxonomy
@app.command()
def taxonomy(
    group: Optional[str] = typer.Option(None, "--group", "-g", help="Show one group (e.g. shot.framing)."),
    format: TaxFormat = typer.Option(TaxFormat.table, "--format", "-f", help="table, json or markdown.", case_sensitive=False),
) -> None:
    """Show the CinemaNet taxonomy: groups, labels, descriptions and aliases."""
    from ..taxonomy import get_taxonomy

    tax = get_taxonomy()
    try:
        groups = [tax.group(group)] if group else list(tax.groups)
    except KeyError as e:
        _err(str(e.args[0]))
        raise typer.Exit(2)
    if format is TaxFormat.json:
        doc = {
            "schema": "cinemanet.taxonomy/1",
            "name": tax.name,
            "version": tax.version,
            "groups": [
                {
                    "key": g.key, "title": g.title, "question": g.question, "description": g.description,
                    "multi_label": g.multi_label, "ordered": g.ordered, **({"order": list(g.order)} if g.ordered else {}),
                    "labels": [
                        {"key": l.key, "title": l.title, "description": l.description, "aliases": list(l.aliases), "parent": l.parent}
                        for l in g.labels
                    ],
                }
                for g in groups
            ],
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    elif format is TaxFormat.markdown:
        buf = io.StringIO()
        for g in groups:
            kind = "several labels may hold at once" if g.multi_label else "one label"
            buf.write(f"## {g.title} (`{g.key}`)\n\n{g.question} {g.description} ({kind})\n\n")
            buf.write("| key | title | description | aliases |\n|---|---|---|---|\n")
            for l in g.labels:
                indent = "&nbsp;&nbsp;" * g.depth(l.key)
                buf.write(f"| {indent}`{l.key}` | {l.title} | {l.description} | {', '.join(l.aliases)} |\n")
            buf.write("\n")
        typer.echo(buf.getvalue().rstrip())
    else:
        from rich.console import Console
        from rich.table import Table

        for g in groups:
            t = Table(title=f"{g.title} ({g.key}): {g.question}", title_justify="left", show_lines=False)
            t.add_column("key", no_wrap=True)
            t.add_column("title")
            t.add_column("description")
            for l in g.labels:
                t.add_row("  " * g.depth(l.key) + l.key[len(g.key) + 1 :], l.title, l.description)
            Console().print(t)


# ------------------------------------------------------------------------------------- model
@model_app.command("info")
def model_info(model: str = typer.Option("default", "--model", help="Packaged model name or model.yaml path.")) -> None:
    """Show how each group is predicted and the held-out metrics of the trained heads."""
    from ..concepts import ConceptModel, model_spec

    spec = model_spec(model)
    cm = ConceptModel(spec)
    typer.echo(f"{spec.name} {spec.version}  ({spec.root})")
    typer.echo(f"analyzers: {', '.join(cm.analyzers)}")
    for g, p in cm.predictors.items():
        typer.echo(f"  {g:18s} {p.name:28s} threshold {spec.groups[g].threshold:.2f}  {p.method}")
        for hname, h in p.heads.items():
            ho = h.meta.get("heldout", {})
            acc = ho.get("accuracy")
            typer.echo(
                f"  {'':18s}   head {hname}: {h.meta.get('dataset')}, n_train={h.meta.get('n_train')}, "
                f"held-out accuracy {acc:.3f} (n={ho.get('n_test')}), data {h.meta.get('data_sha256', '')[:12]}"
            )


@model_app.command("train-default")
def model_train_default(
    data: Path = typer.Option(..., "--data", help="The shared training data folder (../shared/data)."),
    out: Path = typer.Option(None, "--out", help="Where to write heads (default: the packaged default model)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Feature worker processes (0: one per core)."),
) -> None:
    """Train the default model's heads (framing, over-the-shoulder, location) from labelled stills."""
    from importlib import resources

    from ..training.default_heads import train_default

    if not (data / "cinemanet-stills").is_dir() or not (data / "scene15-train").is_dir():
        _err(f"{data}: expected cinemanet-stills/ and scene15-train/ inside")
        raise typer.Exit(2)
    target = out or Path(str(resources.files("cinemanet").joinpath("models", "default")))
    train_default(data, target, jobs=jobs or None, log=lambda m: typer.echo(m, err=True))


def main() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="cinemanet: %(message)s", stream=sys.stderr)
    # File names that are not valid UTF-8 arrive as surrogate escapes: write them back as the
    # original bytes on stdout (CSV, table) and visibly escaped on stderr, never crash on them.
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)
    app()


if __name__ == "__main__":
    main()
