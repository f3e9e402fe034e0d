"""The daemon's work: rebuilds, pull rounds, and a look at what other processes changed.

Each job opens the state for itself (from a pool, for PostgreSQL) and keeps
what went wrong in `problems` for /healthz, so that a report never depends
on the state being writable. On a SQLite state every write takes the
writer lock, so cron runs and manual builds interleave with the daemon but
never with its writes; on a PostgreSQL state, many daemons share the work:
sources are claimed one daemon at a time, and one daemon builds at a time,
under the build lease, renewed while it builds and checked before anything
is committed or uploaded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feeds import health, publish, pull
from feeds.config import Config, PostgresURL
from feeds.errors import FeedsError, LeaseLost, LockHeld, SafetyStop, StoreError
from feeds.lock import writer_lock
from feeds.metrics import Metrics, SourceCounts
from feeds.model import Diagnostic
from feeds.output import open_output
from feeds.publish import report
from feeds.sources import fetch
from feeds.store import Store, open_store

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("feeds")
articles = logging.getLogger("feeds.report")  # stdout, like `feeds build`'s report


def now() -> datetime:
    return datetime.now(UTC)


class BuildLease:
    """The right to build, on a shared state: taken before a build, renewed by a thread while
    it runs, and checked (`fence`) before the output and the state are committed."""

    def __init__(self, open_state: Callable[[], Store], owner: str, seconds: int) -> None:
        self.open_state = open_state
        self.owner = owner
        self.seconds = seconds
        self.epoch: int | None = None
        self.store: Store | None = None
        self._lost = threading.Event()
        self.taken = False  # the database said so (not merely could not be asked)
        self._done = threading.Event()
        self._lock = threading.Lock()  # the lease's connection, shared by renewer and fence

    @contextlib.contextmanager
    def held(self) -> Iterator[bool]:
        """Yields whether this daemon holds the build now; renews it until the block ends."""
        store = self.store = self.open_state()
        try:
            with store.transaction():
                self.epoch = store.take_build_lease(self.owner, self.seconds)
            if self.epoch is None:
                yield False
                return
            renewer = threading.Thread(target=self._renew, name="lease", daemon=True)
            renewer.start()
            try:
                yield True
            finally:
                self._done.set()
                renewer.join()
                with contextlib.suppress(StoreError), store.transaction():
                    store.release_build_lease(self.owner, self.epoch)
        finally:
            store.close()

    def _renew(self) -> None:
        while not self._done.wait(max(1.0, self.seconds / 3)) and self._still_held():
            pass

    def _still_held(self) -> bool:
        """Renew the lease now; False (for good) once another daemon has it."""
        assert self.store is not None and self.epoch is not None
        with self._lock:
            if self._lost.is_set():
                return False
            try:
                with self.store.transaction():
                    kept = self.store.renew_build_lease(self.owner, self.epoch, self.seconds)
            except StoreError:
                kept = False
            else:
                self.taken = not kept
            if not kept:
                self._lost.set()
            return kept

    def fence(self, *, taken_only: bool = False) -> None:
        """Raise LeaseLost unless the lease still holds (asked of the database now, not
        assumed: a daemon stopped past its lease learns it here before writing anything).
        With `taken_only`, only when the database answered that another daemon has it."""
        if not self._still_held() and (self.taken or not taken_only):
            raise LeaseLost("build lease", f"epoch {self.epoch} was taken over by another "
                            "daemon (this one stalled past [cluster] lease): nothing written")


class Jobs:
    """The daemon's jobs, for one config (swapped whole on reload)."""

    def __init__(self, config: Config, client: httpx.Client, hub_client: httpx.Client | None,
                 *, owner: str, pool: object | None = None) -> None:
        self.config = config
        self.client = client
        self.hub_client = hub_client
        self.owner = owner
        self.pool = pool
        self.reported: set[Diagnostic] = set()
        self.problems = health.Problems()
        self.metrics = Metrics(self.source_counts)

    @property
    def shared(self) -> bool:
        """Whether the state is shared by many daemons (PostgreSQL)."""
        return isinstance(self.config.paths.state, PostgresURL)

    def store(self, *, migrate: bool = True) -> Store:
        return open_store(self.config.paths.state, migrate=migrate,
                          wait=self.config.lock_wait, pool=self.pool)

    def _writing(self, wait: float | None = None) -> AbstractContextManager[object]:
        return writer_lock(self.config.paths.state,
                           wait=self.config.lock_wait if wait is None else wait)

    def _log(self, diagnostics: list[Diagnostic]) -> None:
        """Each diagnostic once per daemon life: a broken file is not re-logged every rebuild."""
        for diagnostic in diagnostics:
            if diagnostic not in self.reported:
                self.reported.add(diagnostic)
                level = logging.ERROR if diagnostic.level == "error" else logging.WARNING
                log.log(level, "%s: %s", diagnostic.where, diagnostic.message)

    # --- the rebuild ---------------------------------------------------------------------

    def rebuild(self) -> datetime | None:
        """One build; None unless a held-back article falls due later."""
        started = time.monotonic()
        try:
            if self.shared:
                lease = BuildLease(lambda: self.store(migrate=False), self.owner,
                                   self.config.cluster.lease)
                with lease.held() as mine:
                    if not mine:
                        return None  # another daemon builds now
                    try:
                        result = self._build(lease.fence)
                    except StoreError:  # the daemon that took the build over may have
                        lease.fence(taken_only=True)  # ended our transaction: say so
                        raise
            else:
                with self._writing():
                    result = self._build(None)
        except LockHeld as exc:
            log.warning("rebuild skipped: %s", exc.message)
            return None
        except FeedsError as exc:  # the last good output stays; each attempt says why
            kind: health.Kind = ("safety" if isinstance(exc, SafetyStop)
                                 else "state" if isinstance(exc, StoreError) else "build")
            self.problems.report(kind, f"{exc.where}: {exc.message}", now())
            self.metrics.built("failed")
            log.error("rebuild failed, the published feeds stay as they were: %s: %s",
                      exc.where, exc.message)
            return None
        except Exception as exc:
            self.problems.report("build", f"{type(exc).__name__}: {exc}", now())
            self.metrics.built("failed")
            raise
        self.problems.clear("build", "state", "safety")
        self.metrics.built("ok", at=time.time(), seconds=time.monotonic() - started,
                           changed=len(result.changed))
        self._log(result.diagnostics)
        self._announce(result)
        return result.next_due

    def _build(self, fence: Callable[[], None] | None) -> publish.BuildResult:
        store = self.store()
        try:
            output = open_output(self.config.paths.output, store=store, s3=self.config.s3)
            return publish.build(self.config, store, now(), output=output, fence=fence)
        finally:
            store.close()

    def _announce(self, result: publish.BuildResult) -> None:
        config = self.config
        feeds = publish.changed_feed_urls(config, result.changed)
        for line in report.lines(result.changes, config.site.zone):  # what the editor asks
            articles.info("%s", line)
        if result.changed:  # idle rebuilds are not logged
            log.info("rebuild: %d file(s) changed, %d feed(s): %s", len(result.changed),
                     len(feeds),
                     " ".join(u.removeprefix(config.site.base_url) for u in feeds) or "-")
        if feeds and self.hub_client is not None:  # once per change: the builder pings
            for problem in fetch.ping_hub(self.hub_client, config.websub_hub, feeds):
                log.warning("websub ping: %s", problem)
            log.info("websub: pinged %s for %d feed(s)", config.websub_hub, len(feeds))

    # --- the pull round ------------------------------------------------------------------

    def pull_round(self) -> bool:
        """Pull whatever is due; True when new entries were stored."""
        if not self.config.upstream:
            return False
        try:
            store = self.store()
            try:
                result = pull.pull(self.config, store, self.client, now(), owner=self.owner,
                                   storing=None if self.shared else self._writing,
                                   on_fetch=self.metrics.fetched)
            finally:
                store.close()
        except StoreError as exc:
            self.problems.report("state", f"{exc.where}: {exc.message}", now())
            log.error("pull round failed: %s: %s", exc.where, exc.message)
            return False
        self.problems.clear("state")
        self._log(result.diagnostics)
        if result.pulled or result.failed:
            log.info("pull: %d source(s), %d new entries; %d failed%s", len(result.pulled),
                     result.new_entries, len(result.failed),
                     f" ({', '.join(result.failed)})" if result.failed else "")
        return result.new_entries > 0

    def check(self) -> bool:
        """Whether another process (a cron `feeds pull`) stored entries not yet published."""
        try:
            store = self.store(migrate=False)
            try:
                with store.snapshot():
                    return store.has_pending()
            finally:
                store.close()
        except StoreError:
            return False  # the rebuild and the pull report the state's problems

    def source_counts(self) -> SourceCounts | None:
        names = [source.name for source in self.config.upstream]
        try:
            store = self.store(migrate=False)
            try:
                with store.snapshot():
                    due, claimed, failing = store.source_counts(names)
            finally:
                store.close()
        except StoreError:
            return None
        return SourceCounts(len(names), due, claimed, failing)
