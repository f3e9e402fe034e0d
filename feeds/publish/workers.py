"""Reading and rendering articles, in worker processes when a build is large enough to pay.

A `Renderer` turns an article file into its entry, state row and page as
if the article were new; workers send back a `Prepared` of plain values
(pickling Article and Entry dataclasses cost ~100 µs an article) and
stage the pages and feeds they render through the output's `Stager`, so
page bytes never travel through the main process. `Workers` owns the pool.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from feeds import entries
from feeds.codec import entry_from_json, entry_to_json, to_epoch
from feeds.errors import ArticleError
from feeds.model import Diagnostic, FeedKey, feed_keys
from feeds.output import Output, Staged, Stager
from feeds.publish.feedset import FeedDone, FeedStyle, render_feed
from feeds.sources import article as article_reader

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult, Pool


@dataclass(frozen=True, slots=True)
class Parallelism:
    """When a build uses worker processes, and how many. `setup` runs in each worker after it
    is ready: the seam through which tests inject faults (it must be importable by name)."""

    workers: int | None = None  # None: one per core
    from_articles: int = 2000  # changed files; below this, starting workers does not pay
    from_feeds: int = 32  # feeds to render; likewise
    batch: int = 2048  # articles in flight at once (imap runs ahead without bound)
    setup: Callable[[WorkerContext], None] | None = None


class Prepared(NamedTuple):
    """One article file read and rendered as if new, in plain values. `problem` says why it
    cannot be published; then the rest is empty."""

    problem: str | None = None
    notes: tuple[tuple[str, str, str], ...] = ()  # Diagnostic fields
    key: str = ""
    title: str = ""
    draft: bool = False
    date: int | None = None  # the header's `date` and `updated`, in epoch seconds
    updated: int | None = None
    digest: str = ""
    times: entries.Times = entries.Times(0, 0, 0)  # the times it was rendered with
    section: tuple[str, str] = ("", "")  # slug, name
    tags: tuple[tuple[str, str], ...] = ()  # slug, name
    page: str | None = None  # its page's path in the output
    data: str = ""  # the entry as the state stores it
    page_bytes: bytes | None = None  # the page, when rendered in this process
    # In worker processes the page is staged by the worker (or found current already).
    staged: tuple[Staged, ...] = ()
    current: bool = False

    def feed_keys(self) -> tuple[FeedKey, ...]:
        return feed_keys(self.section[0], (slug for slug, _ in self.tags))

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return tuple(Diagnostic(*note) for note in self.notes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Renderer:
    """What turns an article file into its entry, state row and page: picklable, so that
    worker processes do that work and the main process only reconciles and stores."""

    rules: article_reader.Rules
    entry_site: entries.EntrySite
    style: FeedStyle
    now: datetime
    pages: bool  # False when nothing is written (check, export): pages would be thrown away

    def prepare(self, where: str, data: bytes, mtime: int) -> Prepared:
        """Parse, hash and render as if the article were new (times from its header or its
        file time): the main process keeps this work when the state agrees, and redoes only
        the time-dependent part when it does not (an edit, a first-seen second taken)."""
        article, notes = article_reader.parse(where, data, self.rules)
        digest = entries.content_hash(article)
        now = to_epoch(self.now)
        first_seen = min(mtime, now)
        date = None if article.date is None else to_epoch(article.date)
        updated = None if article.updated is None else to_epoch(article.updated)
        times = entries.reconcile_times(None, date, updated, digest, first_seen, now)
        entry = entries.build_entry(article, times, self.entry_site)
        page = None
        if self.pages and entry.page and not article.draft and entry.published <= self.now:
            page = self.style.page(entry)
        return Prepared(
            notes=tuple((d.level, d.where, d.message) for d in notes),
            key=article.key, title=article.title, draft=article.draft, date=date,
            updated=updated, digest=digest,
            times=times, section=(entry.section.slug, entry.section.name),
            tags=tuple((t.slug, t.name) for t in entry.tags), page=entry.page,
            data=entry_to_json(entry), page_bytes=page,
        )


class ArticleJob(NamedTuple):
    root: str  # the seeds folder
    label: str  # how messages name it (`seeds`)
    path: str  # relative to it
    mtime: int


def prepare_file(renderer: Renderer, stager: Stager | None, job: ArticleJob) -> Prepared:
    """Read one article file and render it; with a stager, stage its page too."""
    try:
        with open(os.path.join(job.root, job.path), "rb") as handle:  # noqa: PTH118, PTH123
            data = handle.read()
    except OSError as exc:
        return Prepared(problem=f"cannot read: {exc.strerror or exc}")
    try:
        prepared = renderer.prepare(f"{job.label}/{job.path}", data, job.mtime)
    except ArticleError as exc:
        return Prepared(problem=exc.message)
    if stager is None or prepared.page_bytes is None or prepared.page is None:
        return prepared
    # Not caught: a write error (disk full) fails the build, which is rolled back and
    # retried, as in one process; it is no fault of the article's.
    staged = stager.stage(prepared.page, prepared.page_bytes, "page")
    return prepared._replace(page_bytes=None, staged=tuple(staged), current=not staged)


class WorkerContext:
    """What a worker process holds: set once by the pool's initializer."""

    def __init__(self, renderer: Renderer, stager: Stager | None) -> None:
        self.renderer = renderer
        self.stager = stager


