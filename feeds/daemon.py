"""`feeds run` and `feeds serve`: the long-running composition of scheduler, watcher and server.

Like the CLI, this is where the clock is read and clients are built. Every
job takes the writer lock, so cron runs and manual builds interleave with
the daemon's jobs but never with their writes. SIGTERM and SIGINT stop new
jobs, let a running one finish (bounded), close the server and exit 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from feeds import health, publish, pull
from feeds.codec import from_epoch
from feeds.config import Config
from feeds.errors import FeedsError, LockHeld, SafetyStop, StoreError
from feeds.lock import writer_lock
from feeds.model import Diagnostic
from feeds.output import open_output
from feeds.scheduler import Daemon, Tasks
from feeds.server import Served, Server, make_app
from feeds.sources import fetch
from feeds.store import open_store
from feeds.watch import SeedWatcher

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("feeds")
STOP_TIMEOUT = 8.0  # seconds a running job may take to finish after SIGTERM


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)


def now() -> datetime:
    return datetime.now(UTC)


def served(config: Config, problems: health.Problems | None = None) -> Served:
    """What `feeds serve` and `feeds run --bind` serve. /healthz reads the state, plus the
    daemon's own problems when it runs one (`problems`)."""

    def report(moment: datetime) -> dict[str, Any]:
        found = [] if problems is None else problems.current()
        if not config.paths.state.exists():
            return health.report(None, rebuild_every=config.rebuild_every, now=moment,
                                 problems=found)
        try:
            store = open_store(config.paths.state, wait=1)
        except StoreError as exc:
            found.append(health.Problem("state", f"{exc.where}: {exc.message}", moment))
            return health.report(None, rebuild_every=config.rebuild_every, now=moment,
                                 problems=found)
        try:
            return health.report(store, rebuild_every=config.rebuild_every, now=moment,
                                 problems=found)
        except StoreError as exc:
            found.append(health.Problem("state", f"{exc.where}: {exc.message}", moment))
            return health.report(None, rebuild_every=config.rebuild_every, now=moment,
                                 problems=found)
        finally:
            store.close()

    return Served(
        output=config.paths.output, base_url=config.site.base_url, health=report, clock=now,
        hub=config.websub_hub, max_age=min(300, config.rebuild_every),
    )


