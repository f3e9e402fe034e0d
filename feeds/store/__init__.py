"""The state's contract: what a build, a pull and the server read and write, as units of work.

Backends implement `Store` (SQLite in `feeds.store.sqlite`); the rest of
the package speaks only this contract, never SQL. Every write happens
inside `with store.transaction():`, which commits when the block ends and
rolls back when it raises; `snapshot()` reads a consistent view and writes
nothing. A backend translates its driver's errors into `StoreError` at
that boundary, so callers never see `sqlite3` exceptions.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from feeds.codec import entry_to_json, to_epoch
from feeds.config import PostgresURL
from feeds.model import Diagnostic, Entry, FeedKey, UpstreamFeed, feed_keys


class FileRow(NamedTuple):
    """A seed file as the state remembers it: read once per file per build (100,000 times a
    no-op build), so the diagnostics stay JSON until someone needs them."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    key: str | None  # the id it claims; None when it could not be read
    diagnostics_json: str = "[]"

    def same_file(self, seed: tuple[str, int, int, int]) -> bool:
        """Whether the scan found this file unchanged (path, size, mtime and inode)."""
        return self[:4] == seed

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        if self.diagnostics_json == "[]":
            return ()
        return tuple(Diagnostic(*item) for item in json.loads(self.diagnostics_json))

    @classmethod
    def of(
        cls, seed: tuple[str, int, int, int], key: str | None,
        diagnostics: Iterable[Diagnostic] = (),
    ) -> FileRow:
        encoded = json.dumps([[d.level, d.where, d.message] for d in diagnostics])
        return cls(*seed, key, encoded)


class EntryRow(NamedTuple):
    """An entry as stored: its facts for queries, and `data`, the entry itself as JSON
    (`feeds.codec`), encoded by whoever rendered it (often a worker process)."""

    key: str
    origin: str  # `seeds:PATH` or `upstream:SOURCE`
    hash: str  # of what subscribers read (`entries.content_hash`)
    first_seen: int  # epoch seconds
    published: int
    updated: int
    live: bool
    section: tuple[str, str]  # slug, name
    tags: tuple[tuple[str, str], ...]  # slug, name
    data: str
    canonical: str | None = None  # an upstream item's canonical link

    @classmethod
    def of(cls, entry: Entry, *, origin: str, hash: str, first_seen: int, live: bool,
           canonical: str | None = None) -> EntryRow:
        """The row of an entry rendered in this process."""
        return cls(
            key=entry.key, origin=origin, hash=hash, first_seen=first_seen,
            published=to_epoch(entry.published), updated=to_epoch(entry.updated), live=live,
            section=(entry.section.slug, entry.section.name),
            tags=tuple((t.slug, t.name) for t in entry.tags), data=entry_to_json(entry),
            canonical=canonical,
        )


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """What the state remembers of an entry between builds (without its data)."""

    key: str
    origin: str
    hash: str
    first_seen: int
    published: int
    updated: int
    live: bool
    section: str
    tags: tuple[str, ...]

    def feed_keys(self) -> tuple[FeedKey, ...]:
        return feed_keys(self.section, self.tags)


class Claim(NamedTuple):
    """A source one process has claimed to pull, until its lease runs out; `token` fences it:
    a result is stored only while the token is still the source's."""

    name: str
    token: int
    due: int  # the due time it was claimed for: a stored pull is logged once per (name, due)
    owner: str


@dataclass(frozen=True, slots=True)
class SourceState:
    """Per-source health and HTTP validators, kept between pulls and restarts."""

    name: str
    url: str  # as configured
    fetch_url: str  # where to poll: the configured URL, or where it moved permanently
    etag: str | None = None
    last_modified: str | None = None
    next_due: int = 0
    last_attempt: int | None = None
    last_success: int | None = None
    failures: int = 0
    last_status: str = ""
    last_error: str = ""
    items_seen: int = 0
    retired: bool = False
    feed: UpstreamFeed | None = None
    skipped: tuple[tuple[str, int], ...] = ()  # items of the last pull not republished, by why


