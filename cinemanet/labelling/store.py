"""The labelling store: projects, items, annotators, answers, reviews and suggestions in one
SQLite file (``labelling.sqlite`` in the data-set store root, so item images share its
content-addressed ``objects/``).

A project asks one question per (item, group): that pair is a *task*. Each task is served
until ``redundancy`` annotators (default 2) have answered it; tasks already started by someone
come first, so items get their second answer before new items get a first. Answers are never
overwritten: one row per (task, annotator), so two annotators submitting at the same moment
are both kept. A reviewer's decision is one row per task and final.

Tokens are random (``secrets.token_urlsafe``); only their SHA-256 is stored and compared
(``hmac.compare_digest``). A token is high-entropy, so an unsalted hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..taxonomy import get_taxonomy

SCHEMA_VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ROLES = ("annotator", "reviewer")
#: answer kinds besides a label; "unsure" and "skip" carry no label and count as missing data
KINDS = ("label", "na", "unsure", "skip")
MAX_SUGGESTION = 500
OPEN_TTL_S = 2.0  # the "tasks open" figure on the page may be this stale (a count over the queue)

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS projects (
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, groups TEXT NOT NULL, redundancy INTEGER NOT NULL,
  source TEXT NOT NULL, strategy TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  id INTEGER PRIMARY KEY, project INTEGER NOT NULL REFERENCES projects(id), key TEXT NOT NULL,
  file TEXT NOT NULL, sha256 TEXT NOT NULL, width INTEGER, height INTEGER, slices TEXT NOT NULL,
  gold TEXT, model TEXT NOT NULL, origin TEXT NOT NULL, UNIQUE(project, key));
CREATE TABLE IF NOT EXISTS tasks (
  id INTEGER PRIMARY KEY, project INTEGER NOT NULL, item INTEGER NOT NULL REFERENCES items(id),
  grp TEXT NOT NULL, n_done INTEGER NOT NULL DEFAULT 0, priority INTEGER NOT NULL, first INTEGER, UNIQUE(item, grp));
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks(project, n_done, priority);
CREATE INDEX IF NOT EXISTS tasks_started ON tasks(project, n_done, first);
CREATE TABLE IF NOT EXISTS annotators (
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, role TEXT NOT NULL, token_sha256 TEXT UNIQUE NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
  id INTEGER PRIMARY KEY, task INTEGER NOT NULL REFERENCES tasks(id), annotator INTEGER NOT NULL REFERENCES annotators(id),
  project INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT, source TEXT NOT NULL, at TEXT NOT NULL, ms INTEGER,
  UNIQUE(task, annotator));
CREATE INDEX IF NOT EXISTS answers_by_annotator ON answers(annotator, project, kind);
CREATE TABLE IF NOT EXISTS reviews (
  id INTEGER PRIMARY KEY, task INTEGER UNIQUE NOT NULL REFERENCES tasks(id), reviewer INTEGER NOT NULL REFERENCES annotators(id),
  kind TEXT NOT NULL, label TEXT, note TEXT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suggestions (
  id INTEGER PRIMARY KEY, project INTEGER NOT NULL, item INTEGER NOT NULL, annotator INTEGER NOT NULL,
  text TEXT NOT NULL, at TEXT NOT NULL);
"""


class LabellingError(ValueError):
    """A labelling request cannot be done; ``str(e)`` is one line that says why."""


