"""The catalog's SQLite schema and its migrations.

``PRAGMA user_version`` holds the schema version. Each migration is a list of SQL statements
that moves the schema from version ``i`` to ``i + 1``; :func:`migrate` applies the missing ones
in one transaction, so a catalog is never left between two versions. A catalog written by a
newer CinemaNet (a higher version than :data:`SCHEMA_VERSION`) is refused, not guessed at.

Layout (version 1):

``meta``        key/value: ``epoch`` (changes when derived search indexes must be rebuilt).
``labels``      the label order of the ``scores`` blobs (``id`` = position) and the groups.
``media``       one row per analysed file (unique by content hash): path, size, mtime, video
                properties, the model that analysed it, the sidecar it came from.
``shots``       one row per shot: times, numbers used for sorting, description, the chosen
                label per group, tags, all label scores (float16 blob in ``labels`` order), the
                embedding (int8 blob and its scale), keyframes, colours and transition (JSON).
``tombstones``  ids of deleted shots, in deletion order (filled by a trigger), so a search
                index built earlier can drop them without re-reading the whole catalog.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

MIGRATIONS: list[list[str]] = [
    # 0 -> 1: the first schema
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE labels (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, grp TEXT NOT NULL)",
        """CREATE TABLE media (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            duration REAL NOT NULL,
            fps REAL NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            rotation INTEGER NOT NULL DEFAULT 0,
            video TEXT NOT NULL,
            model TEXT NOT NULL,
            sidecar TEXT,
            created TEXT,
            imported REAL NOT NULL,
            shot_count INTEGER NOT NULL
        )""",
        "CREATE INDEX media_path ON media(path)",
        """CREATE TABLE shots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
            shot INTEGER NOT NULL,
            start_frame INTEGER NOT NULL,
            end_frame INTEGER NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL NOT NULL,
            duration REAL NOT NULL,
            brightness REAL NOT NULL,
            motion REAL NOT NULL,
            confidence REAL NOT NULL,
            description TEXT NOT NULL,
            picks BLOB NOT NULL,
            tags BLOB NOT NULL,
            scores BLOB NOT NULL,
            embedding BLOB,
            emb_scale REAL,
            extra TEXT NOT NULL
        )""",
        "CREATE INDEX shots_media ON shots(media_id, shot)",
        "CREATE TABLE tombstones (seq INTEGER PRIMARY KEY AUTOINCREMENT, shot_id INTEGER NOT NULL)",
        """CREATE TRIGGER shots_tombstone AFTER DELETE ON shots
           BEGIN INSERT INTO tombstones(shot_id) VALUES (old.id); END""",
    ],
]
assert len(MIGRATIONS) == SCHEMA_VERSION


class SchemaError(Exception):
    """The file is not a catalog this version can use (newer schema, or not SQLite)."""


def version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def migrate(con: sqlite3.Connection) -> bool:
    """Bring the schema to :data:`SCHEMA_VERSION`; True if anything was applied."""
    try:
        v = version(con)
    except sqlite3.DatabaseError as e:
        raise SchemaError(f"not a CinemaNet catalog ({e})") from None
    if v > SCHEMA_VERSION:
        raise SchemaError(
            f"catalog schema version {v} is newer than this CinemaNet supports ({SCHEMA_VERSION}); upgrade CinemaNet"
        )
    if v == SCHEMA_VERSION:
        return False
    if v == 0 and con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]:
        raise SchemaError("the file is an SQLite database but not a CinemaNet catalog")
    con.execute("BEGIN IMMEDIATE")
    try:
        v = version(con)  # another process may have migrated while we waited for the lock
        for i in range(v, SCHEMA_VERSION):
            for stmt in MIGRATIONS[i]:
                con.execute(stmt)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True
