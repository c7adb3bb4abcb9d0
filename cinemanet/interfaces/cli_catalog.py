"""Catalog and search commands: ``cinemanet index``, ``cinemanet catalog status|prune`` and
``cinemanet search``. Registered by :mod:`cinemanet.interfaces.cli`; same conventions
(exit 0 all done, 1 some input failed and the rest went on, 2 usage error; one-line errors)."""

from __future__ import annotations

import json
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .console import err as _err
from .console import count, print_table

catalog_app = typer.Typer(help="Inspect and maintain the catalog of analysed footage.", no_args_is_help=True)

CATALOG_HELP = (
    "Catalog: a file (SQLite) or a postgresql://user@host/db URL (default: $CINEMANET_CATALOG, else "
    "catalog.sqlite in the user data folder)."
)


class SearchFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    edl = "edl"
    otio = "otio"
    csv = "csv"


def _open(target: Optional[str], *, create: bool = True, readonly: bool = False):
    from ..catalog import CatalogError, open_catalog

    try:
        return open_catalog(target, create=create, readonly=readonly)
    except CatalogError as e:
        _err(str(e))
        raise typer.Exit(2)


def _refresh_index(cat, quiet: bool) -> None:
    """Bring the saved search index up to date, so the next search starts fast."""
    from ..search.index import SearchIndex

    t0 = time.perf_counter()
    idx = SearchIndex(cat)
    idx.refresh()
    idx.save()
    if not quiet:
        _err(f"search index updated in {time.perf_counter() - t0:.1f} s")


