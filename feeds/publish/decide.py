"""Pure: the rules of publishing one article, from facts to a decision: no store, files or clock.

The rules a newcomer must learn, each a function here and a test in
tests/test_decide.py:

- the first file to claim an id keeps it (`owner`);
- first seen is the file's time, never in the future (`first_seen`), and no two new
  entries share a second (`Seconds`);
- `updated` moves only when the content hash does (`entries.reconcile_times`);
- a draft is not live, an article dated in the future is held back, and neither has a
  page (`decide`);
- an entry leaves the feeds only when the file that owns it says so (`may_unpublish`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from feeds import entries
from feeds.store import EntryRecord

MAX_SHIFT = 3600  # seconds a burst's first-seen times may be spread over

# What happens to an entry's page: nothing (no page, or nothing changed), removed (a draft or
# held back), rendered again (its times changed since it was rendered), or the page rendered
# with the article (by a worker or this process) is the one to publish.
PageAction = Literal["none", "remove", "render", "use"]
# What became of an article, as the per-article report says it.
Outcome = Literal["published", "updated", "unchanged", "held", "draft"]


@dataclass(frozen=True, slots=True)
class Facts:
    """What an article file says that the rules need, with the times it was rendered with."""

    key: str
    origin: str  # `seeds:PATH`
    digest: str
    draft: bool
    date: int | None  # the header's `date` and `updated`, epoch seconds
    updated: int | None
    rendered: entries.Times  # the times its entry and page were rendered with
    has_page: bool  # False for an article that lives elsewhere (header `link`)


@dataclass(frozen=True, slots=True)
class Decision:
    times: entries.Times
    live: bool
    unchanged: bool  # the stored entry already says all this: no feed needs rendering
    page: PageAction
    outcome: Outcome


def owner(path: str, claimed_here: str | None, stored: str | None,
          stored_still_claims: bool) -> str | None:
    """The file other than `path` that keeps an id, or None when `path` may have it: the first
    file to claim an id keeps it, whether it claimed it earlier in this build (`claimed_here`)
    or in an earlier build (`stored`, the file the state says owns it, as long as that file
    exists and still claims the id)."""
    if claimed_here is not None and claimed_here != path:
        return claimed_here
    if stored is not None and stored != path and stored_still_claims:
        return stored
    return None


def first_seen(mtime: int, now: int) -> int:
    """The file's time, but never in the future: a skewed clock must not hold an article back."""
    return min(mtime, now)


class Seconds:
    """Hands out first-seen seconds no other entry has. Files copied in one burst share an
    mtime second, and entries with equal times read as duplicates (the W3C validator warns on
    equal atom:updated). The first file of a burst keeps its second; each next one takes the
    nearest free second before it (never after: a future time would hold it back). Beyond
    MAX_SHIFT seconds, equal times are kept. `taken(second)` asks the state."""

    def __init__(self, taken: Callable[[int], bool]) -> None:
        self._taken_before = taken
        self._taken: set[int] = set()
        self._next_free: dict[int, int] = {}

    def unique(self, second: int) -> int:
        candidate = min(second, self._next_free.get(second, second))
        while candidate in self._taken or self._taken_before(candidate):
            candidate -= 1
            if second - candidate > MAX_SHIFT:
                return second
        self._taken.add(candidate)
        self._next_free[second] = candidate - 1
        return candidate


def decide(
    facts: Facts, previous: EntryRecord | None, first: int, now: int, *, full: bool
) -> Decision:
    """What to store and publish for a readable article seen first at `first`."""
    times = entries.reconcile_times(previous, facts.date, facts.updated, facts.digest, first,
                                    now)
    live = not facts.draft
    unchanged = (
        previous is not None
        and previous.hash == facts.digest
        and previous.live == live
        and previous.origin == facts.origin
        and not full
    )
    held = times.published > now
    page: PageAction
    if unchanged or not facts.has_page:
        page = "none"
    elif not live or held:
        page = "remove"
    elif times != facts.rendered:
        page = "render"
    else:
        page = "use"
    outcome: Outcome
    if not live:
        outcome = "draft"
    elif held:
        outcome = "held"
    elif unchanged:
        outcome = "unchanged"
    elif previous is None or not previous.live or previous.published > now:
        outcome = "published"
    else:
        outcome = "updated" if previous.hash != facts.digest else "unchanged"
    return Decision(times, live, unchanged, page, outcome)


def may_unpublish(previous: EntryRecord | None, origin: str) -> bool:
    """An entry leaves the feeds only when the file that owns it is deleted, drafted or gives
    its id up: another file that once had the id does not take it down."""
    return previous is not None and previous.origin == origin
