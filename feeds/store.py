"""The state (SQLite, WAL): files seen, entries with first-seen/updated times, outputs written.

The one module that speaks SQL, so that another backend can follow. Times
are whole seconds since the epoch (UTC); entries keep their rendered data
as JSON so that a rebuild needs neither the article files nor the network.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Container, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from feeds.errors import StoreError
from feeds.model import (
    Attribution,
    Dateline,
    Diagnostic,
    Entry,
    Section,
    Tag,
    UpstreamFeed,
)

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


def to_epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class FileRecord(NamedTuple):
    """A named tuple, not a dataclass: read once per file per build, 100,000 times a no-op."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    key: str | None
    diagnostics: tuple[Diagnostic, ...]


# path, size, mtime_ns, inode: the stat facts first, as in `seeds.SeedFile`; then key, and
# diagnostics as JSON
FileRow = tuple[str, int, int, int, "str | None", str]


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


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """What the state remembers of an entry between builds."""

    key: str
    origin: str
    hash: str
    first_seen: int
    published: int
    updated: int
    live: bool
    section: str
    tags: tuple[str, ...]


class Store:
    """One open state database; `with store.transaction():` groups a build's writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
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

    def close(self) -> None:
        self.db.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database and truncate it (after large builds:
        a WAL of hundreds of MB slows every later read)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # --- meta ----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def delete_meta(self, key: str) -> None:
        self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- files -----------------------------------------------------------------------

    def iter_file_rows(self) -> Iterator[FileRow]:
        """Every file record as its raw row, in path order (byte order, as Python sorts str),
        streamed: a no-op build compares 100,000 of them with the scan, and builds a
        `FileRecord` (`file_record(row)`) only for the few it needs."""
        yield from self.db.execute(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files ORDER BY path"
        )

    def file(self, path: str) -> FileRecord | None:
        row = self.db.execute(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else file_record(row)

    def put_file(self, record: FileRecord) -> None:
        diagnostics = json.dumps([[d.level, d.where, d.message] for d in record.diagnostics])
        self.db.execute(
            "INSERT OR REPLACE INTO files (path, size, mtime_ns, inode, key, diagnostics) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (record.path, record.size, record.mtime_ns, record.inode, record.key, diagnostics),
        )

    def delete_file(self, path: str) -> None:
        self.db.execute("DELETE FROM files WHERE path = ?", (path,))

    # --- entries ---------------------------------------------------------------------

    def entry_record(self, key: str) -> EntryRecord | None:
        row = self.db.execute(
            "SELECT key, origin, hash, first_seen, published, updated, live, section, tags "
            "FROM entries WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return EntryRecord(
            key=row[0], origin=row[1], hash=row[2], first_seen=row[3], published=row[4],
            updated=row[5], live=bool(row[6]), section=row[7], tags=tuple(json.loads(row[8])),
        )

    def put_entry(
        self,
        entry: Entry,
        *,
        origin: str,
        hash: str,
        first_seen: int,
        live: bool,
        canonical: str | None = None,
    ) -> None:
        """Store `entry`, as of now."""
        self.put_entry_data(
            entry.key, origin=origin, hash=hash,
            times=(first_seen, to_epoch(entry.published), to_epoch(entry.updated)), live=live,
            section=(entry.section.slug, entry.section.name),
            tags=tuple((t.slug, t.name) for t in entry.tags), data=entry_to_json(entry),
            canonical=canonical,
        )

    def put_entry_data(
        self,
        key: str,
        *,
        origin: str,
        hash: str,
        times: tuple[int, int, int],
        live: bool,
        section: tuple[str, str],
        tags: tuple[tuple[str, str], ...],
        data: str,
        canonical: str | None = None,
        new: bool = False,
    ) -> None:
        """`put_entry` from plain values: an entry encoded elsewhere (`data`), with its
        (first seen, published, updated) seconds, section and tags as (slug, name).
        `new`: the caller knows the state has no entry with this key, hence no tags of it."""
        first_seen, published, updated = times
        self.db.execute(
            "INSERT OR REPLACE INTO entries (key, origin, hash, first_seen, published, updated, "
            "live, section, section_name, tags, canonical, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, origin, hash, first_seen, published, updated, int(live), section[0],
             section[1], json.dumps([slug for slug, _ in tags]), canonical, data),
        )
        if not new:
            self.db.execute("DELETE FROM entry_tags WHERE key = ?", (key,))
        if tags:
            self.db.executemany(
                "INSERT INTO entry_tags (tag, tag_name, key, published) VALUES (?, ?, ?, ?)",
                [(slug, name, key, published) for slug, name in tags],
            )

    def published_at(self, second: int) -> bool:
        """Whether some entry is already published at exactly this second."""
        # `live IN (0, 1)` lets the (live, published) index answer: one index fewer to
        # maintain on every insert.
        row = self.db.execute(
            "SELECT 1 FROM entries WHERE live IN (0, 1) AND published = ? LIMIT 1", (second,)
        )
        return row.fetchone() is not None

    def set_live(self, key: str, live: bool) -> None:
        self.db.execute("UPDATE entries SET live = ? WHERE key = ?", (int(live), key))

    def latest(self, feed: str, now: datetime, limit: int) -> list[Entry]:
        """The newest `limit` published entries of one feed ('all', 'section:S', 'tag:T')."""
        return [entry_from_json(data) for data in self.latest_rows(feed, now, limit)]

    def latest_rows(self, feed: str, now: datetime, limit: int) -> list[str]:
        """`latest` as the stored JSON, for another process to decode."""
        kind, _, name = feed.partition(":")
        cutoff = to_epoch(now)
        if kind == "all":
            sql = (
                "SELECT data FROM entries WHERE live = 1 AND published <= ? "
                "ORDER BY published DESC, key LIMIT ?"
            )
            args: tuple[Any, ...] = (cutoff, limit)
        elif kind == "section":
            sql = (
                "SELECT data FROM entries WHERE section = ? AND live = 1 AND published <= ? "
                "ORDER BY published DESC, key LIMIT ?"
            )
            args = (name, cutoff, limit)
        else:
            # CROSS JOIN fixes the join order: walk the tag's index newest first and stop at
            # `limit` (the planner otherwise scanned every entry by time: 38 ms at 100,000).
            sql = (
                "SELECT e.data FROM entry_tags t CROSS JOIN entries e ON e.key = t.key "
                "WHERE t.tag = ? AND e.live = 1 AND e.published <= ? "
                "ORDER BY t.published DESC, t.key LIMIT ?"
            )
            args = (name, cutoff, limit)
        return [row[0] for row in self.db.execute(sql, args)]

    def live_entries(self, now: datetime, skip: Container[str] = ()) -> Iterator[Entry]:
        """Every published entry but those in `skip`, streamed (for a full re-render of the
        pages). The keys come from an index; only the entries wanted are read and decoded
        (a cold build has just rendered all of them: decoding them again cost 1 s per 10,000)."""
        keys = [row[0] for row in self.db.execute(
            "SELECT key FROM entries WHERE live = 1 AND published <= ?",
            (to_epoch(now),),
        ) if row[0] not in skip]
        for key in sorted(keys):
            row = self.db.execute("SELECT data FROM entries WHERE key = ?", (key,)).fetchone()
            if row is not None:
                yield entry_from_json(row[0])

    def due_between(self, start: datetime, end: datetime) -> list[Entry]:
        """Live entries whose publication time fell in (start, end]: held back until now."""
        rows = self.db.execute(
            "SELECT data FROM entries WHERE live = 1 AND published > ? AND published <= ?",
            (to_epoch(start), to_epoch(end)),
        )
        return [entry_from_json(row[0]) for row in rows]

    def next_due(self, now: datetime) -> datetime | None:
        row = self.db.execute(
            "SELECT MIN(published) FROM entries WHERE live = 1 AND published > ?",
            (to_epoch(now),),
        ).fetchone()
        return None if row[0] is None else from_epoch(row[0])

    def sections(self, now: datetime) -> dict[str, str]:
        """Slug → name of every section with a published entry.

        Per distinct section, one indexed probe: a GROUP BY over the whole table cost 0.4 s
        at 100,000 entries."""
        return self._named(
            "SELECT DISTINCT section FROM entries",
            "SELECT section_name FROM entries WHERE section = ? AND live = 1 "
            "AND published <= ? LIMIT 1",
            now,
        )

    def tags(self, now: datetime) -> dict[str, str]:
        """Slug → name of every tag with a published entry (one indexed probe per tag)."""
        return self._named(
            "SELECT DISTINCT tag FROM entry_tags",
            "SELECT t.tag_name FROM entry_tags t CROSS JOIN entries e ON e.key = t.key "
            "WHERE t.tag = ? AND e.live = 1 AND e.published <= ? LIMIT 1",
            now,
        )

    def _named(self, slugs: str, probe: str, now: datetime) -> dict[str, str]:
        cutoff = to_epoch(now)
        found = {}
        for (slug,) in self.db.execute(slugs).fetchall():
            row = self.db.execute(probe, (slug, cutoff)).fetchone()
            if row is not None:
                found[slug] = row[0]
        return found

    def count(self, now: datetime) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM entries WHERE live = 1 AND published <= ?", (to_epoch(now),)
        ).fetchone()
        return int(row[0])

    def key_with_canonical(self, canonical: str) -> str | None:
        """The entry already published under this canonical link, if any."""
        row = self.db.execute(
            "SELECT key FROM entries WHERE canonical = ? ORDER BY first_seen, key LIMIT 1",
            (canonical,),
        ).fetchone()
        return None if row is None else str(row[0])

    # --- feeds waiting for the next build ------------------------------------------------

    def add_pending(self, feeds: Iterable[str]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO pending_feeds (feed) VALUES (?)", [(f,) for f in feeds]
        )

    def take_pending(self) -> set[str]:
        feeds = {row[0] for row in self.db.execute("SELECT feed FROM pending_feeds")}
        self.db.execute("DELETE FROM pending_feeds")
        return feeds

    # --- upstream sources -----------------------------------------------------------------

    def source(self, name: str) -> SourceState | None:
        row = self.db.execute(
            "SELECT name, url, fetch_url, etag, last_modified, next_due, last_attempt, "
            "last_success, failures, last_status, last_error, items_seen, retired, feed "
            "FROM sources WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        feed = None
        if row[13]:
            raw = json.loads(row[13])
            if raw.get("updated") is not None:
                raw["updated"] = from_epoch(raw["updated"])
            feed = UpstreamFeed(**raw)
        return SourceState(
            name=row[0], url=row[1], fetch_url=row[2], etag=row[3], last_modified=row[4],
            next_due=row[5], last_attempt=row[6], last_success=row[7], failures=row[8],
            last_status=row[9], last_error=row[10], items_seen=row[11], retired=bool(row[12]),
            feed=feed,
        )

    def sources(self) -> list[SourceState]:
        names = [row[0] for row in self.db.execute("SELECT name FROM sources ORDER BY name")]
        return [s for s in map(self.source, names) if s is not None]

    def put_source(self, state: SourceState) -> None:
        feed = None
        if state.feed is not None:
            raw = asdict(state.feed)
            raw["updated"] = None if state.feed.updated is None else to_epoch(state.feed.updated)
            feed = json.dumps(raw, ensure_ascii=False)
        self.db.execute(
            "INSERT OR REPLACE INTO sources (name, url, fetch_url, etag, last_modified, next_due, "
            "last_attempt, last_success, failures, last_status, last_error, items_seen, retired, "
            "feed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (state.name, state.url, state.fetch_url, state.etag, state.last_modified,
             state.next_due, state.last_attempt, state.last_success, state.failures,
             state.last_status, state.last_error, state.items_seen, int(state.retired), feed),
        )

    # --- outputs ---------------------------------------------------------------------

    def outputs(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT path, feed FROM outputs").fetchall())

    def put_outputs(self, rows: Iterable[tuple[str, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO outputs (path, feed) VALUES (?, ?)", rows)

    def delete_outputs(self, paths: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM outputs WHERE path = ?", [(p,) for p in paths])


def move_aside(path: Path, now: datetime) -> Path:
    """Rename a corrupt state (and its WAL files) out of the way, keeping it for inspection."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(aside.with_name(aside.name + suffix))
    return aside