class Jobs:
    """The daemon's work, each piece under the writer lock."""

    def __init__(self, config: Config, client: httpx.Client, hub_client: httpx.Client | None):
        self.config = config
        self.client = client
        self.hub_client = hub_client
        self.reported: set[Diagnostic] = set()
        self.problems = health.Problems()  # what /healthz reports, kept in memory

    def _log(self, diagnostics: list[Diagnostic]) -> None:
        """Each diagnostic once per daemon life: a broken file is not re-logged every rebuild."""
        for diagnostic in diagnostics:
            if diagnostic not in self.reported:
                self.reported.add(diagnostic)
                level = logging.ERROR if diagnostic.level == "error" else logging.WARNING
                log.log(level, "%s", diagnostic)

    def rebuild(self) -> datetime | None:
        config = self.config
        try:
            with writer_lock(config.paths.state, wait=config.lock_wait):
                store = open_store(config.paths.state, migrate=True, wait=config.lock_wait)
                try:
                    result = publish.build(config, store, now(),
                                           output=open_output(config.paths.output))
                finally:
                    store.close()
        except LockHeld as exc:
            log.warning("rebuild skipped: %s", exc.message)
            return None
        except FeedsError as exc:  # the last good output stays; each attempt says why
            kind: health.Kind = ("safety" if isinstance(exc, SafetyStop)
                                 else "state" if isinstance(exc, StoreError) else "build")
            self.problems.report(kind, f"{exc.where}: {exc.message}", now())
            log.error("rebuild failed, the published feeds stay as they were: %s: %s",
                      exc.where, exc.message)
            return None
        except Exception as exc:
            self.problems.report("build", f"{type(exc).__name__}: {exc}", now())
            raise
        self.problems.clear("build", "state", "safety")
        self._log(result.diagnostics)
        feeds = publish.changed_feed_urls(config, result.changed)
        log.info("rebuild: %d file(s) changed, %d feed(s): %s", len(result.changed), len(feeds),
                 " ".join(u.removeprefix(config.site.base_url) for u in feeds) or "-")
        if feeds and self.hub_client is not None:
            for problem in fetch.ping_hub(self.hub_client, config.websub_hub, feeds):
                log.warning("websub ping: %s", problem)
            log.info("websub: pinged %s for %d feed(s)", config.websub_hub, len(feeds))
        return result.next_due

    def pull(self, name: str) -> tuple[datetime | None, bool]:
        config = self.config
        with writer_lock(config.paths.state, wait=config.lock_wait):
            store = open_store(config.paths.state, migrate=True, wait=config.lock_wait)
            try:
                result = pull.pull(config, store, self.client, now(), names=(name,))
                with store.snapshot():
                    state = store.source(name)
            finally:
                store.close()
        self._log(result.diagnostics)
        log.info("pull %s: %s, %d new entries", name,
                 "failed" if result.failed else "ok", result.new_entries)
        if state is None or state.retired:
            return None, result.new_entries > 0
        return from_epoch(state.next_due), result.new_entries > 0

    def sources(self) -> list[tuple[str, datetime | None]]:
        store = open_store(self.config.paths.state, migrate=True, wait=self.config.lock_wait)
        try:
            found = []
            with store.snapshot():
                for source in self.config.upstream:
                    state = store.source(source.name)
                    if state is not None and state.retired and state.url == source.url:
                        continue
                    due = from_epoch(state.next_due) if state is not None else None
                    found.append((source.name, due))
            return found
        finally:
            store.close()


def wait_for_signal() -> Callable[[], bool]:
    """Install SIGTERM/SIGINT handlers; returns a function that blocks until one arrives."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    def wait() -> bool:
        while not stop.wait(0.5):  # short waits: the handler runs between them
            pass
        return True

    return wait


def run(config: Config, client: httpx.Client, bind: str | None) -> int:
    """`feeds run`: scheduler (+ watcher, + server with --bind) until SIGTERM/SIGINT."""
    setup_logging()
    wait = wait_for_signal()
    hub_client = None
    if config.websub_hub:
        hub_client = fetch.make_hub_client(user_agent=fetch.user_agent(config.site.base_url))
    jobs = Jobs(config, client, hub_client)
    daemon = Daemon(
        Tasks(rebuild=jobs.rebuild, pull=jobs.pull, sources=jobs.sources),
        rebuild_every=config.rebuild_every,
    )
    watcher = SeedWatcher(config.paths.seeds,
                          lambda path: daemon.rebuild_soon(f"change in {path}"))
    server = Server(make_app(served(config, jobs.problems)), bind) if bind else None
    try:
        daemon.start()
        watcher.start()
        if server is not None:
            server.start()
            log.info("serving %s on http://%s/", config.paths.output, bind)
        wait()
    except FeedsError as exc:
        log.error("%s: %s", exc.where, exc.message)
        return 1
    finally:
        watcher.stop()
        finished = daemon.stop(STOP_TIMEOUT)
        if not finished:
            log.warning("a job was still running after %gs; leaving it (writes are atomic)",
                        STOP_TIMEOUT)
        if server is not None:
            server.stop()
        if hub_client is not None:
            hub_client.close()
        log.info("stopped")
    return 0


def serve(config: Config, bind: str) -> int:
    """`feeds serve`: the server alone, until SIGTERM/SIGINT."""
    setup_logging()
    wait = wait_for_signal()
    server = Server(make_app(served(config)), bind)
    server.start()
    log.info("serving %s on http://%s/", config.paths.output, bind)
    try:
        wait()
    finally:
        server.stop()
        log.info("stopped")
    return 0
