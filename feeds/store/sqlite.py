"""The state in SQLite (WAL): the embedded backend of `feeds.store.Store`; the module that
speaks SQLite.

Times are whole seconds since the epoch (UTC); entries keep their rendered
data as JSON (`feeds.codec`) so that a rebuild needs neither the article
files nor the network. `sqlite3` errors become `StoreError` here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from feeds.errors import StoreError
from feeds.store import FileRow
from feeds.store.sql import SQLStore

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    key TEXT,
    diagnostics TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    hash TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    published INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    live INTEGER NOT NULL,
    section TEXT NOT NULL,
    section_name TEXT NOT NULL,
    tags TEXT NOT NULL,
    canonical TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_canonical ON entries (canonical);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (live, published DESC, key);
DROP INDEX IF EXISTS entries_by_published;
CREATE INDEX IF NOT EXISTS entries_by_section ON entries (section, live, published DESC, key);
CREATE TABLE IF NOT EXISTS entry_tags (
    tag TEXT NOT NULL,
    tag_name TEXT NOT NULL,
    key TEXT NOT NULL,
    published INTEGER NOT NULL,
    PRIMARY KEY (tag, key)
);
CREATE INDEX IF NOT EXISTS entry_tags_by_time ON entry_tags (tag, published DESC, key);
CREATE INDEX IF NOT EXISTS entry_tags_by_key ON entry_tags (key);
CREATE TABLE IF NOT EXISTS outputs (path TEXT PRIMARY KEY, feed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_feeds (feed TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    fetch_url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    next_due INTEGER NOT NULL DEFAULT 0,
    last_attempt INTEGER,
    last_success INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    last_status TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    items_seen INTEGER NOT NULL DEFAULT 0,
    retired INTEGER NOT NULL DEFAULT 0,
    feed TEXT
);
"""


CHECKPOINT_FROM = 1000  # entries written in one transaction; then the WAL is folded back


class SQLiteStore(SQLStore):
    """One open SQLite state; see `feeds.store.Store` for the contract."""

    # CROSS JOIN fixes SQLite's join order: walk the tag's index newest first and stop at the
    # limit (its planner otherwise scanned every entry by time: 38 ms at 100,000).
    latest_sql: ClassVar[Mapping[str, str]] = {
        **SQLStore.latest_sql, "tag": SQLStore.latest_sql["tag"].replace(" JOIN ", " CROSS JOIN ")
    }
    tag_name_sql: ClassVar[str] = SQLStore.tag_name_sql.replace(" JOIN ", " CROSS JOIN ")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written = 0  # entries written in the current transaction
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            # A new state gets 16 KiB pages: an entry row (~4.6 KB of JSON) fits in one
            # instead of spilling into overflow pages (inserts ~15% faster). An existing
            # state keeps its page size.
            self.db.execute("PRAGMA page_size=16384")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(str(path), f"unknown state schema version {version}")
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(path), f"cannot open the state database: {exc}") from exc
        except OSError as exc:
            raise StoreError(str(path), f"cannot open the state database: "
                                        f"{exc.strerror or exc}") from exc

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._translated():
            self.db.execute("BEGIN IMMEDIATE")
            self._written = 0
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            self.db.execute("COMMIT")
            if self._written >= CHECKPOINT_FROM:
                # Fold the write-ahead log into the database and truncate it: a WAL of
                # hundreds of MB after a large build slows every later read.
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextlib.contextmanager
    def scratch(self) -> Iterator[None]:
        with self._translated():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                self._rollback()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        with self._translated():
            self.db.execute("BEGIN")
            try:
                yield
            finally:
                self._rollback()

    def _rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def _run(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, args)

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    def _count_write(self) -> None:
        self._written += 1

    def iter_files(self) -> Iterator[FileRow]:
        """The row factory builds each FileRow in C's loop: 100,000 rows a no-op build."""
        cursor = self.db.execute(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files ORDER BY path"
        )
        cursor.row_factory = _file_row
        yield from cursor

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """The one place where `sqlite3` errors become `StoreError`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(str(self.path), _describe(exc)) from exc

def _file_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> FileRow:
    return FileRow(*row)


def _describe(exc: sqlite3.Error) -> str:
    """What went wrong, in an operator's words when SQLite's are terse."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{text} (another process holds the state)"
    if "readonly" in text:
        return f"{text} (the state or its folder is not writable)"
    if "disk" in text and "full" in text:
        return f"{text} (no space left for the state)"
    return text


def move_aside(path: Path, now: datetime) -> Path:
    """Rename a corrupt state (and its WAL files) out of the way, keeping it for inspection."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(aside.with_name(aside.name + suffix))
    return aside
