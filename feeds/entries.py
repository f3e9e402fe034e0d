"""Pure: a parsed article plus what the state remembers → a feed Entry with stable id and times."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from feeds import render
from feeds.codec import from_epoch, to_epoch
from feeds.model import Article, Block, BulletList, Entry, Heading, Paragraph
from feeds.store import EntryRecord
from feeds.text import cut_at_word, slugify

_SAFE_PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # fullmatch: `$` allows a "\n"
SUMMARY_LENGTH = 300
PAGES_FOLDER = "articles"  # every entry's own page is in here


@dataclass(frozen=True, slots=True)
class EntrySite:
    """The site facts an entry needs."""

    base_url: str
    id_prefix: str
    author: str


class Times(NamedTuple):
    first_seen: int
    published: int
    updated: int


def entry_id(id_prefix: str, key: str) -> str:
    """An absolute IRI; characters an IRI cannot hold are percent-encoded."""
    return id_prefix + quote(key, safe="-._~!$&'()*+,;=:@/")


def page_path(key: str) -> str:
    """`articles/<key>.html`, or a safe slug plus a short hash for keys a URL path can't hold."""
    if _SAFE_PAGE_NAME.fullmatch(key) and len(key) <= 120:
        return f"{PAGES_FOLDER}/{key}.html"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{PAGES_FOLDER}/{slugify(key, fallback='article')[:60]}-{digest}.html"


def content_hash(article: Article) -> str:
    """Hash of what subscribers read; paths, mtimes and config (base_url, outlet URLs) stay out."""
    projection = {
        "section": article.section.name,
        "title": article.title,
        "blocks": [_block_data(b) for b in article.blocks],
        "lang": article.lang,
        "attribution": None if article.attribution is None else article.attribution.name,
        "date": None if article.date is None else to_epoch(article.date),
        "updated": None if article.updated is None else to_epoch(article.updated),
        "authors": list(article.authors),
        "tags": [t.name for t in article.tags],
        "summary": article.summary,
        "image": article.image,
        "link": article.link,
    }
    encoded = json.dumps(projection, ensure_ascii=False, sort_keys=True).encode("utf-8", "replace")
    return hashlib.sha256(encoded).hexdigest()


def _block_data(block: Block) -> list[object]:
    if isinstance(block, Paragraph | Heading):
        return [type(block).__name__, block.text]
    kind = "ul" if isinstance(block, BulletList) else "ol"
    return [kind, [[item.label, item.text] for item in block.items]]


def reconcile_times(
    previous: EntryRecord | None,
    date: int | None,
    updated_at: int | None,
    new_hash: str,
    file_mtime: int,
    now: int,
) -> Times:
    """Publication time is fixed when first seen; `updated` moves only when the text changes.
    `date` and `updated_at` are the article header's, in epoch seconds."""
    first_seen = previous.first_seen if previous is not None else file_mtime
    published = date if date is not None else first_seen
    if updated_at is not None:
        updated = updated_at
    elif previous is None:
        updated = published
    elif previous.hash != new_hash:
        updated = now
    else:
        updated = previous.updated
    return Times(first_seen, published, max(published, updated))


def upstream_times(
    previous: EntryRecord | None,
    published: int | None,
    updated: int | None,
    new_hash: str,
    now: int,
) -> Times:
    """An upstream item's times: publication fixed when first seen (its own date, clamped to
    now, else the first pull); `updated` is the item's own (never before publication or after
    now), else moves only when the content hash does."""
    if previous is not None:
        first_seen, publication = previous.first_seen, previous.published
    else:
        first_seen = now
        publication = min(published, now) if published is not None else now
    if updated is not None:
        last = max(min(updated, now), publication)
    elif previous is not None and previous.hash != new_hash:
        last = now
    elif previous is not None:
        last = previous.updated
    else:
        last = publication
    return Times(first_seen, publication, last)


def build_entry(article: Article, times: Times, site: EntrySite) -> Entry:
    # An article that lives elsewhere (header `link`) links there and gets no page here.
    page = None if article.link else page_path(article.key)
    lead = article.lead or article.title
    return Entry(
        id=entry_id(site.id_prefix, article.key),
        key=article.key,
        title=article.title,
        link=article.link or site.base_url + quote(page or ""),
        section=article.section,
        published=from_epoch(times.published),
        updated=from_epoch(times.updated),
        summary=article.summary or cut_at_word(lead, SUMMARY_LENGTH),
        content_html=render.content_html(article),
        lang=article.lang,
        authors=article.authors or ((site.author,) if site.author else ()),
        tags=article.tags,
        image=article.image,
        image_type=image_type(article.image) if article.image else None,
        attribution=article.attribution,
        page=page,
        dateline=article.dateline,
    )


def image_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path, strict=False)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"
