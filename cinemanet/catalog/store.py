"""The catalog: one SQLite file (WAL) of analysed media, shots, scores, tags and embeddings.

Every import is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a crash or ``kill -9``
in the middle leaves the catalog as it was before that video, never half a video. Re-importing
a file with the same content hash (or a new analysis of the same path) replaces its rows.

Several processes may use one catalog at once (``cinemanet analyze --catalog`` writing while
``cinemanet serve`` reads): WAL lets readers go on during a write, and writers wait for each
other (busy timeout). Each thread gets its own connection.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from ..contracts import VIDEO_SCHEMA
from ..video.sidecar import SUFFIXES

if TYPE_CHECKING:
    from ..video.records import Video
from . import schema
from .backends import register_catalog
from .records import LabelSpace, RecordError, shot_contract, shot_row

ENV_VAR = "CINEMANET_CATALOG"
BUSY_TIMEOUT_MS = 60_000
PAGE_SIZE = 16384
SIDECAR_SUFFIXES = SUFFIXES  # the sidecar module owns them

#: the columns ``catalog copy`` moves, per table (in dependency order); tombstones and meta are not data
COPY_TABLES = {
    "labels": ("id", "key", "grp"),
    "media": (
        "id",
        "path",
        "sha256",
        "size",
        "mtime",
        "duration",
        "fps",
        "width",
        "height",
        "rotation",
        "video",
        "model",
        "sidecar",
        "created",
        "imported",
        "shot_count",
    ),
    "shots": (
        "id",
        "media_id",
        "shot",
        "start_frame",
        "end_frame",
        "start_time",
        "end_time",
        "duration",
        "brightness",
        "motion",
        "confidence",
        "description",
        "picks",
        "tags",
        "scores",
        "embedding",
        "emb_scale",
        "extra",
    ),
}


class CatalogError(Exception):
    """A catalog or an input to it cannot be used. ``str(e)`` is one line that says why."""


def default_catalog_path() -> Path:
    """``$CINEMANET_CATALOG`` if set, else ``catalog.sqlite`` in the user's data folder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("cinemanet", appauthor=False)) / "catalog.sqlite"


@dataclass(frozen=True)
class Media:
    id: int
    path: str
    sha256: str
    size: int
    mtime: float
    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    video: dict
    model: dict
    sidecar: str | None
    created: str | None
    imported: float
    shot_count: int

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Media":
        d = dict(r)
        d["video"], d["model"] = json.loads(d["video"]), json.loads(d["model"])
        return cls(**d)


@dataclass(frozen=True)
class ImportResult:
    path: str  # the sidecar (or video) given
    shots: int = 0
    media_id: int | None = None
    error: str | None = None
    skipped: bool = False  # already in the catalog, unchanged
    note: str | None = None  # e.g. the same content was catalogued under another path

    @property
    def ok(self) -> bool:
        return self.error is None


