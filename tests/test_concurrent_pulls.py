"""Concurrent, polite pulls: many sources at once, never more than `per_host` to one host, results
stored in batches, and nothing the one-at-a-time pull guaranteed given up (against real servers
on several loopback addresses)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from feeds import config, pull
from feeds.config import ClusterConfig
from feeds.sources import fetch
from feeds.store import open_store
from tests.helpers import NOW, ROOT
from tests.httpserver import FeedServer, Reply, Seen

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
DELAY = 0.3  # seconds each answer takes, as on the real web


def feed(n: int) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>S{n}</title>'
            f"<link>https://s{n}.example/</link><description>d</description>"
            f"<item><title>Berita {n}</title><link>https://s{n}.example/b/{n}</link>"
            f'<guid isPermaLink="false">g{n}</guid></item></channel></rss>').encode()


class Counting:
    """Answers after DELAY, counting the requests in flight to its host."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def answer(self, n: int, seen: Seen) -> Reply:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(DELAY)
        with self.lock:
            self.now -= 1
        etag = f'"v{n}"'
        if seen.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, feed(n), {"Content-Type": "application/rss+xml", "ETag": etag})


@pytest.fixture
def servers() -> Iterator[list[tuple[FeedServer, Counting]]]:
    with ExitStack() as stack:
        found = []
        for host in HOSTS:
            server = stack.enter_context(FeedServer(host))
            found.append((server, Counting()))
        yield found


def project(tmp_path: Path, servers: list[tuple[FeedServer, Counting]], sources: int,
            concurrency: int, per_host: int) -> config.Config:
    lines = []
    for n in range(sources):
        server, counting = servers[n % len(servers)]
        server.routes[f"/s{n}"] = lambda seen, n=n, c=counting: c.answer(n, seen)
        lines.append(f'[[upstream]]\nname = "s{n}"\nurl = "{server.url(f"/s{n}")}"\n'
                     'section = "nasional"\nevery = "5m"\n')
    (tmp_path / "config").mkdir()
    (tmp_path / "seeds").mkdir()
    text = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8").replace(
        "allow_private_networks = false",
        f"allow_private_networks = true\nconcurrency = {concurrency}\nper_host = {per_host}")
    (tmp_path / "config" / "feeds.toml").write_text(text + "".join(lines), encoding="utf-8")
    cfg, _ = config.load(tmp_path / "config" / "feeds.toml")
    return cfg


def pull_all(cfg: config.Config, **options: object) -> tuple[pull.PullResult, float]:
    store = open_store(cfg.paths.state, migrate=True)
    client = fetch.make_client(user_agent="t", allow_private_networks=True)
    started = time.monotonic()
    try:
        with client:
            result = pull.pull(cfg, store, client, NOW, rng=random.Random(1),
                               **options)  # type: ignore[arg-type]
    finally:
        store.close()
    return result, time.monotonic() - started


