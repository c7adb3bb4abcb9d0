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
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .._version import __version__
from ..contracts import SHOT_SCHEMA
from .choices import with_registry_choices
from .console import err as _err
from .console import WIDE_TABLE, count, print_table, table_width

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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cinemanet {__version__}")
        raise typer.Exit()


def _help(ctx: typer.Context, value: bool) -> None:
    if value:
        typer.echo(ctx.get_help())
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    # the group's own --help, declared as a plain bool: Typer's built-in one (value None when not
    # given) makes Typer import pydantic to coerce it, ~0.15 s on every `cinemanet CMD --help`
    help_: bool = typer.Option(
        False, "--help", callback=_help, is_eager=True, expose_value=False, help="Show this message and exit."
    ),
) -> None:
    """CinemaNet command line."""


# --------------------------------------------------------------------------------------- tag
@app.command()
def tag(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively).", show_default=False),
    format: Optional[TagFormat] = typer.Option(
        None,
        "--format",
        "-f",
        help="jsonl: one cinemanet.tag/1 object per input; table: a readable summary "
        "(default on a terminal); csv: one row per image.",
        case_sensitive=False,
    ),
    embeddings: bool = typer.Option(False, "--embeddings", help="Add the 1280-d image embedding to JSON output."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0: one per CPU core)."),
    model: str = typer.Option("default", "--model", help="Packaged model name or path to a model.yaml."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results to this file instead of stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    engine: str = typer.Option("local", "--engine", help="How the batch runs: local (worker processes) or ray."),
    ray_address: Optional[str] = typer.Option(
        None,
        "--ray-address",
        help="With --engine ray: the cluster to join (default $RAY_ADDRESS, else a local Ray for this run).",
    ),
) -> None:
    """Tag still images with all 14 CinemaNet concept groups.

    Supports JPEG, PNG, WebP, TIFF and BMP (8/16-bit, grayscale, CMYK, alpha, EXIF rotation).
    An unreadable input is reported (in the output and on stderr) and the batch goes on;
    the exit status is then 1.
    """
    from ..media import IMAGE_EXTENSIONS, discover

    from ..media.video import VIDEO_EXTENSIONS

    out = open(output, "w", encoding="utf-8", errors="surrogateescape", newline="") if output else sys.stdout
    fmt = format or (TagFormat.table if (out is sys.stdout and sys.stdout.isatty()) else TagFormat.jsonl)
    inputs = list(discover(paths, IMAGE_EXTENSIONS, elsewhere=(VIDEO_EXTENSIONS, "video", "cinemanet analyze")))
    if not inputs:
        _err("nothing to tag")
        raise typer.Exit(1)
    from ..concepts import model_spec
    from ..engines import ENGINES, EngineError, create_engine
    from ..taxonomy import get_taxonomy

    try:
        ENGINES.get_plugin(engine)
    except KeyError as e:
        _err(e.args[0])
        raise typer.Exit(2)
    if ray_address and engine != "ray":
        _err("--ray-address needs --engine ray")
        raise typer.Exit(2)

    try:
        model_spec(model)
    except Exception as e:  # noqa: BLE001 - model missing or broken: a usage-level failure, said why
        _err(f"cannot load model {model!r}: {e}")
        raise typer.Exit(2)

    writer = _Writer(fmt, out, get_taxonomy().group_keys)
    failed = 0
    progress = _Progress(len(inputs), quiet or len(inputs) < 2)
    try:
        eng = create_engine(engine, **({"address": ray_address} if ray_address else {}))
        for res in eng.tag(inputs, model, embeddings=embeddings, jobs=jobs or None):
            if not res.ok:
                failed += 1
                _err(f"{res.path}: {res.error}")
            writer.write(res)
            progress.advance()
    except EngineError as e:
        _err(str(e))
        raise typer.Exit(2)
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
            TextColumn("tagging"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
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
        width = table_width(self.out)
        if width < WIDE_TABLE:
            self.out.write(self._blocks(width))
            return
        from rich.table import Table

        t = Table(show_lines=True)
        t.add_column("image", overflow="fold", max_width=28)
        for g in TABLE_GROUPS:  # labels never wrap; the description does
            t.add_column(g.split(".")[-1], no_wrap=True)
        t.add_column("description", overflow="fold", ratio=1)
        for r in self.rows:
            name = os.path.basename(r.path or "")
            if not r.ok:
                t.add_row(name, *([""] * len(TABLE_GROUPS)), f"[red]error: {r.error}[/red]")
                continue
            t.add_row(name, *self._picks(r), r.description)
        print_table(t, self.out)

    @staticmethod
    def _picks(r) -> list[str]:
        cells = []
        for g in TABLE_GROUPS:
            p = r.groups[g]
            if not p.label or p.label.endswith(".na"):
                cells.append("–")  # not applicable, or not sure enough to say
                continue
            cells.append(f"{p.label[len(g) + 1 :].split('.')[-1]} {p.confidence:.2f}")
        return cells

    def _blocks(self, width: int) -> str:
        """Narrow screens: per image its name and labels (never broken), then the description wrapped."""
        import textwrap

        out = []
        for r in self.rows:
            name = os.path.basename(r.path or "")
            if not r.ok:
                out.append(
                    f"{name}\n" + textwrap.fill(f"error: {r.error}", width, initial_indent="  ", subsequent_indent="  ")
                )
                continue
            picks = " · ".join(self._picks(r))
            head = f"{name}  {picks}" if len(name) + 2 + len(picks) <= width else f"{name}\n  {picks}"
            out.append(head + "\n" + textwrap.fill(r.description, width, initial_indent="  ", subsequent_indent="  "))
        legend = "image  " + " · ".join(g.split(".")[-1] for g in TABLE_GROUPS) + "\n\n"
        return legend + "\n\n".join(out) + "\n"


# ----------------------------------------------------------------------------------- analyze
# `video.detectors.options_help()` as text, so that --help needs no detector import (a test
# keeps the two equal)
DETECTOR_OPTIONS_HELP = (
    "Options and ranges: "
    "adaptive: adaptive_threshold=3 (0.1..100); min_content_val=15 (0..255); window_width=2 (1..50); "
    "min_scene_len=15 (1..100000); min_shot_len=1 (1..100000). "
    "content: threshold=27 (1..255); min_scene_len=15 (1..100000); min_shot_len=1 (1..100000). "
    "fast: cut_threshold=9 (0.5..100); cut_min_threshold=2.5 (0.5..100); cut_ratio=2 (1..20); still_ratio=5 (1..100); "
    "return_ratio=0.7 (0..1); block_threshold=3 (0..100); block_ratio=0.3 (0..1); sharp_ratio=1.6 (1..10); "
    "cuts=rules (learned|rules|both|deep); cut_prob=0.2 (0.01..0.99); cut_gate=1 (0..100); cut_gate_ratio=2 (1..100); "
    "cut_return_veto=0.4 (0..1); min_gap=6 (1..1000); fades=true (true|false); colour_fades=true (true|false); uniform_std=8 (0..64); "
    "colour_std=2 (0..64); max_ramp=60 (1..240); dissolves=true (true|false); dissolve_min_change=10 (0..255); "
    "dissolve_linearity=0.45 (0..1); dissolve_support=4 (1..100); min_shot_len=1 (1..100000). "
    "transnet: threshold=0.5 (0.01..0.99); max_cut_run=2 (1..20); min_shot_len=1 (1..100000). "
    "min_shot_len: the shortest shot in frames (a closer boundary is dropped)."
)


class ShotFormat(str, Enum):
    jsonl = "jsonl"
    table = "table"


@app.command(
    cls=with_registry_choices(detector="cinemanet.video.detectors.base:DETECTORS", engine="cinemanet.engines:ENGINES")
)
def analyze(
    paths: list[Path] = typer.Argument(..., help="Video files or folders (searched recursively).", show_default=False),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Write sidecars into this folder instead of next to each video."
    ),
    compress: bool = typer.Option(False, "--compress", help="Write zstd-compressed sidecars (.cinemanet.json.zst)."),
    detector: str = typer.Option("fast", "--detector", help="Shot detector."),
    detector_option: list[str] = typer.Option(
        [],
        "--detector-option",
        "-D",
        metavar="KEY=VALUE",
        help="Set a detector option (repeatable); recorded in the sidecar, a change "
        "re-analyses. " + DETECTOR_OPTIONS_HELP,
        show_default=False,
    ),
    stats: Optional[Path] = typer.Option(
        None,
        "--stats",
        metavar="FILE.csv",
        help="Write the detector's per-frame scores "
        "(frame, time, every score it uses) to this CSV file; one video only.",
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Videos analysed in parallel processes."),
    engine: str = typer.Option("local", "--engine", help="How the batch runs."),
    ray_address: Optional[str] = typer.Option(
        None,
        "--ray-address",
        help="With --engine ray: the cluster to join "
        "(e.g. 10.0.0.5:6379; default $RAY_ADDRESS, else a local Ray for this run).",
    ),
    split: Optional[float] = typer.Option(
        None,
        "--split",
        metavar="SECONDS",
        min=0.0,
        help="Split a video at least twice this long into ranges of about SECONDS at keyframes, "
        "analysed apart and stitched (the same shots as one pass). Default: 300 with --engine ray, "
        "never with local; 0: never.",
    ),
    format: Optional[ShotFormat] = typer.Option(
        None,
        "--format",
        "-f",
        help="jsonl: one cinemanet.shot/2 object per shot on stdout; table: one line per "
        "video (default on a terminal). Piped without --format: a summary line per video on stderr, nothing on "
        "stdout (the sidecars hold the shots).",
        case_sensitive=False,
    ),
    embeddings: bool = typer.Option(
        False, "--embeddings", help="Include shot embeddings in the JSONL output (sidecars always have them)."
    ),
    force: bool = typer.Option(False, "--force", help="Re-analyse even when an up-to-date sidecar exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    catalog: Optional[str] = typer.Option(
        None,
        "--catalog",
        help="Also add each analysed video to this catalog, a file "
        "or a postgresql:// URL (one transaction per video; see `cinemanet search`).",
    ),
) -> None:
    """Find every shot of each video and describe it in cinematic terms.

    Reads mp4, mov, mkv, avi, webm, mxf and m4v. For each video, writes a sidecar
    <name>.cinemanet.json (atomically) with the video's summary and every shot: frames,
    times, SMPTE timecodes, the 14 concept groups averaged over frames sampled inside the
    shot, tags, a description, keyframes, dominant colours and motion. Videos whose sidecar
    matches their content hash and the model are skipped. A video that fails is reported
    and the batch goes on; the exit status is then 1.
    """
    from ..video import tagworker
    from ..video.sidecar import existing_sidecar

    # a one-at-a-time run that will (likely) tag: its tagging process starts now, so that its
    # start-up overlaps ours (imports, probing); a file with a sidecar is likely skipped
    if (
        engine == "local"
        and jobs == 1
        and any(p.is_dir() or p.is_file() and (force or not existing_sidecar(p, out)) for p in paths)
    ):
        tagworker.prestart()
    from ..media import discover
    from ..media.video import VIDEO_EXTENSIONS
    from ..video.batch import analyze_paths
    from ..engines import ENGINES, EngineError
    from ..video.detectors import DETECTORS

    for reg, name in ((DETECTORS, detector), (ENGINES, engine)):
        try:
            reg.get_plugin(name)
        except KeyError as e:
            _err(e.args[0])
            raise typer.Exit(2)
    from ..video.detectors import DetectorOptionError, parse_options

    try:
        options = parse_options(detector, detector_option)
    except DetectorOptionError as e:
        _err(f"--detector-option: {e}")
        raise typer.Exit(2)
    if out is not None and not out.exists():
        try:
            out.mkdir(parents=True)
        except OSError as e:
            _err(f"--out {out}: cannot create the folder ({e.strerror})")
            raise typer.Exit(2)
    if out is not None and not out.is_dir():
        _err(f"--out {out}: not a folder")
        raise typer.Exit(2)
    fmt = format or (ShotFormat.table if sys.stdout.isatty() else None)
    cat = None
    if catalog is not None:
        from ..catalog import CatalogError, open_catalog

        try:
            cat = open_catalog(catalog)
        except CatalogError as e:
            _err(str(e))
            raise typer.Exit(2)
    inputs = list(discover(paths, VIDEO_EXTENSIONS, kind="videos"))
    if stats is not None:
        if sum(i.error is None for i in inputs) > 1:
            _err("--stats: give one video (a stats file describes one video)")
            raise typer.Exit(2)
        if not stats.parent.is_dir():
            _err(f"--stats {stats}: folder {stats.parent} does not exist")
            raise typer.Exit(2)
    bars = _VideoProgress([i.path for i in inputs if i.error is None], quiet)
    _exit_cleanly_on_sigterm()
    failed = 0
    rows = []
    try:
        if ray_address and engine != "ray":
            _err("--ray-address needs --engine ray")
            raise typer.Exit(2)
        for res in analyze_paths(
            inputs,
            out_dir=out,
            compress=compress,
            detector=detector,
            jobs=jobs,
            engine=engine,
            engine_options={"address": ray_address} if ray_address else None,
            force=force,
            progress=bars.update,
            detector_options=options,
            stats=stats,
            split_seconds=split,
        ):
            bars.finish(res.path)
            if res.status != "error" and cat is not None:
                notes: list[str] = []
                try:
                    cat.import_sidecar(res.video or res.doc, res.sidecar, skip_unchanged=True, notes=notes)
                except CatalogError as e:
                    failed += 1
                    _err(f"{res.path}: not added to the catalog: {e}")
                for n in notes:
                    _err(f"{res.path}: note: {n}")
            if res.status == "error":
                failed += 1
                _err(f"{res.path}: {res.error}")
                if fmt is ShotFormat.jsonl:
                    sys.stdout.write(dumps({"schema": SHOT_SCHEMA, "path": res.path, "error": res.error}) + "\n")
            elif fmt is None:
                _err(_summary_line(res))
            elif fmt is ShotFormat.jsonl:
                for shot in res.doc["shots"]:
                    if not embeddings:
                        shot = {k: v for k, v in shot.items() if k != "embedding"}
                    sys.stdout.write(dumps(shot) + "\n")
            sys.stdout.flush()
            rows.append(res)
    except EngineError as e:
        _err(str(e))
        raise typer.Exit(2)
    finally:
        bars.close()
        tagworker.discard()
        if cat is not None:
            cat.close()
    if fmt is ShotFormat.table:
        _video_table(rows)
    if failed:
        _err(f"{failed} of {count(len(rows), 'video')} failed")
        raise typer.Exit(1)


class _Terminated(SystemExit):
    """SIGTERM, raised in the main thread so every ``finally`` on the way out runs."""


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so workers are closed and finished sidecars stay."""
    import signal

    def stop(signum, frame):
        raise _Terminated(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def dumps(obj) -> str:
    from ..results import dumps as _d

    return _d(obj)


def _summary_line(r) -> str:
    n = len(r.doc["shots"])
    speed = f", {r.doc['video']['duration'] / r.seconds:.1f}x real time" if r.status == "done" and r.seconds > 0 else ""
    return f"{r.path}: {r.status}, {n} shot{'' if n == 1 else 's'}, {r.doc['video']['duration']:.1f} s{speed} -> {r.sidecar}"


def _video_table(rows) -> None:
    from rich.table import Table

    t = Table()
    for c in ("video", "status", "duration", "shots", "speed", "sidecar / error"):
        t.add_column(c, overflow="fold")
    for r in rows:
        name = os.path.basename(r.path)
        if r.status == "error":
            t.add_row(name, "[red]error[/red]", "", "", "", r.error)
            continue
        dur = r.doc["video"]["duration"]
        speed = f"{dur / r.seconds:.1f}x real time" if r.status == "done" and r.seconds > 0 else ""
        t.add_row(name, r.status, f"{dur:.1f} s", str(len(r.doc["shots"])), speed, r.sidecar)
    print_table(t)


class _VideoProgress:
    """Rich progress on stderr: one bar per video in flight and one overall (frames/s, ETA)."""

    def __init__(self, videos: list[str], quiet: bool):
        self.p = None
        if quiet or not sys.stderr.isatty() or not videos:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

        from ..media.video import VideoReadError, probe_header

        self.total = {}  # the container's estimate: the analysis itself probes each video once
        for v in videos:
            try:
                self.total[v] = max(1, probe_header(v).frame_count)
            except VideoReadError:
                self.total[v] = 1
        self.p = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[fps]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.p.start()
        self.all = self.p.add_task("all videos", total=sum(self.total.values()), fps="")
        self.tasks, self.done, self.t0 = {}, {}, time.perf_counter()

    def update(self, video: str, done: int, total: int) -> None:
        if not self.p:
            return
        if video not in self.tasks:
            self.tasks[video] = self.p.add_task(os.path.basename(video)[:40], total=max(total, 1), fps="")
        self.p.update(self.tasks[video], completed=done, total=max(total, done, 1))
        self.done[video] = done
        frames = sum(self.done.values())
        rate = frames / max(time.perf_counter() - self.t0, 1e-6)
        self.p.update(self.all, completed=frames, fps=f"{rate:.0f} frames/s")

    def finish(self, video: str) -> None:
        if self.p and video in self.tasks:
            self.p.remove_task(self.tasks.pop(video))

    def close(self) -> None:
        if self.p:
            self.p.stop()


# ------------------------------------------------------------------------------------ export
@app.command("export", cls=with_registry_choices(to="cinemanet.video.export:EXPORTERS"))
def export_cmd(
    sidecars: list[Path] = typer.Argument(
        ..., help="Sidecars (<video>.cinemanet.json[.zst]) or the videos they belong to.", show_default=False
    ),
    to: str = typer.Option(..., "--to", "-t", help="Export format."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="File or folder to write (default: next to the sidecar)."
    ),
) -> None:
    """Export analysed shots to editing tools and spreadsheets.

    One file per sidecar, named after its video (clip.mp4 -> clip.mp4.edl) unless --output
    names a file. A sidecar that cannot be exported is reported and the others go on;
    the exit status is then 1.
    """
    from ..video.export import ExportError, export, get_exporter
    from ..video.sidecar import existing_sidecar, is_sidecar_name

    try:
        get_exporter(to)
    except ExportError as e:
        _err(str(e))
        raise typer.Exit(2)
    if output is not None and len(sidecars) > 1 and not output.is_dir():
        _err("--output must be a folder when exporting several sidecars")
        raise typer.Exit(2)
    failed = 0
    for sc in sidecars:
        src = sc
        if not is_sidecar_name(sc.name):
            found = existing_sidecar(sc)
            if found is None:
                failed += 1
                _err(f"{sc}: no sidecar found next to it (run `cinemanet analyze` first)")
                continue
            src = found
        try:
            written = export(src, to, output if output is not None else src.parent)
        except ExportError as e:
            failed += 1
            _err(f"{sc}: {e}")
            continue
        typer.echo(str(written))
    if failed:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------- taxonomy
@app.command()
def taxonomy(
    group: Optional[str] = typer.Option(None, "--group", "-g", help="Show one group (shot.framing, or framing)."),
    format: TaxFormat = typer.Option(
        TaxFormat.table, "--format", "-f", help="table, json or markdown.", case_sensitive=False
    ),
) -> None:
    """Show the CinemaNet taxonomy: groups, labels, descriptions and aliases."""
    from ..taxonomy import get_taxonomy

    tax = get_taxonomy()
    try:
        groups = [tax.find_group(group)] if group else list(tax.groups)
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
                    "key": g.key,
                    "title": g.title,
                    "question": g.question,
                    "description": g.description,
                    "multi_label": g.multi_label,
                    "ordered": g.ordered,
                    **({"order": list(g.order)} if g.ordered else {}),
                    "labels": [
                        {
                            "key": l.key,
                            "title": l.title,
                            "description": l.description,
                            "aliases": list(l.aliases),
                            "parent": l.parent,
                        }
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
        gs = spec.groups[g]
        cap = f", confidence capped at {gs.cap:.2f}" if gs.cap is not None else ""
        typer.echo(f"  {g:18s} {p.name:28s} threshold {gs.threshold:.2f}{cap}  {p.method}")
        if gs.validation:
            typer.echo(f"  {'':18s}   validation: {gs.validation}")
        for hname, h in p.heads.items():
            typer.echo(_head_line(hname, h))


def _head_line(hname: str, h) -> str:
    """One head's data, sources and held-out figures, for `model info`."""
    ho = h.meta.get("heldout", {})
    acc = ho.get("accuracy")
    name = "trained head" if hname == "head" else f"head {hname}"
    parts = [f"{'':18s}   {name}: {h.meta.get('dataset')}, n_train={h.meta.get('n_train')}"]
    if acc is not None:
        parts.append(f"kept-apart accuracy {acc:.3f} (n={ho.get('n_test')})")
    for k, name in (("macro_f1", "macro-F1"), ("ece", "ECE"), ("within_one", "within one")):
        if ho.get(k) is not None:
            parts.append(f"{name} {ho[k]:.3f}")
    em = ho.get("emitted")
    if em and em.get("precision") == em.get("precision"):
        parts.append(f"emitted precision {em['precision']:.3f} at coverage {em['coverage']:.3f}")
    loso = {s: a for s, a in (h.meta.get("loso") or {}).items() if a is not None}
    if loso:
        parts.append("cross-source (leave one out): " + ", ".join(f"{s} {a:.3f}" for s, a in loso.items()))
    parts.append(f"data {h.meta.get('data_sha256', '')[:12]}")
    return "; ".join(parts)


@model_app.command("train-default")
def model_train_default(
    data: Path = typer.Option(..., "--data", help="The shared training data folder (../shared/data)."),
    out: Path = typer.Option(None, "--out", help="Where to write heads (default: the packaged default model)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Feature worker processes (0: one per core)."),
    generated: bool = typer.Option(
        True,
        "--generated/--no-generated",
        help="Also the heads of label-generated concepts (saturation, key), learnt from the colour stills transformed by the generators.",
    ),
) -> None:
    """Train the default model's heads (framing, over-the-shoulder, location; label-generated
    concepts) from labelled stills."""
    from importlib import resources

    from ..training.default_heads import train_default, train_generated

    if not (data / "cinemanet-stills").is_dir() or not (data / "scene15-train").is_dir():
        _err(f"{data}: expected cinemanet-stills/ and scene15-train/ inside")
        raise typer.Exit(2)
    target = out or Path(str(resources.files("cinemanet").joinpath("models", "default")))
    train_default(data, target, jobs=jobs or None, log=lambda m: typer.echo(m, err=True))
    if generated:
        train_generated(data, target, jobs=jobs or None, log=lambda m: typer.echo(m, err=True))


@model_app.command("evaluate-default")
def model_evaluate_default(
    data: Path = typer.Option(..., "--data", help="The shared training data folder (../shared/data)."),
    loso: bool = typer.Option(
        False, "--loso", help="Also refit leave-one-source-out for every task with two or more sources (minutes)."
    ),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Feature worker processes (0: one per core)."),
) -> None:
    """Judge the packaged default heads on the kept-apart split of the shared data (and, with
    --loso, leave one source out), printing one line per task."""
    import json as _json
    from importlib import resources

    from ..training.default_heads import LOSO_TASKS, Trainer, evaluate_heads, prepare

    model = Path(str(resources.files("cinemanet").joinpath("models", "default")))
    log = lambda m: typer.echo(m, err=True)  # noqa: E731
    prep = prepare(data, jobs or None, log)
    card = _json.loads((model / "metrics.json").read_text())["tasks"]
    for name, m in evaluate_heads(data, model, log=log, prep=prep).items():
        e = m["emitted"]
        typer.echo(
            f"{name}: kept-apart accuracy {m['accuracy']:.3f} (n={m['n']}), macro-F1 {m['macro_f1']:.3f}, "
            f"ECE {m['ece']:.3f}, emitted precision {e['precision']:.3f} at coverage {e['coverage']:.3f}"
        )
        if len(m["by_source"]) > 1:
            typer.echo(
                f"  {name} kept apart by source: "
                + ", ".join(
                    f"{s} {v['accuracy']:.3f} (n={v['n']}"
                    + (
                        f"; among its own {v['in_set_classes']} classes {v['in_set_accuracy']:.3f}"
                        if "in_set_accuracy" in v
                        else ""
                    )
                    + ")"
                    for s, v in m["by_source"].items()
                )
            )
    if loso:
        tr = Trainer(prep, 0, log)
        for name in LOSO_TASKS:
            t = prep.tasks[name]
            res, _, _ = tr.loso(t, [r for r in t.rows if not prep.images[r[0]].test], card[name]["cv"]["wd"])
            typer.echo(
                f"{name} leave one source out: "
                + ", ".join(f"{s} {v['accuracy']:.3f} (n={v['n']})" for s, v in res.items() if "accuracy" in v)
            )


# ----------------------------------------------------------------------------------- plugins
class PluginFormat(str, Enum):
    table = "table"
    json = "json"


@app.command("plugins")
def plugins_cmd(
    kind: Optional[str] = typer.Option(
        None, "--kind", "-k", help="Only this kind: analyzers, predictors, detectors, exporters, catalogs or engines."
    ),
    format: PluginFormat = typer.Option(PluginFormat.table, "--format", "-f", case_sensitive=False),
) -> None:
    """List the installed plug-ins: kind, name, origin (builtin or the package), status.

    Third-party packages add plug-ins through the entry-point groups cinemanet.<kind>
    (see docs/ARCHITECTURE.md). Exit status 1 when a plug-in failed to load.
    """
    from ..plugins import KINDS, installed

    if kind is not None and kind not in KINDS:
        _err(f"unknown plug-in kind {kind!r}; kinds are: {', '.join(KINDS)}")
        raise typer.Exit(2)
    rows = installed((kind,) if kind else KINDS)
    if format is PluginFormat.json:
        from dataclasses import asdict

        typer.echo(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        for r in rows:
            summary = f"  {r.summary}" if r.summary and r.status == "ok" else ""
            typer.echo(f"{r.kind:<11} {r.name:<30} {r.origin:<16} {r.status}{summary}")
    if any(r.status.startswith("error") for r in rows):
        raise typer.Exit(1)


def _register_command_modules() -> None:
    """Command groups that live in their own modules: each has ``register(app, model_app)``."""
    import importlib
    import importlib.util

    for name in ("cli_catalog", "cli_data", "cli_web", "cli_label"):
        if importlib.util.find_spec(f"{__package__}.{name}") is not None:
            importlib.import_module(f"{__package__}.{name}").register(app, model_app)


_register_command_modules()


def main() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="cinemanet: %(message)s", stream=sys.stderr)
    # File names that are not valid UTF-8 arrive as surrogate escapes: write them back as the
    # original bytes on stdout (CSV, table) and visibly escaped on stderr, never crash on them.
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)
    from ..extras import MissingExtra

    try:
        app()
    except MissingExtra as e:  # an optional piece is not installed: one line naming the extra
        print(f"cinemanet: {e}", file=sys.stderr)
        sys.exit(2)
    except _Terminated as e:
        # The unwind has closed the workers and written what was finished. Interpreter
        # finalisation is skipped: decoder and ONNX Runtime threads still alive there could
        # crash it (an exit by SIGSEGV instead of 143 was seen once).
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(e.code)


if __name__ == "__main__":
    main()
