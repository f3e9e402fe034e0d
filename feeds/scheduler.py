"""The daemon's clock: APScheduler 3 runs the rebuilds and the pull rounds; the only module that
imports it.

A rebuild every `rebuild_every`, and soon after any change in `seeds/`
(debounced), a pull that stored something, or another process's change to
the state; a pull round every `poll` seconds, which claims whatever sources
are due (their due times live in the state, so a restart resumes rather
than re-polls). `max_instances=1` and `coalesce=True`: a slow job is never
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


class _StillRunning(logging.Filter):
    """APScheduler warns at every tick that finds a job's last run still going. Here that is
    the design (`max_instances=1`): a long build, or jobs waiting for a state that went away,
    would log a line a tick for each job."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


_scheduler_log = logging.getLogger("apscheduler.scheduler.feeds")
_scheduler_log.addFilter(_StillRunning())


@dataclass(frozen=True, slots=True)
class Tasks:
    """What the daemon runs; a role leaves out what it does not do."""

    rebuild: Callable[[], datetime | None] | None = None  # → when a held-back article is due
    pull: Callable[[], bool] | None = None  # one round of due sources → stored anything new
    check: Callable[[], bool] | None = None  # → others changed what the feeds show


class Daemon:
    def __init__(
        self,
        tasks: Tasks,
        *,
        rebuild_every: float,
        poll_every: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.tasks = tasks
        self.rebuild_every = rebuild_every
        self.poll_every = poll_every
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
            timezone=UTC, logger=_scheduler_log,
        )
        self._accepting = threading.Event()

    def start(self) -> None:
        now = self.clock()
        self._accepting.set()
        if self.tasks.rebuild is not None:
            self.scheduler.add_job(self._rebuild, IntervalTrigger(seconds=self.rebuild_every),
                                   id="rebuild", name="rebuild", next_run_time=now)
        if self.tasks.pull is not None:
            # A little later than the first rebuild, and never in step with other daemons.
            first = now + timedelta(seconds=self.rng.uniform(0.2, 1.0))
            self.scheduler.add_job(self._pull, IntervalTrigger(seconds=self.poll_every),
                                   id="pull", name="pull", next_run_time=first)
        if self.tasks.check is not None and self.tasks.rebuild is not None:
            self.scheduler.add_job(self._check, IntervalTrigger(seconds=self.poll_every),
                                   id="check", name="check")
        self.scheduler.start()

    def reschedule(self, *, rebuild_every: float, poll_every: float) -> None:
        """New intervals (a reloaded config), from now on."""
        self.rebuild_every, self.poll_every = rebuild_every, poll_every
        for job, seconds in (("rebuild", rebuild_every), ("pull", poll_every),
                             ("check", poll_every)):
            if self.scheduler.get_job(job) is not None:
                self.scheduler.reschedule_job(job, trigger=IntervalTrigger(seconds=seconds))

    def rebuild_soon(self, reason: str, delay: float = DEBOUNCE) -> None:
        """Debounced: a burst of changes moves the one pending job instead of adding more."""
        if not self._accepting.is_set() or self.tasks.rebuild is None:
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
        if not self._accepting.is_set() or self.tasks.rebuild is None:
            return
        try:
            due = self.tasks.rebuild()
        except Exception:
            log.exception("rebuild failed; the daemon goes on")
            return
        if due is not None and self._accepting.is_set():
            self.scheduler.add_job(self._rebuild, DateTrigger(due + timedelta(seconds=1)),
                                   id="rebuild-due", name="rebuild-due", replace_existing=True)

    def _pull(self) -> None:
        if not self._accepting.is_set() or self.tasks.pull is None:
            return
        try:
            stored = self.tasks.pull()
        except Exception:
            log.exception("pull round failed; the daemon goes on")
            return
        if stored:
            self.rebuild_soon("a pull stored new entries", delay=0.0)

    def _check(self) -> None:
        if not self._accepting.is_set() or self.tasks.check is None:
            return
        try:
            changed = self.tasks.check()
        except Exception:
            log.exception("checking the state failed; the daemon goes on")
            return
        if changed:  # no debounce: a later check must not push a waiting rebuild back
            self.rebuild_soon("another process stored new entries", delay=0.0)
