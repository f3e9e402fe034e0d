"""The state in PostgreSQL (psycopg 3; psycopg_pool in daemons): the shared backend of
`feeds.store.Store`, and the one module that speaks to PostgreSQL.

One site per database, or per schema: the tables live in the first schema of the
connection's `search_path` (`current_schema()`), with no site key in them. The schema is
the SQLite one at the same version, with PostgreSQL types: BIGINT for every integer and
TEXT COLLATE "C" for every string, so that keys and paths sort by code point as in SQLite
and Python, whatever the database's own collation. Its versions follow SQLite's: support
starts at version 2, made by one migration; a later schema change adds a migration here
and in `feeds.store.sqlite` with the same number.

Every psycopg error becomes this package's at one boundary (`_error`): a lock held past
`wait` is `StateBusy` (exit 3), anything else `StoreError` (exit 5), its `where` the URL
without its password, and its text scrubbed of the password too (libpq can echo the
connection string it failed to parse).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from feeds.config import PostgresURL
from feeds.errors import FeedsError, StateBusy, StoreError, UsageError
from feeds.store import Claim, EntryRow
from feeds.store.sql import SQLStore

Connection = psycopg.Connection[tuple[Any, ...]]
Pool = ConnectionPool[Connection]

# Every string column sorts by code point ("C": UTF-8 bytes), as SQLite's and Python's do: the
# order of tied entries in a feed, and of file rows, must not follow the database's locale.
_TEXT = 'TEXT COLLATE "C"'
_CREATE = f"""
CREATE TABLE meta (key {_TEXT} PRIMARY KEY, value {_TEXT} NOT NULL);
CREATE TABLE files (
    path {_TEXT} PRIMARY KEY,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    inode BIGINT NOT NULL,
    key {_TEXT},
    diagnostics {_TEXT} NOT NULL DEFAULT '[]'
);
CREATE TABLE entries (
    key {_TEXT} PRIMARY KEY,
    origin {_TEXT} NOT NULL,
    hash {_TEXT} NOT NULL,
    first_seen BIGINT NOT NULL,
    published BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    live BIGINT NOT NULL,
    section {_TEXT} NOT NULL,
    section_name {_TEXT} NOT NULL,
    tags {_TEXT} NOT NULL,
    canonical {_TEXT},
    data {_TEXT} NOT NULL
);
CREATE UNIQUE INDEX entries_by_canonical ON entries (canonical) WHERE canonical IS NOT NULL;
CREATE INDEX entries_by_time ON entries (live, published DESC, key);
CREATE INDEX entries_by_section ON entries (section, live, published DESC, key);
CREATE TABLE entry_tags (
    tag {_TEXT} NOT NULL,
    tag_name {_TEXT} NOT NULL,
    key {_TEXT} NOT NULL,
    published BIGINT NOT NULL,
    PRIMARY KEY (tag, key)
);
CREATE INDEX entry_tags_by_time ON entry_tags (tag, published DESC, key);
CREATE INDEX entry_tags_by_key ON entry_tags (key);
CREATE TABLE outputs (path {_TEXT} PRIMARY KEY, feed {_TEXT} NOT NULL);
CREATE TABLE pending_feeds (feed {_TEXT} PRIMARY KEY);
CREATE TABLE pending_pages (key {_TEXT} PRIMARY KEY);
CREATE TABLE sources (
    name {_TEXT} PRIMARY KEY,
    url {_TEXT} NOT NULL,
    fetch_url {_TEXT} NOT NULL,
    etag {_TEXT},
    last_modified {_TEXT},
    next_due BIGINT NOT NULL DEFAULT 0,
    last_attempt BIGINT,
    last_success BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    last_status {_TEXT} NOT NULL DEFAULT '',
    last_error {_TEXT} NOT NULL DEFAULT '',
    items_seen BIGINT NOT NULL DEFAULT 0,
    retired BIGINT NOT NULL DEFAULT 0,
    feed {_TEXT},
    skipped {_TEXT} NOT NULL DEFAULT '[]',
    lease_owner {_TEXT},
    lease_until BIGINT,
    lease_token BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE pull_log (
    source {_TEXT} NOT NULL,
    due BIGINT NOT NULL,
    owner {_TEXT} NOT NULL,
    result {_TEXT} NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (source, due)
);
CREATE INDEX pull_log_by_time ON pull_log (at);
CREATE TABLE leases (
    name {_TEXT} PRIMARY KEY,
    owner {_TEXT},
    until BIGINT NOT NULL DEFAULT 0,
    epoch BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE manifest (
    key {_TEXT} PRIMARY KEY,
    hash {_TEXT} NOT NULL,
    size BIGINT NOT NULL,
    type {_TEXT} NOT NULL
);
CREATE TABLE feeds_schema (version BIGINT NOT NULL);
"""
FIRST_VERSION = 2  # PostgreSQL support starts at SQLite's version 2, with everything at once
MIGRATIONS: dict[int, str] = {  # the schema version each one leads to → its statements
    2: _CREATE,
}
SCHEMA_VERSION = max(MIGRATIONS)
VERSION_TABLE = "feeds_schema"
TABLES = ("meta", "files", "entries", "entry_tags", "outputs", "pending_feeds",
          "pending_pages", "sources", "pull_log", "leases", "manifest", VERSION_TABLE)

# Migrations (and copy-state's filling of a new state) hold this transaction-scoped advisory
# lock, keyed by the schema: it is released by their COMMIT or ROLLBACK, never left behind.
_LOCK_KEY = 0x66656564  # "feed"
_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(COALESCE(current_schema(), '')))"
_OURS = ("SELECT COALESCE(array_agg(c.relname::text ORDER BY c.relname), '{}') FROM pg_class c "
         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
         "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = ANY(%s)")

CONNECT_TIMEOUT = 10  # seconds to reach the server, unless the URL says otherwise
# A daemon's sessions (`make_pool`): no single statement of ours runs for minutes, so one that
# does is stuck; a build leaves its transaction idle while it renders and writes the output
# (an s3:// output uploads inside it), so the idle limit is long, and only ends the
# transactions of a daemon that hangs, whose locks would otherwise stay taken for ever.
STATEMENT_TIMEOUT = "5min"
IDLE_IN_TRANSACTION_TIMEOUT = "10min"
RECONNECT_TIMEOUT = 30.0  # a pool's background reconnection gives up (and starts anew) after it

_CLAIM = (
    "WITH due AS (SELECT name FROM sources WHERE (retired = 0 OR ? = 1) AND name = ANY(?) "
    "AND (next_due <= ? OR ? = 0) AND (lease_until IS NULL OR lease_until < ?) "
    "ORDER BY next_due, name LIMIT ? FOR UPDATE SKIP LOCKED) "
    "UPDATE sources AS s SET lease_owner = ?, lease_until = ?, lease_token = s.lease_token + 1 "
    "FROM due WHERE s.name = due.name RETURNING s.name, s.lease_token, s.next_due"
)
# A daemon's sessions carry its owner id at the end of their application_name (`make_pool`):
# the daemon that takes the build over from a stalled one ends that one's open transactions.
_STALLED_BUILDER = ("SELECT owner FROM leases WHERE name = 'build' AND owner IS NOT NULL "
                    "AND owner <> ? AND until < ?")
_END_TRANSACTIONS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND application_name LIKE ?"
)
_NAME_BYTES = 63  # PostgreSQL cuts an application_name longer than this


class _CanonicalTaken(StoreError):
    """Another transaction committed an entry with the same canonical link meanwhile."""


class PostgresStore(SQLStore):
    """One open PostgreSQL state; see `feeds.store.Store` for the contract."""

    now_sql = "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM now())) AS BIGINT)"

    def __init__(self, location: PostgresURL, *, migrate: bool = False, wait: float = 30.0,
                 pool: object | None = None, create: bool = True) -> None:
        """Open the state at `location` (from `pool`, a `make_pool`, when given); with
        `migrate`, bring an older schema up to date. A place with none of our tables is made
        into a new state, as SQLite makes a new file (`new_state`, with `create` False, makes
        it itself)."""
        self.url = location
        self.wait = wait
        self.pool = pool if isinstance(pool, ConnectionPool) else None
        self.where = redacted(location)
        self._conn: Connection | None = _connect(location, wait, self.pool)
        self.version = 0
        try:
            with self._translated():
                tables = self._tables(set_wait=True)
                if create:
                    self.version = _version_in(self.conn, tables, self.where)
                    if self.version != SCHEMA_VERSION:
                        self._upgrade(migrate)
        except BaseException:
            self.close()  # a refused state is left exactly as it was
            raise

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise StoreError(self.where, "the state was closed")
        return self._conn

    # --- schema ------------------------------------------------------------------------

    def _tables(self, *, set_wait: bool = False) -> list[str]:
        """Which of our tables are here; with `set_wait`, in the same round trip, the
        session's lock_timeout is set to `wait`."""
        if not set_wait:
            found = self.conn.execute(_OURS, (list(TABLES),)).fetchone()
        else:
            wait = f"{max(1, round(self.wait * 1000))}ms"  # 0 would be no limit at all
            found = self.conn.execute(
                _OURS.replace("SELECT ", "SELECT set_config('lock_timeout', %s, false), ", 1),
                (wait, list(TABLES))).fetchone()
        assert found is not None
        return list(found[-1])

    def _upgrade(self, migrate: bool) -> None:
        _refuse(self.version, migrate, self.where)
        with self.conn.transaction():
            found = self._migrating()  # another process may have migrated meanwhile
            _refuse(found, True, self.where)
            self._migrate_from(found)
            self._set_version(found)
        self.version = SCHEMA_VERSION

    def _migrating(self) -> int:
        """Inside a transaction: take the migration lock (lock_timeout bounds the wait) and
        read the version again under it."""
        self.conn.execute("SET LOCAL statement_timeout = 0")  # a migration may take long
        self.conn.execute(_LOCK, (_LOCK_KEY,))
        return _version_in(self.conn, self._tables(), self.where)

    def _migrate_from(self, found: int) -> None:
        for version in range(max(found + 1, FIRST_VERSION), SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    self.conn.execute(statement)

    def _set_version(self, found: int) -> None:
        if found:
            self.conn.execute("UPDATE feeds_schema SET version = %s", (SCHEMA_VERSION,))
        else:
            self.conn.execute("INSERT INTO feeds_schema (version) VALUES (%s)",
                              (SCHEMA_VERSION,))

    @property
    def location(self) -> str:
        return self.where

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(psycopg.Error, PoolClosed):
            if self.pool is not None:
                self.pool.putconn(conn)  # rolled back and checked by the pool
            else:
                conn.close()

    # --- units of work -------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._translated(), self.conn.transaction():
            yield

    @contextlib.contextmanager
    def scratch(self) -> Iterator[None]:
        with self._translated(), self.conn.transaction(force_rollback=True):
            yield

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent view for the whole block (REPEATABLE READ), in which nothing can
        be written (READ ONLY); other processes go on writing meanwhile."""
        with self._translated(), self.conn.transaction(force_rollback=True):
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _run(self, sql: str, args: Sequence[Any] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        try:
            return self.conn.execute(_pg(sql), args)
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self.conn.cursor() as cursor:
                cursor.executemany(_pg(sql), rows)
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    # --- where the portable SQL is not enough ------------------------------------------------

    def claim_sources(self, owner: str, names: Sequence[str], *, due_at: int, lease: int,
                      limit: int, due_only: bool = True, retired: bool = False) -> list[Claim]:
        """One statement: the due, unleased rows are locked as they are picked (FOR UPDATE
        SKIP LOCKED), so daemons claiming at once get disjoint sources and never wait."""
        if not names:
            return []
        now = self.db_now()
        rows = self._run(_CLAIM, (int(retired), list(names), due_at, int(due_only), now, limit,
                                  owner, now + lease)).fetchall()
        return sorted(Claim(row[0], row[1], row[2], owner) for row in rows)

    def take_build_lease(self, owner: str, seconds: int) -> int | None:
        """As SQLStore's; and when this takes the build over from a daemon whose lease ran
        out without being released (a builder stopped, hung or cut off), that daemon's open
        transactions are ended. A build holds its transaction, and the row locks it took,
        until it commits: a stalled builder's would hold every later build back until
        IDLE_IN_TRANSACTION_TIMEOUT, long past the lease. Where this role may not end them,
        the new build waits for them as before."""
        stalled = self._run(_STALLED_BUILDER, (owner, self.db_now())).fetchone()
        epoch = super().take_build_lease(owner, seconds)
        if epoch is not None and stalled is not None:
            with contextlib.suppress(StoreError), self._translated(), self.conn.transaction():
                self._run(_END_TRANSACTIONS, (f"% {stalled[0]}",))
        return epoch

    def put_entry(self, row: EntryRow, *, new: bool = False) -> bool:
        """As SQLStore's, but inside a SAVEPOINT when the entry has a canonical link: another
        process may commit the same link between the check and the insert; the unique index
        refuses it, and only the savepoint is rolled back, not the caller's transaction."""
        if row.canonical is None:
            return super().put_entry(row, new=new)
        try:
            with self._translated(), self.conn.transaction():
                return super().put_entry(row, new=new)
        except _CanonicalTaken:
            return False

    # --- the one error boundary ----------------------------------------------------------------

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: psycopg.Error) -> FeedsError:
        """A psycopg error as this package's: StateBusy for a lock held past `wait` (or a
        deadlock, which PostgreSQL ends by failing one side), StoreError for the rest."""
        where, text = self.where, _message(exc, self.url)
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return StateBusy(where, f"another process holds the state locked; gave up after "
                                    f"{self.wait:g}s (nothing written)")
        if isinstance(exc, (psycopg.errors.DeadlockDetected,
                            psycopg.errors.SerializationFailure)):
            return StateBusy(where, f"another process's work conflicted with this one ({text}); "
                                    "nothing written")
        if (isinstance(exc, psycopg.errors.UniqueViolation)
                and exc.diag.constraint_name == "entries_by_canonical"):
            return _CanonicalTaken(where, text)
        if isinstance(exc, psycopg.errors.InvalidSchemaName):
            return StoreError(where, f"{text} (no schema of the search_path exists that this "
                                     "role may use: create it, or grant USAGE and CREATE on it)")
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return StoreError(where, f"{text} (the role needs CREATE on the schema to make the "
                                     "state, and to read and write its tables)")
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return StoreError(where, f"{text} (statement_timeout or a cancel: nothing written)")
        if self._conn is None or self._conn.broken or self._conn.closed:
            return StoreError(where, f"lost the connection to the state database: {text}")
        return StoreError(where, text)


def _refuse(version: int, migrate: bool, where: str) -> None:
    """Raise unless a state at `version` may be opened (and, with `migrate`, migrated)."""
    if version > SCHEMA_VERSION:
        raise StoreError(where, f"the state's schema is version {version}, newer than this "
                         f"program knows ({SCHEMA_VERSION}): run the newer feeds, or restore "
                         "a state this version wrote")
    if version and version < SCHEMA_VERSION and not migrate:
        raise StoreError(where, f"the state's schema is version {version}; this program "
                         f"needs {SCHEMA_VERSION}: run `feeds migrate`")


def _version_in(conn: Connection, tables: Sequence[str], where: str) -> int:
    if not tables:
        return 0
    if VERSION_TABLE not in tables:
        raise StoreError(where, f"holds tables named like feeds' ({', '.join(tables)}) but no "
                         f"{VERSION_TABLE} table: not a state this program made")
    row = conn.execute("SELECT MAX(version) FROM feeds_schema").fetchone()
    if row is None or row[0] is None:
        raise StoreError(where, f"its {VERSION_TABLE} table is empty: a state whose creation "
                         "did not finish")
    return int(row[0])


@lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """The portable SQL's `?` marks as psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


# --- connections --------------------------------------------------------------------------------


def _conninfo(location: PostgresURL) -> str:
    """The URL for libpq, with our defaults where it sets none: a connect timeout, and
    `feeds` as the application name. A password can come from anywhere libpq reads one
    (PGPASSWORD, ~/.pgpass, a PGSERVICE entry), never only from the URL."""
    try:
        given = conninfo_to_dict(location.url)
        extra: dict[str, Any] = {"fallback_application_name": "feeds"}
        if "connect_timeout" not in given:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        return make_conninfo(location.url, **extra)
    except psycopg.Error as exc:
        raise UsageError(redacted(location), "not a PostgreSQL URL that libpq accepts: "
                         f"{_message(exc, location)}") from None


def _connect(location: PostgresURL, wait: float, pool: Pool | None) -> Connection:
    where = redacted(location)
    if pool is not None:
        try:
            return pool.getconn(timeout=max(wait, 1.0))
        except PoolTimeout:
            raise StoreError(where, f"cannot reach the state database: no connection within "
                             f"{max(wait, 1.0):g}s (is the server up?)") from None
        except PoolClosed:
            raise StoreError(where, "cannot reach the state database: the daemon's connection "
                             "pool is closed") from None
    conninfo = _conninfo(location)
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(where, "cannot reach the state database: "
                         f"{_message(exc, location)}") from None


def make_pool(location: PostgresURL, *, size: int, owner: str = "") -> Pool:
    """A daemon's connections: opened in the background (a daemon whose server is down
    starts all the same, and its jobs fail with StoreError until the server is back), each
    checked before it is lent (a server that restarted leaves broken ones behind), each
    session limited (`STATEMENT_TIMEOUT`, `IDLE_IN_TRANSACTION_TIMEOUT`) and named after
    the daemon's `owner` id (`PostgresStore.take_build_lease`)."""
    _scrub_logs(location)
    return ConnectionPool(
        _conninfo(location), kwargs={"autocommit": True}, min_size=1, max_size=max(size, 1),
        open=True, configure=lambda conn: _configure(conn, owner),
        check=ConnectionPool.check_connection, reconnect_timeout=RECONNECT_TIMEOUT,
        name="feeds",
    )


def _configure(conn: Connection, owner: str = "") -> None:
    conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    conn.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'")
    if owner:  # "feeds 84a1fdb0d6594181": the name it was given (or feeds), then the owner
        given = (conn.info.parameter_status("application_name") or "").encode()
        kept = given[:_NAME_BYTES - len(owner) - 1].decode(errors="ignore")
        conn.execute("SELECT set_config('application_name', %s, false)", (f"{kept} {owner}",))


def read_version(location: PostgresURL) -> int | None:
    """The schema version of the state at `location` (None: none of our tables are there),
    read without creating or changing anything."""
    conn = _connect(location, CONNECT_TIMEOUT, None)
    where = redacted(location)
    try:
        found = conn.execute(_OURS, (list(TABLES),)).fetchone()
        assert found is not None
        return _version_in(conn, found[0], where) or None
    except psycopg.Error as exc:
        raise StoreError(where, _message(exc, location)) from None
    finally:
        conn.close()


@contextlib.contextmanager
def new_state(location: PostgresURL, *, wait: float) -> Iterator[PostgresStore]:
    """An empty database or schema made into a state inside one transaction, for
    `copy-state`: the tables are made, the caller fills them, and the version is set last,
    so that an interrupted copy leaves nothing. A place that holds tables of ours is
    refused (UsageError, exit 2), even one that another process filled meanwhile."""
    store = PostgresStore(location, wait=wait, create=False)
    try:
        with store.transaction():  # which translates psycopg's errors inside it too
            store.conn.execute(_LOCK, (_LOCK_KEY,))
            tables = store._tables()
            if tables:
                raise UsageError(store.where, f"already holds tables of feeds "
                                 f"({', '.join(tables)}): copy-state fills only an empty "
                                 "database or schema")
            store._migrate_from(0)
            yield store
            store._set_version(0)
    finally:
        store.close()


# --- passwords never shown -------------------------------------------------------------------


def redacted(location: PostgresURL) -> str:
    """The URL for messages: `str(PostgresURL)` hides the user info's password; a
    `password=` in its query is hidden too."""
    return _scrub(str(location), location)


def _secrets(location: PostgresURL) -> list[str]:
    """The password(s) the URL carries, as written and decoded."""
    found: list[str] = []
    url = location.url
    authority = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
    userinfo = authority.rpartition("@")[0]
    if ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    found += re.findall(r"[?&]password=([^&#]*)", url)
    found += [unquote(text) for text in found]
    return sorted({text for text in found if text}, key=len, reverse=True)


def _scrub(text: str, location: PostgresURL) -> str:
    for secret in _secrets(location):
        text = text.replace(secret, "***")
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)('[^']*'|[^\s&]+)", r"\1***", text)


def _message(exc: BaseException, location: PostgresURL) -> str:
    """One line, without the password: the server's primary message when there is one."""
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag is not None else None) or str(exc) or type(exc).__name__
    return " ".join(_scrub(text, location).split())


class _Scrubbed(logging.Filter):
    """psycopg and psycopg_pool log why a connection failed: without the password, on one
    line (libpq's message has a hint on a line of its own)."""

    def __init__(self, location: PostgresURL) -> None:
        super().__init__()
        self.location = location

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = " ".join(_scrub(record.getMessage(), self.location).split())
        record.args = None
        return True


def _scrub_logs(location: PostgresURL) -> None:
    for name in ("psycopg", "psycopg.pool"):  # a logger's filters see only its own records
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Scrubbed) and f.location == location for f in logger.filters):
            logger.addFilter(_Scrubbed(location))