# ------------------------------------------------------------------------------------- index
def index_cmd(
    paths: list[Path] = typer.Argument(
        ...,
        help="Sidecars (*.cinemanet.json[.zst]), videos with a sidecar, or folders (searched recursively).",
        show_default=False,
    ),
    catalog: Optional[str] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
    force: bool = typer.Option(False, "--force", help="Re-import sidecars already in the catalog unchanged."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
) -> None:
    """Import analysed videos (their sidecars) into the catalog.

    Each video is one transaction: an interrupted import never leaves half a video. A video
    already in the catalog (same content hash, or the same path) is replaced by the newer
    analysis; an unchanged one is skipped. A sidecar that cannot be read is reported and the
    others go on; the exit status is then 1.
    """
    cat = _open(catalog)
    t0 = time.perf_counter()
    done = skipped = failed = shots = 0
    tty = sys.stderr.isatty()
    try:
        for r in cat.index_paths(paths, skip_unchanged=not force):
            if not r.ok:
                failed += 1
                _err(f"{r.path}: {r.error}")
                continue
            if r.note:
                _err(f"{r.path}: note: {r.note}")
            if r.skipped:
                skipped += 1
            else:
                done += 1
                shots += r.shots
            if not quiet:
                n = done + skipped + failed
                msg = f"{count(n, 'sidecar')}: {done} imported ({count(shots, 'shot')}), {skipped} unchanged, {failed} failed"
                if tty:
                    sys.stderr.write(f"\r{msg}")
                elif n % 100 == 0:
                    _err(msg)
        secs = time.perf_counter() - t0
        if not quiet:
            if tty:
                sys.stderr.write("\n")
            rate = f", {shots / secs:,.0f} shots/s" if shots and secs > 0 else ""
            _err(
                f"{cat.path}: {count(done, 'video')} imported ({count(shots, 'shot')}), {skipped} unchanged, {failed} failed "
                f"in {secs:.1f} s{rate}"
            )
        if done:
            _refresh_index(cat, quiet)
    finally:
        cat.close()
    if failed:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------- catalog
def _file_state(m) -> str:
    from ..catalog.relink import file_state

    return file_state(m)


@catalog_app.command("status")
def status_cmd(
    catalog: Optional[str] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON object instead of text."),
) -> None:
    """Show the catalog: where it is, its schema version, media and shots, files missing or changed."""
    cat = _open(catalog, create=False)
    try:
        n_media, n_shots = cat.counts()
        problems = []
        for m in cat.media_list():
            state = _file_state(m)
            if state != "ok":
                problems.append({"media_id": m.id, "path": m.path, "state": state})
        storage = cat.storage_info()
        info = {
            "catalog": str(cat.path),
            "schema_version": storage["schema_version"],
            "media": n_media,
            "shots": n_shots,
            "bytes": cat.file_size(),
            "journal_mode": storage.get("journal_mode", ""),
            "backend": storage.get("backend", "sqlite"),
            "problems": problems,
            "integrity": cat.integrity(),
        }
    finally:
        cat.close()
    if json_out:
        typer.echo(json.dumps(info, ensure_ascii=False))
        return
    typer.echo(f"catalog:  {info['catalog']}")
    if info["backend"] == "sqlite":
        typer.echo(f"schema:   version {info['schema_version']} ({info['journal_mode']} journal)")
    else:
        typer.echo(
            f"schema:   version {info['schema_version']} ({info['backend']} {storage.get('server', '')}; "
            f"pgvector {storage.get('pgvector', '?')})"
        )
    typer.echo(f"contents: {count(n_media, 'video')}, {count(n_shots, 'shot')}, {info['bytes'] / 1e6:.1f} MB")
    for p in problems:
        typer.echo(f"{p['state']:8}  {p['path']}")
    if problems:
        typer.echo(
            f"{len(problems)} file(s) missing or changed: run `cinemanet catalog prune` "
            "(with --search-root DIR to find moved files)"
        )
    for i in info["integrity"]:
        typer.echo(f"problem:  {i}")


@catalog_app.command("prune")
def prune_cmd(
    catalog: Optional[str] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
    search_root: list[Path] = typer.Option(
        [], "--search-root", "-r", help="Folder to look for moved videos in (recursively; repeatable)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Say what would change, change nothing."),
) -> None:
    """Relink moved videos and remove vanished ones from the catalog.

    A video whose file is missing (or whose name now holds a file of another size) is looked
    for: next to its sidecar, then under each --search-root, matched by size and then by
    content hash (SHA-256), so a renamed copy is found too. Found: its path is updated
    (relinked). Not found: it and its shots are removed. Each change is its own transaction.
    """
    for r in search_root:
        if not r.is_dir():
            _err(f"--search-root {r}: not a folder")
            raise typer.Exit(2)
    from ..catalog.relink import apply, plan_prune

    cat = _open(catalog, create=False)
    relinked = removed = 0
    try:
        for ch in plan_prune(cat, search_root):
            m = ch.media
            if ch.relink:
                relinked += 1
                typer.echo(f"relink  {m.path} -> {ch.new_path}")
            else:
                removed += 1
                typer.echo(f"remove  {m.path} ({m.shot_count} shots)")
            if not dry_run:
                apply(cat, ch)
        if (relinked or removed) and not dry_run:
            _refresh_index(cat, True)
    finally:
        cat.close()
    verb = "would be" if dry_run else "were"
    _err(f"{relinked} video(s) {verb} relinked, {removed} removed")


@catalog_app.command("copy")
def copy_cmd(
    src: str = typer.Argument(..., help="The catalog to copy: a file or a postgresql:// URL.", show_default=False),
    dst: str = typer.Argument(..., help="A new or empty catalog: a file or a postgresql:// URL.", show_default=False),
) -> None:
    """Copy a catalog to another backend (SQLite <-> PostgreSQL) without losing anything.

    Every media and shot row is copied as stored (ids, scores, embeddings), in one
    transaction, and the copy is verified by a digest of every row. The destination must be
    empty; its search index is built on first use.
    """
    from ..catalog import CatalogError
    from ..catalog.copy import copy_catalog

    t0 = time.perf_counter()
    try:
        r = copy_catalog(src, dst)
    except CatalogError as e:
        _err(str(e))
        raise typer.Exit(1)
    _err(
        f"copied {r.media} video(s), {r.shots} shot(s) in {time.perf_counter() - t0:.1f} s (verified, digest {r.digest[:12]})"
    )


# ------------------------------------------------------------------------------------ search
def search_cmd(
    query: list[str] = typer.Argument(
        None,
        help="The query, e.g. night exterior wide -person sort:duration (see docs/SEARCH.md). Empty: every shot.",
        show_default=False,
    ),
    like: Optional[str] = typer.Option(None, "--like", help="Rank by similarity to this image file or shot id."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=100000, help="Results to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many results (paging)."),
    sort: Optional[str] = typer.Option(
        None,
        "--sort",
        help="confidence, duration, brightness, motion or time "
        "(optionally :asc or :desc); overrides sort: in the query.",
    ),
    format: Optional[SearchFormat] = typer.Option(
        None,
        "--format",
        "-f",
        help="table (default on a terminal), jsonl (the shot contract plus id and score), "
        "edl (CMX3600 of the results in order), otio (an OpenTimelineIO timeline) or csv "
        "(one row per shot, with id and score).",
        case_sensitive=False,
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    catalog: Optional[str] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
    sql: bool = typer.Option(
        False,
        "--sql",
        help="PostgreSQL catalogs: compile the query to SQL and run it on the server (same answers, "
        "no search index to build; default $CINEMANET_SEARCH=sql).",
    ),
) -> None:
    """Search the catalog with the query language, optionally ranked by similarity.

    Words are taxonomy labels and aliases (night exterior wide), group:label picks one group's
    label (framing:closeup), -word or NOT excludes, OR and parentheses combine, bounds test a
    score or a number (framing:closeup>0.8, duration>2), sort: orders (sort:duration). An
    unknown word is an error with suggestions, never an empty result.
    """
    from ..catalog import CatalogError
    from ..search.engine import SearchEngine
    from ..search.query import QueryError

    text = " ".join(query or [])
    fmt = format or (SearchFormat.table if (output is None and sys.stdout.isatty()) else SearchFormat.jsonl)
    cat = _open(catalog, create=False)
    try:
        like_arg = None
        if like is not None:
            like_arg = int(like) if like.strip().isdigit() and not os.path.exists(like) else Path(like)
        try:
            eng = SearchEngine(cat, where="sql" if sql else None)
            res = eng.search(text, like=like_arg, limit=limit, offset=offset, sort=sort)
        except QueryError as e:
            _err(f"search: {e}")
            raise typer.Exit(2)
        except CatalogError as e:
            _err(str(e))
            raise typer.Exit(1)
        for n in res.notes:
            _err(f"note: {n}")
        found = eng.found(res)
        media = {f.media_id: None for f in found}
        media = {m: cat.media(m) for m in media}
    finally:
        cat.close()
    try:
        out = open(output, "w", encoding="utf-8", newline="\n") if output is not None else sys.stdout
    except OSError as e:
        _err(f"{output}: cannot write: {e.strerror or e}")
        raise typer.Exit(1)
    try:
        if fmt is SearchFormat.jsonl:
            for f in found:
                out.write(json.dumps(f.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
        elif fmt is SearchFormat.table:
            _table(found, res, out)
        elif fmt is SearchFormat.csv:
            from ..video.export.csv import write_results

            write_results(found, out)
        elif fmt is SearchFormat.edl:
            from ..search.export import results_edl

            out.write(results_edl(found, media, title=text or "CinemaNet search"))
        else:
            from ..search.export import results_otio

            out.write(results_otio(found, media, title=text or "CinemaNet search"))
    finally:
        if output is not None:
            out.close()
    if fmt is not SearchFormat.table:
        _err(f"{len(found)} of {count(res.total, 'matching shot')} ({res.took_ms:.0f} ms)")


def _table(found, res, out) -> None:
    from rich.table import Table

    t = Table(caption=f"{len(found)} of {count(res.total, 'matching shot')}, {res.took_ms:.0f} ms — {res.query or '*'}")
    for c in ("id", "video", "shot", "start", "dur", "score", "description"):
        t.add_column(c, overflow="fold")
    for f in found:
        s = f.shot
        t.add_row(
            str(f.id),
            os.path.basename(s.path),
            str(s.shot + 1),
            s.start_timecode or f"{s.start_time:.2f}",
            f"{s.end_time - s.start_time:.1f}s",
            f"{f.score:.3f}",
            s.description,
        )
    print_table(t, out)


def register(app: typer.Typer, model_app: typer.Typer) -> None:
    app.command("index")(index_cmd)
    app.command("search")(search_cmd)
    app.add_typer(catalog_app, name="catalog")
