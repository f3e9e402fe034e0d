"""`feeds run` and `feeds serve`: the long-running composition of jobs, scheduler, watchers and
server.

Like the CLI, this is where the clock is read and clients are built. A
daemon has a role: `pull` pulls upstream sources, `build` builds, `all`
does both. It reloads its config on SIGHUP and when the file changes: a
valid config is applied (but `[paths]` and the bind address, which need a
restart), an invalid one is reported and the old one stays. SIGTERM and
SIGINT stop new jobs, let a running one finish (bounded), close the server
and exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from feeds import health, publish
from feeds.config import S3URL, Config, PostgresURL
from feeds.errors import ConfigError, StoreError, UsageError
from feeds.jobs import Jobs
from feeds.model import Diagnostic
from feeds.pull import new_owner
from feeds.scheduler import Daemon, Tasks
from feeds.server import Served, Server, listen, make_app
from feeds.sources import fetch
from feeds.store import connection_pool, open_store, schema_version
from feeds.watch import Watcher, file_watcher, seeds_watcher

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("feeds")
REPORT_LOGGER = "feeds.report"  # the per-article report (jobs.py): stdout
STOP_TIMEOUT = 8.0  # seconds a running job may take to finish after SIGTERM
Role = Literal["pull", "build", "all"]
Loader = Callable[[], tuple[Config, list[Diagnostic]]]


def setup_logging() -> None:
    """One line an event: a level word and the message, and a timestamp unless the journal
    (which stamps its own) is where stderr goes."""
    handler = logging.StreamHandler(sys.stderr)
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    formatter = logging.Formatter(stamp + "%(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # The per-article report goes to stdout, as `feeds build` prints it; diagnostics to stderr.
    articles = logging.StreamHandler(sys.stdout)
    plain = logging.Formatter(stamp + "%(message)s", "%Y-%m-%dT%H:%M:%SZ")
    plain.converter = time.gmtime
    articles.setFormatter(plain)
    report = logging.getLogger(REPORT_LOGGER)
    report.handlers[:] = [articles]
    report.propagate = False
    for noisy in ("apscheduler", "httpx", "watchdog", "psycopg", "botocore", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def now() -> datetime:
    return datetime.now(UTC)


def served(config: Config, problems: health.Problems | None = None,
           metrics: Callable[[], bytes] | None = None) -> Served:
    """What `feeds serve` and `feeds run --bind` serve. /healthz reads the state, plus the
    daemon's own problems when it runs one (`problems`)."""

    def report(moment: datetime) -> dict[str, Any]:
        found = [] if problems is None else problems.current()
        try:
            if schema_version(config.paths.state) is None:
                return health.report(None, rebuild_every=config.rebuild_every, now=moment,
                                     problems=found)
            store = open_store(config.paths.state, wait=1)
            try:
                return health.report(store, rebuild_every=config.rebuild_every, now=moment,
                                     problems=found, label=publish.seeds_label(config))
            finally:
                store.close()
        except StoreError as exc:
            if not any(p.kind == "state" for p in found):
                found.append(health.Problem("state", f"{exc.where}: {exc.message}", moment))
            return health.report(None, rebuild_every=config.rebuild_every, now=moment,
                                 problems=found)

    output = config.paths.output
    return Served(
        output=output if isinstance(output, Path) else None, base_url=config.site.base_url,
        health=report, clock=now, hub=config.websub_hub,
        max_age=min(300, config.rebuild_every), metrics=metrics,
    )


