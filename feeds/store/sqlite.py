"""The state in SQLite (WAL): the embedded backend of `feeds.store.Store`; the module that
speaks SQLite.

Times are whole seconds since the epoch (UTC); entries keep their rendered
data as JSON (`feeds.codec`) so that a rebuild needs neither the article
files nor the network. `sqlite3` errors become `StoreError` here.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from feeds.errors import CorruptState, StateBusy, StoreError
from feeds.store import FileRow
from feeds.store.sql import SQLStore

# The schema as the first release wrote it; every later change is a numbered migration below,
# and a new state is made by running them all, so the path an old state takes is the one
# every new state takes too.
_BASE = """
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
MIGRATIONS: dict[int, str] = {  # the schema version each one leads to → its statements
    2: """
ALTER TABLE sources ADD COLUMN skipped TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sources ADD COLUMN lease_owner TEXT;
ALTER TABLE sources ADD COLUMN lease_until INTEGER;
ALTER TABLE sources ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
CREATE TABLE pending_pages (key TEXT PRIMARY KEY);
CREATE TABLE pull_log (
    source TEXT NOT NULL,
    due INTEGER NOT NULL,
    owner TEXT NOT NULL,
    result TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (source, due)
);
CREATE INDEX pull_log_by_time ON pull_log (at);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT,
    until INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE manifest (
    key TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    type TEXT NOT NULL
);
UPDATE entries SET canonical = NULL WHERE canonical IS NOT NULL AND EXISTS (
    SELECT 1 FROM entries AS o WHERE o.canonical = entries.canonical
    AND (o.first_seen < entries.first_seen OR (o.first_seen = entries.first_seen
    AND o.key < entries.key)));
DROP INDEX entries_by_canonical;
CREATE UNIQUE INDEX entries_by_canonical ON entries (canonical) WHERE canonical IS NOT NULL;
""",
}
SCHEMA_VERSION = max(MIGRATIONS)


CHECKPOINT_FROM = 1000  # entries written in one transaction; then the WAL is folded back


class SQLiteStore(SQLStore):
    """One open SQLite state; see `feeds.store.Store` for the contract."""

    # CROSS JOIN fixes SQLite's join order: walk the tag's index newest first and stop at the
    # limit (its planner otherwise scanned every entry by time: 38 ms at 100,000).
    latest_sql: ClassVar[Mapping[str, str]] = {
        **SQLStore.latest_sql,
        "tag": SQLStore.latest_sql["tag"].replace(" JOIN ", " CROSS JOIN "),
    }
    tag_name_sql: ClassVar[str] = SQLStore.tag_name_sql.replace(" JOIN ", " CROSS JOIN ")

    def __init__(self, path: Path, *, migrate: bool = False, wait: float = 30.0) -> None:
        """Open the state at `path`; with `migrate`, bring an older schema up to date (only
        writers do: a read-only command on an old schema is told to run `feeds migrate`)."""
        self.path = path
        self.wait = wait
        self._written = 0  # entries written in the current transaction
        with self._translated("cannot open the state database: ", opening=True):
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=wait)
            # A new state gets 16 KiB pages: an entry row (~4.6 KB of JSON) fits in one
            # instead of spilling into overflow pages (inserts ~15% faster). An existing
            # state keeps its page size.
            self.db.execute("PRAGMA page_size=16384")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            try:
                self.version = self._schema_version()
                if self.version != SCHEMA_VERSION:
                    self._upgrade(migrate)
            except BaseException:
                self.db.close()  # a refused state is left exactly as it was
                raise

    def _schema_version(self) -> int:
        return _version_of(self.db)

    def _upgrade(self, migrate: bool) -> None:
        if self.version > SCHEMA_VERSION:
            raise StoreError(str(self.path), f"the state's schema is version {self.version}, "
                             f"newer than this program knows ({SCHEMA_VERSION}): run the "
                             "newer feeds, or restore a state this version wrote")
        if self.version and not migrate:
            raise StoreError(str(self.path), f"the state's schema is version {self.version}; "
                             f"this program needs {SCHEMA_VERSION}: run `feeds migrate`")
        if self.version == 1 and str(self.path) != ":memory:":
            # Before the write lock: SQLite's backup cannot read what its own connection is
            # writing (it would wait forever).
            self._keep_copy(self.version)
        self.db.execute("BEGIN IMMEDIATE")  # the lock lives only as long as the migration
        try:
            found = self._schema_version()  # another process may have migrated meanwhile
            if found == 0:
                self._script(_BASE)
                found = 1
            for version in range(found + 1, SCHEMA_VERSION + 1):
                self._script(MIGRATIONS[version])
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._rollback()
            raise
        self.db.execute("COMMIT")
        self.version = SCHEMA_VERSION

    def _script(self, statements: str) -> None:
        """Several statements inside the open transaction (`executescript` would commit it)."""
        for statement in statements.split(";"):
            if statement.strip():
                self.db.execute(statement)

    def _keep_copy(self, version: int) -> None:
        """A consistent copy of the state as it was, beside it: the way back
        (docs/operations.md)."""
        copy = self.path.with_name(f"{self.path.name}.v{version}")
        if not copy.exists():
            with contextlib.closing(sqlite3.connect(copy)) as target:
                self.db.backup(target)

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._translated(""):
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
        with self._translated(""):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                self._rollback()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        with self._translated(""):
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
        """Each FileRow made by `tuple.__new__` in C, with no Python call per row: a no-op
        build compares 100,000 of them with the scan (a row factory cost ~0.1 s there)."""
        yield from map(_FILE_ROW, self.db.execute(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files ORDER BY path"
        ))

    @contextlib.contextmanager
    def _translated(self, doing: str, *, opening: bool = False) -> Iterator[None]:
        """The one place where `sqlite3` errors become this package's: a busy state is
        `StateBusy` (exit 3), a file that is no database `CorruptState`, the rest
        `StoreError` (exit 5)."""
        where = str(self.path)
        try:
            yield
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise StateBusy(where, f"another process holds the state locked; gave up "
                                       f"after {self.wait:g}s (nothing written)") from exc
            if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
                raise CorruptState(where, f"{doing}{exc}") from exc
            raise StoreError(where, f"{doing}{_describe(exc)}") from exc
        except OSError as exc:
            if not opening:  # inside a unit of work, the caller's own errors pass through
                raise
            raise StoreError(where, f"{doing}{exc.strerror or exc}") from exc

def read_version(path: Path) -> int:
    """The schema version of the state at `path`, opened read-only."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro",
                                                uri=True)) as db:
            return _version_of(db)
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "")
        kind = CorruptState if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) else StoreError
        raise kind(str(path), f"cannot open the state database: {exc}") from exc


def _version_of(db: sqlite3.Connection) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and db.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'entries'"
    ).fetchone() is not None:
        return 1  # the first release left states it opened read-only at user_version 0
    return version


# A FileRow from a row of the six columns, in the order of its fields.
_FILE_ROW: Callable[[tuple[Any, ...]], FileRow] = functools.partial(tuple.__new__, FileRow)


def _describe(exc: sqlite3.Error) -> str:
    """What went wrong, in an operator's words when SQLite's are terse."""
    text = str(exc)
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
