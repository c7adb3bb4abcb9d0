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
from .console import print_table

catalog_app = typer.Typer(help="Inspect and maintain the catalog of analysed footage.", no_args_is_help=True)

CATALOG_HELP = "Catalog file (default: $CINEMANET_CATALOG, else catalog.sqlite in the user data folder)."


class SearchFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    edl = "edl"
    otio = "otio"
    csv = "csv"




def _open(path: Optional[Path], *, create: bool = True, readonly: bool = False):
    from ..catalog import Catalog, CatalogError

    try:
        return Catalog.open(path, create=create, readonly=readonly)
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
    paths: list[Path] = typer.Argument(..., help="Sidecars (*.cinemanet.json[.zst]), videos with a sidecar, or folders "
                                       "(searched recursively).", show_default=False),
    catalog: Optional[Path] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
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
            if r.skipped:
                skipped += 1
            else:
                done += 1
                shots += r.shots
            if not quiet:
                n = done + skipped + failed
                msg = f"{n} sidecar(s): {done} imported ({shots} shots), {skipped} unchanged, {failed} failed"
                if tty:
                    sys.stderr.write(f"\r{msg}")
                elif n % 100 == 0:
                    _err(msg)
        secs = time.perf_counter() - t0
        if not quiet:
            if tty:
                sys.stderr.write("\n")
            rate = f", {shots / secs:,.0f} shots/s" if shots and secs > 0 else ""
            _err(f"{cat.path}: {done} video(s) imported ({shots} shots), {skipped} unchanged, {failed} failed "
                 f"in {secs:.1f} s{rate}")
        if done:
            _refresh_index(cat, quiet)
    finally:
        cat.close()
    if failed:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------- catalog
def _file_state(m) -> str:
    """ok, missing or changed (size differs: another file now has this name)."""
    try:
        st = os.stat(m.path)
    except OSError:
        return "missing"
    return "ok" if st.st_size == m.size or not m.size else "changed"


@catalog_app.command("status")
def status_cmd(
    catalog: Optional[Path] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON object instead of text."),
) -> None:
    """Show the catalog: where it is, its schema version, media and shots, files missing or changed."""
    from ..catalog import schema

    cat = _open(catalog, create=False)
    try:
        n_media, n_shots = cat.counts()
        problems = []
        for m in cat.media_list():
            state = _file_state(m)
            if state != "ok":
                problems.append({"media_id": m.id, "path": m.path, "state": state})
        info = {
            "catalog": str(cat.path),
            "schema_version": schema.version(cat.con),
            "media": n_media,
            "shots": n_shots,
            "bytes": cat.file_size(),
            "journal_mode": cat.con.execute("PRAGMA journal_mode").fetchone()[0],
            "problems": problems,
            "integrity": cat.integrity(),
        }
    finally:
        cat.close()
    if json_out:
        typer.echo(json.dumps(info, ensure_ascii=False))
        return
    typer.echo(f"catalog:  {info['catalog']}")
    typer.echo(f"schema:   version {info['schema_version']} ({info['journal_mode']} journal)")
    typer.echo(f"contents: {n_media} video(s), {n_shots} shot(s), {info['bytes'] / 1e6:.1f} MB")
    for p in problems:
        typer.echo(f"{p['state']:8}  {p['path']}")
    if problems:
        typer.echo(f"{len(problems)} file(s) missing or changed: run `cinemanet catalog prune` "
                   "(with --search-root DIR to find moved files)")
    for i in info["integrity"]:
        typer.echo(f"problem:  {i}")


def _find_moved(m, by_size: dict | None) -> str | None:
    """A candidate file (by size) with the media's size and content hash (the same video, moved)."""
    from ..video.analyze import file_sha256

    for cand in (by_size or {}).get(m.size, ()):
        try:
            if file_sha256(Path(cand)) == m.sha256:
                return cand
        except OSError:
            continue
    return None


