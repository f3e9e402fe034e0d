"""Pure: entries → JSON Feed 1.1 bytes, written with `json` (feedgen has no JSON Feed).

Attribution travels in the `_source` extension (docs/formats.md, and index.html#json-source):
`{"about": …, "name": outlet, "url": outlet URL or null, "feed_url": …}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feeds.model import Entry, FeedInfo

VERSION = "https://jsonfeed.org/version/1.1"


def json_feed(info: FeedInfo, entries: Sequence[Entry], *, about: str) -> bytes:
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": info.title,
        "home_page_url": info.home,
        "feed_url": info.url("feed.json"),
        "description": info.description,
        "language": info.language,
    }
    if info.hub:
        feed["hubs"] = [{"type": "WebSub", "url": info.hub}]
    feed["items"] = [_item(entry, about) for entry in entries]
    text = json.dumps(feed, ensure_ascii=False, indent=2, sort_keys=False)
    return (text + "\n").encode("utf-8")


def _item(entry: Entry, about: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.link,
        "title": entry.title,
        "content_html": entry.content_html,
        "summary": entry.summary,
        "date_published": _date(entry.published),
        "date_modified": _date(entry.updated),
        "language": entry.lang,
        "tags": [entry.section.name, *(t.name for t in entry.tags)],
    }
    if entry.authors:
        item["authors"] = [{"name": name} for name in entry.authors]
    if entry.image is not None:
        item["image"] = entry.image
        item["attachments"] = [{"url": entry.image, "mime_type": entry.image_type or "image/jpeg"}]
    if entry.attribution is not None:
        if entry.upstream is not None:
            item["external_url"] = entry.link
        item["_source"] = {
            "about": about,
            "name": entry.attribution.name,
            "url": entry.attribution.url,
            "feed_url": entry.upstream.url if entry.upstream else entry.attribution.feed_url,
        }
    return item


def _date(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
