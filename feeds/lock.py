"""One writer at a time: an advisory lock file in the state folder, shared by every process.

The daemon takes it per job, cron runs and manual builds per run, so two
builds never interleave their writes; a second writer waits a bounded time
and then gives up with LockHeld (exit status 3), never a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from feeds.config import PostgresURL
from feeds.errors import LockHeld

POLL = 0.1


def lock_path(state: Path) -> Path:
    return state.with_name(state.name + ".lock")


@contextlib.contextmanager
def writer_lock(
    state: Path | PostgresURL, *, wait: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[None]:
    """Hold the writer lock of the state at `state` for the block; wait at most `wait` seconds.
    A PostgreSQL state needs none: its leases and transactions order its writers, whatever
    machine they run on."""
    if isinstance(state, PostgresURL):
        yield
        return
    path = lock_path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = clock() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise LockHeld(
                        str(path),
                        f"another build holds the writer lock; gave up after {wait:g}s "
                        "(nothing written)",
                    ) from None
                time.sleep(POLL)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
