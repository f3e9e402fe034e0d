"""collect → reconcile with the store → group → build → write what changed.

One build is one state transaction: outputs are committed first, then the
state, so a crash in between makes the next build redo the work (it
converges) instead of believing it published what it did not.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from feeds import __version__, entries, jsonfeed, pages
from feeds.config import Config
from feeds.errors import ArticleError
from feeds.model import Diagnostic, Entry, FeedFormat, FeedInfo
from feeds.sources import article as article_reader
from feeds.sources import seeds
from feeds.store import (
    EntryRecord,
    FileRecord,
    FileRow,
    Store,
    entry_from_json,
    entry_to_json,
    file_record,
    from_epoch,
    to_epoch,
)
from feeds.writer import Output, holds, stage_changes, stage_file

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult, Pool

CHECKPOINT_FROM = 1000  # articles read; then the WAL is folded into the database
PARALLEL_FROM = 2000
PARALLEL_BATCH = 2048  # changed files; below this, starting worker processes does not pay
PARALLEL_FEEDS = 32  # feeds to write; below this, starting worker processes does not pay
RENDER_VERSION = "2"  # bump when rendering changes, so the next build re-renders everything
FEED_FILES: dict[FeedFormat, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
INDEX_ENTRIES = 5
MAX_SHIFT = 3600  # seconds a burst's first-seen times may be spread over


@dataclass
class BuildResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    articles_read: int = 0
    published: int = 0
    next_due: datetime | None = None

    @property
    def errors(self) -> int:
        return sum(d.level == "error" for d in self.diagnostics)


def build(
    config: Config,
    store: Store,
    now: datetime,
    *,
    output: Output | None,
    full: bool = False,
    reread: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """One build; with `output=None` nothing is written and the state is left as it was."""
    store.begin()
    try:
        run = _Run(config, store, now, output, full=full, reread=reread)
        run.progress = progress
        try:
            result = run.execute()
        except BaseException:
            run.close(failed=True)
            raise
        run.close(failed=False)
        if output is None:
            store.rollback()
            return result
        result.changed = output.commit()
        store.put_outputs(run.outputs_written)
        store.delete_outputs(run.outputs_removed)
        store.set_meta("last_success", str(to_epoch(now)))
        store.delete_meta("last_failure")
        store.commit()
        if result.articles_read >= CHECKPOINT_FROM:
            store.checkpoint()
        return result
    except BaseException as exc:
        if output is not None:
            output.discard()
        store.rollback()
        if output is not None:  # remembered for /healthz, outside the rolled-back transaction
            failure = {"time": now.isoformat(), "error": f"{type(exc).__name__}: {exc}"}
            store.set_meta("last_failure", json.dumps(failure))
        raise


def export(
    config: Config, store: Store, now: datetime, feed: str, fmt: FeedFormat
) -> tuple[bytes, list[Diagnostic]]:
    """One feed's bytes as a build would write them now, and the diagnostics of reading the
    articles; neither output/ nor the state change. KeyError for an unknown feed."""
    store.begin()
    try:
        run = _Run(config, store, now, None, full=False, reread=False)
        try:
            result = run.execute()
        finally:
            run.close(failed=False)
        known = run.feed_names()
        if feed not in known:
            raise KeyError(feed)
        return run.render_feed(feed, known[feed], fmt), result.diagnostics
    finally:
        store.rollback()


def site_identity(
    config: Config, store: Store, now: datetime
) -> tuple[datetime, str, list[Diagnostic]]:
    """When the state was created, and the id prefix: set once, stored, never derived again."""
    notes: list[Diagnostic] = []
    stored_created = store.get_meta("created")
    if stored_created is None:
        created = from_epoch(to_epoch(now))
        store.set_meta("created", str(to_epoch(created)))
    else:
        created = from_epoch(int(stored_created))
    stored = store.get_meta("id_prefix")
    configured = config.site.id_prefix
    if configured is not None:
        if stored is not None and stored != configured:
            notes.append(Diagnostic(
                "warning", str(config.path),
                f"site.id_prefix changed from {stored!r} to {configured!r}: every entry id "
                "changes and subscribers will see every entry again",
            ))
        prefix = configured
    elif stored is not None:
        prefix = stored
    else:
        host = urlsplit(config.site.base_url).hostname or "localhost"
        prefix = f"tag:{host},{created.year}:"
    store.set_meta("id_prefix", prefix)
    return created, prefix, notes


# --- reading and rendering, in worker processes for large builds --------------------------


class Prepared(NamedTuple):
    """One article file read and rendered as if new, in plain values: workers send one per
    article, and dataclasses (Article, Entry, their parts) cost ~100 µs an article to pickle
    and unpickle. `problem` says why it cannot be published; then the rest is empty."""

    problem: str | None
    notes: tuple[tuple[str, str, str], ...] = ()  # Diagnostic fields
    key: str = ""
    draft: bool = False
    date: int | None = None  # the header's `date` and `updated`, in epoch seconds
    updated: int | None = None
    digest: str = ""
    times: entries.Times = entries.Times(0, 0, 0)  # the times it was rendered with
    section: tuple[str, str] = ("", "")  # slug, name
    tags: tuple[tuple[str, str], ...] = ()  # slug, name
    page: str | None = None  # its page's path in output/
    data: str = ""  # the entry as the state stores it
    page_bytes: bytes | None = None  # the page, when rendered in this process
    # In worker processes the page is written where it goes as a staged temp file (or found
    # already there: `current`): page bytes would otherwise go through the main process.
    staged: str | None = None
    current: bool = False

    def feed_keys(self) -> tuple[str, ...]:
        return ("all", f"section:{self.section[0]}", *(f"tag:{slug}" for slug, _ in self.tags))


@dataclass(frozen=True, slots=True)
class Renderer:
    """What turns an article file into its entry, state row and page: picklable, so that
    worker processes do that work and the main process only reconciles and stores."""

    rules: article_reader.Rules
    entry_site: entries.Site
    page_site: pages.PageSite
    site_title: str
    site_description: str
    language: str
    base_url: str
    id_prefix: str
    created: datetime
    hub: str
    now: datetime
    pages: bool  # False when nothing is written (check, export): pages would be thrown away

    def feed_info(self, key: str, name: str, items: Iterable[Entry]) -> FeedInfo:
        kind = key.partition(":")[0]
        title = {
            "all": self.site_title,
            "section": f"{self.site_title} — {name}",
            "tag": f"{self.site_title} — #{name}",
        }[kind]
        updates = [e.updated for e in items]
        return FeedInfo(
            key=key,
            folder=folder_of(key),
            title=title,
            description=self.site_description or title,
            language=self.language,
            feed_id=f"{self.id_prefix}feed/{folder_of(key) or 'all/'}".rstrip("/"),
            base_url=self.base_url,
            updated=max(updates, default=self.created),
            hub=self.hub,
        )

    def feed(self, info: FeedInfo, items: list[Entry], fmt: FeedFormat) -> bytes:
        from feeds import builder  # feedgen and lxml load only to render

        if fmt == "rss":
            return builder.rss(info, items)
        if fmt == "atom":
            return builder.atom(info, items)
        return jsonfeed.json_feed(info, items, about=f"{self.base_url}#json-source")

    def feed_files(self, info: FeedInfo, items: list[Entry]) -> list[tuple[str, bytes]]:
        """One feed's files: its three formats, and its listing page (but for `all`, whose
        listing is the site's index)."""
        files = [(info.folder + name, self.feed(info, items, fmt))
                 for fmt, name in FEED_FILES.items()]
        if info.key != "all":
            files.append((info.folder + "index.html",
                          pages.listing_page(self.page_site, info, items)))
        return files

    def page(self, entry: Entry) -> bytes:
        section_feed = self.feed_info(f"section:{entry.section.slug}", entry.section.name, ())
        return pages.article_page(self.page_site, entry, section_feed)

    def prepare(self, where: str, data: bytes, mtime: int) -> Prepared:
        """Parse, hash and render as if the article were new (times from its header or its
        file time): the main process keeps this work when the state agrees, and redoes only
        the time-dependent part when it does not (an edit, a first-seen second taken)."""
        article, notes = article_reader.parse(where, data, self.rules)
        digest = entries.content_hash(article)
        first_seen = min(mtime, to_epoch(self.now))
        date = None if article.date is None else to_epoch(article.date)
        updated = None if article.updated is None else to_epoch(article.updated)
        times = entries.reconcile_times(None, date, updated, digest, first_seen, self.now)
        entry = entries.build_entry(article, times, self.entry_site)
        page = None
        if self.pages and entry.page and not article.draft and entry.published <= self.now:
            page = self.page(entry)
        return Prepared(
            None, tuple((d.level, d.where, d.message) for d in notes), article.key,
            article.draft, date, updated, digest, times,
            (entry.section.slug, entry.section.name), tuple((t.slug, t.name) for t in entry.tags),
            entry.page, entry_to_json(entry), page,
        )


