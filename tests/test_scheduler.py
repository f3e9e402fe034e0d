"""Daemon scheduling with fake jobs: failures do not stop it; due times come from the state."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime

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

    daemon = Daemon(Tasks(rebuild=rebuild), rebuild_every=0.3, poll_every=60,
                    rng=random.Random(1))
    with caplog.at_level(logging.INFO, logger="feeds"):
        daemon.start()
        try:
            wait_until(lambda: len(calls) >= 3)
        finally:
            assert daemon.stop(5)
    assert "rebuild failed; the daemon goes on" in caplog.text
    assert "disk on fire" in caplog.text


def test_pull_rounds_run_every_poll_and_one_that_stored_something_asks_for_a_rebuild(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[float] = []
    rebuilds: list[float] = []

    def pull() -> bool:
        rounds.append(time.monotonic())
        if len(rounds) == 2:
            raise RuntimeError("the state went away")
        return len(rounds) == 3  # the third round stores new entries

    def rebuild() -> datetime | None:
        rebuilds.append(time.monotonic())
        return None

    daemon = Daemon(Tasks(rebuild=rebuild, pull=pull), rebuild_every=3600, poll_every=0.3,
                    rng=random.Random(1))
    with caplog.at_level(logging.INFO, logger="feeds"):
        daemon.start()
        try:
            wait_until(lambda: len(rounds) >= 4 and len(rebuilds) >= 2)
        finally:
            assert daemon.stop(5)
    assert "pull round failed; the daemon goes on" in caplog.text
    assert "rebuild soon: a pull stored new entries" in caplog.text
    assert rebuilds[1] > rounds[2]  # the second rebuild came after the round that stored


def test_a_role_runs_only_its_jobs() -> None:
    pulls: list[float] = []
    daemon = Daemon(Tasks(pull=lambda: bool(pulls.append(time.monotonic()))),
                    rebuild_every=0.1, poll_every=0.2, rng=random.Random(1))
    daemon.start()
    try:
        wait_until(lambda: len(pulls) >= 2)
        daemon.rebuild_soon("a change")  # a pull-only daemon builds nothing
        assert {job.id for job in daemon.scheduler.get_jobs()} == {"pull"}
    finally:
        assert daemon.stop(5)


def test_a_change_by_another_process_asks_for_a_rebuild() -> None:
    rebuilds: list[float] = []
    seen = threading.Event()

    def check() -> bool:
        seen.set()
        return True

    daemon = Daemon(Tasks(rebuild=lambda: bool(rebuilds.append(1.0)) or None, check=check),
                    rebuild_every=3600, poll_every=0.2, rng=random.Random(1))
    daemon.start()
    try:
        wait_until(lambda: seen.is_set() and len(rebuilds) >= 2)
    finally:
        assert daemon.stop(5)


def test_rebuild_soon_debounces_a_burst_into_one_run() -> None:
    runs: list[float] = []
    gate = threading.Event()

    def rebuild() -> datetime | None:
        runs.append(time.monotonic())
        gate.set()
        return None

    daemon = Daemon(Tasks(rebuild=rebuild), rebuild_every=3600, poll_every=3600,
                    rng=random.Random(1))
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
