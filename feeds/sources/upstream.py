"""Pure: upstream feed bytes → normalized items; the only module that imports feedparser.

RSS 0.9x/1.0/2.0 and Atom go through feedparser (always given bytes, never
a URL or a path, which it would open); JSON Feed through `json`. A document
that is not a feed is an UpstreamError; one that parses with problems keeps
its items and returns a warning. Documents declaring XML entities are
refused outright: no feed needs them, and they are how entity bombs and
external-entity reads arrive.

Nothing republishable is lost: an item without a usable link is kept with
`link=None` (the publisher links it to a page of its own); only an item with
nothing to show is skipped, and every skip is counted by reason in
`ParsedFeed.skipped`. Every URL returned is an absolute http(s) URI that is
valid RFC 3986 (`feeds.text.uri`).
"""

from __future__ import annotations

import calendar
import html
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser

from feeds.errors import UpstreamError
from feeds.model import Enclosure
from feeds.sanitize import clean_html, plain_text
from feeds.text import cut_at_word, uri, xml_safe

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
# Numeric character references: those to code points XML 1.0 forbids (surrogates, C0
# controls) crash feedparser's encoder or end up in the text; they are dropped before parsing.
_CHAR_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
MAX_ITEMS = 500  # a feed with more is cut to its first 500 (newest first in practice)
MAX_TITLE = 1000  # characters; a title is a line in a reader, not a body
MAX_MADE_TITLE = 100  # a title made from an untitled item's text
PARSE_FAILURES = (UnicodeError, ValueError, RecursionError, OverflowError, LookupError)

# Why items were skipped (ParsedFeed.skipped).
SKIP_NOTHING_TO_SHOW = "no title, link, text or enclosure"
SKIP_NOT_AN_OBJECT = "not a JSON object"
SKIP_OVER_LIMIT = f"over the {MAX_ITEMS}-item limit"
SKIP_UNFINISHED = "cut off: the document ends inside it"

# A character reference that ends with ";" (HTML5 also reads "&copy2026" and "&para" without
# one: text such as "R&D &parameters" must stay as it is).
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_BLOCK_START = re.compile(r"<(?=/?(?:br|p|div|li|h[1-6]|tr|td|th|blockquote|figcaption)\b)",
                          re.IGNORECASE)
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_LENGTH = re.compile(r"^[0-9]{1,18}$")  # below 2**63, and never Python's 4,300-digit limit
# Feed ids other than http(s) URLs (which `uri` repairs): ASCII absolute URIs, with the checks
# the W3C validator makes for urn:uuid (InvalidUUID), other URNs and tag: URIs (RFC 4151).
_URI_CHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})"
_ABSOLUTE_URI = re.compile(rf"^[A-Za-z][A-Za-z0-9+.-]*:{_URI_CHARS}+(?:#{_URI_CHARS}*)?$")
_URN = re.compile(
    r"^urn:(?:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?!uuid:)[a-z0-9][a-z0-9-]{0,30}[a-z0-9]:.+)$", re.IGNORECASE)