_worker_renderer: Renderer | None = None
_worker_output: str | None = None  # output/, when this process stages the pages itself


def _init_worker(renderer: Renderer, output_root: str | None = None) -> None:
    global _worker_renderer, _worker_output
    _worker_renderer = renderer
    _worker_output = output_root
    if output_root is not None:  # feedgen and lxml load now, not with the first feed
        from feeds import builder  # noqa: F401


def _prepare_one(job: tuple[str, str, str, int]) -> Prepared:
    root, label, path, mtime = job
    assert _worker_renderer is not None
    try:
        with open(os.path.join(root, path), "rb") as handle:  # noqa: PTH118, PTH123
            data = handle.read()
    except OSError as exc:
        return Prepared(f"cannot read: {exc.strerror or exc}")
    try:
        prepared = _worker_renderer.prepare(f"{label}/{path}", data, mtime)
    except ArticleError as exc:
        return Prepared(exc.message)
    if _worker_output is not None:
        # Not caught: a write error (disk full) fails the build, which is rolled back and
        # retried, as in one process; it is no fault of the article's.
        prepared = _stage_page(prepared, _worker_output)
    return prepared


@dataclass(frozen=True, slots=True)
class FeedDone:
    """One feed rendered and staged by a worker: what the main process adopts and lists."""

    key: str
    info: FeedInfo
    files: list[str]  # every file of the feed, changed or not
    staged: list[tuple[str, str]]  # (relative path, temp file) of those that changed
    head: tuple[Entry, ...]  # its newest entries, without content, for the site's index