class Store(Protocol):
    """The state: seed files seen, entries with their times, upstream sources, outputs."""

    @property
    def location(self) -> str:
        """Where the state is, for messages (a path, or a URL without its password)."""

    def transaction(self) -> AbstractContextManager[None]:
        """One unit of work: every write inside commits together, or none does."""

    def scratch(self) -> AbstractContextManager[None]:
        """A unit of work that is always rolled back: `check` and `export` reconcile the
        articles as a build would, and keep nothing."""

    def snapshot(self) -> AbstractContextManager[None]:
        """A consistent read of the state; nothing inside may write."""

    def close(self) -> None: ...

    # --- meta: small named facts (id prefix, fingerprint, last build) ------------------
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def delete_meta(self, key: str) -> None: ...

    # --- seed files ----------------------------------------------------------------------
    def iter_files(self) -> Iterator[FileRow]:
        """Every file row in path order (code point order, as Python sorts str), streamed."""

    def file(self, path: str) -> FileRow | None: ...
    def held_files(self, now: datetime) -> list[FileRow]:
        """Files in error and files whose live entry is dated after `now`, in path order: what
        `/healthz` lists as held (few; the query does not read all 100,000 files' entries)."""
        ...
    def put_file(self, row: FileRow) -> None: ...
    def delete_file(self, path: str) -> None: ...

    # --- entries -------------------------------------------------------------------------
    def entry_record(self, key: str) -> EntryRecord | None: ...

    def entry_records(self, keys: Iterable[str]) -> dict[str, EntryRecord]:
        """`entry_record` of many keys at once (absent keys are left out): a pull asks for a
        feed's items together, one round trip instead of one per item."""

    def entry(self, key: str) -> Entry | None:
        """The entry as stored (published or not)."""

    def entry_data(self, key: str) -> str | None:
        """The entry's stored JSON: what a pull compares a new rendering with."""

    def put_entry(self, row: EntryRow, *, new: bool = False) -> bool:
        """Store an entry; `new`: the caller knows no entry has this key yet. False (nothing
        stored) when its canonical link is held by another entry: one entry an article."""

    def set_live(self, key: str, live: bool) -> None: ...

    def published_at(self, second: int) -> bool:
        """Whether some entry is already published at exactly this second."""

    def latest(self, feed: FeedKey, now: datetime, limit: int) -> list[Entry]:
        """The newest `limit` published entries of one feed."""

    def latest_rows(self, feed: FeedKey, now: datetime, limit: int) -> list[str]:
        """`latest` as the stored JSON, for another process to decode."""

    def live_entries(self, now: datetime, skip: Container[str] = ()) -> Iterator[Entry]:
        """Every published entry but those in `skip`, streamed, in key order."""

    def due_between(self, start: datetime, end: datetime) -> list[Entry]:
        """Live entries whose publication time fell in (start, end]: held back until now."""

    def next_due(self, now: datetime) -> datetime | None:
        """When the next held-back entry falls due."""

    def sections(self, now: datetime) -> dict[str, str]:
        """Slug → name of every section with a published entry."""

    def tags(self, now: datetime) -> dict[str, str]:
        """Slug → name of every tag with a published entry."""

    def count(self, now: datetime, *, local: bool = False) -> int:
        """Published entries (with `local`, only those of seed files)."""

    def key_with_canonical(self, canonical: str) -> str | None:
        """The entry already published under this canonical link, if any."""

    def keys_with_canonicals(self, canonicals: Iterable[str]) -> dict[str, str]:
        """`key_with_canonical` of many links at once (links no entry holds are left out)."""

    def in_feeds(self, key: str, now: datetime, limit: int) -> bool:
        """Whether a published entry is among the newest `limit` of any feed it belongs to."""

    # --- feeds a pull changed, waiting for the next build --------------------------------
    def add_pending(self, feeds: Iterable[FeedKey]) -> None: ...
    def take_pending(self) -> set[FeedKey]: ...

    def has_pending(self) -> bool:
        """Whether some process stored entries that no build has published yet."""

    def add_pending_pages(self, keys: Iterable[str]) -> None:
        """Upstream entries whose own page the next build must write (or check)."""

    def take_pending_pages(self) -> set[str]: ...

    # --- upstream sources ----------------------------------------------------------------
    def source(self, name: str) -> SourceState | None: ...
    def sources(self) -> list[SourceState]: ...
    def put_source(self, state: SourceState) -> None: ...

    # --- what the output holds (feeds and site files; pages are known by their entries) --
    def outputs(self) -> dict[str, str]:
        """Output path → its owner: a feed key's stored form, or `site`."""

    def put_outputs(self, rows: Iterable[tuple[str, str]]) -> None: ...
    def delete_outputs(self, paths: Iterable[str]) -> None: ...

    # --- many processes, one state: leases (the database's clock), pulls, the manifest --------
    def db_now(self) -> int:
        """The database's clock, in epoch seconds: what leases are compared with."""

    def register_sources(self, sources: Iterable[tuple[str, str]]) -> None:
        """Make a row for each (name, url) not known yet, due now."""

    def claim_sources(self, owner: str, names: Sequence[str], *, due_at: int, lease: int,
                      limit: int, due_only: bool = True, retired: bool = False) -> list[Claim]:
        """Claim up to `limit` of `names` that are due at `due_at` (or all, without
        `due_only`; retired ones too with `retired`) and that nobody holds, for `lease`
        seconds of the database's clock; each source is claimed by one owner at a time."""

    def finish_claim(self, claim: Claim, state: SourceState) -> bool:
        """Store a claimed source's new state and end the claim; False (nothing stored) when
        another owner has taken the source over since."""

    def log_pull(self, source: str, due: int, owner: str, result: str, at: int) -> bool:
        """Record a stored pull; False when this (source, due) was stored already."""

    def pull_history(self, source: str, limit: int) -> list[tuple[int, str, str, int]]: ...
    def prune_pull_log(self, before: int) -> None: ...

    def leases(self) -> dict[str, tuple[str, int]]:
        """Source name → (owner, until) of every source claimed now."""

    def source_counts(self, names: Sequence[str]) -> tuple[int, int, int]:
        """(due, claimed, failing) among `names`, by the database's clock."""

    def take_build_lease(self, owner: str, seconds: int) -> int | None:
        """A new epoch when this owner may build now; None when another holds the build."""

    def renew_build_lease(self, owner: str, epoch: int, seconds: int) -> bool: ...
    def release_build_lease(self, owner: str, epoch: int) -> None: ...

    def manifest_entry(self, key: str) -> tuple[str, int, str] | None:
        """What an object-store output holds at `key`: (sha256, size, content type)."""

    def manifest(self) -> dict[str, tuple[str, int, str]]: ...
    def put_manifest(self, rows: Iterable[tuple[str, str, int, str]]) -> None: ...
    def delete_manifest(self, keys: Iterable[str]) -> None: ...


