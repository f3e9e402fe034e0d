"""One build: reconcile seeds/ with the state, render what changed, commit output, then state.

    build(config, store, now, output=…)
      ├─ with store.transaction():           the state's unit of work
      ├─   identity, fingerprint             site facts kept in the state
      ├─   ArticlePass.run                   articles: scan, read, decide, store   (articles.py)
      ├─   pages of entries that fell due    held-back articles whose time has come
      ├─   FeedSet.write                     the feeds that changed, the index, OPML (feedset.py)
      └─   Books.commit                      the output, then the state commits

Outputs are committed first, then the state, so a crash in between makes
the next build redo the work (it converges) instead of believing it
published what it did not. Reading and rendering run on worker processes
when there are many changed files or feeds (workers.py); the rules of
publishing are pure functions (decide.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds import __version__, entries, pages
from feeds.codec import from_epoch, to_epoch
from feeds.config import Config
from feeds.errors import SafetyStop, UnknownFeed
from feeds.model import Diagnostic, FeedFormat, FeedKey, Section, Tag
from feeds.output import Output
from feeds.publish.articles import ArticlePass, Tally
from feeds.publish.books import Books
from feeds.publish.feedset import FEED_FILES, FeedSet, FeedStyle
from feeds.publish.preview import Preview
from feeds.publish.preview import render as render_preview
from feeds.publish.report import Change
from feeds.publish.status import ArticleState, article_states
from feeds.publish.workers import Parallelism, Renderer, Workers
from feeds.site import identity
from feeds.sources import article as article_reader
from feeds.sources import seeds
from feeds.store import Store

__all__ = [
    "FEED_FILES",
    "ArticleState",
    "BuildResult",
    "Parallelism",
    "Preview",
    "build",
    "changed_feed_urls",
    "check",
    "export",
    "preview",
    "seeds_label",
    "statuses",
]

RENDER_VERSION = "3"  # bump when rendering changes, so the next build re-renders everything
AUTO = Parallelism()  # workers from 2,000 changed articles or 32 feeds


@dataclass
class BuildResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    articles_read: int = 0
    published: int = 0
    next_due: datetime | None = None
    changes: list[Change] = field(default_factory=list)  # articles whose status changed
    repeated: list[Diagnostic] = field(default_factory=list)  # of files that did not change

    @property
    def errors(self) -> int:
        return sum(d.level == "error" for d in self.diagnostics)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one build needs, prepared before it reads anything."""

    renderer: Renderer
    feeds: FeedSet
    full: bool
    notes: tuple[Diagnostic, ...]


def build(
    config: Config,
    store: Store,
    now: datetime,
    *,
    output: Output | None,
    full: bool = False,
    reread: bool = False,
    progress: Callable[[int, int], None] | None = None,
    parallel: Parallelism = AUTO,
    allow_unpublish: bool = False,
    fence: Callable[[], None] | None = None,
) -> BuildResult:
    """One build; with `output=None` (`feeds check`) nothing is written and the state is left
    as it was. SafetyStop (nothing written) when it would unpublish more than
    `[safety] max_unpublish` allows, unless `allow_unpublish`. `fence`, when given, raises
    unless this process may still write (a daemon's build lease): it is asked before the
    output is committed, and by the output as it commits."""
    if output is None:
        with store.scratch():
            return _run(config, store, now, None, full, reread, progress, parallel)[0]
    try:
        with store.transaction():
            result, books, _ = _run(config, store, now, output, full, reread, progress,
                                    parallel, allow_unpublish)
            if fence is not None:
                fence()
            result.changed = books.commit(fence)
            store.set_meta("last_success", str(to_epoch(now)))
        return result
    except BaseException:
        output.discard()
        raise


def _run(
    config: Config, store: Store, now: datetime, output: Output | None, full: bool,
    reread: bool, progress: Callable[[int, int], None] | None, parallel: Parallelism,
    allow_unpublish: bool = True,
) -> tuple[BuildResult, Books, _Plan]:
    seeds.check_folder(config.paths.seeds)
    plan = _plan(config, store, now, output, full=full)
    result = BuildResult(diagnostics=list(plan.notes))
    books = Books(output, store, full=plan.full)
    with Workers(plan.renderer, output, parallel) as workers:
        articles = ArticlePass(
            store, now, plan.renderer, books, config.paths.seeds, seeds_label(config),
            full=plan.full, reread=reread or plan.full, progress=progress,
        )
        tally = articles.run(workers)
        if not allow_unpublish:
            _guard(config, store, now, tally)
        dirty = tally.dirty | store.take_pending()  # and what `feeds pull` stored
        last = store.get_meta("last_build")
        if last is not None:  # held-back articles whose time has come
            for entry in store.due_between(from_epoch(int(last)), now):
                dirty.update(entry.feed_keys())
                if entry.page is not None and output is not None:
                    books.put_page(entry.key, entry.page, plan.renderer.style.page(entry))
        upstream_pages = store.take_pending_pages()
        if plan.full and output is not None:
            for entry in store.live_entries(now, skip=books.rendered):
                if entry.page is None:
                    continue
                if entry.upstream is not None:  # shown while in a feed (`write_upstream_pages`)
                    upstream_pages.add(entry.key)
                else:
                    books.put_page(entry.key, entry.page, plan.renderer.style.page(entry))
        if output is not None:
            plan.feeds.write(books, workers, dirty, full=plan.full)
            plan.feeds.write_upstream_pages(books, upstream_pages, recheck=bool(dirty))
            store.set_meta("last_build", str(to_epoch(now)))
    result.diagnostics.extend(tally.diagnostics)
    result.diagnostics = _fold_notices(result.diagnostics)
    result.changes, result.repeated = tally.changes, tally.repeated
    result.articles_read = tally.read
    result.published = store.count(now)
    result.next_due = store.next_due(now)
    return result, books, plan