_context: WorkerContext | None = None


def _start_worker(renderer: Renderer, stager: Stager | None,
                  setup: Callable[[WorkerContext], None] | None) -> None:
    global _context
    _context = WorkerContext(renderer, stager)
    if stager is not None:  # feedgen and lxml load now, not with the first feed
        from feeds import builder  # noqa: F401
    if setup is not None:
        setup(_context)


def _prepare_in_worker(job: ArticleJob) -> Prepared:
    assert _context is not None
    return prepare_file(_context.renderer, _context.stager, job)


def _render_in_worker(job: tuple[FeedKey, str, list[str]]) -> FeedDone:
    assert _context is not None and _context.stager is not None
    key, name, rows = job
    return render_feed(_context.renderer.style, key, name,
                       [entry_from_json(row) for row in rows], _context.stager.stage)


class Workers:
    """The build's worker processes, started on first use; a context manager that stops them
    (terminated when the build fails)."""

    def __init__(self, renderer: Renderer, output: Output | None, parallel: Parallelism) -> None:
        self.renderer = renderer
        self.output = output
        self.parallel = parallel
        self.pool: Pool | None = None
        self.cores = parallel.workers or os.cpu_count() or 1

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self.pool is not None:
            if error is not None:
                self.pool.terminate()
            else:
                self.pool.close()
            self.pool.join()
            self.pool = None

    def _pool(self) -> Pool:
        if self.pool is None:
            stager = None if self.output is None else self.output.stager()
            context = multiprocessing.get_context("forkserver")  # no fork() of a threaded daemon
            self.pool = context.Pool(self.cores, initializer=_start_worker,
                                     initargs=(self.renderer, stager, self.parallel.setup))
        return self.pool

    def prepare(self, jobs: list[ArticleJob]) -> Iterator[Prepared]:
        """Each article read and rendered, in order: on every core when there are enough."""
        if len(jobs) < self.parallel.from_articles or self.cores < 2:
            for job in jobs:
                yield prepare_file(self.renderer, None, job)
            return
        pool = self._pool()
        step = self.parallel.batch
        # In batches: imap runs ahead of its consumer without bound, and 100,000 parsed
        # articles waiting in the queue cost ~300 MB.
        for start in range(0, len(jobs), step):
            yield from pool.imap(_prepare_in_worker, jobs[start : start + step], chunksize=32)

    def for_feeds(self, count: int) -> bool:
        """Whether feeds go to workers: when they run already, or there are enough feeds."""
        if self.output is None or self.cores < 2:
            return False
        return self.pool is not None or count >= self.parallel.from_feeds

    def render_feed(self, key: FeedKey, name: str, rows: list[str]) -> AsyncResult[FeedDone]:
        return self._pool().apply_async(_render_in_worker, ((key, name, rows),))


def staged_pages(prepared: Iterable[Prepared]) -> list[Staged]:
    return [item for p in prepared for item in p.staged]
