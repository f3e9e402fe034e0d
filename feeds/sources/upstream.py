"""Pure: upstream feed bytes → normalized items; the only module that imports feedparser.

RSS 0.9x/1.0/2.0 and Atom go through feedparser (always given bytes, never
a URL or a path, which it would open); JSON Feed through `json`. A document
that is not a feed is an UpstreamError; one that parses with problems keeps
its items and returns a warning. Documents declaring XML entities are
refused outright: no feed needs them, and they are how entity bombs and
external-entity reads arrive.
"""

from __future__ import annotations

import calendar
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from feeds.errors import UpstreamError
from feeds.sanitize import clean_html, plain_text
from feeds.text import cut_at_word, xml_safe

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
# Numeric character references: those to code points XML 1.0 forbids (surrogates, C0
# controls) crash feedparser's encoder or end up in the text; they are dropped before parsing.
_CHAR_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
MAX_ITEMS = 500  # a feed with more is cut to its first 500 (newest first in practice)
MAX_TITLE = 1000  # characters; a title is a line in a reader, not a body
PARSE_FAILURES = (UnicodeError, ValueError, RecursionError, OverflowError, LookupError)


@dataclass(frozen=True, slots=True)
class UpstreamItem:
    upstream_id: str  # as the source wrote it (namespaced by the caller)
    title: str
    link: str  # absolute
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    summary_html: str  # sanitized
    content_html: str | None  # sanitized; None when the feed has no full content
    image: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    id: str
    title: str
    home: str | None
    updated: datetime | None
    items: tuple[UpstreamItem, ...]
    language: str | None = None
    warnings: tuple[str, ...] = ()


