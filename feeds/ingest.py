"""Store what a pull fetched: a feed's items as entries, each once (identity, dedupe across
sources), with their times, and the pages of those without a link of their own.

Runs inside the caller's unit of work; the rules of identity and of what
names an article are pure (`feeds.republish`), the time rules too
(`feeds.entries.upstream_times`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds import lang
from feeds.codec import from_epoch, to_epoch
from feeds.config import Config, UpstreamConfig
from feeds.entries import upstream_times
from feeds.model import Attribution, Entry, FeedKey, Section, UpstreamFeed
from feeds.publish.decide import Seconds
from feeds.republish import (
    Candidate,
    Republisher,
    article_link,
    candidates,
    canonical_homes,
    matches,
)
from feeds.sanitize import text_only
from feeds.site import identity
from feeds.sources.upstream import ParsedFeed, UpstreamItem
from feeds.store import EntryRecord, EntryRow, Store


def store_items(
    config: Config, store: Store, source: UpstreamConfig, parsed: ParsedFeed, now: datetime,
    fetch_url: str, seconds: Seconds,
) -> int:
    """Store the items of one fetched feed; the number of new entries."""
    republisher = _republisher(config, store, source, parsed, now)
    homes = canonical_homes(home for home in (parsed.home, source.url, fetch_url) if home)
    texts = {}  # each item's text, made once: the filters and the language check read it
    if source.include or source.exclude or not parsed.language:
        texts = {id(item): _text_of(item) for item in parsed.items}
    items = [item for item in parsed.items if _wanted(source, texts.get(id(item), ""))]
    found = candidates(source.name, items)
    links = [article_link(item.link, homes) for item in items]
    known = _Known(store, [k for c in found for k in (c.key, c.distinct) if k is not None],
                   [link for link in links if link is not None])
    seen: set[str] = set()
    marks = _Marks()
    new = 0
    for item, candidate, canonical in zip(items, found, links, strict=True):
        language = parsed.language or lang.recognize(
            texts[id(item)], config.site.languages, config.site.language)
        entry, digest = republisher.entry(item, candidate.key, language)
        key = _identity(known, candidate, digest)
        if key in seen:
            continue  # the same item twice in one feed: the first stands
        seen.add(key)
        if key != candidate.key:
            entry, digest = republisher.entry(item, key, language)
        holder = None if canonical is None else known.holder(canonical)
        if holder is not None and holder != key:
            if not holder.startswith(f"upstream/{source.name}/"):
                continue  # the same article from another source: published once
            canonical = None  # another item of this source about that article: its own entry
        new += _store_entry(store, known, entry, digest, item, canonical, now, seconds, marks,
                            origin=source.name)
    # Marked once per feed, not once per entry: on PostgreSQL each is a round trip.
    if marks.feeds:
        store.add_pending(marks.feeds)
    if marks.pages:
        store.add_pending_pages(marks.pages)
    return new


class _Known:
    """What the state held of one feed's items before they are stored, asked in two queries
    instead of two per item (each a round trip on PostgreSQL). What this pull writes is asked
    of the store again, so an item sees the ones stored before it, as it always did."""

    def __init__(self, store: Store, keys: list[str], links: list[str]) -> None:
        self.store = store
        self.keys, self.links = set(keys), set(links)
        self.records = store.entry_records(self.keys)
        self.holders = store.keys_with_canonicals(self.links)

    def record(self, key: str) -> EntryRecord | None:
        if key in self.keys:
            return self.records.get(key)
        return self.store.entry_record(key)

    def holder(self, link: str) -> str | None:
        if link in self.links:
            return self.holders.get(link)
        return self.store.key_with_canonical(link)

    def wrote(self, key: str, link: str | None) -> None:
        self.keys.discard(key)
        if link is not None:
            self.links.discard(link)


@dataclass(slots=True)
class _Marks:
    """The feeds and pages the stored entries of one source changed."""

    feeds: set[FeedKey] = field(default_factory=set)
    pages: list[str] = field(default_factory=list)


def _wanted(source: UpstreamConfig, text: str) -> bool:
    if source.include and not matches(source.include, text):
        return False
    return not (source.exclude and matches(source.exclude, text))


def _text_of(item: UpstreamItem) -> str:
    return f"{item.title} {text_only(item.summary_html)} {text_only(item.content_html or '')}"


def _identity(known: _Known, candidate: Candidate, digest: str) -> str:
    """The old rule's key, unless items collide on it: then only the one the state holds
    under it keeps it, and the others take the key their title and date give them."""
    if candidate.distinct is None:
        return candidate.key
    previous = known.record(candidate.key)
    if previous is not None and previous.hash == digest:
        return candidate.key
    return candidate.distinct


def _store_entry(store: Store, known: _Known, entry: Entry, digest: str, item: UpstreamItem,
                 canonical: str | None, now: datetime, seconds: Seconds, marks: _Marks, *,
                 origin: str) -> int:
    """Store one entry unless the state holds it already; 1 when it is new."""
    previous = known.record(entry.key)
    dated = item.published or item.updated
    published = None if dated is None else to_epoch(dated)
    if published is None and previous is None:  # first seen now, at a second of its own
        published = seconds.unique(to_epoch(now))
    times = upstream_times(previous, published,
                           None if item.updated is None else to_epoch(item.updated),
                           digest, to_epoch(now))
    entry = replace(entry, published=from_epoch(times.published),
                    updated=from_epoch(times.updated))
    row = EntryRow.of(entry, origin=f"upstream:{origin}", hash=digest,
                      first_seen=times.first_seen, live=True, canonical=canonical)
    if (previous is not None and previous.hash == digest and previous.updated == times.updated
            and store.entry_data(entry.key) == row.data):
        return 0  # as stored: a rendering that changed (a repaired link) is stored again,
    # with its times kept unless its content changed; `new`: no tag rows to replace (keys
    # are the source's own, and a source is stored by one process at a time)
    stored = store.put_entry(row, new=previous is None)
    known.wrote(entry.key, canonical)
    if not stored:
        return 0  # another source's entry took the article meanwhile (another daemon's)
    marks.feeds.update(entry.feed_keys())
    if entry.page is not None:
        marks.pages.append(entry.key)
    return previous is None


def _republisher(config: Config, store: Store, source: UpstreamConfig, parsed: ParsedFeed,
                 now: datetime) -> Republisher:
    section_name = next(s.name for s in config.sections if s.slug == source.section)
    outlet = next((o for o in config.outlets if o.name == source.outlet), None)
    attribution = Attribution(
        name=source.outlet,
        url=(outlet.url if outlet and outlet.url else parsed.home),
        feed_url=source.url,
    )
    # Atom requires <source><updated>: an RSS channel without a date gets its newest item's.
    dates = [d for i in parsed.items for d in (i.updated or i.published,) if d is not None]
    newest = max(dates, default=None)
    upstream = UpstreamFeed(id=parsed.id, title=parsed.title, url=source.url, home=parsed.home,
                            updated=min(parsed.updated or newest or now, now))
    return Republisher(
        source=source.name, section=Section(source.section, section_name),
        attribution=attribution, upstream=upstream,
        id_prefix=identity(config, store, now).id_prefix, base_url=config.site.base_url,
        full=source.content == "full",
    )
