"""One article rendered as it would be published, a draft or an embargoed one too (from its
bytes and file time: the caller reads the file and writes the page)."""

from __future__ import annotations

from dataclasses import dataclass

from feeds import entries
from feeds.codec import to_epoch
from feeds.errors import ArticleError
from feeds.model import Diagnostic
from feeds.publish.report import Status
from feeds.publish.workers import Renderer
from feeds.sources import article as article_reader


@dataclass(frozen=True, slots=True)
class Preview:
    status: Status  # what a build would do with it: published, held, draft or error
    title: str
    held_until: int | None  # epoch seconds, when held
    page: bytes | None  # None when the article cannot be read
    diagnostics: tuple[Diagnostic, ...]


def render(renderer: Renderer, where: str, data: bytes, mtime: int, up: str) -> Preview:
    """The article's page with links to the site at `up` (its URL: the page is opened as a
    file), times as a first build would give them."""
    try:
        article, notes = article_reader.parse(where, data, renderer.rules)
    except ArticleError as exc:
        return Preview("error", "", None, None, (Diagnostic("error", where, exc.message),))
    now = to_epoch(renderer.now)
    date = None if article.date is None else to_epoch(article.date)
    updated = None if article.updated is None else to_epoch(article.updated)
    times = entries.reconcile_times(None, date, updated, entries.content_hash(article),
                                    min(mtime, now), now)
    entry = entries.build_entry(article, times, renderer.entry_site)
    status: Status = ("draft" if article.draft else "held" if times.published > now
                      else "published")
    return Preview(status, article.title, times.published if status == "held" else None,
                   renderer.style.page(entry, up), tuple(notes))