def parse_feed(data: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse one fetched document; `url` is where it was fetched from (the base for links)."""
    if not data.strip():
        raise UpstreamError(url, "empty body")
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{") or (content_type or "").split(";")[0].strip().endswith("json"):
        return _parse_json_feed(data, url)
    if _declares_entities(data, url, content_type):
        raise UpstreamError(url, "document declares XML entities (<!ENTITY>): refused")
    try:
        return _parse_xml_feed(_CHAR_REFERENCE.sub(_allowed_reference, data), url, content_type)
    except PARSE_FAILURES as exc:
        raise UpstreamError(url, f"not a feed ({type(exc).__name__}: {exc})") from None


def _declares_entities(data: bytes, url: str, content_type: str | None) -> bool:
    """`<!ENTITY` anywhere, in whatever encoding the document is in (UTF-16, UTF-32 and
    EBCDIC hide it from a byte search): looked for in feedparser's own UTF-8 conversion."""
    if _ENTITY_DECLARATION.search(data):
        return True
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        converted = feedparser.encodings.convert_to_utf8(headers, data, {})
    except PARSE_FAILURES:
        return False  # feedparser will not read it as XML either
    return bool(_ENTITY_DECLARATION.search(converted))


def _allowed_reference(match: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = match.groups()
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    allowed = code <= 0x10FFFF and xml_safe(chr(code)) == chr(code)
    return match.group(0) if allowed else b""


def _parse_xml_feed(data: bytes, url: str, content_type: str | None) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise UpstreamError(url, f"not a feed ({problem or 'no RSS, Atom or JSON Feed found'})")
    warnings = []
    if parsed.get("bozo"):
        warnings.append(f"feed parsed with problems: {parsed.get('bozo_exception')}")
    feed = parsed.feed
    items = []
    for entry in parsed.entries[:MAX_ITEMS]:
        item = _xml_item(entry, url)
        if item is not None:
            items.append(item)
    if len(parsed.entries) > MAX_ITEMS:
        warnings.append(f"feed has {len(parsed.entries)} entries; kept the first {MAX_ITEMS}")
    return ParsedFeed(
        id=xml_safe(feed.get("id") or url),
        title=_text(feed.get("title")) or urlsplit(url).hostname or url,
        home=_absolute(feed.get("link"), url) if feed.get("link") else None,
        updated=_struct_time(dict.get(feed, "updated_parsed")),
        items=tuple(items),
        language=str(feed.get("language") or "") or None,
        warnings=tuple(warnings),
    )


def _xml_item(entry: Any, feed_url: str) -> UpstreamItem | None:
    link = _absolute(entry.get("link"), feed_url) if entry.get("link") else None
    upstream_id = entry.get("id") or link or entry.get("title")
    if not upstream_id or not link:
        return None  # nothing to link to: a subscriber could not open it
    base = link
    content = None
    if entry.get("content"):
        content = clean_html(entry.content[0].get("value", ""), base)
    summary = entry.get("summary") or ""
    image = None
    for enclosure in entry.get("enclosures", []):
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            image = _absolute(str(enclosure["href"]), base)
            break
    return UpstreamItem(
        upstream_id=xml_safe(str(upstream_id)),
        title=_title(entry.get("title")) or link,
        link=link,
        published=_struct_time(entry.get("published_parsed")),
        # dict.get: feedparser's own .get maps a missing `updated` to `published`, with a warning
        updated=_struct_time(dict.get(entry, "updated_parsed")),
        authors=tuple(_text(a.get("name")) for a in entry.get("authors", []) if a.get("name")),
        summary_html=clean_html(summary, base),
        content_html=content,
        image=image,
    )


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # too deep, huge numbers
        raise UpstreamError(url, f"not a feed (invalid JSON: {type(exc).__name__}: "
                                 f"{str(exc)[:200]})") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise UpstreamError(url, "not a feed (JSON without a JSON Feed version)")
    items = []
    raw_items = document.get("items") or []
    if not isinstance(raw_items, list):
        raise UpstreamError(url, "not a feed (JSON Feed items is not a list)")
    for raw in raw_items[:MAX_ITEMS]:
        if not isinstance(raw, dict):
            continue
        link = raw.get("url") or raw.get("external_url")
        if not isinstance(link, str) or not raw.get("id"):
            continue
        link = _absolute(link, url)
        if link is None:
            continue
        content = raw.get("content_html")
        if content is None and isinstance(raw.get("content_text"), str):
            content = html.escape(raw["content_text"]).replace("\n", "<br>")
        summary = raw.get("summary")
        authors = raw.get("authors") or ([raw["author"]] if raw.get("author") else [])
        image = raw.get("image")
        items.append(
            UpstreamItem(
                upstream_id=xml_safe(str(raw["id"])),
                title=_title(raw.get("title") if isinstance(raw.get("title"), str) else "")
                or link,
                link=link,
                published=_iso(raw.get("date_published")),
                updated=_iso(raw.get("date_modified")),
                authors=tuple(
                    xml_safe(str(a["name"]))
                    for a in authors
                    if isinstance(a, dict) and a.get("name")
                ),
                summary_html=html.escape(xml_safe(str(summary))) if summary else "",
                content_html=clean_html(str(content), link) if content else None,
                image=_absolute(image, link) if isinstance(image, str) else None,
            )
        )
    home = document.get("home_page_url")
    return ParsedFeed(
        id=xml_safe(str(document.get("feed_url") or url)),
        title=_title(document.get("title") if isinstance(document.get("title"), str) else "")
        or url,
        home=_absolute(home, url) if isinstance(home, str) else None,
        updated=None,
        items=tuple(items),
        language=str(document["language"]) if isinstance(document.get("language"), str) else None,
    )


def _text(value: object) -> str:
    """Feed text (maybe with markup or entities) → plain text."""
    return plain_text(str(value)) if value else ""


def _title(value: object) -> str:
    return cut_at_word(_text(value), MAX_TITLE)


def _absolute(link: str, base: str) -> str | None:
    """`link` made absolute against `base`; None unless it is http(s) (no javascript:, data:)."""
    resolved = urljoin(base, xml_safe(link.strip()))
    return resolved if urlsplit(resolved).scheme in ("http", "https") else None


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:  # year 0, or a zone offset that leaves the calendar: no date rather than a crash
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:  # 9999-12-31T23:59-14:00 is in year 10000 once in UTC
        return moment.astimezone(UTC)
    except OverflowError:
        return None
