"""Pull upstream sources into the state: due → fetch → parse → filter → normalize → store.

Already-published entries are never removed here: a source that fails, or
that drops an item from its feed, leaves what was published in place until
it ages out of `items_per_feed`. Each source's health and next due time are
stored, so a restart does not re-poll everything.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from feeds import lang, render
from feeds.codec import from_epoch, to_epoch
from feeds.config import Config, UpstreamConfig
from feeds.entries import entry_id, upstream_times
from feeds.errors import UpstreamError
from feeds.model import Attribution, Diagnostic, Entry, Section, UpstreamFeed
from feeds.sanitize import plain_text, text_only
from feeds.site import identity
from feeds.sources import fetch as fetcher
from feeds.sources.upstream import ParsedFeed, UpstreamItem, parse_feed
from feeds.store import EntryRow, SourceState, Store
from feeds.text import cut_at_word

if TYPE_CHECKING:
    import httpx

MAX_BACKOFF = 86400  # a day
JITTER = 0.1
_TRACKING = re.compile(r"^(utm_[a-z_]+|fbclid|gclid|dclid|mc_cid|mc_eid|igshid|yclid|_ga|ref_src)$",
                       re.IGNORECASE)


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


def strip_tracking(url: str) -> str:
    """The link as published, minus tracking parameters (utm_*, fbclid, …)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def canonical_link(url: str) -> str:
    """The link without tracking parameters, fragment, default port or host case."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https" if parts.scheme in ("http", "https") else parts.scheme, host,
                       path, urlencode(query), ""))


def matches(words: tuple[str, ...], text: str) -> bool:
    lowered = text.casefold()
    return any(re.search(rf"(?<!\w){re.escape(w.casefold())}(?!\w)", lowered) for w in words)


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
            state = _pull_one(config, store, client, source, state, limits, now, rng, result)
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
    for warning in parsed.warnings:
        result.diagnostics.append(Diagnostic("warning", source.name, warning))
    result.new_entries += _store_items(config, store, source, parsed, now)
    result.pulled.append(source.name)
    feed = UpstreamFeed(id=parsed.id, title=parsed.title, url=answer.url, home=parsed.home,
                        updated=parsed.updated)
    return replace(
        state, etag=answer.validators.etag, last_modified=answer.validators.last_modified,
        last_success=to_epoch(now), failures=0, last_status="200", last_error="",
        items_seen=len(parsed.items), feed=feed,
        next_due=next_after_success(source.every, answer.max_age, now, rng),
    )


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
    config: Config, store: Store, source: UpstreamConfig, parsed: ParsedFeed, now: datetime
) -> int:
    section_name = next(s.name for s in config.sections if s.slug == source.section)
    section = Section(source.section, section_name)
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
    prefix = identity(config, store, now).id_prefix
    new = 0
    for item in parsed.items:
        text = f"{item.title} {text_only(item.summary_html)} {text_only(item.content_html or '')}"
        if source.include and not matches(source.include, text):
            continue
        if source.exclude and matches(source.exclude, text):
            continue
        key = upstream_key(source.name, item.upstream_id)
        canonical = canonical_link(item.link)
        holder = store.key_with_canonical(canonical)
        if holder is not None and holder != key:
            continue  # the same story from another source (or under another id): published once
        previous = store.entry_record(key)
        entry, digest = upstream_entry(
            item, key=key, id_prefix=prefix, section=section, attribution=attribution,
            upstream=upstream, full=source.content == "full",
            language=parsed.language or lang.recognize(text, config.site.languages,
                                                       config.site.language),
        )
        dated = item.published or item.updated
        times = upstream_times(previous, None if dated is None else to_epoch(dated),
                               None if item.updated is None else to_epoch(item.updated),
                               digest, to_epoch(now))
        if previous is not None and previous.hash == digest and previous.updated == times.updated:
            continue
        entry = replace(entry, published=from_epoch(times.published),
                        updated=from_epoch(times.updated))
        store.put_entry(EntryRow.of(entry, origin=f"upstream:{source.name}", hash=digest,
                                    first_seen=times.first_seen, live=True, canonical=canonical))
        store.add_pending(entry.feed_keys())
        new += previous is None
    return new


def upstream_key(source: str, upstream_id: str) -> str:
    """Namespaced by source: two sources never collide, whatever ids they use."""
    digest = hashlib.sha256(upstream_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"upstream/{source}/{digest}"


def upstream_entry(
    item: UpstreamItem,
    *,
    key: str,
    id_prefix: str,
    section: Section,
    attribution: Attribution,
    upstream: UpstreamFeed,
    full: bool,
    language: str,
) -> tuple[Entry, str]:
    """The entry republished for one upstream item, and the hash of what subscribers read."""
    body = item.content_html if full and item.content_html else item.summary_html
    if body and not body.lstrip().startswith("<"):
        body = f"<p>{body}</p>"
    credit = render.credit_word(language)
    read_more = render.credit_html(replace(attribution, url=strip_tracking(item.link)), language)
    content = "\n".join(part for part in (body, read_more) if part)
    summary = cut_at_word(plain_text(item.summary_html or item.content_html or ""), 300)
    digest = hashlib.sha256(
        "\0".join([item.title, item.link, body or "", section.slug, credit]).encode()
    ).hexdigest()
    epoch = from_epoch(0)
    entry = Entry(
        id=entry_id(id_prefix, key),
        key=key,
        title=item.title,
        link=strip_tracking(item.link),
        section=section,
        published=item.published or item.updated or epoch,
        updated=item.updated or item.published or epoch,
        summary=summary or item.title,
        content_html=content,
        lang=language,
        authors=item.authors or (attribution.name,),
        image=item.image,
        image_type="image/jpeg" if item.image else None,
        attribution=attribution,
        upstream=upstream,
    )
    return entry, digest


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