def _render_feed(job: tuple[str, str, list[str]]) -> FeedDone:
    key, name, rows = job
    assert _worker_renderer is not None and _worker_output is not None
    items = [entry_from_json(row) for row in rows]
    info = _worker_renderer.feed_info(key, name, items)
    files = _worker_renderer.feed_files(info, items)
    staged = [pair for relative, data in files
              for pair in stage_changes(_worker_output, relative, data, precompress=True)]
    head = tuple(replace(e, content_html="") for e in items[:INDEX_ENTRIES])
    return FeedDone(key, info, [relative for relative, _ in files], staged, head)


def _stage_page(prepared: Prepared, output_root: str) -> Prepared:
    """Write the page as a staged temp file in output/; the main process adopts it at
    commit, or removes it."""
    if prepared.page_bytes is None or prepared.page is None:
        return prepared
    target = os.path.join(output_root, prepared.page)  # noqa: PTH118 (no Path per page)
    if holds(target, prepared.page_bytes):
        return prepared._replace(page_bytes=None, current=True)
    return prepared._replace(page_bytes=None, staged=stage_file(target, prepared.page_bytes))


def _merge(
    found: Iterable[seeds.SeedFile], rows: Iterable[FileRow]
) -> Iterator[tuple[seeds.SeedFile | None, FileRow | None]]:
    """Pair two path-sorted streams: (file, its row), (new file, None), (None, gone)."""
    row_iter = iter(rows)
    row = next(row_iter, None)
    for seed in found:
        path = seed[0]
        while row is not None and row[0] < path:
            yield None, row
            row = next(row_iter, None)
        if row is not None and row[0] == path:
            yield seed, row
            row = next(row_iter, None)
        else:
            yield seed, None
    while row is not None:
        yield None, row
        row = next(row_iter, None)


