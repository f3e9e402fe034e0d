"""Pure: upstream items → the entries republished with attribution, and which item is which.

Identity. Within one source, an item is what its id says (the store's key
comes from `UpstreamItem.upstream_id`, as it always has); items that
collide on that key without an id of their own (no guid, the same link)
are told apart by title and date, except the one the state already holds
under that key, which keeps it: no published item reappears under a new
id. Across sources, an item is a duplicate only when its canonical link
names the same article; a source's home page, its feed, or a site's root
name no article.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from feeds import render
from feeds.codec import from_epoch
from feeds.entries import entry_id, image_type, page_path
from feeds.model import Attribution, Entry, Section, UpstreamFeed
from feeds.sanitize import plain_text
from feeds.sources.upstream import UpstreamItem
from feeds.text import cut_at_word, strip_tracking_fragment

_TRACKING = re.compile(r"^(utm_[a-z_]+|fbclid|gclid|dclid|mc_cid|mc_eid|igshid|yclid|_ga|ref_src)$",
                       re.IGNORECASE)
SUMMARY_LENGTH = 300


def strip_tracking(url: str) -> str:
    """The link as published: without tracking parameters (utm_*, fbclid, …) or a tracking
    fragment (`#utm_…`, `#tk.…`); other fragments name a part of the page and stay."""
    url = strip_tracking_fragment(url)
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def canonical_link(url: str) -> str:
    """The link as an article's identity: no tracking, default port or host case, and a
    fragment only when it names a part of the page (one post of a daily page)."""
    parts = urlsplit(strip_tracking_fragment(url))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https" if parts.scheme in ("http", "https") else parts.scheme, host,
                       path, urlencode(query), parts.fragment))


def article_link(link: str | None, homes: Iterable[str]) -> str | None:
    """The canonical link when it names an article: not a site's root, and not the source's
    home page or feed (`homes`, as written; or `canonical_homes` of them, made once per feed
    by a caller with many items); None otherwise."""
    if link is None:
        return None
    canonical = canonical_link(link)
    parts = urlsplit(canonical)
    if parts.path == "/" and not parts.query and not parts.fragment:
        return None
    known = homes if isinstance(homes, CanonicalHomes) else canonical_homes(homes)
    return None if canonical in known else canonical


class CanonicalHomes(frozenset[str]):
    """A source's home page and feed as canonical links (`canonical_homes`)."""


def canonical_homes(homes: Iterable[str]) -> CanonicalHomes:
    return CanonicalHomes(canonical_link(home) for home in homes)


def upstream_key(source: str, upstream_id: str) -> str:
    """Namespaced by source: two sources never collide, whatever ids they use."""
    digest = hashlib.sha256(upstream_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"upstream/{source}/{digest}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item's key under the old rule, and the key title and date give it when items
    collide on the old one without an id of their own (None: no collision, or an id)."""

    key: str
    distinct: str | None = None


def candidates(source: str, items: Sequence[UpstreamItem]) -> list[Candidate]:
    old = [upstream_key(source, item.upstream_id) for item in items]
    counts = Counter(old)
    found = []
    for item, key in zip(items, old, strict=True):
        if counts[key] == 1 or item.guid is not None:
            found.append(Candidate(key))  # an id given twice is one item: the first wins
            continue
        date = item.published or item.updated
        label = "\0".join([item.upstream_id, item.title, date.isoformat() if date else ""])
        found.append(Candidate(key, upstream_key(source, label)))
    return found


def matches(words: tuple[str, ...], text: str) -> bool:
    lowered = text.casefold()
    return any(re.search(rf"(?<!\w){re.escape(w.casefold())}(?!\w)", lowered) for w in words)


@dataclass(frozen=True, slots=True)
class Republisher:
    """What every entry of one source shares: where it goes, whom it credits, where from."""

    source: str
    section: Section
    attribution: Attribution
    upstream: UpstreamFeed
    id_prefix: str
    base_url: str
    full: bool  # republish the full content, not the summary

    def entry(self, item: UpstreamItem, key: str, language: str) -> tuple[Entry, str]:
        """The entry for one item, and the hash of what subscribers read. An item without a
        usable link links to a page of its own, which credits the outlet and links its site."""
        body = item.content_html if self.full and item.content_html else item.summary_html
        if body and not body.lstrip().startswith("<"):
            body = f"<p>{body}</p>"
        link = None if item.link is None else strip_tracking(item.link)
        credited = replace(self.attribution, url=link or self.attribution.url)
        content = "\n".join(part for part in (body, render.credit_html(credited, language))
                            if part)
        summary = cut_at_word(plain_text(item.summary_html or item.content_html or ""),
                              SUMMARY_LENGTH)
        # As written: an item stored before links were repaired keeps its hash (and `updated`).
        written = item.link_as_written or item.link or ""
        digest = hashlib.sha256("\0".join([item.title, written, body or "", self.section.slug,
                                           render.credit_word(language)]).encode()).hexdigest()
        page = None if link is not None else page_path(key)
        epoch = from_epoch(0)
        entry = Entry(
            id=entry_id(self.id_prefix, key), key=key, title=item.title,
            link=link or self.base_url + quote(page or ""), section=self.section,
            published=item.published or item.updated or epoch,
            updated=item.updated or item.published or epoch,
            summary=summary or item.title, content_html=content, lang=language,
            authors=item.authors or (self.attribution.name,), image=item.image,
            image_type=image_type(item.image) if item.image else None,
            attribution=self.attribution, upstream=self.upstream, page=page,
            enclosures=item.enclosures,
        )
        return entry, digest
