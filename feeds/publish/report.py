"""Pure: what happened to each article, in the editor's words (the build's report, `feeds status`).

    published   seeds/kampus/wisuda.txt  "Ratusan Lulusan Ikuti Wisuda"
    held until 2027-02-01 08:00 WIB  seeds/nanti.txt  "Pengumuman Beasiswa"
    error (previous version stays online)  seeds/rusak.txt  "Judul"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from feeds.codec import from_epoch

Status = Literal["published", "updated", "unchanged", "held", "draft", "error", "error-kept",
                 "removed"]
MAX_LINES = 50  # a build's report stops here: `feeds status` lists them all
_WORDS = {  # status → how the report says it (held: with its time)
    "published": "published",
    "updated": "updated",
    "draft": "draft",
    "error": "error (nothing published)",
    "error-kept": "error (previous version stays online)",
    "removed": "removed",
}
_SUMMARY = {"published": "published", "updated": "updated", "held": "held until later",
            "draft": "drafts", "error": "errors", "error-kept": "errors", "removed": "removed"}


class Change(NamedTuple):
    """An article whose status this build changed."""

    status: Status
    path: str  # as messages name it: seeds/…
    title: str
    held_until: int | None = None  # epoch seconds, for `held`
    message: str = ""  # why, for errors


def local_time(seconds: int, zone: ZoneInfo) -> str:
    """A moment as the newsroom reads it: the site's time zone, with its abbreviation."""
    return from_epoch(seconds).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def status_words(status: Status, held_until: int | None, zone: ZoneInfo) -> str:
    if status == "held" and held_until is not None:
        return f"held until {local_time(held_until, zone)}"
    return _WORDS.get(status, status)


def lines(changes: Sequence[Change], zone: ZoneInfo) -> list[str]:
    """The report: a line per changed article (at most MAX_LINES), then a summary."""
    shown = [c for c in changes if c.status != "unchanged"]
    found = []
    for change in shown[:MAX_LINES]:
        words = status_words(change.status, change.held_until, zone)
        title = f'  "{change.title}"' if change.title else ""
        found.append(f"{words}  {change.path}{title}")
    if len(shown) > MAX_LINES:
        found.append(f"… and {len(shown) - MAX_LINES} more: `feeds status` lists every "
                     "article")
    if shown:
        counts = Counter(_SUMMARY[c.status] for c in shown)
        order = dict.fromkeys(_SUMMARY.values())  # the order of _SUMMARY, not of arrival
        found.append("articles: " + ", ".join(
            f"{counts[word]} {word}" for word in order if counts[word]))
    return found


def when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
