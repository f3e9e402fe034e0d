"""The state's queries in portable SQL, shared by the SQLite and PostgreSQL backends.

`SQLStore` implements every read and write of `feeds.store.Store`; a
backend subclass supplies the connection (`_run`, `_run_many`), the units
of work and the schema. Statements use `?` placeholders and SQL that both
engines speak (`ON CONFLICT`, `RETURNING`); where the engines want
different text for speed, the backend overrides one method.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, ClassVar, Protocol

from feeds.codec import entry_from_json, from_epoch, to_epoch
from feeds.model import Entry, FeedKey, UpstreamFeed
from feeds.store import Claim, EntryRecord, EntryRow, FileRow, SourceState


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


_LATEST = {
    "all": "SELECT data FROM entries WHERE live = 1 AND published <= ? "
           "ORDER BY published DESC, key LIMIT ?",
    "section": "SELECT data FROM entries WHERE section = ? AND live = 1 AND published <= ? "
               "ORDER BY published DESC, key LIMIT ?",
    "tag": "SELECT e.data FROM entry_tags t JOIN entries e ON e.key = t.key "
           "WHERE t.tag = ? AND e.live = 1 AND e.published <= ? "
           "ORDER BY t.published DESC, t.key LIMIT ?",
}
_TAG_NAME = ("SELECT t.tag_name FROM entry_tags t JOIN entries e ON e.key = t.key "
             "WHERE t.tag = ? AND e.live = 1 AND e.published <= ? LIMIT 1")
_SELECT_SOURCES = (
    "SELECT name, url, fetch_url, etag, last_modified, next_due, last_attempt, last_success, "
    "failures, last_status, last_error, items_seen, retired, feed, skipped FROM sources"
)
_UPSERT_SOURCE = (
    "INSERT INTO sources (name, url, fetch_url, etag, last_modified, next_due, last_attempt, "
    "last_success, failures, last_status, last_error, items_seen, retired, feed, skipped) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "url = excluded.url, fetch_url = excluded.fetch_url, etag = excluded.etag, "
    "last_modified = excluded.last_modified, next_due = excluded.next_due, "
    "last_attempt = excluded.last_attempt, last_success = excluded.last_success, "
    "failures = excluded.failures, last_status = excluded.last_status, "
    "last_error = excluded.last_error, items_seen = excluded.items_seen, "
    "retired = excluded.retired, feed = excluded.feed, skipped = excluded.skipped"
)
# How many published entries come before one (newer, or as new with a smaller key) in each
# feed it is in: it is in a feed while that count is below the feed's length.
_AHEAD = ("SELECT COUNT(*) FROM entries WHERE live = 1 AND published <= ? "
          "AND (published > ? OR (published = ? AND key < ?))")
_AHEAD_IN_SECTION = _AHEAD + " AND section = ?"
_AHEAD_IN_TAG = (
    "SELECT COUNT(*) FROM entry_tags t JOIN entries e ON e.key = t.key WHERE t.tag = ? "
    "AND e.live = 1 AND e.published <= ? "
    "AND (e.published > ? OR (e.published = ? AND e.key < ?))"
)


_SELECT_RECORD = ("SELECT key, origin, hash, first_seen, published, updated, live, section, tags "
                  "FROM entries WHERE ")
CHUNK = 500  # values in one IN (…): well under SQLite's and PostgreSQL's limits


def _record(row: Sequence[Any]) -> EntryRecord:
    return EntryRecord(
        key=row[0], origin=row[1], hash=row[2], first_seen=row[3], published=row[4],
        updated=row[5], live=bool(row[6]), section=row[7], tags=tuple(json.loads(row[8])),
    )


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """Distinct values, CHUNK at a time."""
    pending = list(dict.fromkeys(values))
    for start in range(0, len(pending), CHUNK):
        yield pending[start:start + CHUNK]


class _Queries:
    """What every group of queries needs of the backend: a way to run them."""

    def _run(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        raise NotImplementedError

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _count_write(self) -> None:
        """Called for every entry written (SQLite folds its log after many)."""


class _EntryQueries(_Queries):
    """Entries and the feeds they make: what a build renders from."""

    # The join of a tag's entries, as the backend wants it written (SQLite: CROSS JOIN).
    latest_sql: ClassVar[Mapping[str, str]] = _LATEST
    tag_name_sql: ClassVar[str] = _TAG_NAME

    def entry_record(self, key: str) -> EntryRecord | None:
        row = self._run(_SELECT_RECORD + "key = ?", (key,)).fetchone()
        return None if row is None else _record(row)

    def entry_records(self, keys: Iterable[str]) -> dict[str, EntryRecord]:
        found: dict[str, EntryRecord] = {}
        for chunk in _chunks(keys):
            sql = _SELECT_RECORD + f"key IN ({', '.join('?' * len(chunk))})"
            found.update((row[0], _record(row)) for row in self._run(sql, chunk))
        return found

    def entry(self, key: str) -> Entry | None:
        data = self.entry_data(key)
        return None if data is None else entry_from_json(data)

    def entry_data(self, key: str) -> str | None:
        row = self._run("SELECT data FROM entries WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def in_feeds(self, key: str, now: datetime, limit: int) -> bool:
        row = self._run("SELECT published, section, tags, live FROM entries WHERE key = ?",
                        (key,)).fetchone()
        cutoff = to_epoch(now)
        if row is None or not row[3] or row[0] > cutoff:
            return False
        published, section, tags = row[0], row[1], json.loads(row[2])
        place = (cutoff, published, published, key)
        counts = [self._run(_AHEAD, place).fetchone()[0],
                  self._run(_AHEAD_IN_SECTION, (*place, section)).fetchone()[0]]
        counts += [self._run(_AHEAD_IN_TAG, (tag, *place)).fetchone()[0] for tag in tags]
        return int(min(counts)) < limit

    def put_entry(self, row: EntryRow, *, new: bool = False) -> bool:
        if row.canonical is not None:  # one entry holds an article link (a unique index too)
            holder = self.key_with_canonical(row.canonical)
            if holder is not None and holder != row.key:
                return False
        self._count_write()
        self._run(
            "INSERT INTO entries (key, origin, hash, first_seen, published, updated, live, "
            "section, section_name, tags, canonical, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "origin = excluded.origin, hash = excluded.hash, first_seen = excluded.first_seen, "
            "published = excluded.published, updated = excluded.updated, live = excluded.live, "
            "section = excluded.section, section_name = excluded.section_name, "
            "tags = excluded.tags, canonical = excluded.canonical, data = excluded.data",
            (row.key, row.origin, row.hash, row.first_seen, row.published, row.updated,
             int(row.live), row.section[0], row.section[1],
             json.dumps([slug for slug, _ in row.tags]), row.canonical, row.data),
        )
        if not new:
            self._run("DELETE FROM entry_tags WHERE key = ?", (row.key,))
        if row.tags:
            self._run_many(
                "INSERT INTO entry_tags (tag, tag_name, key, published) VALUES (?, ?, ?, ?)",
                [(slug, name, row.key, row.published) for slug, name in row.tags],
            )
        return True

    def published_at(self, second: int) -> bool:
        # `live IN (0, 1)` lets the (live, published) index answer: one index fewer to
        # maintain on every insert.
        row = self._run(
            "SELECT 1 FROM entries WHERE live IN (0, 1) AND published = ? LIMIT 1", (second,)
        )
        return row.fetchone() is not None

    def set_live(self, key: str, live: bool) -> None:
        self._run("UPDATE entries SET live = ? WHERE key = ?", (int(live), key))

    def latest(self, feed: FeedKey, now: datetime, limit: int) -> list[Entry]:
        return [entry_from_json(data) for data in self.latest_rows(feed, now, limit)]

    def latest_rows(self, feed: FeedKey, now: datetime, limit: int) -> list[str]:
        args: tuple[Any, ...] = (to_epoch(now), limit)
        if feed.kind != "all":
            args = (feed.slug, *args)
        return [row[0] for row in self._run(self.latest_sql[feed.kind], args)]

    def live_entries(self, now: datetime, skip: Container[str] = ()) -> Iterator[Entry]:
        """The keys come from an index; only the entries wanted are read and decoded (a cold
        build has just rendered all of them: decoding them again cost 1 s per 10,000)."""
        keys = [row[0] for row in self._run(
            "SELECT key FROM entries WHERE live = 1 AND published <= ?",
            (to_epoch(now),),
        ) if row[0] not in skip]
        for key in sorted(keys):
            row = self._run("SELECT data FROM entries WHERE key = ?", (key,)).fetchone()
            if row is not None:
                yield entry_from_json(row[0])

    def due_between(self, start: datetime, end: datetime) -> list[Entry]:
        rows = self._run(
            "SELECT data FROM entries WHERE live = 1 AND published > ? AND published <= ?",
            (to_epoch(start), to_epoch(end)),
        )
        return [entry_from_json(row[0]) for row in rows]

    def next_due(self, now: datetime) -> datetime | None:
        row = self._run(
            "SELECT MIN(published) FROM entries WHERE live = 1 AND published > ?",
            (to_epoch(now),),
        ).fetchone()
        return None if row[0] is None else from_epoch(row[0])

    def sections(self, now: datetime) -> dict[str, str]:
        """Per distinct section, one indexed probe: a GROUP BY over the whole table cost
        0.4 s at 100,000 entries."""
        return self._named(
            "SELECT DISTINCT section FROM entries",
            "SELECT section_name FROM entries WHERE section = ? AND live = 1 "
            "AND published <= ? LIMIT 1",
            now,
        )

    def tags(self, now: datetime) -> dict[str, str]:
        """One indexed probe per tag."""
        return self._named(
            "SELECT DISTINCT tag FROM entry_tags",
            self.tag_name_sql,
            now,
        )

    def _named(self, slugs: str, probe: str, now: datetime) -> dict[str, str]:
        cutoff = to_epoch(now)
        found = {}
        for (slug,) in self._run(slugs).fetchall():
            row = self._run(probe, (slug, cutoff)).fetchone()
            if row is not None:
                found[slug] = row[0]
        return found

    def count(self, now: datetime, *, local: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM entries WHERE live = 1 AND published <= ?"
        if local:
            sql += " AND origin LIKE 'seeds:%'"
        return int(self._run(sql, (to_epoch(now),)).fetchone()[0])

    def key_with_canonical(self, canonical: str) -> str | None:
        row = self._run(
            "SELECT key FROM entries WHERE canonical = ? ORDER BY first_seen, key LIMIT 1",
            (canonical,),
        ).fetchone()
        return None if row is None else str(row[0])

    def keys_with_canonicals(self, canonicals: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(canonicals):
            rows = self._run(
                "SELECT canonical, key FROM entries WHERE canonical IN "  # noqa: S608 (marks)
                f"({', '.join('?' * len(chunk))}) ORDER BY first_seen DESC, key DESC", chunk)
            found.update((str(row[0]), str(row[1])) for row in rows)  # the first one wins
        return found



class _ClusterQueries(_Queries):
    """What many processes share through the state: leases on sources and on the build, the
    log of stored pulls, and the manifest of what an object-store output holds. Lease times
    are the database's own clock (`db_now`), never a daemon's."""

    now_sql: ClassVar[str] = "SELECT CAST(strftime('%s', 'now') AS INTEGER)"

    def db_now(self) -> int:
        return int(self._run(self.now_sql).fetchone()[0])

    def register_sources(self, sources: Iterable[tuple[str, str]]) -> None:
        self._run_many("INSERT INTO sources (name, url, fetch_url) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO NOTHING", [(n, u, u) for n, u in sources])

    def claim_sources(self, owner: str, names: Sequence[str], *, due_at: int, lease: int,
                      limit: int, due_only: bool = True, retired: bool = False) -> list[Claim]:
        now = self.db_now()
        marks = ", ".join("?" * len(names))
        if not names:
            return []
        rows = self._run(
            "UPDATE sources SET lease_owner = ?, lease_until = ?, lease_token = lease_token + 1 "  # noqa: S608 (only "?" marks)
            "WHERE name IN (SELECT name FROM sources WHERE (retired = 0 OR ? = 1) AND "
            f"name IN ({marks}) AND (next_due <= ? OR ? = 0) AND (lease_until IS NULL OR "
            "lease_until < ?) ORDER BY next_due, name LIMIT ?) "
            "RETURNING name, lease_token, next_due",
            (owner, now + lease, int(retired), *names, due_at, int(due_only), now, limit),
        ).fetchall()
        return sorted(Claim(row[0], row[1], row[2], owner) for row in rows)

    def finish_claim(self, claim: Claim, state: SourceState) -> bool:
        """Store a claimed source's new state and end the claim, if the claim still holds
        (its token unchanged: no other daemon took the source over meanwhile)."""
        cursor = self._run(
            "UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE name = ? "
            "AND lease_owner = ? AND lease_token = ?", (claim.name, claim.owner, claim.token))
        if cursor.rowcount != 1:
            return False
        self.put_source(state)  # type: ignore[attr-defined]
        return True

    def log_pull(self, source: str, due: int, owner: str, result: str, at: int) -> bool:
        """Record a stored pull; False when this (source, due time) was stored already."""
        cursor = self._run(
            "INSERT INTO pull_log (source, due, owner, result, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (source, due) DO NOTHING", (source, due, owner, result, at))
        return cursor.rowcount == 1

    def pull_history(self, source: str, limit: int) -> list[tuple[int, str, str, int]]:
        """The latest stored pulls of a source: (due, owner, result, at), newest first."""
        rows = self._run("SELECT due, owner, result, at FROM pull_log WHERE source = ? "
                         "ORDER BY at DESC, due DESC LIMIT ?", (source, limit)).fetchall()
        return [tuple(row) for row in rows]

    def prune_pull_log(self, before: int) -> None:
        self._run("DELETE FROM pull_log WHERE at < ?", (before,))

    def source_counts(self, names: Sequence[str]) -> tuple[int, int, int]:
        """(due, claimed, failing) among `names`, by the database's clock."""
        if not names:
            return 0, 0, 0
        now = self.db_now()
        marks = ", ".join("?" * len(names))
        row = self._run(
            "SELECT COALESCE(SUM(CASE WHEN retired = 0 AND next_due <= ? THEN 1 ELSE 0 END), 0), "  # noqa: S608 (only "?" marks)
            "COALESCE(SUM(CASE WHEN lease_until >= ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN failures > 0 THEN 1 ELSE 0 END), 0) "
            f"FROM sources WHERE name IN ({marks})", (now, now, *names)).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def leases(self) -> dict[str, tuple[str, int]]:
        """Source name → (owner, until) of every source claimed now."""
        rows = self._run("SELECT name, lease_owner, lease_until FROM sources "
                         "WHERE lease_owner IS NOT NULL").fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}

    def take_build_lease(self, owner: str, seconds: int) -> int | None:
        """The build lease's new epoch if this owner may build now (nobody holds the lease,
        or it ran out, or this owner holds it); None when another holds it."""
        now = self.db_now()
        self._run("INSERT INTO leases (name) VALUES ('build') ON CONFLICT (name) DO NOTHING")
        row = self._run(
            "UPDATE leases SET owner = ?, until = ?, epoch = epoch + 1 WHERE name = 'build' "
            "AND (owner IS NULL OR owner = ? OR until < ?) RETURNING epoch",
            (owner, now + seconds, owner, now)).fetchone()
        return None if row is None else int(row[0])

    def renew_build_lease(self, owner: str, epoch: int, seconds: int) -> bool:
        now = self.db_now()
        cursor = self._run("UPDATE leases SET until = ? WHERE name = 'build' AND owner = ? "
                           "AND epoch = ? AND until >= ?", (now + seconds, owner, epoch, now))
        return cursor.rowcount == 1

    def release_build_lease(self, owner: str, epoch: int) -> None:
        self._run("UPDATE leases SET owner = NULL, until = 0 WHERE name = 'build' "
                  "AND owner = ? AND epoch = ?", (owner, epoch))

    def manifest_entry(self, key: str) -> tuple[str, int, str] | None:
        row = self._run("SELECT hash, size, type FROM manifest WHERE key = ?",
                        (key,)).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), str(row[2]))

    def manifest(self) -> dict[str, tuple[str, int, str]]:
        return {row[0]: (row[1], row[2], row[3])
                for row in self._run("SELECT key, hash, size, type FROM manifest")}

    def put_manifest(self, rows: Iterable[tuple[str, str, int, str]]) -> None:
        self._run_many(
            "INSERT INTO manifest (key, hash, size, type) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET hash = excluded.hash, size = excluded.size, type = excluded.type",
            rows)

    def delete_manifest(self, keys: Iterable[str]) -> None:
        self._run_many("DELETE FROM manifest WHERE key = ?", [(key,) for key in keys])