def _need_psycopg(location: PostgresURL) -> None:
    """The PostgreSQL backend is an extra: without psycopg, a clear exit 2, not a traceback."""
    for module in ("psycopg", "psycopg_pool"):
        if importlib.util.find_spec(module) is None:
            from feeds.errors import UsageError

            raise UsageError(str(location), f"a postgresql:// state needs {module}, which is "
                             "not installed: pip install 'feeds[postgres]'")


def connection_pool(location: Path | PostgresURL, *, size: int,
                    owner: str = "") -> object | None:
    """What a daemon shares between its jobs: a pool of connections to a PostgreSQL state,
    its sessions named after the daemon's `owner` id (None for SQLite, whose connections
    cost nothing to open)."""
    if not isinstance(location, PostgresURL):
        return None
    _need_psycopg(location)
    from feeds.store.postgres import make_pool

    return make_pool(location, size=size, owner=owner)


def schema_version(location: Path | PostgresURL) -> int | None:
    """The schema version of the state at `location` (None: there is no state there yet),
    read without changing anything."""
    if isinstance(location, PostgresURL):
        _need_psycopg(location)
        from feeds.store.postgres import read_version as read_postgres

        return read_postgres(location)
    from feeds.store.sqlite import read_version

    return read_version(location) if location.exists() else None


def open_store(location: Path | PostgresURL, *, migrate: bool = False, wait: float = 30.0,
               pool: object | None = None) -> Store:
    """The state at `location`: a SQLite file, or a PostgreSQL database (or schema). Writers
    pass `migrate` (a missing or older schema is made or brought up to date); `wait` is how
    long to wait for another process's lock on it."""
    if isinstance(location, PostgresURL):
        _need_psycopg(location)
        from feeds.store.postgres import PostgresStore

        return PostgresStore(location, migrate=migrate, wait=wait, pool=pool)
    from feeds.store.sqlite import SQLiteStore

    return SQLiteStore(location, migrate=migrate, wait=wait)
