"""Pull upstream sources into the state: claim the due ones, fetch them concurrently and politely,
store the results in batches.

A round makes a row for every configured source, then claims waves of due
ones (`Store.claim_sources`: each source is held by one process at a time,
under a lease on the database's clock, so that many daemons share one
state), fetches them on a thread pool (`[fetch] concurrency` at once, at
most `[fetch] per_host` in flight to one host), parses each in its fetch
thread, and stores finished results in batches, one unit of work each. A
result is stored only while its claim still holds: a process that stalled
past its lease has its result refused, and every stored pull is logged once
per (source, due time). Already-published entries are never removed here: a
source that fails, or drops an item, leaves what was published in place
until it ages out of `items_per_feed`.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from feeds import ingest, polling
from feeds.codec import from_epoch, to_epoch
from feeds.config import Config, UpstreamConfig
from feeds.errors import LockHeld, UpstreamError
from feeds.model import Diagnostic
from feeds.publish.decide import Seconds
from feeds.sources import fetch as fetcher
from feeds.sources.upstream import ParsedFeed, parse_feed
from feeds.store import Claim, SourceState, Store

if TYPE_CHECKING:
    import httpx

BATCH = 25  # results stored in one unit of work
BUFFER = 200  # results kept while the store is busy (a build holds the lock); then we wait
# From this many sources in a round, changed bodies are parsed in worker processes (on a
# machine with more than one core): parsing is CPU work that threads would serialize on the
# GIL with the fetches and the storing; a worker's start (~0.5 s) pays off only for a big round.
PARSE_PROCESSES_FROM = 64
HISTORY = 3  # stored pulls `feeds sources` shows per source


@dataclass
class PullResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    new_entries: int = 0
    busy: list[str] = field(default_factory=list)  # asked for, but another process holds them
    refused: list[str] = field(default_factory=list)  # fetched, but the claim ran out first


def new_owner() -> str:
    """A random owner id for one process's claims (never the host name: two processes on one
    host, or a restarted one, must not pass for each other)."""
    return uuid.uuid4().hex[:16]


def pull(
    config: Config,
    store: Store,
    client: httpx.Client,
    now: datetime,
    *,
    names: Iterable[str] | None = None,
    force: bool = False,
    rng: random.Random | None = None,
    owner: str | None = None,
    storing: Storing | None = None,
    on_fetch: Callable[[str, float, str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    parse_processes_from: int = PARSE_PROCESSES_FROM,
) -> PullResult:
    """Pull the due sources (or `names`, due or not, or all with `force`). `storing(wait)`
    wraps each unit of work: the daemon takes SQLite's writer lock there, waiting at most
    `wait` seconds (None: its usual wait), raising LockHeld when it cannot. Then the round
    claims every due source at once, and while a build holds the lock, results wait (up to
    BUFFER) and fetching goes on. On PostgreSQL (no `storing`), sources are claimed a wave
    at a time, so that leases stay fresh. `on_fetch(source, seconds, status)` hears of every
    fetch (the daemon's metrics). From `parse_processes_from` sources on, changed bodies are
    parsed in worker processes."""
    wanted = [s for s in config.upstream if names is None or s.name in set(names)]
    round_ = _Round(config, store, client, now, rng or random.Random(),  # noqa: S311 (jitter)
                    owner or new_owner(), storing, on_fetch, clock, parse_processes_from)
    return round_.run(wanted, due_only=names is None and not force, retired=names is not None)


class Storing(Protocol):
    def __call__(self, wait: float | None = None) -> AbstractContextManager[object]: ...


def _no_lock(wait: float | None = None) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


class _Hosts:
    """At most `per_host` requests in flight to one host from this process."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @contextlib.contextmanager
    def slot(self, url: str) -> Iterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with semaphore:
            yield


class _Round:
    """One pull round: claim, fetch, store (not shared between rounds)."""

    def __init__(
        self, config: Config, store: Store, client: httpx.Client, now: datetime,
        rng: random.Random, owner: str,
        storing: Storing | None,
        on_fetch: Callable[[str, float, str], None] | None,
        clock: Callable[[], float],
        parse_processes_from: int = PARSE_PROCESSES_FROM,
    ) -> None:
        self.clock = clock
        self.parse_processes_from = parse_processes_from
        self.config = config
        self.store = store
        self.client = client
        self.now = now
        self.rng = rng
        self.owner = owner
        self.storing = storing or _no_lock
        self.locked = storing is not None  # a writer lock to share with builds (SQLite)
        self.on_fetch = on_fetch
        self.hosts = _Hosts(config.fetch.per_host)
        self.parsers: ProcessPoolExecutor | None = None
        self.seconds = Seconds(store.published_at)  # undated items: a second each
        self.result = PullResult()

    def run(self, wanted: list[UpstreamConfig], *, due_only: bool, retired: bool) -> PullResult:
        sources = {s.name: s for s in wanted}
        with self.storing(), self.store.transaction():
            self.store.register_sources((s.name, s.url) for s in wanted)
            days = self.config.cluster.pull_log_days
            self.store.prune_pull_log(self.store.db_now() - days * 86400)
        # On SQLite every due source is claimed at once: later claims would wait for the
        # lock a build holds. On PostgreSQL a wave at a time: leases stay fresh.
        wave = len(sources) if self.locked else 2 * self.config.fetch.concurrency
        pending: set[Future[tuple[Claim, polling.Outcome]]] = set()
        batch: list[tuple[Claim, polling.Outcome]] = []
        more = True
        with ThreadPoolExecutor(self.config.fetch.concurrency, "fetch") as pool, \
                self._parse_processes(len(sources)):
            while True:
                if more and len(pending) < max(1, wave // 2):
                    claimed = self._claim(sources, wave - len(pending), due_only, retired)
                    more = bool(claimed)
                    pending.update(pool.submit(self._fetch, sources.pop(claim.name), state,
                                               claim) for claim, state in claimed)
                if not pending:
                    break
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                batch.extend(future.result() for future in done)
                if len(batch) >= BATCH or (batch and not pending):
                    # While a build holds the lock, results wait (fetches go on) up to BUFFER.
                    busy_ok = bool(pending) and len(batch) < BUFFER
                    if self._store(batch, wait=0 if busy_ok else None):
                        batch = []
        if batch:
            self._store(batch, wait=None)
        if not due_only:
            self._held_by_others(sources)
        return self.result

    @contextlib.contextmanager
    def _parse_processes(self, sources: int) -> Iterator[None]:
        """Worker processes that parse changed bodies, for a big round on a machine that has
        a core to spare; otherwise the fetch threads parse."""
        cores = os.cpu_count() or 1
        if sources < self.parse_processes_from or cores < 2:
            yield
            return
        # forkserver: never fork this process, whose other threads may hold locks.
        with ProcessPoolExecutor(min(cores - 1, 4), get_context("forkserver")) as parsers:
            self.parsers = parsers
            try:
                yield
            finally:
                self.parsers = None

    def _parse(self, data: bytes, url: str, content_type: str | None) -> ParsedFeed:
        parsers = self.parsers
        if parsers is None:
            return parse_feed(data, url, content_type)
        return parsers.submit(parse_feed, data, url, content_type).result()

    def _claim(self, sources: dict[str, UpstreamConfig], limit: int, due_only: bool,
               retired: bool) -> list[tuple[Claim, SourceState]]:
        if not sources:
            return []
        with self.storing(), self.store.transaction():
            claims = self.store.claim_sources(
                self.owner, sorted(sources), due_at=to_epoch(self.now),
                lease=self.config.cluster.lease, limit=limit, due_only=due_only,
                retired=retired)
            found = []
            for claim in claims:
                state = self.store.source(claim.name)
                source = sources[claim.name]
                if state is None or state.url != source.url:  # a new URL starts afresh
                    state = SourceState(name=source.name, url=source.url, fetch_url=source.url)
                found.append((claim, state))
        return found

    def _fetch(self, source: UpstreamConfig, state: SourceState,
               claim: Claim) -> tuple[Claim, polling.Outcome]:
        """In a fetch thread: one conditional GET (within the host's limit), then the parse."""
        validators = fetcher.Validators(state.etag, state.last_modified)
        started = self.clock()
        with self.hosts.slot(state.fetch_url):
            try:
                answer: fetcher.FetchResult | UpstreamError = fetcher.fetch(
                    self.client, state.fetch_url, validators, self.config.fetch, now=self.now)
            except UpstreamError as exc:
                answer = exc
        done = polling.outcome(source, state, answer, self._parse, self.now, self.rng)
        if self.on_fetch is not None:
            self.on_fetch(source.name, self.clock() - started, done.status)
        return claim, done

    def _store(self, batch: list[tuple[Claim, polling.Outcome]], wait: float | None) -> bool:
        """Store finished results in one unit of work; a result whose claim was taken over
        is refused whole (another process pulls the source again). False, with nothing
        stored, when the lock is busy and `wait` is 0."""
        try:
            with self.storing(wait), self.store.transaction():
                self._store_batch(batch)
        except LockHeld:
            if wait != 0:
                raise
            return False
        self.result.pulled.sort()
        self.result.failed.sort()
        return True

    def _store_batch(self, batch: list[tuple[Claim, polling.Outcome]]) -> None:
        at = self.store.db_now()
        for claim, done in sorted(batch, key=lambda pair: pair[0].name):
            name = claim.name
            if not self.store.finish_claim(claim, done.state):
                self.result.refused.append(name)
                self.result.diagnostics.append(Diagnostic(
                    "warning", name, "fetched after its claim ran out ([cluster] lease): "
                    "the result was not stored; another process pulls it"))
                continue
            self.store.log_pull(name, claim.due, self.owner, done.status, at)
            self.result.diagnostics.extend(done.diagnostics)
            if done.status in ("failed", "gone"):
                self.result.failed.append(name)
                continue
            self.result.pulled.append(name)
            if done.parsed is not None:
                self.result.new_entries += ingest.store_items(
                    self.config, self.store, done.source, done.parsed, self.now,
                    done.state.fetch_url, self.seconds)

    def _held_by_others(self, sources: dict[str, UpstreamConfig]) -> None:
        """Sources asked for by name (or --all) that another process holds right now."""
        with self.store.snapshot():
            held = self.store.leases()
        for name in sorted(sources):
            if name in held:
                owner, until = held[name]
                self.result.busy.append(name)
                self.result.diagnostics.append(Diagnostic(
                    "notice", name, f"being pulled by another process ({owner}) until "
                    f"{from_epoch(until).isoformat()}: not pulled here"))


def health_table(config: Config, store: Store) -> str:
    """Per-source health, one row a source, for `feeds sources`: its status, failures, last
    success, next due time, items, who holds its lease, what it skipped, its latest pulls."""
    header = ("source", "status", "failures", "last success", "next due", "items", "lease",
              "note")
    rows = [header]
    leases = store.leases()
    history: list[str] = []
    for source in config.upstream:
        state = store.source(source.name)
        lease = leases.get(source.name)
        held = "-" if lease is None else f"{lease[0]} until {from_epoch(lease[1]).isoformat()}"
        if state is None:
            rows.append((source.name, "never pulled", "0", "-", "now", "0", held, ""))
            continue
        last = from_epoch(state.last_success).isoformat() if state.last_success else "-"
        nxt = "retired" if state.retired else from_epoch(state.next_due).isoformat()
        note = state.last_error[:60]
        if state.skipped:
            skipped = sum(count for _, count in state.skipped)
            note = f"{skipped} item(s) not republished: " + "; ".join(
                f"{why} ({count})" for why, count in state.skipped)
        rows.append((source.name, state.last_status or "-", str(state.failures), last, nxt,
                     str(state.items_seen), held, note))
        for due, owner, status, at in store.pull_history(source.name, HISTORY):
            history.append(f"{source.name}  {from_epoch(at).isoformat()}  {status:<12}  "
                           f"due {from_epoch(due).isoformat()}  by {owner}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    if history:
        lines += ["", "latest stored pulls:", *history]
    return "\n".join(lines) + "\n"