class SQLStore(_EntryQueries, _ClusterQueries):
    """Every query of the state; see `feeds.store.Store` for what each promises. A backend
    extends it with its connection (`_run`, `_run_many`) and units of work."""

    # --- meta ----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._run("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def delete_meta(self, key: str) -> None:
        self._run("DELETE FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- files -----------------------------------------------------------------------

    def iter_files(self) -> Iterator[FileRow]:
        """Streamed: a no-op build compares 100,000 of them with the scan."""
        for row in self._run(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files ORDER BY path"
        ):
            yield FileRow(*row)

    def held_files(self, now: datetime) -> list[FileRow]:
        later = [row[0] for row in self._run(
            "SELECT origin FROM entries WHERE live = 1 AND published > ? AND origin LIKE ?",
            (to_epoch(now), "seeds:%"))]
        rows = {row[0]: FileRow(*row) for row in self._run(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files "
            "WHERE diagnostics LIKE ?", ('%"error"%',))}
        for origin in later:
            path = origin.removeprefix("seeds:")
            if path not in rows and (row := self.file(path)) is not None:
                rows[path] = row
        return [rows[path] for path in sorted(rows)]

    def file(self, path: str) -> FileRow | None:
        row = self._run(
            "SELECT path, size, mtime_ns, inode, key, diagnostics FROM files WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else FileRow(*row)

    def put_file(self, row: FileRow) -> None:
        self._run(
            "INSERT INTO files (path, size, mtime_ns, inode, key, diagnostics) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, inode = excluded.inode, key = excluded.key, "
            "diagnostics = excluded.diagnostics",
            row,
        )

    def delete_file(self, path: str) -> None:
        self._run("DELETE FROM files WHERE path = ?", (path,))

    # --- feeds waiting for the next build ------------------------------------------------

    def add_pending(self, feeds: Iterable[FeedKey]) -> None:
        self._run_many(
            "INSERT INTO pending_feeds (feed) VALUES (?) ON CONFLICT DO NOTHING",
            [(str(f),) for f in feeds],
        )

    def take_pending(self) -> set[FeedKey]:
        rows = self._run("DELETE FROM pending_feeds RETURNING feed").fetchall()
        return {FeedKey.parse(row[0]) for row in rows}

    def has_pending(self) -> bool:
        return self._run("SELECT 1 FROM pending_feeds LIMIT 1").fetchone() is not None

    def add_pending_pages(self, keys: Iterable[str]) -> None:
        self._run_many("INSERT INTO pending_pages (key) VALUES (?) ON CONFLICT DO NOTHING",
                       [(key,) for key in keys])

    def take_pending_pages(self) -> set[str]:
        return {row[0] for row in self._run("DELETE FROM pending_pages RETURNING key")}

    # --- upstream sources -----------------------------------------------------------------

    def source(self, name: str) -> SourceState | None:
        row = self._run(_SELECT_SOURCES + " WHERE name = ?", (name,)).fetchone()
        return None if row is None else _source(row)

    def sources(self) -> list[SourceState]:
        rows = self._run(_SELECT_SOURCES + " ORDER BY name").fetchall()
        return [_source(row) for row in rows]

    def put_source(self, state: SourceState) -> None:
        feed = None
        if state.feed is not None:
            raw = asdict(state.feed)
            raw["updated"] = None if state.feed.updated is None else to_epoch(state.feed.updated)
            feed = json.dumps(raw, ensure_ascii=False)
        self._run(
            _UPSERT_SOURCE,
            (state.name, state.url, state.fetch_url, state.etag, state.last_modified,
             state.next_due, state.last_attempt, state.last_success, state.failures,
             state.last_status, state.last_error, state.items_seen, int(state.retired), feed,
             json.dumps([list(pair) for pair in state.skipped], ensure_ascii=False)),
        )

    # --- outputs ---------------------------------------------------------------------

    def outputs(self) -> dict[str, str]:
        return dict(self._run("SELECT path, feed FROM outputs").fetchall())

    def put_outputs(self, rows: Iterable[tuple[str, str]]) -> None:
        self._run_many("INSERT INTO outputs (path, feed) VALUES (?, ?) "
                       "ON CONFLICT (path) DO UPDATE SET feed = excluded.feed", rows)

    def delete_outputs(self, paths: Iterable[str]) -> None:
        self._run_many("DELETE FROM outputs WHERE path = ?", [(p,) for p in paths])




def _source(row: Sequence[Any]) -> SourceState:
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
        feed=feed, skipped=tuple((str(why), int(count)) for why, count in json.loads(row[14])),
    )