_TAG = re.compile(r"^tag:(?:[a-z0-9._-]+@)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?,"
                  r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?:", re.IGNORECASE)
# feedparser resolves guids, ids and links against the document URL it is given. It is given
# this URL with a stand-in host instead, so that what it resolved can be told from what the
# source wrote (a host in the reserved .invalid domain never occurs in a feed); the stand-in
# is swapped back for the real host, which gives exactly what it resolves against the real URL.
_STAND_IN_HOST = "feeds-document-base.invalid"


@dataclass(frozen=True, slots=True)
class UpstreamItem:
    # The source of the store's key (namespaced and hashed by the caller), computed as before
    # `guid` existed so that stored keys do not change: feedparser's id (an RSS guid or Atom id,
    # resolved against the document URL unless isPermaLink="false"), else the link, else the
    # title as written; the JSON Feed id as a string. For an item with none of them: its link,
    # or its title as made (see `title`).
    upstream_id: str
    title: str  # plain text, never empty: the source's, else the link, the text, an enclosure
    link: str | None  # absolute http(s) URI (RFC 3986); None when the item has no usable link
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    summary_html: str  # sanitized
    content_html: str | None  # sanitized; None when the feed has no full content
    image: str | None = None  # the first image enclosure, or the JSON Feed image
    # The source's own id as written (RSS guid, Atom id, JSON Feed id), None when it gives none:
    # an item without one is told apart only by its link, or its title and date.
    guid: str | None = None
    enclosures: tuple[Enclosure, ...] = ()  # every enclosure, attachment and media:content
    # The link as the source wrote it, made absolute but not repaired by `uri`: what the content
    # hash of items stored before links were repaired was computed from, so that repairing a
    # link does not move an unchanged item's `updated` time.
    link_as_written: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    id: str  # a valid URI: the feed's own id, else the URL it was fetched from
    title: str
    home: str | None
    updated: datetime | None
    items: tuple[UpstreamItem, ...]
    language: str | None = None
    warnings: tuple[str, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()  # (reason, items), in the order first met


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


# --- RSS and Atom ------------------------------------------------------------------------


def _feedparser(data: bytes, base: str | None, content_type: str | None) -> Any:
    headers = {"content-location": base} if base else {}
    if content_type:
        headers["content-type"] = content_type
    return feedparser.parse(data, response_headers=headers, sanitize_html=False,
                            resolve_relative_uris=False)


class _Document:
    """The URL a document was fetched from and its stand-in (see `_STAND_IN_HOST`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.base = url
        self.marked = self.real = ""
        try:
            parts = urlsplit(url)
        except ValueError:
            return
        if parts.scheme and parts.netloc:
            self.base = urlunsplit((parts.scheme, _STAND_IN_HOST, parts.path, parts.query, ""))
            self.marked = f"{parts.scheme}://{_STAND_IN_HOST}"
            self.real = f"{parts.scheme}://{parts.netloc}"

    def resolved(self, value: object) -> bool:
        """Whether feedparser resolved `value` from a relative reference."""
        return bool(self.marked) and isinstance(value, str) and value.startswith(self.marked)

    def real_url(self, value: object) -> str:
        """`value` as feedparser gives it when handed the real document URL."""
        text = str(value or "")
        return self.real + text[len(self.marked):] if self.resolved(text) else text


def _parse_xml_feed(data: bytes, url: str, content_type: str | None) -> ParsedFeed:
    document = _Document(url)
    parsed = _feedparser(data, document.base, content_type)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise UpstreamError(url, f"not a feed ({problem or 'no RSS, Atom or JSON Feed found'})")
    warnings = []
    if parsed.get("bozo"):
        warnings.append(f"feed parsed with problems: {parsed.get('bozo_exception')}")
    feed = parsed.feed
    atom = str(parsed.get("version", "")).startswith("atom")
    entries = parsed.entries[:MAX_ITEMS]
    skipped: Counter[str] = Counter()
    # A body cut short (a dropped connection without framing) ends inside an item: kept, it
    # would come back under another key once its guid arrives in full.
    if (parsed.get("bozo") and len(parsed.entries) <= MAX_ITEMS
            and _last_entry_cut_off(data, url, content_type, len(parsed.entries))):
        entries = entries[:-1]
        skipped[SKIP_UNFINISHED] += 1
    guids = _guids_as_written(data, document, content_type, entries)
    items = []
    for entry, guid in zip(entries, guids, strict=True):
        item = _xml_item(entry, guid, document, atom=atom)
        if item is None:
            skipped[SKIP_NOTHING_TO_SHOW] += 1
        else:
            items.append(item)
    if len(parsed.entries) > MAX_ITEMS:
        warnings.append(f"feed has {len(parsed.entries)} entries; kept the first {MAX_ITEMS}")
        skipped[SKIP_OVER_LIMIT] += len(parsed.entries) - MAX_ITEMS
    raw_id = feed.get("id")
    if document.resolved(raw_id):  # a relative reference is no id: Atom ids are absolute
        feed_id = uri(url) or url
        warnings.append("feed id is a relative reference, not a URI; its URL is used instead")
    else:
        feed_id, problem = _feed_id(raw_id, url)
        warnings += [problem] if problem else []
    return ParsedFeed(
        id=feed_id,
        title=_xml_title(feed, atom=atom, cut=False) or urlsplit(url).hostname or url,
        home=_alternate(feed, document),
        updated=_struct_time(dict.get(feed, "updated_parsed")),
        items=tuple(items),
        language=str(feed.get("language") or "") or None,
        warnings=tuple(warnings),
        skipped=tuple(skipped.items()),
    )


def _last_entry_cut_off(data: bytes, url: str, content_type: str | None, entries: int) -> bool:
    """Fewer </item> or </entry> end tags than entries: the last one never ended."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        converted = feedparser.encodings.convert_to_utf8(headers, data, {})
    except PARSE_FAILURES:
        return False
    return len(_ENTRY_END.findall(converted)) < entries


def _guids_as_written(data: bytes, document: _Document, content_type: str | None,
                      entries: list[Any]) -> list[str | None]:
    """Each entry's guid or id as the source wrote it. feedparser resolves a relative one
    (unless isPermaLink="false"); for those the document is parsed again without a URL."""
    guids = [_guid(document.real_url(entry.get("id"))) for entry in entries]
    if any(document.resolved(entry.get("id")) for entry in entries):
        again = _feedparser(data, None, content_type).entries
        if len(again) >= len(entries):  # the same bytes: the same entries, in the same order
            for index, entry in enumerate(entries):
                if document.resolved(entry.get("id")):
                    guids[index] = _guid(again[index].get("id"))
    return guids


def _guid(value: object) -> str | None:
    return xml_safe(str(value or "")).strip() or None


def _xml_item(entry: Any, guid: str | None, document: _Document, *, atom: bool
              ) -> UpstreamItem | None:
    feed_url = document.url
    link = _alternate(entry, document)
    if link is None and not atom and entry.get("guidislink") and guid:
        # RSS 2.0: a guid that is a permalink (no isPermaLink="false") is the item's URL; only
        # an absolute http(s) one serves (feedparser would make "1234" .../1234). An Atom id is
        # an identifier, never a link (feedparser uses it as one when an entry has no link).
        link = uri(guid)
    base = link or feed_url
    content = None
    if entry.get("content"):
        content = clean_html(entry.content[0].get("value", ""), base)
    summary = clean_html(entry.get("summary") or "", base)
    image = None
    for enclosure in entry.get("enclosures", []):
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            image = _url(document.real_url(enclosure["href"]), base)
            break
    # RSS <enclosure> and Atom rel="enclosure" links, then Media RSS media:content. An Atom
    # link without a type gets text/html from feedparser: no enclosure is a web page.
    enclosures = _enclosures(
        [(document.real_url(e.get("href")), None if e.get("type") == "text/html" else
          e.get("type"), e.get("length")) for e in entry.get("enclosures", [])]
        + [(m.get("url"), m.get("type"), m.get("filesize")) for m in entry.get("media_content", [])
           if isinstance(m, dict)],
        base,
    )
    title = (_xml_title(entry, atom=atom) or link or _made_title(summary, content)
             or (enclosures[0].url if enclosures else ""))
    if not title:
        return None
    # The stored key's source, exactly as before: feedparser's id resolved against the
    # document URL, else the link resolved as before, else the title as written.
    raw_link = entry.get("link")
    old_link = _absolute(document.real_url(raw_link), feed_url) if raw_link else None
    upstream_id = document.real_url(entry.get("id")) or old_link or entry.get("title") or (
        link or title)
    return UpstreamItem(
        upstream_id=xml_safe(str(upstream_id)),
        title=title,
        link=link,
        published=_struct_time(entry.get("published_parsed")),
        # dict.get: feedparser's own .get maps a missing `updated` to `published`, with a warning
        updated=_struct_time(dict.get(entry, "updated_parsed")),
        authors=tuple(_text(a.get("name")) for a in entry.get("authors", []) if a.get("name")),
        summary_html=summary,
        content_html=content,
        image=image,
        guid=guid,
        enclosures=enclosures,
        link_as_written=old_link,
    )


def _alternate(context: Any, document: _Document) -> str | None:
    """The first usable rel="alternate" link (an RSS <link>, an Atom link), HTML first.
    Not feedparser's `link`: that falls back on an Atom id or an RSS guid."""
    links = [link for link in context.get("links", [])
             if link.get("rel") == "alternate" and link.get("href")]
    links.sort(key=lambda link: link.get("type") not in _HTML_TYPES)  # stable
    for link in links:
        usable = _url(document.real_url(link["href"]), document.url)
        if usable:
            return usable
    return None


def _xml_title(context: Any, *, atom: bool, cut: bool = True) -> str:
    """An RSS title is plain text, whatever feedparser guesses; an Atom title is HTML only
    when the source says so (type="html" or "xhtml")."""
    value = context.get("title")
    if not value:
        return ""
    kind = (context.get("title_detail") or {}).get("type")
    text = plain_text(str(value)) if atom and kind in _HTML_TYPES else _plain(str(value))
    return cut_at_word(text, MAX_TITLE) if cut else text


# --- JSON Feed ---------------------------------------------------------------------------


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
    skipped: Counter[str] = Counter()
    for raw in raw_items[:MAX_ITEMS]:
        if not isinstance(raw, dict):
            skipped[SKIP_NOT_AN_OBJECT] += 1
            continue
        item = _json_item(raw, url)
        if item is None:
            skipped[SKIP_NOTHING_TO_SHOW] += 1
        else:
            items.append(item)
    warnings = []
    if len(raw_items) > MAX_ITEMS:
        warnings.append(f"feed has {len(raw_items)} items; kept the first {MAX_ITEMS}")
        skipped[SKIP_OVER_LIMIT] += len(raw_items) - MAX_ITEMS
    feed_url = document.get("feed_url")
    feed_id, problem = _feed_id(feed_url if isinstance(feed_url, str) else None, url)
    if problem:
        warnings.append(problem)
    home = document.get("home_page_url")
    title = document.get("title")
    return ParsedFeed(
        id=feed_id,
        title=(cut_at_word(_plain(title), MAX_TITLE) if isinstance(title, str) else "") or url,
        home=_url(home, url) if isinstance(home, str) else None,
        updated=None,
        items=tuple(items),
        language=str(document["language"]) if isinstance(document.get("language"), str) else None,
        warnings=tuple(warnings),
        skipped=tuple(skipped.items()),
    )


def _json_item(raw: dict[str, Any], feed_url: str) -> UpstreamItem | None:
    written = next((raw[key] for key in ("url", "external_url") if isinstance(raw.get(key), str)
                    and raw[key].strip()), None)
    link = _url(written, feed_url) if written is not None else None
    base = link or feed_url
    content = raw.get("content_html")
    if content is None and isinstance(raw.get("content_text"), str):
        content = html.escape(raw["content_text"]).replace("\n", "<br>")
    content_html = clean_html(str(content), base) if content else None
    summary = raw.get("summary")
    # JSON Feed summaries are plain text: escaped, never read as markup.
    summary_html = html.escape(xml_safe(str(summary))) if summary else ""
    attachments = raw.get("attachments")
    enclosures = _enclosures(
        [(a.get("url"), a.get("mime_type"), a.get("size_in_bytes")) for a in attachments
         if isinstance(a, dict)] if isinstance(attachments, list) else [],
        base,
    )
    raw_title = raw.get("title")
    title = (cut_at_word(_plain(raw_title), MAX_TITLE) if isinstance(raw_title, str) else ""
             ) or link or _made_title(summary_html, content_html) or (
        enclosures[0].url if enclosures else "")
    if not title:
        return None
    identifier = raw.get("id")
    # The spec: an id that is a number is read as a string; other types are no id.
    guid = (xml_safe(identifier) if isinstance(identifier, str) and identifier.strip()
            else str(identifier) if isinstance(identifier, int | float)
            and not isinstance(identifier, bool) else None)
    # As before: the id whenever it is truthy; items without one were dropped until now.
    upstream_id = str(identifier) if identifier else (
        guid or (_absolute(written, feed_url) if written is not None else None)
        or (raw_title if isinstance(raw_title, str) and raw_title else None) or link or title)
    authors = raw.get("authors") or ([raw["author"]] if raw.get("author") else [])
    image = raw.get("image")
    return UpstreamItem(
        upstream_id=xml_safe(upstream_id),
        title=title,
        link=link,
        published=_iso(raw.get("date_published")),
        updated=_iso(raw.get("date_modified")),
        authors=tuple(
            xml_safe(str(a["name"])) for a in authors if isinstance(a, dict) and a.get("name")
        ),
        summary_html=summary_html,
        content_html=content_html,
        image=_url(image, base) if isinstance(image, str) else None,
        guid=guid,
        enclosures=enclosures,
        link_as_written=_absolute(written, feed_url) if written is not None else None,
    )


# --- shared ------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Plain text as the source wrote it: "<" and ">" stay characters. Character references
    are decoded once more: titles come double-escaped ("It&amp;#8217;s") far more often than
    meaning a literal "&amp;"."""
    return xml_safe(_REFERENCE.sub(lambda m: html.unescape(m.group(0)), text)).strip()


def _text(value: object) -> str:
    """Feed text (maybe with markup or entities) → plain text."""
    return plain_text(str(value)) if value else ""


def _made_title(summary_html: str, content_html: str | None) -> str:
    """A title for an untitled item without a link: the start of its text (a line break or
    a new paragraph is a space, not nothing)."""
    text = plain_text(_BLOCK_START.sub(" <", summary_html)) or plain_text(
        _BLOCK_START.sub(" <", content_html or ""))
    return cut_at_word(text, MAX_MADE_TITLE)


def _feed_id(written: str | None, url: str) -> tuple[str, str | None]:
    """The feed's own id when it is a valid URI (an http(s) one repaired by `uri`), else the
    URL it was fetched from; with a warning when an id was given but unusable."""
    fallback = uri(url) or url
    text = xml_safe(written or "").strip()
    if not text:
        return fallback, None
    scheme = text.partition(":")[0].lower()
    if scheme in ("http", "https"):
        usable = uri(text)
    elif (_ABSOLUTE_URI.match(text) and (scheme != "urn" or _URN.match(text))
          and (scheme != "tag" or _TAG.match(text))):
        usable = text
    else:
        usable = None
    if usable:
        return usable, None
    return fallback, f"feed id {text[:200]!r} is not a valid URI; its URL is used instead"


def _enclosures(found: Iterable[tuple[object, object, object]], base: str
                ) -> tuple[Enclosure, ...]:
    """(url, type, length) as found → enclosures with valid URIs, de-duplicated by URL."""
    enclosures: dict[str, Enclosure] = {}
    for href, kind, length in found:
        # An empty href would resolve to the document itself: no enclosure.
        url = _url(href, base) if isinstance(href, str) and href.strip() else None
        if url is not None and url not in enclosures:
            enclosures[url] = Enclosure(url, _media_type(kind), _length(length))
    return tuple(enclosures.values())


def _media_type(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    kind = value.split(";")[0].strip().lower()
    return kind if _MEDIA_TYPE.match(kind) else None


def _length(value: object) -> int | None:
    """A positive number of bytes, else None ("0", "", "-1" and "12,345" are in real feeds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _LENGTH.match(value.strip()):
        value = int(value.strip())
    return value if isinstance(value, int) and 0 < value < 2**63 else None


def _url(link: str, base: str) -> str | None:
    """`link` resolved against `base`, as a valid http(s) URI; None if it cannot be one."""
    resolved = _absolute(link, base)
    return uri(resolved) if resolved else None


def _absolute(link: str, base: str) -> str | None:
    """`link` made absolute against `base`; None unless it is http(s) (no javascript:, data:)."""
    try:
        resolved = urljoin(base, xml_safe(link.strip()))
        scheme = urlsplit(resolved).scheme
    except ValueError:  # a malformed IPv6 host: no link, rather than no feed
        return None
    return resolved if scheme in ("http", "https") else None


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
