"""The daemon's clock: APScheduler 3 runs rebuilds and pulls; the only module that imports it.

A rebuild every `rebuild_every`, and soon after any change in `seeds/`
(debounced) or a pull that stored something; one pull job per source at its
own due time (from the state, so a restart resumes rather than re-polls),
with jitter; `max_instances=1` and `coalesce=True` so a slow job is never
overlapped or stacked. A job that raises is logged and the daemon goes on.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("feeds")

DEBOUNCE = 1.0  # seconds of quiet after a change in seeds/ before rebuilding
PULL_JITTER = 30.0  # seconds: sources due together are not all fetched in the same instant


@dataclass(frozen=True, slots=True)
class Tasks:
    """What the daemon runs; each returns when it wants to run next (None: no opinion)."""

    rebuild: Callable[[], datetime | None]  # returns when a held-back article falls due
    pull: Callable[[str], tuple[datetime | None, bool]]  # (next due, stored anything new)
    sources: Callable[[], list[tuple[str, datetime | None]]]  # name, stored next due


class Daemon:
    def __init__(
        self,
        tasks: Tasks,
        *,
        rebuild_every: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.tasks = tasks
        self.rebuild_every = rebuild_every
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
            timezone=UTC,
        )
        self._accepting = threading.Event()

    def start(self) -> None:
        now = self.clock()
        self._accepting.set()
        self.scheduler.add_job(self._rebuild, IntervalTrigger(seconds=self.rebuild_every),
                               id="rebuild", name="rebuild", next_run_time=now)
        for name, due in self.tasks.sources():
            self._schedule_pull(name, due)
        self.scheduler.start()
        log.info("daemon started: rebuild every %gs, %d upstream source(s)",
                 self.rebuild_every, len(self.scheduler.get_jobs()) - 1)

    def rebuild_soon(self, reason: str, delay: float = DEBOUNCE) -> None:
        """Debounced: a burst of changes moves the one pending job instead of adding more."""
        if not self._accepting.is_set():
            return
        log.info("rebuild soon: %s", reason)
        self.scheduler.add_job(self._rebuild, DateTrigger(self.clock() + timedelta(seconds=delay)),
                               id="rebuild-soon", name="rebuild-soon", replace_existing=True)

    def stop(self, timeout: float) -> bool:
        """Stop taking jobs, let a running one finish (bounded); True when all finished."""
        self._accepting.clear()
        done = threading.Event()

        def shutdown() -> None:
            self.scheduler.shutdown(wait=True)
            done.set()

        threading.Thread(target=shutdown, name="shutdown", daemon=True).start()
        return done.wait(timeout)

    # --- jobs ------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        if not self._accepting.is_set():
            return
        try:
            due = self.tasks.rebuild()
        except Exception:
            log.exception("rebuild failed; the daemon goes on")
            return
        if due is not None and self._accepting.is_set():
            self.scheduler.add_job(self._rebuild, DateTrigger(due + timedelta(seconds=1)),
                                   id="rebuild-due", name="rebuild-due", replace_existing=True)

    def _pull(self, name: str) -> None:
        if not self._accepting.is_set():
            return
        due: datetime | None = None
        try:
            due, stored = self.tasks.pull(name)
            if stored:
                self.rebuild_soon(f"{name} brought new entries")
        except Exception:
            log.exception("pull %s failed; the daemon goes on", name)
        self._schedule_pull(name, due or self.clock() + timedelta(seconds=self.rebuild_every))

    def _schedule_pull(self, name: str, due: datetime | None) -> None:
        if not self._accepting.is_set() and self.scheduler.running:
            return
        when = max(due or self.clock(), self.clock())
        when += timedelta(seconds=self.rng.uniform(0, PULL_JITTER))
        self.scheduler.add_job(self._pull, DateTrigger(when), args=[name], id=f"pull:{name}",
                               name=f"pull {name}", replace_existing=True)
