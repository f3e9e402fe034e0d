"""Pure: entries → JSON Feed 1.1 bytes, written with `json` (feedgen has no JSON Feed).

Attribution travels in the `_source` extension (docs/formats.md, and about.html#json-source):
`{"about": …, "name": outlet, "url": outlet URL or null, "feed_url": …}`.

`files` and `media_type` say which enclosures an entry has and of what type, for every
format: the builder imports them from here, so that RSS, Atom and JSON Feed never disagree
(this module loads no library; the builder loads feedgen).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from feeds.model import Enclosure, Entry, FeedInfo

VERSION = "https://jsonfeed.org/version/1.1"
UNKNOWN_TYPE = "application/octet-stream"  # RFC 2046: "arbitrary binary data"
IMAGE_TYPE = "image/jpeg"  # what an entry image without a type has always been written as

# Python's own table, not the machine's /etc/mime.types (which says audio/ogg for .opus on
# one host and audio/opus on another): the same entries give the same bytes everywhere.
# Plus the podcast formats that table lacks.
_TYPES = mimetypes.MimeTypes()
for _kind, _extensions in {
    "audio/mp4": (".m4a", ".m4b"), "video/mp4": (".m4v",), "audio/ogg": (".ogg", ".oga"),
    "video/ogg": (".ogv",), "audio/flac": (".flac",), "audio/webm": (".weba",),
    "application/epub+zip": (".epub",),
}.items():
    for _extension in _extensions:
        _TYPES.add_type(_kind, _extension)


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
    attachments = [_attachment(enclosure) for enclosure in files(entry)]
    if attachments:
        item["attachments"] = attachments
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


def _attachment(enclosure: Enclosure) -> dict[str, Any]:
    # mime_type is required by JSON Feed 1.1; size_in_bytes is optional: left out unless known.
    attachment: dict[str, Any] = {
        "url": enclosure.url,
        "mime_type": media_type(enclosure),
    }
    if enclosure.length is not None:
        attachment["size_in_bytes"] = enclosure.length
    return attachment


def files(entry: Entry) -> tuple[Enclosure, ...]:
    """Every file the entry links to, once each (by URL), the one RSS can carry first.

    That one is the first media enclosure (any whose type, known or guessed, is not image/*:
    audio, video, a PDF, or a type nobody knows), else the entry image, else the first
    enclosure. The rest follow in the upstream's order, then the entry image unless it is
    one of them (an upstream item's image is its first image enclosure: it is written once,
    with the enclosure's type and length). An entry image alone is written as it always was:
    its `image_type`, else image/jpeg, and no length.
    """
    by_url: dict[str, Enclosure] = {}
    for enclosure in entry.enclosures:
        by_url.setdefault(enclosure.url, enclosure)
    image = None
    if entry.image is not None:
        image = by_url.setdefault(
            entry.image, Enclosure(entry.image, entry.image_type or IMAGE_TYPE))
    every = tuple(by_url.values())
    if not every:
        return ()
    media = (e for e in every if e is not image and not _is_image(e))
    first = next(media, image or every[0])
    return (first, *(e for e in every if e is not first))


def media_type(enclosure: Enclosure) -> str:
    """The enclosure's type, else one guessed from its URL's extension, else "binary data".

    Every format writes one: RSS and JSON Feed require it, and an Atom enclosure without a
    type is read as text/html (a web page) by feedparser, hence by `reader` and by us.
    """
    if enclosure.type:
        return enclosure.type
    guessed, _ = _TYPES.guess_type(urlsplit(enclosure.url).path, strict=False)
    return guessed or UNKNOWN_TYPE


def _is_image(enclosure: Enclosure) -> bool:
    return media_type(enclosure).startswith("image/")


def _date(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