def _fold_notices(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One line per distinct notice ("unknown section 'Budaya'") however many files share it."""
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        if diagnostic.level != "notice":
            kept.append(diagnostic)
            continue
        counts[diagnostic.message] = counts.get(diagnostic.message, 0) + 1
        if diagnostic.message not in first:
            first[diagnostic.message] = len(kept)
            kept.append(diagnostic)
    for message, index in first.items():
        if counts[message] > 1:
            where = kept[index].where
            kept[index] = Diagnostic("notice", where,
                                     f"{message} (and in {counts[message] - 1} more file(s))")
    return kept


def changed_feed_urls(config: Config, changed: list[str]) -> list[str]:
    """The public URL of every feed whose bytes a build changed (not their .gz/.br)."""
    names = set(FEED_FILES.values())
    return sorted(config.site.base_url + path for path in changed
                  if path.rsplit("/", 1)[-1] in names)


def feed_key(slug: str) -> str:
    """`all`, a section slug, or `tags/<tag>` (the CLI's names) → the store's feed key."""
    if slug == "all":
        return "all"
    if slug.startswith("tags/"):
        return f"tag:{slug.removeprefix('tags/').strip('/')}"
    return f"section:{slug.strip('/')}"


def folder_of(key: str) -> str:
    kind, _, name = key.partition(":")
    return {"all": "", "section": f"{name}/", "tag": f"tags/{name}/"}[kind]


class _Run:
    """The working state of one build (not shared between builds or threads)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        now: datetime,
        output: Output | None,
        *,
        full: bool,
        reread: bool,
    ) -> None:
        self.config = config
        self.store = store
        self.now = now
        self.output = output
        self.site = config.site
        self.rules = article_reader.Rules.from_config(config)
        self.progress: Callable[[int, int], None] | None = None
        self.taken: set[int] = set()
        self.rendered: set[str] = set()  # pages written in a full build, not to write twice
        self.next_free: dict[int, int] = {}
        seeds_folder = config.paths.seeds
        self.seeds_label = (
            seeds_folder.relative_to(config.root).as_posix()
            if seeds_folder.is_relative_to(config.root)
            else str(seeds_folder)
        )
        self.result = BuildResult()
        self.pool: Pool | None = None
        self.dirty: set[str] = set()
        self.outputs_written: list[tuple[str, str]] = []
        self.outputs_removed: list[str] = []
        self.created, self.id_prefix, notes = site_identity(config, store, now)
        self.result.diagnostics.extend(notes)
        self.page_site = pages.PageSite(config.site.title, config.site.language, config.site.zone)
        self.renderer = Renderer(
            rules=self.rules,
            entry_site=entries.Site(config.site.base_url, self.id_prefix,
                                    config.site.author or config.site.title),
            page_site=self.page_site,
            site_title=config.site.title,
            site_description=config.site.description,
            language=config.site.language,
            base_url=config.site.base_url,
            id_prefix=self.id_prefix,
            created=self.created,
            hub=config.websub_hub,
            now=now,
            pages=output is not None,
        )
        fingerprint = self._fingerprint()
        index_missing = output is not None and not (config.paths.output / "index.html").exists()
        self.full = full or index_missing or store.get_meta("fingerprint") != fingerprint
        self.reread = reread or self.full
        store.set_meta("fingerprint", fingerprint)

    # --- setup -------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        """Everything outside the articles that changes rendered bytes."""
        c = self.config
        facts = [__version__, RENDER_VERSION, repr(c.site), self.id_prefix, repr(c.sections),
                 repr(c.outlets), c.websub_hub]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()

    # --- the build ---------------------------------------------------------------------

    def execute(self) -> BuildResult:
        self._mark(self.store.take_pending())  # what `feeds pull` stored since the last build
        self._reconcile_articles()
        last = self.store.get_meta("last_build")
        if last is not None:
            for entry in self.store.due_between(from_epoch(int(last)), self.now):
                self._mark(entry.feed_keys())
                self._write_page(entry)
        if self.full:
            for entry in self.store.live_entries(self.now, skip=self.rendered):
                self._write_page(entry)
        if self.output is not None:
            self._write_feeds()
            self.store.set_meta("last_build", str(to_epoch(self.now)))
        self.result.diagnostics = _fold_notices(self.result.diagnostics)
        self.result.published = self.store.count(self.now)
        self.result.next_due = self.store.next_due(self.now)
        return self.result

    def _reconcile_articles(self) -> None:
        """Merge the sorted scan of seeds/ with the sorted file records: one stat per file,
        nothing read or held in memory for files that did not change."""
        changed: list[tuple[seeds.SeedFile, FileRecord | None]] = []
        deleted: list[FileRecord] = []
        skipped: list[tuple[str, str]] = []
        found = seeds.scan(self.config.paths.seeds, skipped)
        for seed, row in _merge(found, self.store.iter_file_rows()):
            if seed is None:
                assert row is not None
                deleted.append(file_record(row))
            elif row is not None and not self.reread and row[:4] == seed:  # same stat facts
                if row[5] != "[]":
                    self.result.diagnostics.extend(file_record(row).diagnostics)
            else:
                changed.append((seed, None if row is None else file_record(row)))
        for name, reason in skipped:
            self.result.diagnostics.append(
                Diagnostic("error", f"{self.seeds_label}/{name}", reason))
        # Oldest first: the first claimant of an id keeps it, and first-seen times keep file order.
        changed.sort(key=lambda pair: (pair[0].mtime_ns, pair[0].path))
        claimed: dict[str, str] = {}  # key -> path, for the files read in this build
        for done, (seed, record, prepared) in enumerate(self._parse_all(changed), 1):
            if self.progress is not None and done % 500 == 0:
                self.progress(done, len(changed))
            self._accept(seed, record, prepared, claimed)
        for record in deleted:
            self.store.delete_file(record.path)
            if record.key is not None and record.key not in claimed:
                self._unpublish(record.key, f"seeds:{record.path}")

    def _parse_all(
        self, changed: list[tuple[seeds.SeedFile, FileRecord | None]]
    ) -> Iterator[tuple[seeds.SeedFile, FileRecord | None, Prepared]]:
        """Read and render the changed files, on every core when there are enough to pay."""
        root = str(self.config.paths.seeds)
        jobs = [(root, self.seeds_label, seed.path, seed.mtime_ns // 10**9)
                for seed, _ in changed]
        if len(jobs) < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
            _init_worker(self.renderer)
            results: Iterable[Prepared] = map(_prepare_one, jobs)
            for (seed, record), prepared in zip(changed, results, strict=True):
                yield seed, record, prepared
            return
        if self.output is not None:  # the workers stage the pages in it: sweep it first
            self.output.open_folder(entries.PAGES_FOLDER)
        pool = self._workers()
        # In batches: imap runs ahead of its consumer without bound, and 100,000 parsed
        # articles waiting in the queue cost ~300 MB.
        for start in range(0, len(jobs), PARALLEL_BATCH):
            batch = jobs[start : start + PARALLEL_BATCH]
            results = pool.imap(_prepare_one, batch, chunksize=32)
            for (seed, record), prepared in zip(
                changed[start : start + PARALLEL_BATCH], results, strict=True
            ):
                yield seed, record, prepared

    def _workers(self) -> Pool:
        """The build's worker processes, started on first use; they stage what they write
        in output/ themselves."""
        if self.pool is None:
            output_root = None if self.output is None else str(self.output.root)
            context = multiprocessing.get_context("forkserver")  # no fork() of a threaded daemon
            self.pool = context.Pool(os.cpu_count(), initializer=_init_worker,
                                     initargs=(self.renderer, output_root))
        return self.pool

    def close(self, *, failed: bool) -> None:
        if self.pool is not None:
            if failed:
                self.pool.terminate()
            else:
                self.pool.close()
            self.pool.join()
            self.pool = None

    def _accept(
        self,
        seed: seeds.SeedFile,
        record: FileRecord | None,
        prepared: Prepared,
        claimed: dict[str, str],
    ) -> None:
        self.result.articles_read += 1
        where = f"{self.seeds_label}/{seed.path}"
        owned = record.key if record is not None else None
        problem, key = prepared.problem, prepared.key
        previous = None
        if problem is None:
            other, previous = self._owner(key, seed.path, claimed)
            if other is not None:
                problem = f"id {key!r} is already used by seeds/{other}; rename one file"
        if problem is not None:
            self._drop(prepared.staged)
            diagnostic = Diagnostic("error", where, problem)
            self.result.diagnostics.append(diagnostic)
            if owned is not None:
                claimed.setdefault(owned, seed.path)  # its last good version stays published
            if "already used by" not in problem:
                self.store.put_file(
                    FileRecord(seed.path, seed.size, seed.mtime_ns, seed.inode, owned,
                               (diagnostic,))
                )
            return
        notes = tuple(Diagnostic(*note) for note in prepared.notes)  # type: ignore[arg-type]
        self.result.diagnostics.extend(notes)
        claimed[key] = seed.path
        if owned is not None and owned != key:
            self._unpublish(owned, f"seeds:{seed.path}")  # the header id changed
        self.store.put_file(
            FileRecord(seed.path, seed.size, seed.mtime_ns, seed.inode, key, notes)
        )
        self._publish(seed, prepared, previous)

    def _owner(
        self, key: str, path: str, claimed: dict[str, str]
    ) -> tuple[str | None, EntryRecord | None]:
        """The other file that already owns `key`, if any (the first claimant keeps it), and
        the state's record of the entry (looked up once per article)."""
        if claimed.get(key, path) != path:
            return claimed[key], None
        previous = self.store.entry_record(key)
        if previous is None or not previous.origin.startswith("seeds:"):
            return None, previous
        other = previous.origin.removeprefix("seeds:")
        if other == path or not (self.config.paths.seeds / other).is_file():
            return None, previous
        record = self.store.file(other)
        return (other if record is not None and record.key == key else None), previous

    def _publish(
        self, seed: seeds.SeedFile, prepared: Prepared, previous: EntryRecord | None
    ) -> None:
        digest = prepared.digest
        # First seen: the file's mtime, but never in the future (a skewed clock must not hold
        # an article back).
        first_seen = min(seed.mtime_ns // 10**9, to_epoch(self.now))
        if previous is None and prepared.date is None:
            first_seen = self._unique_second(first_seen)
        times = entries.reconcile_times(previous, prepared.date, prepared.updated, digest,
                                        first_seen, self.now)
        entry: Entry | None = None  # decoded only when the times it was rendered with changed
        data, staged, current = prepared.data, prepared.staged, prepared.current
        if times != prepared.times:
            entry = replace(entry_from_json(data), published=from_epoch(times.published),
                            updated=from_epoch(times.updated))
            data = entry_to_json(entry)
            self._drop(staged)
            staged, current = None, False
        live = not prepared.draft
        origin = f"seeds:{seed.path}"
        unchanged = (
            previous is not None
            and previous.hash == digest
            and previous.live == live
            and previous.origin == origin
            and not self.full
        )
        self.store.put_entry_data(
            prepared.key, origin=origin, hash=digest, times=times, live=live,
            section=prepared.section, tags=prepared.tags, data=data, new=previous is None,
        )
        if unchanged:
            self._drop(staged)
            return
        self._mark(prepared.feed_keys())
        if previous is not None:
            self._mark_record(previous)
        if prepared.page is None or self.output is None:
            return
        if not live or times.published > to_epoch(self.now):
            self._drop(staged)
            self._remove(prepared.page)
        elif entry is not None:
            self._write_page(entry)
        elif staged is not None or current:
            self._adopt_page(prepared.key, prepared.page, staged)
        else:  # same times and clock as where it was read, so its page was rendered there
            assert prepared.page_bytes is not None
            self._put_page(prepared.key, prepared.page, prepared.page_bytes)

    def _unique_second(self, second: int) -> int:
        """A first-seen second no other entry has: files copied in one burst share an mtime
        second, and entries with equal times read as duplicates (the W3C validator warns on
        equal atom:updated). The first file of a burst keeps its mtime second; each next one
        takes the nearest free second before it (never after: a future time would hold the
        article back). Beyond MAX_SHIFT seconds, equal times are kept."""
        candidate = min(second, self.next_free.get(second, second))
        while candidate in self.taken or self.store.published_at(candidate):
            candidate -= 1
            if second - candidate > MAX_SHIFT:
                return second
        self.taken.add(candidate)
        self.next_free[second] = candidate - 1
        return candidate

    def _unpublish(self, key: str, origin: str) -> None:
        previous = self.store.entry_record(key)
        if previous is None or previous.origin != origin:
            return
        self.store.set_live(key, False)
        self._mark_record(previous)
        self._remove(entries.page_path(key))

    def _mark(self, keys: Iterable[str]) -> None:
        self.dirty.update(keys)

    def _mark_record(self, record: EntryRecord) -> None:
        self._mark(["all", f"section:{record.section}", *(f"tag:{t}" for t in record.tags)])

    # --- writing -------------------------------------------------------------------------

    def _put(self, path: str, data: bytes, feed: str) -> None:
        if self.output is None:
            return
        # Feeds and listings are polled all day: precompress them once, here. Article pages
        # are read once each; compressing 100,000 of them per cold build would not pay.
        self.output.put(path, data, precompress=feed != "page")
        if feed != "page":  # pages are removed by entry, not swept: don't list 100,000 of them
            self.outputs_written.append((path, feed))

    def _remove(self, path: str) -> None:
        if self.output is not None and self.output.remove(path):
            self.outputs_removed.append(path)

    def _adopt_page(self, key: str, page: str, staged: str | None) -> None:
        """A page a worker staged (or found already current): nothing left to render."""
        assert self.output is not None
        if self.full:
            self.rendered.add(key)
        if staged is not None:
            self.output.adopt(page, staged)

    def _put_page(self, key: str, page: str, data: bytes) -> None:
        if self.full:
            self.rendered.add(key)
        self._put(page, data, "page")

    @staticmethod
    def _drop(staged: str | None) -> None:
        if staged is not None:
            Path(staged).unlink(missing_ok=True)

    def _write_page(self, entry: Entry) -> None:
        if entry.page is not None and self.output is not None:
            self._put_page(entry.key, entry.page, self.renderer.page(entry))

    def feed_names(self) -> dict[str, str]:
        """Every feed that exists now: key → display name."""
        names = {"all": self.site.title}
        for section in self.config.sections:
            names[f"section:{section.slug}"] = section.name
        for slug, name in sorted(self.store.sections(self.now).items()):
            names.setdefault(f"section:{slug}", name)
        for slug, name in sorted(self.store.tags(self.now).items()):
            names[f"tag:{slug}"] = name
        return names

    def feed_info(self, key: str, name: str, items: Iterable[Entry]) -> FeedInfo:
        return self.renderer.feed_info(key, name, items)

    def render_feed(self, key: str, name: str, fmt: FeedFormat) -> bytes:
        items = self.store.latest(key, self.now, self.site.items_per_feed)
        return self.renderer.feed(self.feed_info(key, name, items), items, fmt)

    def _write_feeds(self) -> None:
        if not self.dirty and not self.full:
            return  # no entry changed and none fell due: no feed, listing or index can change
        names = self.feed_names()
        previous = self.store.outputs()
        feeds_before = {feed for feed in previous.values() if feed not in ("page", "site")}
        gone = feeds_before - set(names)
        for path, feed in previous.items():
            if feed in gone:
                self._remove(path)
        todo = set(names) if self.full else (self.dirty & set(names)) | (set(names) - feeds_before)
        if not todo and not gone:
            return
        infos: dict[str, tuple[FeedInfo, list[Entry]]] = {}
        limit = self.site.items_per_feed
        # Render, compress and stage feeds on every core (~30 ms each, hundreds with tags),
        # each sent as soon as its rows are read; the main process adopts the staged files.
        pool = self._workers() if self.pool is not None or len(todo) >= PARALLEL_FEEDS else None
        sent: list[AsyncResult[FeedDone]] = []
        for key in sorted(names):
            if key not in todo and key.startswith("tag:"):
                continue  # the index lists tags by name only: no query needed
            if key in todo and pool is not None and self.output is not None:
                self.output.open_folder(folder_of(key))  # swept before a worker stages in it
                job = (key, names[key], self.store.latest_rows(key, self.now, limit))
                sent.append(pool.apply_async(_render_feed, (job,)))
                continue
            items = self.store.latest(key, self.now, limit)
            info = self.feed_info(key, names[key], items)
            infos[key] = (info, items)
            if key in todo:
                for relative, data in self.renderer.feed_files(info, items):
                    self._put(relative, data, key)
        for result in sent:
            self._adopt_feed(result.get(), infos)
        self._write_site(names, infos)

    def _adopt_feed(self, done: FeedDone, infos: dict[str, tuple[FeedInfo, list[Entry]]]) -> None:
        assert self.output is not None
        infos[done.key] = (done.info, list(done.head))
        self.outputs_written.extend((relative, done.key) for relative in done.files)
        for relative, temp in done.staged:
            self.output.adopt(relative, temp)

    def _write_site(
        self, names: dict[str, str], infos: dict[str, tuple[FeedInfo, list[Entry]]]
    ) -> None:
        all_info = infos["all"][0]
        sections = [
            (info, items[:INDEX_ENTRIES])
            for key, (info, items) in infos.items()
            if key.startswith("section:")
        ]
        tags = [
            infos[key][0] if key in infos else self.feed_info(key, names[key], ())
            for key in names
            if key.startswith("tag:")
        ]
        order = {s.slug: i for i, s in enumerate(self.config.sections)}
        sections.sort(key=lambda pair: (order.get(pair[0].folder.strip("/"), len(order)),
                                        pair[0].title))
        tags.sort(key=lambda info: info.folder)
        self._put("index.html", pages.index_page(self.page_site, all_info, sections, tags), "site")
        feeds = [all_info, *(info for info, _ in sections), *tags]
        self._put("feeds.opml", pages.opml(self.page_site, feeds), "site")

