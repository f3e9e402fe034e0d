"""Pure: the human side of `output/`: article pages, feed listings, index.html, about.html and
feeds.opml."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from feeds.model import Entry, FeedInfo

FORMATS = (
    ("rss.xml", "application/rss+xml", "RSS"),
    ("atom.xml", "application/atom+xml", "Atom"),
    ("feed.json", "application/feed+json", "JSON Feed"),
)

_STYLE = (
    "body{font:17px/1.6 system-ui,sans-serif;max-width:42em;margin:2em auto;padding:0 1em;"
    "color:#222}a{color:#0b57a4}h1{line-height:1.25}.meta,.feeds{color:#555;font-size:.9em}"
    "li{margin:.3em 0}.credit{font-style:italic}"
)
ABOUT = "about.html"  # the page for developers: what the feeds carry, the `_source` extension
SOURCE_ANCHOR = "json-source"  # `_source.about` in every JSON Feed is ABOUT#SOURCE_ANCHOR


@dataclass(frozen=True, slots=True)
class PageSite:
    title: str
    language: str
    zone: ZoneInfo


def _document(site: PageSite, lang: str, title: str, head: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def _autodiscovery(feed: FeedInfo, prefix: str) -> str:
    return "".join(
        f'<link rel="alternate" type="{mime}" title="{escape(feed.title)} ({label})" '
        f'href="{escape(prefix + feed.folder + name)}">\n'
        for name, mime, label in FORMATS
    )


def _feed_links(feed: FeedInfo, prefix: str) -> str:
    links = " · ".join(
        f'<a href="{escape(prefix + feed.folder + name)}">{label}</a>' for name, _, label in FORMATS
    )
    return f'<p class="feeds">Feeds: {links}</p>'


def _when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f'<time datetime="{moment.isoformat()}">{local.strftime("%Y-%m-%d %H:%M %Z")}</time>'


def article_page(site: PageSite, entry: Entry, section_feed: FeedInfo, up: str = "../"
                 ) -> bytes:
    """A plain, readable page: the link every local entry points to. `up` leads to the site's
    root: relative in `output/`, the site's URL in a preview opened as a file."""
    head = f'<link rel="canonical" href="{escape(entry.link)}">\n' + _autodiscovery(
        section_feed, up
    )
    authors = ", ".join(escape(a) for a in entry.authors)
    tags = " ".join(
        f'<a href="{up}tags/{escape(t.slug)}/">#{escape(t.name)}</a>' for t in entry.tags
    )
    parts = [
        f'<p class="meta"><a href="{up}{escape(entry.section.slug)}/">'
        f"{escape(entry.section.name)}</a></p>",
        f"<h1>{escape(entry.title)}</h1>",
        f'<p class="meta">{_when(entry.published, site.zone)}'
        + (f" · {authors}" if authors else "")
        + "</p>",
    ]
    if entry.image:
        parts.append(f'<p><img src="{escape(entry.image)}" alt="" style="max-width:100%"></p>')
    parts.append(f"<article>\n{entry.content_html}\n</article>")
    if tags:
        parts.append(f'<p class="meta">{tags}</p>')
    parts.append(
        f'<p><a href="{up}{escape(entry.section.slug)}/">← {escape(entry.section.name)}</a> · '
        f'<a href="{up}">{escape(site.title)}</a></p>'
    )
    return _document(site, entry.lang, f"{entry.title} — {site.title}", head, "\n".join(parts))


def _entry_list(entries: Sequence[Entry], prefix: str, zone: ZoneInfo) -> str:
    if not entries:
        return "<p>Belum ada artikel. (No articles yet.)</p>"
    rows = "\n".join(
        f'<li><a href="{escape(_href(entry, prefix))}">{escape(entry.title)}</a> '
        f'{_outlet(entry)}<span class="meta">{_when(entry.published, zone)}</span></li>'
        for entry in entries
    )
    return f"<ul>\n{rows}\n</ul>"


def _outlet(entry: Entry) -> str:
    """The outlet ("— Antara") after the title of an item republished from another outlet's
    feed. A local article that quotes an outlet is our own reporting: no mark (its credit line
    is in the article)."""
    if entry.upstream is None or entry.attribution is None:
        return ""
    return f'<span class="outlet">— {escape(entry.attribution.name)}</span> '


def _href(entry: Entry, prefix: str) -> str:
    return prefix + entry.page if entry.page and entry.link.endswith(entry.page) else entry.link


