"""Pull upstream sources into the state: due → fetch → parse → filter → normalize → store.

Already-published entries are never removed here: a source that fails, or
that drops an item from its feed, leaves what was published in place until
it ages out of `items_per_feed`. Each source's health and next due time are
stored, so a restart does not re-poll everything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from feeds import lang
from feeds.codec import from_epoch, to_epoch
from feeds.config import Config, UpstreamConfig
from feeds.entries import upstream_times
from feeds.errors import UpstreamError
from feeds.model import Attribution, Diagnostic, Entry, Section, UpstreamFeed
from feeds.publish.decide import Seconds
from feeds.republish import (
    Candidate,
    Republisher,
    article_link,
    candidates,
    matches,
)
from feeds.sanitize import text_only
from feeds.site import identity
from feeds.sources import fetch as fetcher
from feeds.sources.upstream import ParsedFeed, UpstreamItem, parse_feed
from feeds.store import EntryRow, SourceState, Store

if TYPE_CHECKING:
    import httpx

MAX_BACKOFF = 86400  # a day
JITTER = 0.1


@dataclass
class PullResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    new_entries: int = 0


# --- pure scheduling ---------------------------------------------------------------------


def due(state: SourceState | None, now: datetime) -> bool:
    if state is None:
        return True
    return not state.retired and state.next_due <= to_epoch(now)


def next_after_success(
    every: int, max_age: int | None, now: datetime, rng: random.Random
) -> int:
    """Poll again after `every` (or later, if the upstream's Cache-Control asks), with jitter."""
    interval = max(every, max_age or 0)
    return to_epoch(now) + round(interval * (1 + rng.uniform(0, JITTER)))


def next_after_failure(
    every: int, failures: int, retry_after: float | None, now: datetime, rng: random.Random
) -> int:
    """Exponential backoff with jitter, capped at a day; never sooner than Retry-After."""
    ceiling: int = min(every * 2 ** min(failures, 20), MAX_BACKOFF)
    backoff = round(ceiling * (1 + rng.uniform(-JITTER, JITTER)))
    # Retry-After may ask for longer than a day; a week is the most we honour.
    return to_epoch(now) + min(max(backoff, round(retry_after or 0)), 7 * MAX_BACKOFF)


# --- the pull ----------------------------------------------------------------------------


def pull(
    config: Config,
    store: Store,
    client: httpx.Client,
    now: datetime,
    *,
    names: tuple[str, ...] | None = None,
    force: bool = False,
    rng: random.Random | None = None,
) -> PullResult:
    """Pull the due sources (or `names`, or all with `force`); each in its own transaction."""
    rng = rng or random.Random()  # noqa: S311 (jitter, not security)
    result = PullResult()
    seconds = Seconds(store.published_at)  # undated items of one pull: one second each
    limits = config.fetch
    for source in config.upstream:
        if names is not None and source.name not in names:
            continue
        state = store.source(source.name)
        if state is None or state.url != source.url:
            state = SourceState(name=source.name, url=source.url, fetch_url=source.url)
        if state.retired and names is None:
            continue
        if not (force or names is not None or due(state, now)):
            continue
        with store.transaction():
            state = _pull_one(config, store, client, source, state, limits, now, rng, result,
                              seconds)
            store.put_source(state)
    return result


def _pull_one(
    config: Config,
    store: Store,
    client: httpx.Client,
    source: UpstreamConfig,
    state: SourceState,
    limits: fetcher.Limits,
    now: datetime,
    rng: random.Random,
    result: PullResult,
    seconds: Seconds,
) -> SourceState:
    state = replace(state, last_attempt=to_epoch(now))
    validators = fetcher.Validators(state.etag, state.last_modified)
    try:
        answer = fetcher.fetch(client, state.fetch_url, validators, limits, now=now)
    except UpstreamError as exc:
        return _failed(source, state, f"error: {exc.message}", None, now, rng, result)
    if answer.permanent_url is not None:
        result.diagnostics.append(Diagnostic(
            "notice", source.name, f"moved permanently to {answer.permanent_url}; polling there"
        ))
        state = replace(state, fetch_url=answer.permanent_url)
    status = answer.status
    if status == 410:
        result.failed.append(source.name)
        result.diagnostics.append(Diagnostic(
            "error", source.name,
            "410 Gone: source retired, not polled again (its published entries stay); "
            "remove it from the config",
        ))
        return replace(state, retired=True, last_status="410", last_error="gone",
                       failures=state.failures + 1)
    if status == 304:
        result.pulled.append(source.name)
        return replace(
            state, last_success=to_epoch(now), failures=0, last_status="304", last_error="",
            next_due=next_after_success(source.every, answer.max_age, now, rng),
        )
    if status != 200 or answer.body is None:
        return _failed(source, state, f"HTTP {status}", answer.retry_after, now, rng, result)
    try:
        parsed = parse_feed(answer.body, answer.url, answer.content_type)
    except UpstreamError as exc:
        return _failed(source, state, f"error: {exc.message}", None, now, rng, result)
    except Exception as exc:  # a stranger's bytes must fail this source only, not the pull
        problem = f"error: could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        return _failed(source, state, problem, None, now, rng, result)
    result.diagnostics.extend(parse_warnings(source.name, parsed))
    result.new_entries += _store_items(config, store, source, parsed, now, state.fetch_url,
                                       seconds)
    result.pulled.append(source.name)
    feed = UpstreamFeed(id=parsed.id, title=parsed.title, url=answer.url, home=parsed.home,
                        updated=parsed.updated)
    return replace(
        state, etag=answer.validators.etag, last_modified=answer.validators.last_modified,
        last_success=to_epoch(now), failures=0, last_status="200", last_error="",
        items_seen=len(parsed.items), feed=feed, skipped=parsed.skipped,
        next_due=next_after_success(source.every, answer.max_age, now, rng),
    )


def parse_warnings(name: str, parsed: ParsedFeed) -> list[Diagnostic]:
    """What reading a source's feed found wrong, and the items it could not republish."""
    found = [Diagnostic("warning", name, warning) for warning in parsed.warnings]
    if parsed.skipped:
        reasons = "; ".join(f"{why} ({count})" for why, count in parsed.skipped)
        total = sum(count for _, count in parsed.skipped)
        found.append(Diagnostic("warning", name, f"{total} item(s) not republished: {reasons}"))
    return found


def _failed(
    source: UpstreamConfig,
    state: SourceState,
    problem: str,
    retry_after: float | None,
    now: datetime,
    rng: random.Random,
    result: PullResult,
) -> SourceState:
    failures = state.failures + 1
    next_due = next_after_failure(source.every, failures - 1, retry_after, now, rng)
    result.failed.append(source.name)
    when = from_epoch(next_due).isoformat()
    result.diagnostics.append(Diagnostic(
        "error", source.name,
        f"{problem} (failure {failures} in a row; published entries kept; next try {when})",
    ))
    return replace(state, failures=failures, last_status=problem.split(":")[0][:40],
                   last_error=problem, next_due=next_due)


def _store_items(
    config: Config, store: Store, source: UpstreamConfig, parsed: ParsedFeed, now: datetime,
    fetch_url: str, seconds: Seconds,
) -> int:
    """Store the items of one fetched feed; the number of new entries."""
    republisher = _republisher(config, store, source, parsed, now)
    homes = [home for home in (parsed.home, source.url, fetch_url) if home]
    items = [item for item in parsed.items if _wanted(source, item)]
    seen: set[str] = set()
    new = 0
    for item, candidate in zip(items, candidates(source.name, items), strict=True):
        language = parsed.language or lang.recognize(
            _text_of(item), config.site.languages, config.site.language)
        entry, digest = republisher.entry(item, candidate.key, language)
        key = _identity(store, candidate, digest)
        if key in seen:
            continue  # the same item twice in one feed: the first stands
        seen.add(key)
        if key != candidate.key:
            entry, digest = republisher.entry(item, key, language)
        canonical = article_link(item.link, homes)
        holder = None if canonical is None else store.key_with_canonical(canonical)
        if holder is not None and holder != key:
            if not holder.startswith(f"upstream/{source.name}/"):
                continue  # the same article from another source: published once
            canonical = None  # another item of this source about that article: its own entry
        new += _store_entry(store, entry, digest, item, canonical, now, seconds,
                            origin=source.name)
    return new


def _wanted(source: UpstreamConfig, item: UpstreamItem) -> bool:
    text = _text_of(item)
    if source.include and not matches(source.include, text):
        return False
    return not (source.exclude and matches(source.exclude, text))


def _text_of(item: UpstreamItem) -> str:
    return f"{item.title} {text_only(item.summary_html)} {text_only(item.content_html or '')}"


def _identity(store: Store, candidate: Candidate, digest: str) -> str:
    """The old rule's key, unless items collide on it: then only the one the state holds
    under it keeps it, and the others take the key their title and date give them."""
    if candidate.distinct is None:
        return candidate.key
    previous = store.entry_record(candidate.key)
    if previous is not None and previous.hash == digest:
        return candidate.key
    return candidate.distinct


def _store_entry(store: Store, entry: Entry, digest: str, item: UpstreamItem,
                 canonical: str | None, now: datetime, seconds: Seconds, *, origin: str) -> int:
    """Store one entry unless the state holds it already; 1 when it is new."""
    previous = store.entry_record(entry.key)
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
    store.put_entry(row)  # with its times kept unless its content changed
    store.add_pending(entry.feed_keys())
    if entry.page is not None:
        store.add_pending_pages([entry.key])
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


def health_table(config: Config, store: Store) -> str:
    """Per-source health, one row a source, for `feeds sources`."""
    header = ("source", "status", "failures", "last success", "next due", "items", "note")
    rows = [header]
    for source in config.upstream:
        state = store.source(source.name)
        if state is None:
            rows.append((source.name, "never pulled", "0", "-", "now", "0", ""))
            continue
        last = from_epoch(state.last_success).isoformat() if state.last_success else "-"
        nxt = "retired" if state.retired else from_epoch(state.next_due).isoformat()
        rows.append((source.name, state.last_status or "-", str(state.failures), last, nxt,
                     str(state.items_seen), state.last_error[:60]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    return "\n".join(lines) + "\n"

