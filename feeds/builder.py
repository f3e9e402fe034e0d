"""Pure: entries → RSS 2.0 and Atom 1.0 bytes; the only module that imports feedgen.

feedgen 1.0 needs help in three places (house style §7): it loses `rel`,
`type` and `length` of Atom entry links (its issue #135), its Atom
`<source>` has no id or updated, and its RSS drops hub links. The small
extensions below write those elements themselves. Every date is set
explicitly, so the output never carries the clock.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds import __version__
from feeds.jsonfeed import files, media_type
from feeds.model import Entry, FeedInfo

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
GENERATOR_NAME = "feeds"
GENERATOR_URI = "https://pypi.org/project/feedgen/"


def rss(info: FeedInfo, entries: Sequence[Entry]) -> bytes:
    fg = _generator(info, entries, self_url=info.url("rss.xml"), self_type="application/rss+xml")
    result: bytes = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return _PLAIN_RSS_TEXT.sub(_as_character_references, result)


# RSS text elements that readers may take as HTML. Text in them that would look like markup
# once parsed ("<i>", "&amp;") is written with hexadecimal character references (&#x3C;), as
# the RSS Best Practices Profile asks: the same text to every XML parser, and the way the W3C
# validator tells text from undeclared HTML (its ContainsHTML and CharacterData warnings).
_PLAIN_RSS_TEXT = re.compile(
    rb"(<(title|category|dc:creator|source)(?: [^>]*)?>)([^<]*(?:&lt;|&amp;[#A-Za-z])[^<]*)"
    rb"(</\2>)")
_REFERENCES = {b"&lt;": b"&#x3C;", b"&gt;": b"&#x3E;", b"&amp;": b"&#x26;"}


def _as_character_references(match: re.Match[bytes]) -> bytes:
    text = re.sub(rb"&(?:lt|gt|amp);", lambda m: _REFERENCES[m.group(0)], match.group(3))
    return match.group(1) + text + match.group(4)


def atom(info: FeedInfo, entries: Sequence[Entry]) -> bytes:
    fg = _generator(info, entries, self_url=info.url("atom.xml"), self_type="application/atom+xml")
    result: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return result


def _generator(
    info: FeedInfo, entries: Sequence[Entry], *, self_url: str, self_type: str
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False)  # dc:creator and dc:source are for RSS only
    fg.register_extension("feeds", _FeedExtension, _EntryExtension)
    fg.feeds.hub = info.hub
    fg.id(info.feed_id)
    fg.title(info.title)
    fg.subtitle(info.description)
    fg.language(info.language)
    fg.generator(GENERATOR_NAME, version=__version__, uri=GENERATOR_URI)
    fg.link(href=self_url, rel="self", type=self_type)
    if info.hub:
        fg.link(href=info.hub, rel="hub")
    # The RSS channel <link> is the *last* alternate link added: add it last.
    fg.link(href=info.home, rel="alternate", type="text/html")
    fg.updated(info.updated)  # also lastBuildDate: newest entry update, never the clock
    for entry in entries:
        _add_entry(fg, entry, info.language)
    return fg


def _add_entry(fg: FeedGenerator, entry: Entry, feed_language: str) -> None:
    fe = fg.add_entry(order="append")
    fe.feeds.entry = entry
    fe.feeds.feed_language = feed_language
    fe.id(entry.id)
    fe.guid(entry.id, permalink=False)
    fe.title(entry.title)
    fe.link(href=entry.link, rel="alternate", type="text/html")
    fe.summary(entry.summary)
    fe.content(entry.content_html, type="html")
    fe.published(entry.published)
    fe.updated(entry.updated)
    for name in entry.authors:
        fe.author({"name": name})
        fe.dc.dc_creator(name)
    fe.category(term=entry.section.name)
    for tag in entry.tags:
        fe.category(term=tag.name)
    enclosures = files(entry)
    if enclosures:
        # RSS has room for one: the first media file (jsonfeed.files). Its length and type are
        # required; "0" is the RSS Best Practices Profile's "unknown", which the W3C validator
        # accepts (an empty or missing length is an error there, and so is a missing type).
        first = enclosures[0]
        fe.enclosure(first.url, str(first.length or 0), media_type(first))
    attribution = entry.attribution
    if attribution is not None and entry.upstream is None and not attribution.feed_url:
        fe.dc.dc_source(attribution.url or attribution.name)


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Adds the WebSub hub link that feedgen's RSS output drops."""

    hub = ""

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        if self.hub:
            channel = feed.find("channel")
            assert channel is not None
            link = etree.SubElement(channel, f"{{{ATOM_NS}}}link")
            link.set("href", self.hub)
            link.set("rel", "hub")
        return feed


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Writes the entry links, `<source>` and `rel="via"` that feedgen 1.0 gets wrong, and the
    entry's `xml:lang` when it is not the feed's (feedgen has no per-entry language)."""

    entry: Entry | None = None
    feed_language = ""

    def extend_atom(self, element: etree._Element) -> etree._Element:
        entry = self.entry
        assert entry is not None
        if entry.lang and entry.lang.lower() != self.feed_language.lower():  # tags ignore case
            element.set(XML_LANG, entry.lang)
        # feedgen writes Atom as un-namespaced elements under a literal xmlns attribute.
        for old in element.findall("link"):
            element.remove(old)
        _atom_link(element, href=entry.link, rel="alternate", type="text/html",
                   hreflang=entry.lang)
        for enclosure in files(entry):  # all of them; the length only when known
            link = _atom_link(element, href=enclosure.url, rel="enclosure",
                              type=media_type(enclosure))
            if enclosure.length is not None:
                link.set("length", str(enclosure.length))
        attribution = entry.attribution
        if attribution is not None and attribution.url:
            _atom_link(element, href=attribution.url, rel="via", title=attribution.name)
        if entry.upstream is not None:
            upstream = entry.upstream
            source = etree.SubElement(element, "source")
            etree.SubElement(source, "id").text = upstream.id
            etree.SubElement(source, "title").text = upstream.title
            if upstream.home:
                _atom_link(source, href=upstream.home, rel="alternate", type="text/html")
            _atom_link(source, href=upstream.url, rel="self")
            if upstream.updated is not None:
                etree.SubElement(source, "updated").text = (
                    upstream.updated.isoformat()
                )
        return element

    def extend_rss(self, element: etree._Element) -> etree._Element:
        entry = self.entry
        assert entry is not None
        description = element.find("description")
        if description is not None and "<" in entry.summary:
            # Readers take RSS <description> as HTML: text that shows markup (a summary
            # about "<script>") must stay text. Only then, so that plain summaries keep the
            # bytes every reader already agrees on.
            description.text = html.escape(entry.summary, quote=False)
        attribution = entry.attribution
        source_url = entry.upstream.url if entry.upstream is not None else None
        if source_url is None and attribution is not None:
            source_url = attribution.feed_url
        if source_url and attribution is not None:
            source = etree.SubElement(element, "source")
            source.set("url", source_url)
            source.text = attribution.name
        return element


def _atom_link(parent: etree._Element, **attributes: str) -> etree._Element:
    link = etree.SubElement(parent, "link")
    for name, value in attributes.items():
        link.set(name, value)
    return link