def listing_page(site: PageSite, feed: FeedInfo, entries: Sequence[Entry]) -> bytes:
    """`S/index.html` and `tags/T/index.html`: the feed's alternate link, a real page."""
    prefix = "../" * feed.folder.count("/")
    body = (
        f'<p class="meta"><a href="{prefix}">{escape(site.title)}</a></p>\n'
        f"<h1>{escape(feed.title)}</h1>\n{_feed_links(feed, prefix)}\n"
        f"{_entry_list(entries, prefix, site.zone)}"
    )
    return _document(site, site.language, feed.title, _autodiscovery(feed, prefix), body)


def index_page(
    site: PageSite,
    all_feed: FeedInfo,
    sections: Sequence[tuple[FeedInfo, Sequence[Entry]]],
    tags: Sequence[FeedInfo],
) -> bytes:
    """The front page: latest entries per section and autodiscovery links for every feed."""
    feeds = [all_feed, *(f for f, _ in sections), *tags]
    head = "".join(_autodiscovery(f, "") for f in feeds)
    parts = [
        f"<h1>{escape(site.title)}</h1>",
        _feed_links(all_feed, ""),
        f'<p class="feeds"><a href="feeds.opml">All feeds as OPML</a> · '
        f'<a href="{ABOUT}">About these feeds</a></p>',
    ]
    for feed, entries in sections:
        name = feed.title.split(" — ", 1)[-1]
        parts.append(
            f'<h2 id="{escape(feed.folder.strip("/"))}"><a href="{escape(feed.folder)}">'
            f"{escape(name)}</a></h2>\n{_feed_links(feed, '')}\n"
            f"{_entry_list(entries, '', site.zone)}"
        )
    if tags:
        links = " ".join(
            f'<a href="{escape(t.folder)}">{escape(t.title.split(" — ", 1)[-1])}</a>'
            for t in tags
        )
        parts.append(f"<h2>Tags</h2>\n<p>{links}</p>")
    # JSON Feed items already delivered link here (`_source.about` was index.html#json-source):
    # the anchor stays, pointing to the explanation's new home.
    parts.append(
        f'<p class="meta" id="{SOURCE_ANCHOR}">The JSON Feed <code>_source</code> extension is '
        f'explained on <a href="{ABOUT}#{SOURCE_ANCHOR}">About these feeds</a>.</p>'
    )
    return _document(site, site.language, site.title, head, "\n".join(parts))


def about_page(site: PageSite, all_feed: FeedInfo) -> bytes:
    """`about.html`: for developers; `#json-source` explains the JSON Feed `_source` extension."""
    head = _autodiscovery(all_feed, "")
    body = "\n".join([
        f'<p class="meta"><a href="./">{escape(site.title)}</a></p>',
        "<h1>About these feeds</h1>",
        _feed_links(all_feed, ""),
        '<p class="feeds"><a href="feeds.opml">All feeds as OPML</a></p>',
        "<p>Every feed comes in three formats: RSS 2.0, Atom 1.0 and JSON Feed 1.1, with the "
        "same items. Each section and tag has its own feeds, linked from its page.</p>",
        f'<h2 id="{SOURCE_ANCHOR}">JSON Feed: <code>_source</code></h2>',
        "<p>Items that reproduce another outlet's reporting carry "
        '<code>"_source": {"about", "name", "url", "feed_url"}</code>: the outlet credited, '
        "its site and, when known, its feed. <code>url</code> is null when the outlet has no "
        "known address. <code>about</code> links here.</p>",
        f'<p><a href="./">← {escape(site.title)}</a></p>',
    ])
    return _document(site, "en", f"About these feeds — {site.title}", head, body)


def opml(site: PageSite, feeds: Sequence[FeedInfo]) -> bytes:
    """Every feed (its RSS flavour) for one-click subscription, grouped as on the front page."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = site.title
    body = ET.SubElement(root, "body")
    groups: dict[str, ET.Element] = {}
    for feed in feeds:
        kind = feed.key.kind
        parent = body
        if kind != "all":
            label = "Tags" if kind == "tag" else "Sections"
            if label not in groups:
                groups[label] = ET.SubElement(body, "outline", text=label, title=label)
            parent = groups[label]
        ET.SubElement(
            parent, "outline", type="rss", text=feed.title, title=feed.title,
            xmlUrl=feed.url("rss.xml"), htmlUrl=feed.home, language=feed.language,
        )
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document + b"\n"