class _Signals:
    """SIGTERM/SIGINT stop the daemon; SIGHUP asks for a config reload."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._reload)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self.stop.set()

    def _reload(self, signum: int, frame: FrameType | None) -> None:
        log.info("received SIGHUP: reloading the config")
        self.reload.set()

    def wait(self, on_reload: Callable[[], None]) -> None:
        while not self.stop.wait(0.5):  # short waits: the handlers run between them
            if self.reload.is_set():
                self.reload.clear()
                on_reload()


def _check_build_host(jobs: Jobs) -> None:
    """A local output folder is written by one host: the first daemon that builds records
    its host in the state, and a daemon on another host refuses to build into it."""
    config = jobs.config
    if not isinstance(config.paths.state, PostgresURL) or isinstance(config.paths.output, S3URL):
        return
    host = socket.gethostname()
    store = jobs.store()
    try:
        with store.transaction():
            recorded = store.get_meta("build_host")
            if recorded is None:
                store.set_meta("build_host", host)
    finally:
        store.close()
    if recorded not in (None, host):
        raise UsageError(str(config.paths.output), (
            f"this site's builds write a local output folder on host {recorded!r}; a daemon "
            f"on {host!r} cannot build into it: run it with --role pull, or publish to an "
            "s3:// output, which any host may build"))


class _Runner:
    """One `feeds run`: the jobs, the scheduler, the watchers and the server, and reloads."""

    def __init__(self, load: Loader, config: Config, client: httpx.Client,
                 bind: tuple[str, int, str] | None, role: Role) -> None:
        self.load = load
        self.bind = bind
        self.role = role
        hub = None
        if config.websub_hub and role != "pull":
            hub = fetch.make_hub_client(user_agent=fetch.user_agent(config.site.base_url))
        owner = new_owner()
        self.jobs = Jobs(config, client, hub, owner=owner,
                         pool=connection_pool(config.paths.state, size=4, owner=owner))
        builds, pulls = role in ("build", "all"), role in ("pull", "all")
        self.daemon = Daemon(
            Tasks(rebuild=self.jobs.rebuild if builds else None,
                  pull=self.jobs.pull_round if pulls else None,
                  check=self.jobs.check if builds else None),
            rebuild_every=config.rebuild_every, poll_every=config.cluster.poll)
        self.watchers: list[Watcher] = [file_watcher(config.path, self._config_changed)]
        if builds:
            self.watchers.append(seeds_watcher(
                config.paths.seeds, lambda path: self.daemon.rebuild_soon(f"change in {path}")))
        log.info("daemon %s starting: role %s, state %s, output %s", owner, role,
                 config.paths.state, config.paths.output)

    def _config_changed(self, path: str) -> None:
        threading.Timer(0.5, self.reload).start()  # editors write in steps: let them finish

    def reload(self) -> None:
        old = self.jobs.config
        try:
            new, notes = self.load()
        except ConfigError as exc:
            self.jobs.problems.report("config", f"{exc.where}: {exc.message}", now())
            log.error("config not reloaded, the running one stays: %s: %s", exc.where,
                      exc.message)
            return
        self.jobs.problems.clear("config")
        for note in notes:
            log.warning("%s: %s", note.where, note.message)
        kept = []
        if new.paths != old.paths:
            kept.append("[paths]")
            new = replace(new, paths=old.paths)
        if self.bind is not None and self.bind[2] == "config" and new.serve_bind != old.serve_bind:
            kept.append("[serve] bind")
            new = replace(new, serve_bind=old.serve_bind)
        self.jobs.config = new
        self.daemon.reschedule(rebuild_every=new.rebuild_every, poll_every=new.cluster.poll)
        if kept:
            log.warning("config reloaded, but %s changed and need a restart: the old values "
                        "stay until then", " and ".join(kept))
        else:
            log.info("config reloaded from %s", new.path)
        self.daemon.rebuild_soon("config reloaded")

    def run(self, signals: _Signals) -> int:
        if self.role != "pull":
            _check_build_host(self.jobs)
        server = None
        if self.bind is not None:
            host, port, _ = self.bind
            sock = listen(host, port, f"--bind {host}:{port}")  # exit 5 now if it cannot
            config = self.jobs.config
            app = make_app(served(config, self.jobs.problems, self.jobs.metrics.exposition),
                           files=self.role != "pull" and isinstance(config.paths.output, Path))
            server = Server(app, sock)
        try:
            self.daemon.start()
            for watcher in self.watchers:
                watcher.start()
            if server is not None:
                server.start()
                log.info("serving on http://%s/", _shown(*self.bind[:2]))  # type: ignore[index]
            signals.wait(self.reload)
        finally:
            for watcher in self.watchers:
                watcher.stop()
            if not self.daemon.stop(STOP_TIMEOUT):
                log.warning("a job was still running after %gs; leaving it (writes are "
                            "atomic)", STOP_TIMEOUT)
            if server is not None:
                server.stop()
            if self.jobs.hub_client is not None:
                self.jobs.hub_client.close()
            log.info("stopped")
        return 0


def _shown(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run(load: Loader, config: Config, client: httpx.Client,
        bind: tuple[str, int, str] | None, role: Role) -> int:
    """`feeds run`: jobs of the role (+ a server with a bind) until SIGTERM/SIGINT. `bind` is
    (host, port, where it came from: 'option' or 'config')."""
    setup_logging()
    signals = _Signals()
    return _Runner(load, config, client, bind, role).run(signals)


def serve(config: Config, bind: tuple[str, int]) -> int:
    """`feeds serve`: the server alone, until SIGTERM/SIGINT."""
    if isinstance(config.paths.output, S3URL):
        raise UsageError(str(config.paths.output), "an s3:// output is served by its bucket "
                         "and CDN, not by feeds serve (docs/operations.md: the bucket)")
    setup_logging()
    signals = _Signals()
    sock = listen(*bind, f"--bind {_shown(*bind)}")
    server = Server(make_app(served(config)), sock)
    server.start()
    log.info("serving %s on http://%s/", config.paths.output, _shown(*bind))
    try:
        signals.wait(lambda: log.info("feeds serve has nothing to reload"))
    finally:
        server.stop()
        log.info("stopped")
    return 0
