"""`feeds copy-state TARGET`: the state, as one consistent snapshot, into an empty one.

The source is read in one snapshot (SQLite: one read transaction; PostgreSQL: REPEATABLE
READ READ ONLY), so daemons may go on writing while it runs and the copy holds all of each
of their transactions or none. It takes no lock and never migrates: a source at an older
schema is told to run `feeds migrate` first. The target is new or empty, and is made and
filled in one unit: a SQLite target is written beside its path and moved there when
complete; a PostgreSQL one is made in one transaction whose last write is its schema
version. Either way an interrupted copy leaves nothing behind that looks like a state.

Everything moves (first-seen times, hashes, entries, source health, ETags, due times, the
id prefix and the rest of `meta`, the S3 manifest) except the leases: sources arrive
unclaimed (their fencing tokens kept, so a token is never handed out twice) and the build
lease is free.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from feeds.config import PostgresURL
from feeds.errors import CorruptState, UsageError
from feeds.store import open_store, schema_version
from feeds.store.sql import SQLStore

BATCH = 500  # rows read and written at a time: entries are a few KB each


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # its primary key: the order the rows are read in, in batches


TABLES = (
    Table("meta", ("key", "value"), ("key",)),
    Table("files", ("path", "size", "mtime_ns", "inode", "key", "diagnostics"), ("path",)),
    Table("entries", ("key", "origin", "hash", "first_seen", "published", "updated", "live",
                      "section", "section_name", "tags", "canonical", "data"), ("key",)),
    Table("entry_tags", ("tag", "tag_name", "key", "published"), ("tag", "key")),
    Table("outputs", ("path", "feed"), ("path",)),
    Table("pending_feeds", ("feed",), ("feed",)),
    Table("pending_pages", ("key",), ("key",)),
    # Without lease_owner and lease_until: the target's sources are unclaimed.
    Table("sources", ("name", "url", "fetch_url", "etag", "last_modified", "next_due",
                      "last_attempt", "last_success", "failures", "last_status", "last_error",
                      "items_seen", "retired", "feed", "skipped", "lease_token"), ("name",)),
    Table("pull_log", ("source", "due", "owner", "result", "at"), ("source", "due")),
    Table("manifest", ("key", "hash", "size", "type"), ("key",)),
)  # and not `leases`: the build lease starts free


@dataclass(frozen=True, slots=True)
class Copied:
    version: int  # the schema version of both
    rows: dict[str, int]  # by table


def copy_state(source: Path | PostgresURL, target: Path | PostgresURL, *,
               wait: float, batch: int = BATCH,
               on_batch: Callable[[str, int], None] | None = None) -> Copied:
    """Copy the state at `source` into the empty `target`. `on_batch(table, rows)` is told
    of each batch copied (progress, and tests that write meanwhile)."""
    if source == target:
        raise UsageError(str(target), "is the state being copied: name another place")
    if not schema_version(source):
        raise UsageError(str(source), "there is no state here to copy")
    reading = open_store(source, wait=wait)  # never migrates: an old one is refused
    try:
        assert isinstance(reading, SQLStore)
        with _empty(target, wait) as writing, reading.snapshot():
            rows = {table.name: _copy(reading, writing, table, batch, on_batch)
                    for table in TABLES}
        return Copied(reading.version, rows)  # type: ignore[attr-defined]
    finally:
        reading.close()


def _copy(source: SQLStore, target: SQLStore, table: Table, batch: int,
          on_batch: Callable[[str, int], None] | None) -> int:
    """One table, in batches of `batch` rows in key order (each batch starts after the last
    key of the one before, so a batch costs the same at the end of the table as at the
    start)."""
    columns = ", ".join(table.columns)
    order = ", ".join(table.key)
    marks = ", ".join("?" * len(table.key))
    first = f"SELECT {columns} FROM {table.name} ORDER BY {order} LIMIT ?"  # noqa: S608 (our names)
    after = (f"SELECT {columns} FROM {table.name} WHERE ({order}) > ({marks}) "  # noqa: S608
             f"ORDER BY {order} LIMIT ?")
    insert = (f"INSERT INTO {table.name} ({columns}) "  # noqa: S608 (our names)
              f"VALUES ({', '.join('?' * len(table.columns))})")
    at = [table.columns.index(name) for name in table.key]
    copied = 0
    rows = source._run(first, (batch,)).fetchall()
    while rows:
        target._run_many(insert, rows)
        copied += len(rows)
        if on_batch is not None:
            on_batch(table.name, len(rows))
        if len(rows) < batch:
            break
        last = [rows[-1][i] for i in at]
        rows = source._run(after, (*last, batch)).fetchall()
    return copied


@contextlib.contextmanager
def _empty(target: Path | PostgresURL, wait: float) -> Iterator[SQLStore]:
    """A new state at `target`, inside the unit of work that fills it."""
    if isinstance(target, PostgresURL):
        from feeds.store.postgres import new_state

        with new_state(target, wait=wait) as store:
            yield store
        return
    with _new_sqlite(target, wait) as store:
        yield store


@contextlib.contextmanager
def _new_sqlite(target: Path, wait: float) -> Iterator[SQLStore]:
    """A new SQLite state written beside `target` and moved there once complete; `target`
    must not exist yet (or be an empty file)."""
    _refuse_existing(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    making = target.with_name(f".{target.name}.copying-{os.getpid()}")
    _remove(making)
    try:
        store = open_store(making, migrate=True, wait=wait)
        try:
            assert isinstance(store, SQLStore)
            with store.transaction():
                yield store
        finally:
            store.close()
        _refuse_existing(target)  # nobody made it meanwhile
        for suffix in ("-wal", "-shm"):  # SQLite folds and removes these at close
            if making.with_name(making.name + suffix).exists():
                making.with_name(making.name + suffix).replace(target.with_name(
                    target.name + suffix))
        making.replace(target)
    finally:
        _remove(making)


def _refuse_existing(target: Path) -> None:
    if not target.exists() or (target.is_file() and target.stat().st_size == 0):
        return
    try:
        version = schema_version(target) if target.is_file() else None
    except CorruptState:
        version = None
    if version:
        raise UsageError(str(target), f"already holds a state (schema version {version}): "
                         "copy-state writes only into a new file, or an empty database or "
                         "schema")
    raise UsageError(str(target), "already exists: copy-state writes only into a new file, "
                     "or an empty database or schema")


def _remove(making: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        making.with_name(making.name + suffix).unlink(missing_ok=True)