def _sizes_under(roots: list[Path]) -> dict[int, list[str]]:
    from ..media.video import VIDEO_EXTENSIONS

    out: dict[int, list[str]] = {}
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                if Path(f).suffix.lower() in VIDEO_EXTENSIONS:
                    p = os.path.join(dirpath, f)
                    try:
                        out.setdefault(os.stat(p).st_size, []).append(os.path.abspath(p))
                    except OSError:
                        continue
    return out


@catalog_app.command("prune")
def prune_cmd(
    catalog: Optional[Path] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
    search_root: list[Path] = typer.Option([], "--search-root", "-r", help="Folder to look for moved videos in "
                                           "(recursively; repeatable)."),
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
    cat = _open(catalog, create=False)
    relinked = removed = 0
    try:
        by_size = None
        for m in cat.media_list():
            if _file_state(m) == "ok":
                continue
            new = None
            if m.sidecar:  # the video may sit beside its sidecar (moved together)
                from ..catalog.store import SIDECAR_SUFFIXES

                sc = Path(m.sidecar)
                for suf in SIDECAR_SUFFIXES:
                    if sc.name.endswith(suf):
                        beside = sc.with_name(sc.name[: -len(suf)])
                        if beside.is_file() and beside.stat().st_size == m.size and str(beside) != m.path:
                            new = _find_moved(m, {m.size: [str(beside)]})
            if new is None and search_root:
                if by_size is None:
                    by_size = _sizes_under(search_root)
                new = _find_moved(m, by_size)
            if new:
                relinked += 1
                typer.echo(f"relink  {m.path} -> {new}")
                if not dry_run:
                    st = os.stat(new)
                    cat.relink(m.id, new, st.st_size, st.st_mtime)
            else:
                removed += 1
                typer.echo(f"remove  {m.path} ({m.shot_count} shots)")
                if not dry_run:
                    cat.remove_media([m.id])
        if (relinked or removed) and not dry_run:
            _refresh_index(cat, True)
    finally:
        cat.close()
    verb = "would be" if dry_run else "were"
    _err(f"{relinked} video(s) {verb} relinked, {removed} removed")


# ------------------------------------------------------------------------------------ search
def search_cmd(
    query: list[str] = typer.Argument(None, help="The query, e.g. night exterior wide -person sort:duration "
                                      "(see docs/SEARCH.md). Empty: every shot.", show_default=False),
    like: Optional[str] = typer.Option(None, "--like", help="Rank by similarity to this image file or shot id."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=100000, help="Results to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many results (paging)."),
    sort: Optional[str] = typer.Option(None, "--sort", help="confidence, duration, brightness, motion or time "
                                       "(optionally :asc or :desc); overrides sort: in the query."),
    format: Optional[SearchFormat] = typer.Option(
        None, "--format", "-f", help="table (default on a terminal), jsonl (the shot contract plus id and score), "
        "edl (CMX3600 of the results in order), otio (an OpenTimelineIO timeline) or csv "
        "(one row per shot, with id and score).", case_sensitive=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP),
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
            eng = SearchEngine(cat)
            res = eng.search(text, like=like_arg, limit=limit, offset=offset, sort=sort)
        except QueryError as e:
            _err(f"search: {e}")
            raise typer.Exit(2)
        except CatalogError as e:
            _err(str(e))
            raise typer.Exit(1)
        for n in res.notes:
            _err(f"note: {n}")
        shots = cat.shots([h.shot_id for h in res.hits])
        scores = {h.shot_id: h.score for h in res.hits}
        media = {}
        for s in shots:
            if s["media_id"] not in media:
                media[s["media_id"]] = cat.media(s["media_id"])
    finally:
        cat.close()
    try:
        out = open(output, "w", encoding="utf-8", newline="\n") if output is not None else sys.stdout
    except OSError as e:
        _err(f"{output}: cannot write: {e.strerror or e}")
        raise typer.Exit(1)
    try:
        if fmt is SearchFormat.jsonl:
            for s in shots:
                s = dict(s)
                s.pop("media_id", None)
                s["score"] = scores[s["id"]]
                out.write(json.dumps(s, ensure_ascii=False, separators=(",", ":")) + "\n")
        elif fmt is SearchFormat.table:
            _table(shots, scores, res, out)
        elif fmt is SearchFormat.csv:
            from ..video.export.csv import write_results

            write_results(shots, scores, out)
        elif fmt is SearchFormat.edl:
            out.write(results_edl(shots, media, title=text or "CinemaNet search"))
        else:
            out.write(results_otio(shots, media, title=text or "CinemaNet search"))
    finally:
        if output is not None:
            out.close()
    if fmt is not SearchFormat.table:
        _err(f"{len(shots)} of {res.total} matching shot(s) ({res.took_ms:.0f} ms)")


def _table(shots, scores, res, out) -> None:
    from rich.table import Table

    t = Table(caption=f"{len(shots)} of {res.total} matching shot(s), {res.took_ms:.0f} ms — {res.query or '*'}")
    for c in ("id", "video", "shot", "start", "dur", "score", "description"):
        t.add_column(c, overflow="fold")
    for s in shots:
        t.add_row(str(s["id"]), os.path.basename(s["path"]), str(s["shot"] + 1), s.get("start_timecode") or f"{s['start_time']:.2f}",
                  f"{s['end_time'] - s['start_time']:.1f}s", f"{scores[s['id']]:.3f}", s["description"])
    print_table(t, out)


def _doc(shot: dict, m) -> dict:
    """A one-shot ``cinemanet.video/1`` document, for the per-video exporters' helpers."""
    return {"schema": "cinemanet.video/1", "path": shot["path"], "video": dict(m.video) if m else {},
            "file": {"sha256": m.sha256, "size": m.size} if m else {}, "shots": [shot]}


def results_edl(shots: list[dict], media: dict, title: str) -> str:
    """CMX3600 EDL of search results in order: one event per shot, each from its own reel."""
    from ..video.export import ascii_safe, fps, hour_frames, one_line, smpte, time_frame, truncate
    from ..video.export.edl import event_lines, reel_name

    lines = [f"TITLE: {truncate(ascii_safe(title) or 'CinemaNet search', 70)}", "FCM: NON-DROP FRAME", ""]
    seq_rate = fps(_doc(shots[0], media.get(shots[0]["media_id"]))) if shots else None
    rec = hour_frames(seq_rate) if seq_rate else 0
    for n, s in enumerate(shots, start=1):
        rate = fps(_doc(s, media.get(s["media_id"])))
        si, so = time_frame(float(s["start_time"]), rate), time_frame(float(s["end_time"]), rate)
        so = max(so, si + 1)
        length = time_frame((so - si) / float(rate), seq_rate)
        ri, ro = rec, rec + max(1, length)
        rec = ro
        tc = [smpte(si, rate), smpte(so, rate), smpte(ri, seq_rate), smpte(ro, seq_rate)]
        lines += event_lines(n, reel_name(s["path"]), one_line(Path(s["path"]).name), s["path"], s, tc)
    return "\n".join(lines)


def results_otio(shots: list[dict], media: dict, title: str) -> str:
    """An OpenTimelineIO timeline of search results in order (a clip and a marker per shot)."""
    from ..video.export import fps, shot_frames
    from ..video.export.otio import _otio, _u, shot_clip

    otio = _otio()
    tl = otio.schema.Timeline(name=_u(title))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for n, s in enumerate(shots, start=1):
        m = media.get(s["media_id"])
        frames = int(((m.video or {}).get("frame_count") if m else 0) or 0)
        clip = shot_clip(s, n, s["path"], fps(_doc(s, m)), max(frames, shot_frames(s)[1] + 1))
        clip.metadata["cinemanet"]["id"] = s["id"]
        track.append(clip)
    tl.tracks.append(track)
    return otio.adapters.write_to_string(tl, "otio_json")


def register(app: typer.Typer, model_app: typer.Typer) -> None:
    app.command("index")(index_cmd)
    app.command("search")(search_cmd)
    app.add_typer(catalog_app, name="catalog")
