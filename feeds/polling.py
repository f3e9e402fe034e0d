"""Pure: when a source is due, and what one fetch of it means for its state.

`outcome` turns what a fetch answered (or the error it raised) into the
source's next state, the feed to store (if any), and what to tell the
operator: 304 keeps everything, 410 retires the source, failures back off
exponentially (never sooner than Retry-After), and a stranger's bytes that
cannot be read fail that source alone. No clock, no network, no store.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from feeds.codec import from_epoch, to_epoch
from feeds.config import UpstreamConfig
from feeds.errors import UpstreamError
from feeds.model import Diagnostic, UpstreamFeed
from feeds.sources.upstream import ParsedFeed
from feeds.store import SourceState

if TYPE_CHECKING:
    from feeds.sources.fetch import FetchResult

MAX_BACKOFF = 86400  # a day
JITTER = 0.1
Status = Literal["changed", "not-modified", "failed", "gone"]


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


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one fetch of one source came to."""

    source: UpstreamConfig
    state: SourceState  # the source's state after it
    status: Status
    parsed: ParsedFeed | None = None  # the feed to store, when it changed
    diagnostics: tuple[Diagnostic, ...] = ()


def outcome(
    source: UpstreamConfig,
    state: SourceState,
    answer: FetchResult | UpstreamError,
    parse: Callable[[bytes, str, str | None], ParsedFeed],
    now: datetime,
    rng: random.Random,
) -> Outcome:
    """The source's next state from what its fetch answered; `parse` reads a changed body."""
    state = replace(state, last_attempt=to_epoch(now))
    if isinstance(answer, UpstreamError):
        return _failed(source, state, f"error: {answer.message}", None, now, rng)
    notes: tuple[Diagnostic, ...] = ()
    if answer.permanent_url is not None:
        notes = (Diagnostic("notice", source.name,
                            f"moved permanently to {answer.permanent_url}; polling there"),)
        state = replace(state, fetch_url=answer.permanent_url)
    if answer.status == 410:
        return Outcome(source, replace(state, retired=True, last_status="410", last_error="gone",
                                       failures=state.failures + 1), "gone", None, (*notes,
            Diagnostic("error", source.name, "410 Gone: source retired, not polled again (its "
                       "published entries stay); remove it from the config")))
    if answer.status == 304:
        return Outcome(source, replace(
            state, last_success=to_epoch(now), failures=0, last_status="304", last_error="",
            next_due=next_after_success(source.every, answer.max_age, now, rng),
        ), "not-modified", None, notes)
    if answer.status != 200 or answer.body is None:
        return _failed(source, state, f"HTTP {answer.status}", answer.retry_after, now, rng,
                       notes)
    try:
        parsed = parse(answer.body, answer.url, answer.content_type)
    except UpstreamError as exc:
        return _failed(source, state, f"error: {exc.message}", None, now, rng, notes)
    except Exception as exc:  # a stranger's bytes must fail this source only, not the pull
        problem = f"error: could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        return _failed(source, state, problem, None, now, rng, notes)
    feed = UpstreamFeed(id=parsed.id, title=parsed.title, url=answer.url, home=parsed.home,
                        updated=parsed.updated)
    return Outcome(source, replace(
        state, etag=answer.validators.etag, last_modified=answer.validators.last_modified,
        last_success=to_epoch(now), failures=0, last_status="200", last_error="",
        items_seen=len(parsed.items), feed=feed, skipped=parsed.skipped,
        next_due=next_after_success(source.every, answer.max_age, now, rng),
    ), "changed", parsed, (*notes, *parse_warnings(source.name, parsed)))


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
    notes: tuple[Diagnostic, ...] = (),
) -> Outcome:
    failures = state.failures + 1
    next_due = next_after_failure(source.every, failures - 1, retry_after, now, rng)
    when = from_epoch(next_due).isoformat()
    failed = Diagnostic("error", source.name, f"{problem} (failure {failures} in a row; "
                        f"published entries kept; next try {when})")
    return Outcome(source, replace(state, failures=failures,
                                   last_status=problem.split(":")[0][:40], last_error=problem,
                                   next_due=next_due), "failed", None, (*notes, failed))