def test_no_host_ever_has_more_than_per_host_requests_in_flight(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    cfg = project(tmp_path, servers, sources=40, concurrency=16, per_host=2)
    result, seconds = pull_all(cfg)
    assert len(result.pulled) == 40 and result.failed == [] and result.new_entries == 40
    assert [counting.most for _, counting in servers] == [2, 2, 2, 2]  # at most, and used
    # 40 sources over 4 hosts at 2 each: 5 waves of 0.3 s, not 40 × 0.3 s one at a time.
    assert seconds < 40 * DELAY / 4, seconds


def test_a_round_stores_what_it_fetched_and_the_next_one_sends_validators(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    cfg = project(tmp_path, servers, sources=12, concurrency=8, per_host=2)
    first, _ = pull_all(cfg)
    assert first.new_entries == 12
    second, _ = pull_all(cfg, force=True)
    assert sorted(second.pulled) == sorted(f"s{n}" for n in range(12))
    assert second.new_entries == 0
    answers = [seen for server, _ in servers for seen in server.seen]
    assert sum(1 for seen in answers if seen.headers.get("if-none-match")) == 12  # 304s
    store = open_store(cfg.paths.state)
    try:
        with store.snapshot():
            history = store.pull_history("s0", 5)
            states = store.sources()
    finally:
        store.close()
    assert [status for _, _, status, _ in history] == ["not-modified", "changed"]
    assert all(s.last_status == "304" and s.failures == 0 for s in states)


def test_a_source_another_process_holds_is_left_to_it(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    cfg = project(tmp_path, servers, sources=3, concurrency=4, per_host=2)
    store = open_store(cfg.paths.state, migrate=True)
    try:
        with store.transaction():
            store.register_sources((s.name, s.url) for s in cfg.upstream)
            claims = store.claim_sources("another-daemon", ["s1"], due_at=0, lease=600,
                                         limit=5, due_only=False)
        assert [c.name for c in claims] == ["s1"]
    finally:
        store.close()
    result, _ = pull_all(cfg, names=["s0", "s1", "s2"])
    assert sorted(result.pulled) == ["s0", "s2"] and result.busy == ["s1"]
    assert any("being pulled by another process (another-daemon)" in d.message
               for d in result.diagnostics)


def test_a_result_whose_claim_was_taken_over_is_refused(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    cfg = project(tmp_path, servers, sources=1, concurrency=2, per_host=2)
    holder = open_store(cfg.paths.state, migrate=True)
    server, counting = servers[0]

    def steal(seen: Seen) -> Reply:  # this pull stalls past its lease, and it is taken over
        time.sleep(2.2)  # leases count whole seconds of the database's clock
        thief = open_store(cfg.paths.state)  # another process, as far as the state knows
        try:
            with thief.transaction():
                taken = thief.claim_sources("thief", ["s0"], due_at=0, lease=600, limit=1,
                                            due_only=False)
        finally:
            thief.close()
        assert [claim.name for claim in taken] == ["s0"]
        return counting.answer(0, seen)

    try:
        server.routes["/s0"] = steal
        result, _ = pull_all(replace(cfg, cluster=ClusterConfig(lease=1)))
        assert result.refused == ["s0"] and result.new_entries == 0
        assert any("after its claim ran out" in d.message for d in result.diagnostics)
        with holder.snapshot():
            assert holder.count(NOW) == 0  # its items were not stored
            assert holder.pull_history("s0", 5) == []
            assert holder.leases()["s0"][0] == "thief"
    finally:
        holder.close()


def test_per_host_is_counted_by_host_not_by_source(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    cfg = project(tmp_path, servers[:1], sources=6, concurrency=6, per_host=1)
    _, seconds = pull_all(cfg)
    assert servers[0][1].most == 1
    assert seconds >= 6 * DELAY * 0.9  # one host, one at a time


def test_a_fetch_failing_is_that_source_alone(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    cfg = project(tmp_path, servers, sources=8, concurrency=8, per_host=2)
    servers[1][0].routes["/s1"] = lambda seen: Reply(503, b"busy", {"Retry-After": "3600"})
    result, _ = pull_all(cfg)
    assert result.failed == ["s1"] and len(result.pulled) == 7
    store = open_store(cfg.paths.state)
    try:
        state = store.source("s1")
        assert state is not None and state.failures == 1 and state.next_due >= (
            int(NOW.timestamp()) + 3600)
    finally:
        store.close()


def test_while_a_build_holds_the_lock_fetching_goes_on_and_results_wait(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]],
) -> None:
    """SQLite: a build holds the writer lock (here: this test, from the first fetch on);
    the round keeps fetching every source it claimed, stores nothing meanwhile, and stores
    everything once the lock is free."""
    import fcntl
    import os

    from feeds.lock import lock_path, writer_lock

    cfg = project(tmp_path, servers, sources=24, concurrency=8, per_host=2)
    held = threading.Event()
    assert isinstance(cfg.paths.state, Path)
    lock_path(cfg.paths.state).parent.mkdir(parents=True, exist_ok=True)
    build_lock = os.open(lock_path(cfg.paths.state), os.O_RDWR | os.O_CREAT)

    def first_fetch(source: str, seconds: float, status: str) -> None:
        if not held.is_set():
            fcntl.flock(build_lock, fcntl.LOCK_EX)  # "a build starts"
            held.set()

    def storing(wait: float | None = None) -> object:
        return writer_lock(cfg.paths.state, wait=30 if wait is None else wait)

    outcome: list[pull.PullResult] = []
    worker = threading.Thread(target=lambda: outcome.append(
        pull_all(cfg, storing=storing, on_fetch=first_fetch)[0]))
    try:
        worker.start()
        assert held.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(len(s.seen) for s, _ in servers) < 24:
            time.sleep(0.05)
        assert sum(len(s.seen) for s, _ in servers) == 24  # every source fetched meanwhile
        assert worker.is_alive()
        reader = open_store(cfg.paths.state)
        try:
            with reader.snapshot():
                assert all(s.last_success is None for s in reader.sources())  # none stored
        finally:
            reader.close()
    finally:
        fcntl.flock(build_lock, fcntl.LOCK_UN)  # "the build ends"
        os.close(build_lock)
        worker.join(30)
    assert outcome and len(outcome[0].pulled) == 24 and outcome[0].new_entries == 24


def test_the_fetch_client_pool_has_no_cap_to_race_on() -> None:
    """httpcore 1.0.9 closes connections other threads were just given once its caps are
    reached (encode/httpcore#1110; seen by bench/upstream.py as "Bad file descriptor"):
    the pull's own limits bound the requests in flight, so the pool has none."""
    import sys

    with fetch.make_client(user_agent="t", allow_private_networks=True) as client:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == sys.maxsize
        assert pool._max_keepalive_connections == sys.maxsize


def test_a_big_round_parses_in_worker_processes_and_stores_the_same(
    tmp_path: Path, servers: list[tuple[FeedServer, Counting]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parsing in worker processes (from `parse_processes_from` sources on; here 1, so that
    12 sources are enough) gives what parsing in the fetch threads gives."""
    (tmp_path / "threads").mkdir()
    (tmp_path / "processes").mkdir()
    in_threads = project(tmp_path / "threads", servers, sources=12, concurrency=8, per_host=2)
    in_processes = project(tmp_path / "processes", servers, sources=12, concurrency=8,
                           per_host=2)
    import os
    from concurrent.futures import ProcessPoolExecutor

    pools: list[int] = []  # observed, not chosen: the parameter chooses

    class Observed(ProcessPoolExecutor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            pools.append(1)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pull, "ProcessPoolExecutor", Observed)
    threads, _ = pull_all(in_threads, parse_processes_from=10**6)
    assert pools == []
    processes, _ = pull_all(in_processes, parse_processes_from=1)
    assert pools == ([1] if (os.cpu_count() or 1) > 1 else [])  # a core to spare: processes
    assert threads.new_entries == processes.new_entries == 12
    assert threads.pulled == processes.pulled

    def entries(cfg: config.Config) -> list[tuple[str, str]]:
        store = open_store(cfg.paths.state)
        try:
            with store.snapshot():
                return sorted((e.key, e.title) for e in store.live_entries(NOW))
        finally:
            store.close()

    assert entries(in_threads) == entries(in_processes)