class Conflict(LabellingError):
    """Already done (an answer by this annotator, a final review decision)."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def default_path() -> Path:
    from ..datasets import data_root

    return data_root() / "labelling.sqlite"


def offered_labels(group: str) -> list:
    """The labels a labelling page offers for ``group`` (``na`` is its own button). Multi-label
    groups (subject, location) are asked as one choice among their top-level labels."""
    g = get_taxonomy().group(group)
    labs = [lab for lab in g.labels if not lab.is_na]
    if g.multi_label:
        labs = [lab for lab in labs if g.depth(lab.key) == 0]
    if g.order:  # an ordered group is offered on its scale (extreme close-up ... extreme long)
        labs.sort(key=lambda lab: g.order.index(lab.key) if lab.key in g.order else len(g.order))
    return labs


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    groups: tuple[str, ...]
    redundancy: int
    source: dict
    strategy: str
    created: str


@dataclass
class NewItem:
    """An item to add to a project: an image in the data store (``file`` relative to its root)."""

    key: str
    file: str
    sha256: str
    width: int | None = None
    height: int | None = None
    slices: dict | None = None
    gold: dict | None = None  # group -> label key: the known answer of a gold item
    model: dict | None = None  # group -> {"label": key, "confidence": p, "scores": {key: p}}
    origin: dict | None = None


class LabelStore:
    """The labelling database. Thread-safe: one SQLite connection per thread."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.root = self.path.parent  # the data-set store root (item files are relative to it)
        self._local = threading.local()
        self._open: dict[int, tuple[float, int]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self.con
        con.executescript(DDL)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @property
    def con(self) -> sqlite3.Connection:
        c = getattr(self._local, "con", None)
        if c is None:
            c = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA foreign_keys=ON")
            self._local.con = c
        return c

    def tx(self):
        return _Tx(self.con)

    # --- annotators ---------------------------------------------------------------------------
    def add_annotator(self, name: str, role: str = "annotator") -> str:
        """Register ``name``; returns the token (shown once, stored only hashed)."""
        name = name.strip()
        if not name or len(name) > 64 or any(ord(c) < 32 for c in name):
            raise LabellingError(f"annotator name {name[:70]!r}: 1-64 printable characters")
        if role not in ROLES:
            raise LabellingError(f"role must be one of {', '.join(ROLES)}")
        token = secrets.token_urlsafe(24)
        try:
            with self.tx() as con:
                con.execute(
                    "INSERT INTO annotators (name, role, token_sha256, created) VALUES (?,?,?,?)",
                    (name, role, token_digest(token), _now()),
                )
        except sqlite3.IntegrityError:
            raise LabellingError(f"an annotator named {name!r} exists already") from None
        return token

    def annotator_by_token(self, token: str | None) -> Annotator | None:
        if not token:
            return None
        d = token_digest(token)
        row = self.con.execute(
            "SELECT id, name, role, token_sha256 FROM annotators WHERE token_sha256=?", (d,)
        ).fetchone()
        if row is None or not hmac.compare_digest(row["token_sha256"], d):
            return None
        return Annotator(row["id"], row["name"], row["role"])

    def annotator_by_name(self, name: str, create: bool = False) -> Annotator | None:
        row = self.con.execute("SELECT id, name, role FROM annotators WHERE name=?", (name,)).fetchone()
        if row is None and create:
            self.add_annotator(name)  # an imported annotator: a token nobody knows
            return self.annotator_by_name(name)
        return Annotator(row["id"], row["name"], row["role"]) if row else None

    def annotators(self) -> list[Annotator]:
        return [
            Annotator(r["id"], r["name"], r["role"])
            for r in self.con.execute("SELECT id, name, role FROM annotators ORDER BY id")
        ]

    # --- projects -----------------------------------------------------------------------------
    def create_project(
        self,
        name: str,
        groups: Iterable[str],
        items: list[NewItem],
        *,
        source: dict,
        strategy: str,
        redundancy: int = 2,
    ) -> Project:
        if not NAME_RE.match(name):
            raise LabellingError(f"project name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        groups = tuple(groups)
        tax = get_taxonomy()
        for g in groups:
            tax.group(g)
        if redundancy < 2:
            raise LabellingError("each item must be served to at least 2 annotators (redundancy >= 2)")
        if not items:
            raise LabellingError("no items to label")
        try:
            with self.tx() as con:
                cur = con.execute(
                    "INSERT INTO projects (name, groups, redundancy, source, strategy, created) VALUES (?,?,?,?,?,?)",
                    (name, json.dumps(groups), redundancy, json.dumps(source, sort_keys=True), strategy, _now()),
                )
                pid = cur.lastrowid
                for prio, it in enumerate(items):
                    cur = con.execute(
                        "INSERT INTO items (project, key, file, sha256, width, height, slices, gold, model, origin) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            pid,
                            it.key,
                            it.file,
                            it.sha256,
                            it.width,
                            it.height,
                            json.dumps(it.slices or {}, sort_keys=True),
                            json.dumps(it.gold) if it.gold else None,
                            json.dumps(it.model or {}),
                            json.dumps(it.origin or {}),
                        ),
                    )
                    iid = cur.lastrowid
                    con.executemany(
                        "INSERT INTO tasks (project, item, grp, priority) VALUES (?,?,?,?)",
                        [(pid, iid, g, prio) for g in groups],
                    )
        except sqlite3.IntegrityError as e:
            msg = (
                f"a project named {name!r} exists already"
                if "projects.name" in str(e)
                else f"duplicate item in project: {e}"
            )
            raise LabellingError(msg) from None
        return self.project(name)

    def project(self, name: str) -> Project:
        r = self.con.execute("SELECT * FROM projects WHERE name=?", (name,)).fetchone()
        if r is None:
            known = ", ".join(p.name for p in self.projects()) or "none yet"
            raise LabellingError(f"no labelling project {name!r} (known: {known})")
        return Project(
            r["id"],
            r["name"],
            tuple(json.loads(r["groups"])),
            r["redundancy"],
            json.loads(r["source"]),
            r["strategy"],
            r["created"],
        )

    def projects(self) -> list[Project]:
        return [self.project(r[0]) for r in self.con.execute("SELECT name FROM projects ORDER BY id")]

    def items(self, project: Project) -> list[sqlite3.Row]:
        return self.con.execute("SELECT * FROM items WHERE project=? ORDER BY id", (project.id,)).fetchall()

    def item(self, project: Project, item_id: int) -> sqlite3.Row | None:
        return self.con.execute("SELECT * FROM items WHERE project=? AND id=?", (project.id, item_id)).fetchone()

    def item_by_key(self, project: Project) -> dict[str, int]:
        return {r[0]: r[1] for r in self.con.execute("SELECT key, id FROM items WHERE project=?", (project.id,))}

    def task(self, project: Project, task_id: int) -> sqlite3.Row | None:
        return self.con.execute("SELECT * FROM tasks WHERE project=? AND id=?", (project.id, task_id)).fetchone()

    # --- serving and answering ----------------------------------------------------------------
    def next_task(self, project: Project, annotator: Annotator) -> sqlite3.Row | None:
        """The next task for ``annotator``: not yet answered (or skipped) by them, still short of
        ``redundancy`` answers; started tasks first (any order), then new ones in selection
        order. Every query is an index range: with one answer so far, the task's ``first``
        answerer is someone else (``first < me`` or ``first > me``); with more (redundancy
        above 2) the scan skips the tasks this annotator answered."""
        c, pid, me = self.con, project.id, annotator.id
        mine = "NOT EXISTS (SELECT 1 FROM answers a WHERE a.task=t.id AND a.annotator=?)"
        for d in range(project.redundancy - 1, 0, -1):
            if d == 1:
                for op in ("<", ">"):
                    row = c.execute(
                        f"SELECT t.* FROM tasks t INDEXED BY tasks_started WHERE t.project=? AND t.n_done=1 "
                        f"AND t.first {op} ? AND {mine} LIMIT 1",
                        (pid, me, me),
                    ).fetchone()
                    if row is not None:
                        return row
            else:
                row = c.execute(
                    f"SELECT t.* FROM tasks t WHERE t.project=? AND t.n_done=? AND {mine} LIMIT 1", (pid, d, me)
                ).fetchone()
                if row is not None:
                    return row
        return c.execute(
            f"SELECT t.* FROM tasks t INDEXED BY tasks_queue WHERE t.project=? AND t.n_done=0 AND {mine} "
            "ORDER BY t.priority LIMIT 1",
            (pid, me),
        ).fetchone()

    def progress(self, project: Project, annotator: Annotator) -> dict:
        """The annotator's answers (exact) and the project's open tasks (refreshed every OPEN_TTL_S)."""
        mine = self.con.execute(
            "SELECT COUNT(*) FROM answers WHERE annotator=? AND project=? AND kind != 'skip'",
            (annotator.id, project.id),
        ).fetchone()[0]
        now = time.monotonic()
        got = self._open.get(project.id)
        if got is None or now - got[0] > OPEN_TTL_S:
            n = self.con.execute(
                "SELECT COUNT(*) FROM tasks WHERE project=? AND n_done < ?", (project.id, project.redundancy)
            ).fetchone()[0]
            got = self._open[project.id] = (now, n)
        return {"answered": mine, "open_tasks": got[1]}

    def answer(
        self,
        project: Project,
        annotator: Annotator,
        task_id: int,
        kind: str,
        label: str | None = None,
        *,
        source: str = "web",
        ms: int | None = None,
        suggestion: str | None = None,
    ) -> int:
        """Record one answer. Raises :class:`Conflict` if this annotator answered the task already."""
        t = self.task(project, task_id)
        if t is None:
            raise LabellingError(f"no task {task_id} in project {project.name}")
        label = self.check_answer(t["grp"], kind, label)
        try:
            with self.tx() as con:
                cur = con.execute(
                    "INSERT INTO answers (task, annotator, project, kind, label, source, at, ms) VALUES (?,?,?,?,?,?,?,?)",
                    (task_id, annotator.id, project.id, kind, label, source, _now(), ms),
                )
                if kind != "skip":
                    con.execute(
                        "UPDATE tasks SET n_done = n_done + 1, first = COALESCE(first, ?) WHERE id=?",
                        (annotator.id, task_id),
                    )
                if suggestion and suggestion.strip():
                    con.execute(
                        "INSERT INTO suggestions (project, item, annotator, text, at) VALUES (?,?,?,?,?)",
                        (project.id, t["item"], annotator.id, suggestion.strip()[:MAX_SUGGESTION], _now()),
                    )
        except sqlite3.IntegrityError:
            raise Conflict(f"{annotator.name} has already answered task {task_id}") from None
        return cur.lastrowid

    @staticmethod
    def check_answer(group: str, kind: str, label: str | None) -> str | None:
        if kind not in KINDS:
            raise LabellingError(f"answer kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "na":
            return f"{group}.na"
        if kind != "label":
            return None
        keys = {lab.key for lab in offered_labels(group)}
        if label not in keys:
            raise LabellingError(f"{label!r} is not a label offered for {group}")
        return label

    def my_answer(self, project: Project, annotator: Annotator, task_id: int) -> sqlite3.Row | None:
        return self.con.execute(
            "SELECT a.* FROM answers a JOIN tasks t ON t.id=a.task WHERE t.project=? AND a.task=? AND a.annotator=?",
            (project.id, task_id, annotator.id),
        ).fetchone()

    # --- reading everything (CLI, agreement, export, review) ----------------------------------
    def answers(self, project: Project) -> list[dict]:
        """Every answer of the project, with item key, group and annotator name."""
        rows = self.con.execute(
            "SELECT a.id, a.task, t.item, i.key AS item_key, t.grp, n.name AS annotator, n.id AS annotator_id, a.kind, a.label, "
            "a.source, a.at, a.ms FROM answers a JOIN tasks t ON t.id=a.task JOIN items i ON i.id=t.item "
            "JOIN annotators n ON n.id=a.annotator WHERE t.project=? ORDER BY a.id",
            (project.id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def reviews(self, project: Project) -> dict[int, dict]:
        rows = self.con.execute(
            "SELECT r.*, n.name AS reviewer_name FROM reviews r JOIN tasks t ON t.id=r.task "
            "JOIN annotators n ON n.id=r.reviewer WHERE t.project=?",
            (project.id,),
        ).fetchall()
        return {r["task"]: dict(r) for r in rows}

    def decide(
        self, project: Project, reviewer: Annotator, task_id: int, kind: str, label: str | None, note: str | None = None
    ) -> None:
        """A reviewer's decision on a task: final (a second one raises :class:`Conflict`)."""
        if reviewer.role != "reviewer":
            raise LabellingError(f"{reviewer.name} is not a reviewer")
        t = self.task(project, task_id)
        if t is None:
            raise LabellingError(f"no task {task_id} in project {project.name}")
        if kind in ("unsure", "skip"):
            raise LabellingError("a review decision is a label or 'na'")
        label = self.check_answer(t["grp"], kind, label)
        try:
            with self.tx() as con:
                con.execute(
                    "INSERT INTO reviews (task, reviewer, kind, label, note, at) VALUES (?,?,?,?,?,?)",
                    (task_id, reviewer.id, kind, label, (note or "")[:MAX_SUGGESTION], _now()),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"task {task_id} has a final review decision already") from None

    def suggestions(self, project: Project) -> list[dict]:
        rows = self.con.execute(
            "SELECT s.id, i.key AS item_key, n.name AS annotator, s.text, s.at FROM suggestions s "
            "JOIN items i ON i.id=s.item JOIN annotators n ON n.id=s.annotator WHERE s.project=? ORDER BY s.id",
            (project.id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def counts(self, project: Project) -> dict:
        c = self.con
        p = project.id
        tasks = c.execute(
            "SELECT COUNT(*), SUM(n_done >= ?), SUM(n_done > 0) FROM tasks WHERE project=?", (project.redundancy, p)
        ).fetchone()
        return {
            "items": c.execute("SELECT COUNT(*) FROM items WHERE project=?", (p,)).fetchone()[0],
            "gold_items": c.execute("SELECT COUNT(*) FROM items WHERE project=? AND gold IS NOT NULL", (p,)).fetchone()[
                0
            ],
            "tasks": tasks[0],
            "tasks_complete": tasks[1] or 0,
            "tasks_started": tasks[2] or 0,
            "answers": c.execute(
                "SELECT COUNT(*) FROM answers a JOIN tasks t ON t.id=a.task WHERE t.project=? AND a.kind!='skip'", (p,)
            ).fetchone()[0],
            "skips": c.execute(
                "SELECT COUNT(*) FROM answers a JOIN tasks t ON t.id=a.task WHERE t.project=? AND a.kind='skip'", (p,)
            ).fetchone()[0],
            "annotators": c.execute(
                "SELECT COUNT(DISTINCT a.annotator) FROM answers a JOIN tasks t ON t.id=a.task WHERE t.project=?", (p,)
            ).fetchone()[0],
            "reviews": c.execute(
                "SELECT COUNT(*) FROM reviews r JOIN tasks t ON t.id=r.task WHERE t.project=?", (p,)
            ).fetchone()[0],
            "suggestions": c.execute("SELECT COUNT(*) FROM suggestions WHERE project=?", (p,)).fetchone()[0],
        }

    def import_answers(self, project: Project, rows: list[tuple[int, str, str, str | None]], source: str) -> int:
        """Insert (task_id, annotator name, kind, label) rows in one transaction (all or nothing)."""
        names = {n for _, n, _, _ in rows}
        ids = {}
        for n in names:
            a = self.annotator_by_name(n, create=True)
            ids[n] = a.id
        try:
            with self.tx() as con:
                for task_id, n, kind, label in rows:
                    con.execute(
                        "INSERT INTO answers (task, annotator, project, kind, label, source, at) VALUES (?,?,?,?,?,?,?)",
                        (task_id, ids[n], project.id, kind, label, source, _now()),
                    )
                    if kind != "skip":
                        con.execute(
                            "UPDATE tasks SET n_done = n_done + 1, first = COALESCE(first, ?) WHERE id=?",
                            (ids[n], task_id),
                        )
        except sqlite3.IntegrityError as e:
            raise Conflict(f"nothing imported: an annotator already answered one of these tasks ({e})") from None
        return len(rows)

    def tasks(self, project: Project) -> list[sqlite3.Row]:
        return self.con.execute(
            "SELECT t.*, i.key AS item_key FROM tasks t JOIN items i ON i.id=t.item WHERE t.project=? ORDER BY t.id",
            (project.id,),
        ).fetchall()

    def close(self) -> None:
        c = getattr(self._local, "con", None)
        if c is not None:
            c.close()
            self._local.con = None


class _Tx:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error)."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, exc, tb) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