def health_report(path: Path, *, rebuild_every: int, now: datetime) -> dict[str, Any]:
    """What /healthz answers: age of the last successful build, last failure, each source."""
    moment = now
    report: dict[str, Any] = {"healthy": False, "last_build": None, "age_seconds": None,
                              "last_failure": None, "sources": {}}
    if not path.exists():
        report["problem"] = "no build yet"
        return report
    store = Store(path)
    try:
        last = store.get_meta("last_success")
        failure = store.get_meta("last_failure")
        for state in store.sources():
            report["sources"][state.name] = {
                "status": state.last_status, "failures": state.failures,
                "last_success": None if state.last_success is None
                else from_epoch(state.last_success).isoformat(),
                "next_due": from_epoch(state.next_due).isoformat(), "retired": state.retired,
                "error": state.last_error or None,
            }
    finally:
        store.close()
    if failure is not None:
        report["last_failure"] = json.loads(failure)
    if last is not None:
        age = int(moment.timestamp()) - int(last)
        report["last_build"] = from_epoch(int(last)).isoformat()
        report["age_seconds"] = age
        report["healthy"] = failure is None and age <= 3 * rebuild_every
        if age > 3 * rebuild_every:
            report["problem"] = f"last successful build is older than 3 × {rebuild_every}s"
    if failure is not None:
        report["problem"] = "the last build failed"
    return report


