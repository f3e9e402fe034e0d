"""Real PostgreSQL and S3 (moto) servers on 127.0.0.1 for the suite: a pytest plugin.

tests/conftest.py registers it (``pytest_plugins = ["tests.services"]``). Every server listens
on 127.0.0.1 only; nothing here talks to another address.

PostgreSQL
    ``postgres_server`` (session) is one server for the whole run. With ``FEEDS_TEST_POSTGRES``
    set (a ``postgresql://`` URL) it is that server. Otherwise a throwaway cluster is made in a
    temp folder from the binaries found on PATH, then in ``/usr/lib/postgresql/*/bin`` (newest
    version first; Debian keeps them off PATH): ``initdb`` with trust auth, then ``pg_ctl start``
    with ``listen_addresses=127.0.0.1`` on a free port, unix sockets in the temp folder and
    ``fsync=off``, ``synchronous_commit=off``, ``full_page_writes=off``, ``wal_level=minimal``.
    PostgreSQL refuses to run as root: under euid 0, initdb, pg_ctl and the server run as
    ``nobody`` (subprocess ``user=``/``group=``), which owns the temp folder. The session ends
    with ``pg_ctl stop -m fast`` and the folder is removed.
    ``postgres_url`` gives each test a fresh empty schema, selected by the URL's
    ``options=-csearch_path=...``; ``postgres_database_url`` a fresh empty database. Both are
    dropped after the test. ``postgres_control`` is the session server for a test that stops and
    starts it (``.stop()`` is ``pg_ctl stop -m fast``): an external server cannot be, so such a
    test is skipped (or failed, see below); after the test the server is running again.

S3
    ``s3_server`` (session) is moto's server app (the pieces ``moto.server.ThreadedMotoServer`` is
    made of: ``DomainDispatcherApplication(create_backend_app)`` and ``MotoRequestHandler``) under
    werkzeug's threaded server in a thread of this process, on 127.0.0.1 and a free port. It is
    built here rather than through ThreadedMotoServer for two reasons: the request counter below
    wraps the WSGI app, and ``stop()`` must also cut the keep-alive connections that clients hold
    open (ThreadedMotoServer.stop() closes only the listening socket, so a boto3 client with a
    pooled connection would go on being answered by a "stopped" server).
    ``s3_bucket`` gives each test a fresh bucket and a clean AWS environment: dummy keys and
    region in ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_DEFAULT_REGION``,
    ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` pointed at empty files, no profile, no
    instance metadata. ``stoppable_s3_bucket`` is the same on a moto server of the test's own,
    which ``.server.stop()`` takes down (connections refused, open ones cut) and ``.server.start()``
    brings back on the same port. moto keeps its state per process, not per server: every moto
    server here sees the same buckets, and what was stored survives a stop/start as it would an
    outage. After each test moto's state is reset (``POST /moto-api/reset``).

Counting requests
    ``with bucket.count_requests() as seen: ...`` then ``seen.count`` (and ``seen.requests``, the
    method, path and Host of each). A WSGI middleware in front of moto's app records every HTTP
    request that the server receives while the block is open, before moto handles it, so by the
    time the client has its answer the request is counted. It counts what reached the server,
    whatever moto answered (errors and retries included), and leaves out moto's own
    ``/moto-api/`` housekeeping. It counts the requests to that moto server from anything in or
    out of this process, so it is exact while no other test runs against the same server (the
    suite runs tests one at a time). moto's own recorder (``MOTO_ENABLE_RECORDING``,
    ``/moto-api/recorder/...``) was not used: it is one recorder per process writing to a file
    named at import time, shared by every moto server, and it logs only requests that reach a
    backend's dispatch.

Skip or fail
    A test whose server cannot be had (no PostgreSQL binaries, no psycopg, no moto/boto3, a
    server that won't start, an external server where stop/start is needed) is skipped with a
    reason that starts ``SERVICE UNAVAILABLE`` -- or fails, when ``FEEDS_REQUIRE_SERVICES=1`` (as
    .ci/run sets). The terminal summary then lists each unavailable service, why, and how many
    tests it skipped or failed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

REQUIRE_ENV = "FEEDS_REQUIRE_SERVICES"
POSTGRES_ENV = "FEEDS_TEST_POSTGRES"
UNAVAILABLE = "SERVICE UNAVAILABLE"
PG_USER = "postgres"  # the superuser that initdb makes
PG_UNPRIVILEGED = "nobody"  # whom the server runs as when the tests run as root
PG_TIMEOUT = 60.0  # seconds for initdb, pg_ctl start and pg_ctl stop each
PG_SEARCH = "/usr/lib/postgresql"
AWS_REGION = "us-east-1"
AWS_KEY_ID = "testing"
AWS_SECRET = "testing"  # a dummy, which moto accepts


# -- skip or fail ------------------------------------------------------------------------------

_why_unavailable: dict[str, str] = {}  # service → why, first reason given
_tests_hit: dict[str, set[str]] = {}  # service → node ids skipped or failed for it
_SERVICE_IN_MESSAGE = re.compile(re.escape(UNAVAILABLE) + r" \[([^\]]+)\]")


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(service: str, why: str) -> NoReturn:
    """Skip the running test for want of `service`, or fail it under FEEDS_REQUIRE_SERVICES=1."""
    _why_unavailable.setdefault(service, why)
    message = f"{UNAVAILABLE} [{service}]: {why}"
    if services_required():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1 makes this a failure)", pytrace=False)
    pytest.skip(f"{message} (set {REQUIRE_ENV}=1 to fail instead)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    outcome = call.excinfo.value if call.excinfo is not None else None
    if isinstance(outcome, (pytest.skip.Exception, pytest.fail.Exception)):
        match = _SERVICE_IN_MESSAGE.match(str(outcome.msg))
        if match:
            _tests_hit.setdefault(match[1], set()).add(item.nodeid)
            if not services_required():
                _no_coverage_floor(item.config)
    return report


def _no_coverage_floor(config: pytest.Config) -> None:
    """The code the skipped tests cover did not run: a coverage floor would fail a suite whose
    every test passed. pytest-cov keeps its options apart and reads the floor at the end."""
    plugin = config.pluginmanager.getplugin("_cov")
    options = getattr(plugin, "options", None)
    if options is not None and getattr(options, "cov_fail_under", None) is not None:
        options.cov_fail_under = None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    services = sorted(set(_why_unavailable) | set(_tests_hit))
    if not services:
        return
    verb = "failed" if services_required() else "SKIPPED"
    write = terminalreporter
    write.write_sep("!", "SERVICES UNAVAILABLE", red=True, bold=True)
    for service in services:
        count = len(_tests_hit.get(service, ()))
        write.write_line(
            f"{service}: {count} test(s) {verb}: {_why_unavailable.get(service, '?')}",
            red=True, bold=True,
        )
    if not services_required():
        write.write_line(
            f"These tests did not run. {REQUIRE_ENV}=1 (as in .ci/run) makes them fail instead.",
            red=True, bold=True,
        )
        write.write_line("The coverage floor (fail_under) is not enforced in this run.",
                         red=True, bold=True)
    write.write_sep("!", "SERVICES UNAVAILABLE", red=True, bold=True)


# -- PostgreSQL --------------------------------------------------------------------------------


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin → (15,); 9.6 → (9, 6); anything else sorts last."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name)) or (-1,)


def find_postgres_bin(path: str | None = None, search: str | Path | None = None) -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: PATH's first, then the newest in `search`.

    `path` defaults to $PATH, `search` to PG_SEARCH (/usr/lib/postgresql: <version>/bin).
    """
    needed = ("initdb", "pg_ctl", "postgres")
    candidates: list[Path] = []
    pg_ctl = shutil.which("pg_ctl", path=path)
    if pg_ctl:
        candidates += [Path(pg_ctl).parent, Path(pg_ctl).resolve().parent]
    versions = Path(PG_SEARCH if search is None else search).glob("*/bin")
    candidates += sorted(versions, key=_version_key, reverse=True)
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in needed):
            return folder
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _with_query(url: str, path: str | None = None, **params: str) -> str:
    """`url` with its database replaced by `path` and `params` set (an `options` is appended)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in params.items():
        query[key] = f"{query[key]} {value}" if key == "options" and query.get(key) else value
    return urlunsplit(parts._replace(
        path=parts.path if path is None else "/" + quote(path),
        query=urlencode(query, quote_via=quote),
    ))


class PostgresServer:
    """The session's PostgreSQL server: `.url` (superuser, database postgres), `.stop()`/`.start()`.

    `.data_dir`, `.bin_dir` and `.log_path` are None for an external server (FEEDS_TEST_POSTGRES),
    whose stop()/start() skip or fail the test.
    """

    def __init__(self, url: str, *, base: Path | None = None, bin_dir: Path | None = None,
                 port: int | None = None, run_as: pwd.struct_passwd | None = None) -> None:
        self.url = url
        self.base = base
        self.bin_dir = bin_dir
        self.data_dir = base / "data" if base else None
        self.log_path = base / "postgres.log" if base else None
        self.port = port if port is not None else urlsplit(url).port
        self.run_as = run_as
        self.running = base is None  # an external server runs; a local one once start()ed
        self._closed = False

    # - making one -

    @classmethod
    def external(cls, url: str) -> PostgresServer:
        try:
            import psycopg  # noqa: F401
        except ImportError as e:
            unavailable("postgresql", f"psycopg is not installed ({e}); pip install -e '.[dev]'")
        server = cls(url)
        try:
            server.wait_ready(timeout=10.0)
        except TimeoutError as e:
            unavailable("postgresql", f"{POSTGRES_ENV} is set, but {e}")
        return server

    @classmethod
    def launch(cls) -> PostgresServer:
        """initdb a cluster in a temp folder and start it, or skip/fail the tests saying why."""
        try:
            import psycopg  # noqa: F401
        except ImportError as e:
            unavailable("postgresql", f"psycopg is not installed ({e}); pip install -e '.[dev]'")
        bin_dir = find_postgres_bin()
        if bin_dir is None:
            unavailable(
                "postgresql",
                f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in "
                f"{PG_SEARCH}/*/bin: apt-get install postgresql, or set {POSTGRES_ENV} to a "
                f"postgresql:// URL",
            )
        run_as = None
        if os.geteuid() == 0:
            try:
                run_as = pwd.getpwnam(PG_UNPRIVILEGED)
            except KeyError:
                unavailable("postgresql", f"running as root and there is no user "
                                          f"{PG_UNPRIVILEGED!r} to run PostgreSQL as")
        base = Path(tempfile.mkdtemp(prefix="feeds-pg-"))
        server = cls("", base=base, bin_dir=bin_dir, run_as=run_as)
        try:
            server._create()
            server._start_on_free_port()
        except (OSError, subprocess.SubprocessError, RuntimeError, TimeoutError) as e:
            server.close()
            unavailable("postgresql", f"could not start PostgreSQL from {bin_dir}: {e}")
        atexit.register(server.close)  # in case the session's finalizer never runs
        return server

    def _run(self, *argv: str, timeout: float = PG_TIMEOUT) -> subprocess.CompletedProcess[str]:
        assert self.base is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        drop: dict[str, Any] = {}
        if self.run_as is not None:
            env.update(HOME=str(self.base), USER=self.run_as.pw_name, LOGNAME=self.run_as.pw_name)
            drop = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        return subprocess.run(
            argv, cwd=self.base, env=env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False, **drop,
        )

    def _create(self) -> None:
        assert self.base is not None and self.bin_dir is not None and self.data_dir is not None
        if self.run_as is not None:
            os.chown(self.base, self.run_as.pw_uid, self.run_as.pw_gid)
        done = self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", PG_USER,
            "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb exited {done.returncode}:\n{done.stdout}{done.stderr}")

    def _configure(self, port: int) -> None:
        assert self.base is not None and self.data_dir is not None
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.base}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "max_connections": "200",
            "huge_pages": "off",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
        }
        # Written to its own file, read last, so a restart on another port rewrites it whole.
        conf = self.data_dir / "feeds-tests.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        main = self.data_dir / "postgresql.conf"
        line = "include 'feeds-tests.conf'\n"
        if line not in main.read_text():
            with main.open("a") as f:
                f.write(line)

    def _start_on_free_port(self) -> None:
        for attempt in range(3):
            port = free_port()
            self._configure(port)
            self.port = port
            self.url = f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres"
            try:
                self.start()
                return
            except RuntimeError:
                if attempt < 2 and "could not bind" in self.log_tail():
                    continue  # another process took the port between probe and start
                raise

    # - stop and start mid-test -

    def _require_control(self) -> None:
        if self.bin_dir is None:
            unavailable("postgresql stop/start",
                        f"{POSTGRES_ENV} names an external server, which the tests cannot stop "
                        f"or start")

    def pg_ctl(self, *args: str, timeout: float = PG_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run pg_ctl on the session's cluster (as the user it runs as): `pg_ctl("status")`."""
        self._require_control()
        assert self.bin_dir is not None and self.data_dir is not None
        return self._run(str(self.bin_dir / "pg_ctl"), *args, "-D", str(self.data_dir),
                         timeout=timeout + 30)

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast`: connections are cut, the data stays. No-op if stopped."""
        self._require_control()
        if not self.running:
            return
        done = self.pg_ctl("stop", "-m", mode, "-w", "-t", str(int(PG_TIMEOUT)))
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop exited {done.returncode}: {done.stdout}"
                               f"{done.stderr}\n{self.log_tail()}")
        self.running = False

    def start(self) -> None:
        """`pg_ctl start` on the same port and data; returns once it accepts connections."""
        self._require_control()
        if self.running:
            return
        assert self.log_path is not None
        done = self.pg_ctl("start", "-w", "-t", str(int(PG_TIMEOUT)), "-l", str(self.log_path))
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start exited {done.returncode}: {done.stdout}"
                               f"{done.stderr}\n--- server log ---\n{self.log_tail()}")
        self.running = True
        self.wait_ready()

    def ensure_running(self) -> None:
        """Start again a local server that a test left stopped."""
        if self.bin_dir is not None and not self.running and not self._closed:
            self.start()

    def wait_ready(self, timeout: float = PG_TIMEOUT) -> None:
        """Until a connection succeeds, or TimeoutError carrying the last error and the log."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                    return
            except psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"no connection to {self.url} within {timeout:.0f} s: {e}\n"
                        f"--- server log ---\n{self.log_tail()}",
                    ) from e
                time.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Stop the cluster and remove its folder (nothing for an external server)."""
        if self._closed or self.base is None:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if self.running and self.data_dir is not None and self.data_dir.exists():
                self.pg_ctl("stop", "-m", "fast", "-w", "-t", str(int(PG_TIMEOUT)))
                self.running = False
        shutil.rmtree(self.base, ignore_errors=True)

    # - schemas and databases -

    def connect(self, url: str | None = None, **kwargs: Any) -> Any:
        """An autocommit psycopg connection (to `url`, or as superuser to database postgres)."""
        import psycopg

        return psycopg.connect(url or self.url, autocommit=True, **kwargs)

    @contextlib.contextmanager
    def schema(self) -> Iterator[str]:
        """A fresh empty schema for the block, as a URL whose search_path selects it."""
        from psycopg import sql

        name = "test_" + secrets.token_hex(6)
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            yield _with_query(self.url, options=f"-csearch_path={name}")
        finally:
            self.ensure_running()
            self._drop_schema(name)

    def _drop_schema(self, name: str) -> None:
        """DROP SCHEMA … CASCADE, first ending the connections that still hold locks in it.

        The test is over: a connection it left open in a transaction on the schema's tables
        would make the DROP wait for ever. Such connections are terminated, as a dying test
        process's would be; connections that hold no lock there (an idle pool) are left alone.
        """
        import psycopg
        from psycopg import sql

        with self.connect() as conn:
            conn.execute("SET lock_timeout = '2s'")
            for attempt in range(3):
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM (SELECT DISTINCT l.pid FROM pg_locks l"
                    " LEFT JOIN pg_class c ON l.locktype = 'relation' AND c.oid = l.relation"
                    " WHERE l.pid <> pg_backend_pid() AND (c.relnamespace = to_regnamespace(%s)"
                    "   OR (l.locktype = 'object' AND l.classid = 'pg_namespace'::regclass"
                    "       AND l.objid = to_regnamespace(%s)))) holders",
                    (name, name),
                )
                try:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(name)))
                    return
                except psycopg.errors.LockNotAvailable:
                    if attempt == 2:
                        raise

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh empty database for the block, as a URL; dropped WITH (FORCE) afterwards."""
        import psycopg
        from psycopg import sql

        name = "test_" + secrets.token_hex(6)
        create = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        try:
            with self.connect() as conn:
                if conn.info.server_version >= 150000:  # a file copy beats WAL-logging 7 MB here
                    create = sql.SQL("{} STRATEGY FILE_COPY").format(create)
                conn.execute(create)
        except psycopg.errors.InsufficientPrivilege as e:
            unavailable("postgresql databases",
                        f"the test server's user may not CREATE DATABASE: {e}")
        try:
            yield _with_query(self.url, path=name)
        finally:
            self.ensure_running()
            with self.connect() as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL: FEEDS_TEST_POSTGRES's, or a throwaway cluster started here."""
    external = os.environ.get(POSTGRES_ENV)
    server = PostgresServer.external(external) if external else PostgresServer.launch()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty schema for this test: a URL whose search_path is that schema alone."""
    with postgres_server.schema() as url:
        yield url


@pytest.fixture
def postgres_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for this test, dropped WITH (FORCE) after it."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture
def postgres_control(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """The session server, for a test that stops and starts it; running again after the test."""
    postgres_server._require_control()
    try:
        yield postgres_server
    finally:
        postgres_server.ensure_running()


# -- S3 (moto) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Request:
    method: str
    path: str  # as sent, query string included
    host: str


@dataclass
class RequestLog:
    """The requests that a moto server received while a `count_requests()` block was open."""

    requests: list[S3Request] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)


class MotoServer:
    """moto's server app on 127.0.0.1 in a thread of this process; stop() takes it down whole."""

    def __init__(self, port: int = 0) -> None:
        self.port = port  # 0: a free one, chosen at the first start and kept for restarts
        self._httpd: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._logs: list[RequestLog] = []
        self._connections: set[socket.socket] = set()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> None:
        if self.running:
            return
        from moto.server import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        owner = self

        class Handler(MotoRequestHandler):
            def setup(self) -> None:
                super().setup()
                with owner._lock:
                    owner._connections.add(self.connection)

            def finish(self) -> None:
                with owner._lock:
                    owner._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def log(self, type: str, message: str, *args: Any) -> None:
                pass  # werkzeug's per-request lines; the request log has what matters

        app = DomainDispatcherApplication(create_backend_app)
        self._httpd = make_server("127.0.0.1", self.port, self._counting(app), threaded=True,
                                  request_handler=Handler)
        self.port = self._httpd.server_port
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name=f"moto:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket and cut every open connection: clients are refused."""
        if self._httpd is None:
            return
        httpd, self._httpd = self._httpd, None
        httpd.shutdown()  # within serve_forever's 0.05 s poll; it closes the listening socket
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _counting(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def counted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            path = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
            if not path.startswith("/moto-api/"):
                seen = S3Request(environ["REQUEST_METHOD"], path, environ.get("HTTP_HOST", ""))
                with self._lock:
                    for log in self._logs:
                        log.requests.append(seen)
            return app(environ, start_response)

        return counted

    @contextlib.contextmanager
    def count_requests(self) -> Iterator[RequestLog]:
        """`with server.count_requests() as seen:` … then `seen.count`, `seen.requests`."""
        log = RequestLog()
        with self._lock:
            self._logs.append(log)
        try:
            yield log
        finally:
            with self._lock:
                self._logs.remove(log)

    def reset(self) -> None:
        """Empty moto's state (all its servers in this process share it)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()


@dataclass
class S3Bucket:
    """A fresh bucket on a moto server: where it is and how to sign in."""

    server: MotoServer
    name: str
    endpoint_url: str
    region: str = AWS_REGION
    access_key_id: str = AWS_KEY_ID
    secret_access_key: str = AWS_SECRET

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server; `config` goes to botocore's Config."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
            config=Config(**config) if config else None,
        )

    def count_requests(self) -> contextlib.AbstractContextManager[RequestLog]:
        return self.server.count_requests()


def _start_moto(port: int = 0) -> MotoServer:
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as e:
        unavailable("s3 (moto)", f"moto[server] or boto3 is not installed ({e}); "
                                 f"pip install -e '.[dev]'")
    server = MotoServer(port)
    try:
        server.start()
    except OSError as e:
        unavailable("s3 (moto)", f"could not start moto's server on 127.0.0.1: {e}")
    return server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    """moto's S3 on 127.0.0.1, one for the session."""
    server = _start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _aws_config_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("aws")
    (folder / "config").write_text("")
    (folder / "credentials").write_text("")
    return folder / "config", folder / "credentials"


_AWS_ENV_CLEARED = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_REGION", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, _aws_config_files: tuple[Path, Path]) -> None:
    """Dummy AWS keys and region for this test; no real config, credentials or metadata."""
    for name in _AWS_ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(_aws_config_files[0]))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_aws_config_files[1]))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _make_bucket(server: MotoServer) -> S3Bucket:
    bucket = S3Bucket(server, "test-" + secrets.token_hex(6), server.endpoint_url)
    bucket.client().create_bucket(Bucket=bucket.name)
    return bucket


@pytest.fixture
def s3_bucket(s3_server: MotoServer, aws_env: None) -> Iterator[S3Bucket]:
    """A fresh bucket on the session's moto server; moto's state is reset after the test."""
    try:
        yield _make_bucket(s3_server)
    finally:
        s3_server.start()  # in case the test stopped it (stoppable_s3_bucket is for that)
        s3_server.reset()


@pytest.fixture
def stoppable_s3_bucket(s3_server: MotoServer, aws_env: None) -> Iterator[S3Bucket]:
    """A fresh bucket on a moto server of this test's own: `.server.stop()`, `.server.start()`."""
    server = _start_moto()
    try:
        yield _make_bucket(server)
    finally:
        server.stop()
        s3_server.reset()