@register_catalog("sqlite")
class Catalog:
    """An open catalog (the SQLite backend). Create with :meth:`open`; use as a context manager or call :meth:`close`."""

    schemes: tuple[str, ...] = ()  # URL schemes this backend opens (SQLite takes file paths)

    def __init__(self, path: Path, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._space: LabelSpace | None = None

    # --- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, *, readonly: bool = False, create: bool = True) -> "Catalog":
        """Open (and create or migrate, unless ``readonly``) the catalog at ``path``
        (default: :func:`default_catalog_path`). Raises :class:`CatalogError`."""
        p = Path(path).expanduser() if path is not None else default_catalog_path()
        if p.is_dir():
            raise CatalogError(f"{p}: is a folder, not a catalog file")
        if not p.exists():
            if readonly or not create:
                raise CatalogError(f"{p}: no catalog here (index something first: cinemanet index SIDECAR_OR_FOLDER)")
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CatalogError(f"{p}: cannot create the catalog folder: {e.strerror or e}") from None
        cat = cls(p, readonly)
        try:
            con = cat.con
            if not readonly:
                schema.migrate(con)
                cat._init_meta(con)
            elif schema.version(con) != schema.SCHEMA_VERSION:
                raise CatalogError(
                    f"{p}: catalog schema version {schema.version(con)}, expected "
                    f"{schema.SCHEMA_VERSION} (open it once without read-only to migrate)"
                )
        except schema.SchemaError as e:
            cat.close()
            raise CatalogError(f"{p}: {e}") from None
        except sqlite3.Error as e:
            cat.close()
            raise CatalogError(f"{p}: cannot open the catalog: {e}") from None
        return cat

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            uri = f"{self.path.absolute().as_uri()}?mode=ro"
            con = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        else:
            con = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            # a shot row is ~2 KB: with SQLite's default 4 KB pages each would fill a page alone.
            # Only takes effect on a new, empty file (must come before WAL mode).
            con.execute(f"PRAGMA page_size={PAGE_SIZE}")
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache per connection
        return con

    #: what closing an already broken connection may raise (a backend's driver errors)
    _CLOSE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error,)

    @staticmethod
    def _usable(con) -> bool:
        """False for a connection a backend knows is broken (it is then replaced)."""
        return True

    @property
    def con(self) -> sqlite3.Connection:
        """This thread's connection; a broken one is replaced."""
        c = getattr(self._local, "con", None)
        if c is not None and not self._usable(c):
            with self._lock:
                if c in self._conns:
                    self._conns.remove(c)
            c = None
        if c is None:
            c = self._local.con = self._connect()
            with self._lock:
                self._conns.append(c)
        return c

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except self._CLOSE_ERRORS:
                    pass
            self._conns.clear()
        self._local = threading.local()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _init_meta(self, con: sqlite3.Connection) -> None:
        """Make sure the label table covers the packaged taxonomy (new labels are appended)."""
        from ..taxonomy import get_taxonomy

        tax = get_taxonomy()
        have = {r[0] for r in con.execute("SELECT key FROM labels")}
        missing = [(lab.key, lab.group) for lab in tax.labels if lab.key not in have]
        epoch = con.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        if not missing and epoch:
            return
        with self._write(con):
            n = con.execute("SELECT count(*) FROM labels").fetchone()[0]
            con.executemany(
                "INSERT OR IGNORE INTO labels(id, key, grp) VALUES (?,?,?)",
                [(n + i, k, g) for i, (k, g) in enumerate(missing)],
            )
            con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('created', ?)",
                (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),),
            )
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('epoch', ?)", (uuid.uuid4().hex,))
        self._space = None

    @contextmanager
    def _write(self, con: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole or rolled back whole."""
        if self.readonly:
            raise CatalogError(f"{self.path}: opened read-only")
        con = con or self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    # --- labels --------------------------------------------------------------------------------
    @property
    def space(self) -> LabelSpace:
        """The label order of the score blobs, and the group order of the picks."""
        if self._space is None:
            from ..taxonomy import get_taxonomy

            rows = self.con.execute("SELECT key, grp FROM labels ORDER BY id").fetchall()
            keys = tuple(r[0] for r in rows)
            lg = tuple(r[1] for r in rows)
            tax_groups = get_taxonomy().group_keys
            groups = tuple(g for g in tax_groups) + tuple(sorted(set(lg) - set(tax_groups)))
            self._space = LabelSpace(keys, groups, lg)
        return self._space

    @property
    def epoch(self) -> str:
        r = self.con.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        return r[0] if r else ""

    # --- importing -----------------------------------------------------------------------------
    def import_sidecar(
        self,
        doc: "dict | Video | str | os.PathLike",
        sidecar_path: str | os.PathLike | None = None,
        *,
        skip_unchanged: bool = False,
        notes: list[str] | None = None,
    ) -> int:
        """Add one analysed video (a ``cinemanet.video/1`` document or :class:`Video`, or a sidecar's path) in
        one transaction and return its number of shots. Rows of the same content hash, or of
        an older analysis of the same path, are replaced. With ``skip_unchanged``, a video
        already imported from the same analysis (same hash, path and creation time) is left
        as it is. Raises :class:`CatalogError` (nothing is written then). ``notes`` collects
        what a user should know, e.g. that the same bytes were catalogued under another path."""
        n, _, _, note = self._import(doc, sidecar_path, skip_unchanged)
        if note and notes is not None:
            notes.append(note)
        return n

    def _import(self, doc, sidecar_path, skip_unchanged: bool) -> tuple[int, int, bool, str | None]:
        media, rows = self._prepare(doc, sidecar_path)
        return self._store(media, rows, skip_unchanged)

    def _prepare(self, doc, sidecar_path) -> tuple[dict, list[dict]]:
        """The media row and the shot rows of one document (no database write). Backends share it."""
        if hasattr(doc, "to_dict"):  # a typed video.records.Video
            doc = doc.to_dict()
        if not isinstance(doc, dict):
            from ..video.sidecar import SidecarError, read_sidecar

            sidecar_path = sidecar_path or doc
            try:
                doc = read_sidecar(doc)
            except SidecarError as e:
                raise CatalogError(str(e)) from None
        from ..contracts import READABLE_VIDEO_SCHEMAS

        if doc.get("schema") not in READABLE_VIDEO_SCHEMAS:
            raise CatalogError(f"not a {VIDEO_SCHEMA} (or /1) document (schema is {doc.get('schema')!r})")
        f, v = doc.get("file"), doc.get("video")
        shots = doc.get("shots")
        if not isinstance(f, dict) or not isinstance(f.get("sha256"), str) or len(f["sha256"]) != 64:
            raise CatalogError("the sidecar has no file.sha256")
        if not isinstance(v, dict) or not isinstance(shots, list):
            raise CatalogError("the sidecar has no 'video' summary or no 'shots' list")
        path = resolve_media_path(doc, sidecar_path)
        if _not_utf8(path):
            raise CatalogError(
                f"its file name is not valid UTF-8 ({os.fsencode(os.path.basename(path))!r}), "
                "and the catalog stores UTF-8 paths only: rename the file to add it"
            )
        space = self.space
        try:
            rows = [shot_row(s, space) for s in shots]
        except RecordError as e:
            raise CatalogError(str(e)) from None
        media = {
            "path": path,
            "sha256": f["sha256"],
            "size": int(f.get("size") or 0),
            "mtime": float(f.get("mtime") or 0.0),
            "duration": float(v.get("duration") or 0.0),
            "fps": float(v.get("fps") or 0.0),
            "width": int(v.get("width") or 0),
            "height": int(v.get("height") or 0),
            "rotation": int(v.get("rotation") or 0),
            "video": json.dumps(v, ensure_ascii=False),
            "model": json.dumps(doc.get("model") or {}, ensure_ascii=False),
            "sidecar": str(Path(sidecar_path).absolute()) if sidecar_path else None,
            "created": doc.get("created"),
            "imported": time.time(),
            "shot_count": len(rows),
        }
        return media, rows

    def _store(self, media: dict, rows: list[dict], skip_unchanged: bool) -> tuple[int, int, bool, str | None]:
        try:
            with self._write() as con:
                return replace_media(con, media, rows, skip_unchanged, self._insert_media, self._insert_shots)
        except sqlite3.Error as e:
            raise CatalogError(f"cannot write the catalog {self.path}: {e}") from None

    @staticmethod
    def _insert_media(con: sqlite3.Connection, media: dict) -> int:
        cols = ", ".join(media)
        return con.execute(
            f"INSERT INTO media({cols}) VALUES ({', '.join('?' * len(media))})", tuple(media.values())
        ).lastrowid

    def _insert_shots(self, con: sqlite3.Connection, media_id: int, rows: list[dict]) -> None:
        if not rows:
            return
        cols = ["media_id", *rows[0]]
        sql = f"INSERT INTO shots({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        con.executemany(sql, ((media_id, *r.values()) for r in rows))

    def index_paths(self, paths: Iterable[str | os.PathLike], *, skip_unchanged: bool = True) -> Iterator[ImportResult]:
        """Import every sidecar named or found (recursively) in folders, one transaction per
        video; a video path stands for its sidecar. Yields one result per input, errors too."""
        for p in discover_sidecars(paths):
            if isinstance(p, ImportResult):
                yield p
                continue
            try:
                n, mid, skipped, note = self._import(p, p, skip_unchanged)
            except CatalogError as e:
                yield ImportResult(str(p), error=str(e))
                continue
            yield ImportResult(str(p), n, mid, skipped=skipped, note=note)

    # --- reading -------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(media, shots)."""
        m = self.con.execute("SELECT count(*), coalesce(sum(shot_count), 0) FROM media").fetchone()
        return int(m[0]), int(m[1])

    def media(self, media_id: int) -> Media | None:
        if not _is_row_id(media_id):
            return None
        r = self.con.execute("SELECT * FROM media WHERE id=?", (media_id,)).fetchone()
        return Media.from_row(r) if r else None

    def media_list(self) -> list[Media]:
        return [Media.from_row(r) for r in self.con.execute("SELECT * FROM media ORDER BY path")]

    def media_ids_matching(self, text: str) -> list[int]:
        """Media whose path contains ``text`` (case-insensitive)."""
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [r[0] for r in self.con.execute("SELECT id FROM media WHERE path LIKE ? ESCAPE '\\'", (like,))]

    def shot_rows(self, ids: Iterable[int]) -> dict[int, sqlite3.Row]:
        """Rows of the given shot ids (those that exist), by id."""
        ids = [int(i) for i in ids if _is_row_id(i)]
        out: dict[int, sqlite3.Row] = {}
        for s in range(0, len(ids), 500):
            chunk = ids[s : s + 500]
            q = f"SELECT * FROM shots WHERE id IN ({','.join('?' * len(chunk))})"
            for r in self.con.execute(q, chunk):
                out[r["id"]] = r
        return out

    def shots(self, ids: Iterable[int]) -> list[dict]:
        """The shot contract objects of ``ids`` (in that order, missing ids left out), each with
        ``id`` and ``media_id`` added."""
        ids = list(ids)
        rows = self.shot_rows(ids)
        media: dict[int, Media | None] = {}
        out = []
        for i in ids:
            r = rows.get(int(i)) if _is_row_id(i) else None
            if r is None:
                continue
            m = media.get(r["media_id"]) or media.setdefault(r["media_id"], self.media(r["media_id"]))
            d = shot_contract(dict(r), m.path if m else "", self.space)
            d["id"], d["media_id"] = r["id"], r["media_id"]
            out.append(d)
        return out

    def shot(self, shot_id: int) -> dict | None:
        s = self.shots([shot_id])
        return s[0] if s else None

    def find_shot(self, video: str, number: int) -> int | None:
        """The id of shot ``number`` of the media whose path is or ends with ``video``."""
        r = self.con.execute(
            "SELECT s.id FROM shots s JOIN media m ON m.id = s.media_id WHERE s.shot=? AND (m.path=? OR m.path LIKE ?) "
            "ORDER BY m.path = ? DESC LIMIT 1",
            (number, video, "%/" + Path(video).name, video),
        ).fetchone()
        return r[0] if r else None

    def shot_ids(self, media_id: int) -> list[int]:
        if not _is_row_id(media_id):
            return []
        return [r[0] for r in self.con.execute("SELECT id FROM shots WHERE media_id=? ORDER BY shot", (media_id,))]

    def embedding(self, shot_id: int) -> np.ndarray | None:
        from .records import dequantize_embedding

        if not _is_row_id(shot_id):
            return None
        r = self.con.execute("SELECT embedding, emb_scale FROM shots WHERE id=?", (shot_id,)).fetchone()
        if r is None or r[0] is None:
            return None
        return dequantize_embedding(r[0], r[1])

    def has_media_path(self, path: str) -> bool:
        return self.con.execute("SELECT 1 FROM media WHERE path=?", (path,)).fetchone() is not None

    def max_shot_id(self) -> int:
        return int(self.con.execute("SELECT coalesce(max(id), 0) FROM shots").fetchone()[0])

    def max_tombstone(self) -> int:
        return int(self.con.execute("SELECT coalesce(max(seq), 0) FROM tombstones").fetchone()[0])

    def tombstones(self, after: int) -> np.ndarray:
        return np.array(
            [r[0] for r in self.con.execute("SELECT shot_id FROM tombstones WHERE seq > ?", (after,))], np.int64
        )

    @property
    def index_folder(self) -> Path:
        """Where the derived search index is kept (beside the file)."""
        return Path(str(self.path) + ".index")

    @property
    def url(self) -> str:
        """How to name this catalog again (``--catalog``): for SQLite, its file."""
        return str(self.path)

    def raw_rows(self, table: str, batch: int = 2000) -> Iterator[list[tuple]]:
        """Every row of ``table`` (labels, media, shots) as stored, in id order: ``catalog copy``."""
        cols = COPY_TABLES[table]
        cur = self.con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")
        while rows := cur.fetchmany(batch):
            yield [tuple(r) for r in rows]

    def load_rows(self, tables: Iterable[tuple[str, Iterable[list[tuple]]]]) -> None:
        """Replace an empty catalog's contents with these rows (ids kept), in one transaction."""
        with self._write() as con:
            if con.execute("SELECT count(*) FROM media").fetchone()[0]:
                raise CatalogError(f"{self.url}: the destination catalog is not empty")
            con.execute("DELETE FROM labels")
            for table, batches in tables:
                cols = COPY_TABLES[table]
                sql = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                for rows in batches:
                    con.executemany(sql, rows)
            con.execute("UPDATE meta SET value=? WHERE key='epoch'", (uuid.uuid4().hex,))
        self._space = None

    def file_size(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

    # --- maintenance ---------------------------------------------------------------------------
    def remove_media(self, media_ids: Iterable[int]) -> int:
        """Remove media and their shots, one transaction. Returns how many were removed."""
        ids = list(media_ids)
        with self._write() as con:
            for mid in ids:
                con.execute("DELETE FROM shots WHERE media_id=?", (mid,))
                con.execute("DELETE FROM media WHERE id=?", (mid,))
        return len(ids)

    def relink(self, media_id: int, new_path: str, size: int, mtime: float) -> None:
        with self._write() as con:
            con.execute("UPDATE media SET path=?, size=?, mtime=? WHERE id=?", (new_path, size, mtime, media_id))

    def vacuum(self) -> None:
        """Reclaim space after large removals; derived search indexes are rebuilt afterwards."""
        with self._write() as con:
            con.execute("DELETE FROM tombstones")
            con.execute("UPDATE meta SET value=? WHERE key='epoch'", (uuid.uuid4().hex,))
        self.con.execute("VACUUM")

    def index_rows(self, after_id: int, batch: int) -> Iterator[list]:
        """Batches of the columns the search index keeps, for shots with ``id > after_id`` in id
        order: id, media_id, duration, brightness, motion, confidence, start_time, scores, tags,
        picks, embedding, emb_scale."""
        cur = self.con.execute(
            "SELECT id, media_id, duration, brightness, motion, confidence, start_time, scores, tags, picks, "
            "embedding, emb_scale FROM shots WHERE id > ? ORDER BY id",
            (after_id,),
        )
        while rows := cur.fetchmany(batch):
            yield rows

    def storage_info(self) -> dict:
        """What ``cinemanet catalog status`` reports about the file: schema version, journal mode."""
        return {
            "schema_version": schema.version(self.con),
            "journal_mode": self.con.execute("PRAGMA journal_mode").fetchone()[0],
        }

    def integrity(self) -> list[str]:
        """Problems found (empty when consistent): SQLite's own check plus shot counts."""
        out = [r[0] for r in self.con.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for r in self.con.execute(
            "SELECT m.id, m.path, m.shot_count, (SELECT count(*) FROM shots s WHERE s.media_id=m.id) n FROM media m"
        ):
            if r["n"] != r["shot_count"]:
                out.append(f"{r['path']}: {r['n']} shots stored, {r['shot_count']} expected")
        orphans = self.con.execute(
            "SELECT count(*) FROM shots WHERE media_id NOT IN (SELECT id FROM media)"
        ).fetchone()[0]
        if orphans:
            out.append(f"{orphans} shots without their media")
        return out


def replace_media(
    con, media: dict, rows: list[dict], skip_unchanged: bool, insert_media, insert_shots
) -> tuple[int, int, bool, str | None]:
    """One video's rows in an open write transaction of any backend: the media of the same
    content or path are replaced (or, with ``skip_unchanged``, an identical import is kept).
    Returns (shots, media id, skipped, note)."""
    path = media["path"]
    old = con.execute(
        "SELECT id, path, created, shot_count FROM media WHERE sha256=? OR path=?", (media["sha256"], path)
    ).fetchall()
    if (
        skip_unchanged
        and len(old) == 1
        and old[0]["path"] == path
        and old[0]["created"] == media["created"]
        and old[0]["shot_count"] == len(rows)
    ):
        return len(rows), old[0]["id"], True, None
    # one entry per content: a copy elsewhere replaces it (and says so while the other file exists)
    note = next(
        (
            f"same content as {o['path']}, which the catalog now lists under this path instead"
            for o in old
            if o["path"] != path and os.path.exists(o["path"])
        ),
        None,
    )
    for o in old:
        con.execute("DELETE FROM shots WHERE media_id=?", (o["id"],))
        con.execute("DELETE FROM media WHERE id=?", (o["id"],))
    mid = insert_media(con, media)
    insert_shots(con, mid, rows)
    return len(rows), mid, False, note


def _not_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes of undecodable bytes
        return True
    return False


def _is_row_id(i) -> bool:
    """Ids from URLs and command lines can be any integer; SQLite's are 64-bit (an id out of
    that range names no row, rather than raising OverflowError)."""
    try:
        return 0 <= int(i) < 1 << 63
    except (TypeError, ValueError):
        return False


def resolve_media_path(doc: dict, sidecar_path: str | os.PathLike | None) -> str:
    """Where the video is now: the sidecar's recorded path if it exists, else the file the
    sidecar sits next to (both moved together), else the recorded path."""
    recorded = str(doc.get("path") or "")
    if recorded and os.path.exists(recorded):
        return recorded
    if sidecar_path:
        sp = Path(sidecar_path).absolute()
        for suf in SIDECAR_SUFFIXES:
            if sp.name.endswith(suf):
                beside = sp.with_name(sp.name[: -len(suf)])
                if beside.is_file():
                    return str(beside)
        if recorded:
            beside = sp.parent / Path(recorded).name
            if beside.is_file():
                return str(beside)
    return recorded


def discover_sidecars(paths: Iterable[str | os.PathLike]) -> Iterator[Path | ImportResult]:
    """Sidecars named, found in folders (recursively, sorted), or next to named videos."""
    from ..video.sidecar import existing_sidecar

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                q
                for q in p.rglob("*")
                if q.name.endswith(SIDECAR_SUFFIXES) and q.is_file() and not q.name.startswith(".")
            )
            if not found:
                yield ImportResult(str(p), error="no sidecars (*.cinemanet.json) in this folder")
            yield from found
        elif p.name.endswith(SIDECAR_SUFFIXES):
            yield p if p.is_file() else ImportResult(str(p), error="no such file")
        elif p.is_file():
            sc = existing_sidecar(p)
            yield (
                sc if sc else ImportResult(str(p), error="no sidecar next to this video (run cinemanet analyze first)")
            )
        else:
            yield ImportResult(str(p), error="no such file or folder")