def _plan(config: Config, store: Store, now: datetime, output: Output | None, *,
          full: bool) -> _Plan:
    site = identity(config, store, now)
    style = FeedStyle(
        page_site=pages.PageSite(config.site.title, config.site.language, config.site.zone),
        title=config.site.title, description=config.site.description,
        language=config.site.language, base_url=config.site.base_url,
        id_prefix=site.id_prefix, created=site.created, hub=config.websub_hub,
    )
    renderer = Renderer(
        rules=article_reader.Rules.from_config(config),
        entry_site=entries.EntrySite(config.site.base_url, site.id_prefix,
                                     config.site.author or config.site.title),
        style=style, now=now, pages=output is not None,
    )
    fingerprint = _fingerprint(config, site.id_prefix)
    index_missing = output is not None and not output.exists("index.html")
    full = full or index_missing or store.get_meta("fingerprint") != fingerprint
    store.set_meta("fingerprint", fingerprint)
    return _Plan(renderer, FeedSet(config, store, now, style), full, site.notes)


def check(config: Config, store: Store, now: datetime, *, reread: bool = True
          ) -> tuple[BuildResult, list[ArticleState]]:
    """`feeds check`: read every article as a build would, and every article's status after
    it (drafts, held, errors); nothing is written and the state is left as it was. Without
    `reread`, files unchanged since the last build are not read again: their diagnostics
    come back as `repeated` (`check -q` says only what is new)."""
    with store.scratch():
        result, _, _plan = _run(config, store, now, None, False, reread, None, AUTO)
        site = identity(config, store, now)
        return result, article_states(store, now, seeds_label(config), site.id_prefix)


def preview(config: Config, store: Store, now: datetime, where: str, data: bytes, mtime: int
            ) -> Preview:
    """`feeds preview`: one article's page as it would be published, with links to the site's
    URL (the page is opened as a file); the state is only read, in a scratch transaction."""
    with store.scratch():
        plan = _plan(config, store, now, None, full=False)
        rules = plan.renderer.rules.with_live(
            (Section(slug, name) for slug, name in store.sections(now).items()),
            (Tag(slug, name) for slug, name in store.tags(now).items()))
        renderer = replace(plan.renderer, rules=rules)
        return render_preview(renderer, where, data, mtime, config.site.base_url)


def statuses(config: Config, store: Store, now: datetime) -> list[ArticleState]:
    """`feeds status`: every article's status as the state holds it (read-only)."""
    with store.snapshot():
        prefix = config.site.id_prefix or store.get_meta("id_prefix") or ""
        return article_states(store, now, seeds_label(config), prefix)


def export(
    config: Config, store: Store, now: datetime, feed: FeedKey, fmt: FeedFormat
) -> tuple[bytes, list[Diagnostic]]:
    """One feed's bytes as a build would write them now, and the diagnostics of reading the
    articles; neither the output nor the state change. UnknownFeed for a feed that does not
    exist."""
    with store.scratch():
        result, _, plan = _run(config, store, now, None, False, False, None, AUTO)
        feeds = plan.feeds
        names = feeds.names()
        if feed not in names:
            raise UnknownFeed("--feed", f"no feed {feed.folder.rstrip('/') or 'all'!r} (a "
                              "section slug, 'all' or 'tags/<tag>')")
        return feeds.render(feed, names[feed], fmt), result.diagnostics


def changed_feed_urls(config: Config, changed: list[str]) -> list[str]:
    """The public URL of every feed whose bytes a build changed (not their .gz/.br)."""
    names = set(FEED_FILES.values())
    return sorted(config.site.base_url + path for path in changed
                  if path.rsplit("/", 1)[-1] in names)


def seeds_label(config: Config) -> str:
    """How messages name the seeds folder: relative to the project when inside it."""
    folder = config.paths.seeds
    if folder.is_relative_to(config.root):
        return folder.relative_to(config.root).as_posix()
    return str(folder)


def _fingerprint(config: Config, id_prefix: str) -> str:
    """Everything outside the articles that changes rendered bytes."""
    c = config
    facts = [__version__, RENDER_VERSION, repr(c.site), id_prefix, repr(c.sections),
             repr(c.outlets), c.websub_hub]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def _guard(config: Config, store: Store, now: datetime, tally: Tally) -> None:
    """Stop a build that would take down too much of the site at once (a missing mount, a
    wrong `seeds` path, a bulk edit gone wrong), as rsync's --max-delete does."""
    going = sum(tally.going.values())
    if going <= config.safety.always_allowed:
        return  # the common case costs no count of the archive
    shown_before = store.count(now, local=True) + going - tally.appeared
    if not config.safety.stops(going, shown_before):
        return
    why = ", ".join(f"{count} {reason}" for reason, count in tally.going.most_common())
    raise SafetyStop(
        seeds_label(config),
        f"this build would unpublish {going} of the {shown_before} published articles "
        f"({why}), more than [safety] max_unpublish = {config.safety.max_unpublish!r} allows: "
        "nothing was written. If that is what you want, run `feeds build --allow-unpublish` "
        "once (or raise max_unpublish)",
    )


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
