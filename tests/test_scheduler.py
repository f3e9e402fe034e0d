"""Daemon scheduling with fake jobs: failures do not stop it; due times come from the state."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from feeds.scheduler import Daemon, Tasks


def wait_until(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_failing_rebuild_is_logged_and_the_daemon_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[float] = []

    def rebuild() -> datetime | None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return None

    daemon = Daemon(Tasks(rebuild=rebuild, pull=lambda name: (None, False), sources=lambda: []),
                    rebuild_every=0.3, rng=random.Random(1))
    with caplog.at_level(logging.INFO, logger="feeds"):
        daemon.start()
        try:
            wait_until(lambda: len(calls) >= 3)
        finally:
            assert daemon.stop(5)
    assert "rebuild failed; the daemon goes on" in caplog.text
    assert "disk on fire" in caplog.text


def test_pulls_start_at_the_stored_due_time_not_at_startup() -> None:
    now = datetime.now(UTC)
    pulled: dict[str, float] = {}
    started = time.monotonic()

    def pull(name: str) -> tuple[datetime | None, bool]:
        pulled[name] = time.monotonic() - started
        return datetime.now(UTC) + timedelta(hours=1), False

    sources = [("overdue", now - timedelta(hours=2)), ("later", now + timedelta(hours=3))]
    daemon = Daemon(Tasks(rebuild=lambda: None, pull=pull, sources=lambda: sources),
                    rebuild_every=60, rng=random.Random(1))
    import feeds.scheduler as scheduler

    original = scheduler.PULL_JITTER
    scheduler.PULL_JITTER = 0.0
    try:
        daemon.start()
        wait_until(lambda: "overdue" in pulled)
        time.sleep(0.5)
    finally:
        scheduler.PULL_JITTER = original
        assert daemon.stop(5)
    assert "later" not in pulled  # its due time, from the state, is hours away
    jobs = {job.id for job in daemon.scheduler.get_jobs()}
    assert jobs == set() or "pull:later" in jobs


def test_rebuild_soon_debounces_a_burst_into_one_run() -> None:
    runs: list[float] = []
    gate = threading.Event()

    def rebuild() -> datetime | None:
        runs.append(time.monotonic())
        gate.set()
        return None

    daemon = Daemon(Tasks(rebuild=rebuild, pull=lambda name: (None, False), sources=lambda: []),
                    rebuild_every=3600, rng=random.Random(1))
    daemon.start()
    try:
        wait_until(gate.is_set)  # the start-up rebuild
        for i in range(20):
            daemon.rebuild_soon(f"change {i}", delay=0.3)
            time.sleep(0.01)
        time.sleep(1.0)
    finally:
        assert daemon.stop(5)
    assert len(runs) == 2