def file_record(row: FileRow) -> FileRecord:
    diagnostics = () if row[5] == "[]" else tuple(Diagnostic(*i) for i in json.loads(row[5]))
    return FileRecord(row[0], row[1], row[2], row[3], row[4], diagnostics)


# --- Entry <-> JSON ----------------------------------------------------------------------


def _flat(value: Any) -> Any:
    """A one-level dataclass as a dict (asdict deep-copies: too slow at 100,000 entries)."""
    if value is None:
        return None
    return {f.name: getattr(value, f.name) for f in fields(value)}


def entry_to_json(entry: Entry) -> str:
    data = {f.name: getattr(entry, f.name) for f in fields(entry)}
    data["published"] = to_epoch(entry.published)
    data["updated"] = to_epoch(entry.updated)
    data["section"] = _flat(entry.section)
    data["tags"] = [_flat(t) for t in entry.tags]
    data["attribution"] = _flat(entry.attribution)
    data["dateline"] = _flat(entry.dateline)
    upstream = _flat(entry.upstream)
    if upstream is not None and upstream["updated"] is not None:
        upstream["updated"] = to_epoch(upstream["updated"])
    data["upstream"] = upstream
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def entry_from_json(text: str) -> Entry:
    data = json.loads(text)
    upstream = data.pop("upstream")
    attribution = data["attribution"]
    if upstream is not None and upstream["updated"] is not None:
        upstream["updated"] = from_epoch(upstream["updated"])
    return Entry(
        **{
            **data,
            "section": Section(**data["section"]),
            "published": from_epoch(data["published"]),
            "updated": from_epoch(data["updated"]),
            "authors": tuple(data["authors"]),
            "tags": tuple(Tag(**t) for t in data["tags"]),
            "attribution": None if attribution is None else Attribution(**attribution),
            "dateline": None if data["dateline"] is None else Dateline(**data["dateline"]),
            "upstream": None if upstream is None else UpstreamFeed(**upstream),
        }
    )
