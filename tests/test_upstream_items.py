"""Upstream items as parsed from feeds captured from real sites: nothing lost, nothing merged.

Each fixture under tests/fixtures/upstream/real/ is modelled on what a real generator writes
(a podcast host, a daily-notes blog, a JSON Feed with plain-text titles, a city news CMS,
an Atom newsletter); the assertions are on the parse results only.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape as xml_escape

import feedparser
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from feeds.model import Enclosure
from feeds.sources import upstream
from feeds.sources.upstream import ParsedFeed, UpstreamItem, parse_feed
from feeds.text import strip_tracking_fragment, uri, xml_safe

REAL = Path(__file__).resolve().parent / "fixtures" / "upstream" / "real"

# --- RFC 3986, appendix A, written out independently of feeds.text ------------------------

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_H16 = r"[0-9A-Fa-f]{1,4}"
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"
_IPV6 = "|".join([
    rf"(?:{_H16}:){{6}}{_LS32}",
    rf"::(?:{_H16}:){{5}}{_LS32}",
    rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
    rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
    rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
    rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
])
_IP_LITERAL = rf"\[(?:{_IPV6}|v[0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_AUTHORITY = (rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
              rf"(?P<host>{_IP_LITERAL}|{_IPV4}|{_REG_NAME})(?::[0-9]*)?")
_HIER_PART = (rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*"
              rf"|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)")
RFC3986_URI = re.compile(rf"^[A-Za-z][A-Za-z0-9+\-.]*:{_HIER_PART}"
                         rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?$")


def assert_valid_http_uri(text: str | None) -> None:
    assert text is not None
    match = RFC3986_URI.match(text)
    assert match, text
    assert text.lower().startswith(("http://", "https://")) and match.group("host"), text


def every_url(feed: ParsedFeed) -> list[str]:
    urls = [feed.id] if feed.id.lower().startswith("http") else []
    urls += [feed.home] if feed.home else []
    for item in feed.items:
        urls += [item.link] if item.link else []
        urls += [item.image] if item.image else []
        urls += [e.url for e in item.enclosures]
    return urls


def parse(name: str, url: str, content_type: str | None = None) -> ParsedFeed:
    feed = parse_feed((REAL / name).read_bytes(), url, content_type)
    for found in every_url(feed):
        assert_valid_http_uri(found)
        assert "feeds-document-base.invalid" not in found
    for item in feed.items:
        assert item.title and "feeds-document-base.invalid" not in item.upstream_id
    return feed


# --- the stored keys do not move ------------------------------------------------------------


def _absolute_before(link: str, base: str) -> str | None:
    resolved = urljoin(base, xml_safe(link.strip()))
    return resolved if urlsplit(resolved).scheme in ("http", "https") else None


def ids_before(data: bytes, url: str) -> list[str]:
    """upstream_id as the parser computed it before guids were kept, for the items it kept
    (those with an http(s) link): feedparser handed the document URL, then id or link."""
    parsed = feedparser.parse(data, response_headers={"content-location": url},
                              sanitize_html=False, resolve_relative_uris=False)
    found = []
    for entry in parsed.entries[:upstream.MAX_ITEMS]:
        link = _absolute_before(entry.get("link"), url) if entry.get("link") else None
        identifier = entry.get("id") or link or entry.get("title")
        if identifier and link:
            found.append(xml_safe(str(identifier)))
    return found


KEYED = [
    ("podcast.xml", "https://feeds.podcast.example/obrolan-kota-lama.rss"),
    ("daily-blog.xml", "https://blog.example/feed/"),
    ("linkless.xml", "https://kabarkota.example/rss/terkini.xml"),
    ("atom-types.xml", "https://devnotes.example/atom.xml"),
    ("../antara.xml", "https://www.antaranews.com/rss/terkini.xml"),
    ("../tempo.xml", "https://rss.tempo.co/nasional"),
]


@pytest.mark.parametrize(("name", "url"), KEYED)
def test_upstream_ids_are_the_ones_stored_before(name: str, url: str) -> None:
    data = (REAL / name).read_bytes()
    before = ids_before(data, url)
    assert before
    now = [item.upstream_id for item in parse(name, url).items]
    assert [i for i in now if i in set(before)] == before


_GUID_TEXT = st.sampled_from(["https://k.example/a/1", "/berita/1", "berita/2", "../x/./3",
                              "?p=4", "#5", "//cdn.k.example/6", "77", "tag:k.example,2026:8",
                              "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", "HTTP://K.example/9?",
                              "https://k.example/spasi ada", "https:////k.example/10"])
_LINK_TEXT = st.sampled_from(["https://k.example/l/1", "/l/2", "l/3?utm_source=rss",
                              "tag:k.example,2026:l", "javascript:void(0)",
                              "https://bücher.example/ü"])


@st.composite
def rss_entries(draw: st.DrawFn) -> str:
    parts = []
    link = draw(st.none() | _LINK_TEXT)
    if link is not None:
        parts.append(f"<link>{xml_escape(link)}</link>")
    guid = draw(st.none() | _GUID_TEXT)
    if guid is not None:
        attribute = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"',
                                          ' isPermaLink="True"']))
        parts.insert(draw(st.integers(0, len(parts))),
                     f"<guid{attribute}>{xml_escape(guid)}</guid>")
    return f"<item><title>Judul</title>{''.join(parts)}</item>"


@given(entries=st.lists(rss_entries(), min_size=1, max_size=6),
       url=st.sampled_from(["https://k.example/rss", "http://k.example:8080/a/b/feed.xml?x=1",
                            "https://[::1]:8443/feed", "https://K.Example/Feed/"]),
       atom_base=st.booleans())
def test_upstream_ids_follow_the_old_rule_for_any_guid_and_link(
    entries: list[str], url: str, atom_base: bool
) -> None:
    base = ' xml:base="/basis/"' if atom_base else ""
    data = (f'<?xml version="1.0"?><rss version="2.0"><channel{base}><title>K</title>'
            f"<description>d</description>{''.join(entries)}</channel></rss>").encode()
    parsed = feedparser.parse(data, response_headers={"content-location": url},
                              sanitize_html=False, resolve_relative_uris=False)
    before = []
    for entry in parsed.entries:  # the rule the keys were made with, for every entry
        link = _absolute_before(entry.get("link"), url) if entry.get("link") else None
        before.append(xml_safe(str(entry.get("id") or link or entry.get("title"))))
    feed = parse_feed(data, url)
    assert [i.upstream_id for i in feed.items] == before
    for found in every_url(feed):
        assert_valid_http_uri(found)
        assert "feeds-document-base.invalid" not in found


@st.composite
def atom_entries(draw: st.DrawFn) -> str:
    parts = ["<title>Judul</title>"]
    identifier = draw(st.none() | _GUID_TEXT)
    if identifier is not None:
        parts.append(f"<id>{xml_escape(identifier)}</id>")
    for link in draw(st.lists(_LINK_TEXT, max_size=2)):
        rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="enclosure"']))
        parts.insert(draw(st.integers(0, len(parts))),
                     f'<link{rel} href="{xml_escape(link, {chr(34): "&quot;"})}"/>')
    base = draw(st.sampled_from(["", ' xml:base="/basis/"', ' xml:base="https://lain.example/"']))
    return f"<entry{base}>{''.join(parts)}</entry>"


@given(entries=st.lists(atom_entries(), min_size=1, max_size=5),
       url=st.sampled_from(["https://k.example/atom", "http://k.example:8080/a/b/atom.xml?x=1"]))
def test_atom_upstream_ids_follow_the_old_rule(entries: list[str], url: str) -> None:
    data = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>K</title>'
            f"<id>urn:k</id>{''.join(entries)}</feed>").encode()
    parsed = feedparser.parse(data, response_headers={"content-location": url},
                              sanitize_html=False, resolve_relative_uris=False)
    before = []
    for entry in parsed.entries:
        link = _absolute_before(entry.get("link"), url) if entry.get("link") else None
        before.append(xml_safe(str(entry.get("id") or link or entry.get("title"))))
    feed = parse_feed(data, url)
    assert [i.upstream_id for i in feed.items] == before
    for found in every_url(feed):
        assert_valid_http_uri(found)
        assert "feeds-document-base.invalid" not in found


def test_relative_guids_after_a_link_keep_their_keys() -> None:
    # The pattern of many news CMSs (and bench/upstream.py): <link>, then a relative guid.
    # feedparser resolves it unless isPermaLink="false" and does not record which it was.
    data = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>K</title>'
            b"<link>https://k.example/</link><description>d</description>"
            b"<item><title>A</title><link>https://k.example/a</link><guid>/berita/1</guid></item>"
            b'<item><title>B</title><link>https://k.example/b</link>'
            b'<guid isPermaLink="false">/berita/2</guid></item>'
            b"<item><title>C</title><link>https://k.example/c</link><guid>../x/./3</guid></item>"
            b"</channel></rss>")
    url = "https://k.example:8443/rss/terkini.xml?kanal=semua"
    items = parse_feed(data, url).items
    assert [i.upstream_id for i in items] == ids_before(data, url) == [
        "https://k.example:8443/berita/1", "/berita/2", "https://k.example:8443/x/3"]
    assert [i.guid for i in items] == ["/berita/1", "/berita/2", "../x/./3"]


def test_feedparser_ids_are_as_documented() -> None:
    """What feedparser 6 puts in entry["id"] (docs/decisions.md, "Upstream item identity")."""
    data = (REAL / "linkless.xml").read_bytes()
    url = "https://kabarkota.example/rss/terkini.xml"
    entries = feedparser.parse(data, response_headers={"content-location": url},
                               sanitize_html=False, resolve_relative_uris=False).entries
    ids = {e.get("title"): (e.get("id"), e.get("link")) for e in entries}
    assert ids["Pengumuman: layanan KTP libur Senin"] == (None, None)  # no guid: no id
    assert ids["Jadwal pemadaman listrik pekan ini"] == ("kk-88123", None)  # not resolved
    # A guid without isPermaLink is resolved against the document URL, and made the link.
    assert ids["Info lalu lintas pagi"] == ("https://kabarkota.example/rss/88124",) * 2
    atom = feedparser.parse((REAL / "atom-types.xml").read_bytes(),
                            response_headers={"content-location": "https://devnotes.example/a"},
                            sanitize_html=False, resolve_relative_uris=False)
    entry = next(e for e in atom.entries if e.title == "A note without a page")
    assert entry.link == entry.id == "https://devnotes.example/notes/3"  # the id as a link
    assert atom.entries[-1].id == "https://devnotes.example/notes/6"  # "notes/6", resolved


# --- (a) a podcast: one link for 131 episodes ------------------------------------------------


def test_podcast_keeps_every_episode_with_its_guid_and_audio() -> None:
    feed = parse("podcast.xml", "https://feeds.podcast.example/obrolan-kota-lama.rss",
                 "application/rss+xml")
    assert len(feed.items) == 131 and feed.skipped == () and feed.warnings == ()
    assert {i.link for i in feed.items} == {"https://obrolan.podcast.example/"}
    guids = [i.guid for i in feed.items]
    assert len(set(guids)) == 131 and guids[0] == "obrolan-kota-lama-0131-37389"
    assert [i.upstream_id for i in feed.items] == guids  # distinct keys: nothing merged
    assert feed.items[131 - 77].title == "Eps. 77: Tanya & jawab pendengar"
    lengths = {}
    for item in feed.items:
        (enclosure,) = item.enclosures
        number = int(item.title.split(":")[0].removeprefix("Eps. "))
        assert enclosure.url == f"https://media.podcast.example/obrolan/eps-{number:04d}.mp3?from=rss"
        assert enclosure.type == "audio/mpeg"
        lengths[number] = enclosure.length
        assert item.image is None  # the audio is no image
    assert lengths[131] == 18_000_000 + 131 * 104_729
    assert lengths[130] is None  # length="0"
    assert lengths[119] is None  # no length at all
    assert sum(length is None for length in lengths.values()) == 13 + 7


# --- (b) a blog: one page a day, one anchor per post ------------------------------------------


def test_daily_page_posts_keep_their_fragments() -> None:
    feed = parse("daily-blog.xml", "https://blog.example/feed/")
    links = [i.link for i in feed.items]
    assert links[:5] == [f"https://blog.example/2026/12/0{day}#post-{n}"
                         for day, n in ((6, 3), (6, 2), (6, 1), (5, 2), (5, 1))]
    assert len(set(links)) == len(links) == 7
    for item in feed.items[:5]:
        assert item.guid == item.link == item.upstream_id
    tracked = feed.items[5]
    assert tracked.guid == "https://blog.example/?p=4121"
    # The parser keeps the fragment as the source wrote it; the caller drops tracking ones.
    assert tracked.link is not None and strip_tracking_fragment(tracked.link) == (
        "https://blog.example/2026/12/04/rangkuman-pekan")
    # No <link>: a permalink guid (RSS 2.0's default) that is an http(s) URL is the link.
    assert feed.items[6].link == feed.items[6].guid == "https://blog.example/2026/12/04#post-1"


# --- (c) a JSON Feed: titles are plain text ---------------------------------------------------


def test_json_feed_titles_are_verbatim_and_attachments_kept() -> None:
    feed = parse("plain-titles.json", "https://kultur.example/feed.json")
    assert feed.title == "Kritik & Kultur <Feuilleton>"
    assert feed.id == "https://kultur.example/feed.json" and feed.skipped == ()
    first, tags, short, bold = feed.items
    assert first.title == "Die Rückkehr von <i> und <b>"
    assert first.summary_html == "Warum &lt;b&gt; wieder fett ist und &lt;i&gt; nicht mehr kursiv."
    assert first.link == "https://kultur.example/2026/12/die-r%C3%BCckkehr"
    assert first.guid == first.upstream_id == "https://kultur.example/2026/12/die-rueckkehr"
    assert first.enclosures == (
        Enclosure("https://cdn.kultur.example/audio/rueckkehr.mp3", "audio/mpeg", 23456789),
        Enclosure("https://kultur.example/pdf/r%C3%BCckkehr.pdf", "application/pdf", None),
    )
    assert tags.title == "Tags: <br>, <hr> & <wbr> erklärt"
    assert tags.enclosures == (  # javascript: and the one without a url are no enclosures
        Enclosure("https://cdn.kultur.example/video/tags.mp4", "video/mp4", None),
        Enclosure("https://cdn.kultur.example/video/tags.webm", None, None),
    )
    assert short.link is None and short.guid == short.upstream_id == "kurz-2026-12-04"
    assert short.title == ("Kurz notiert: Das Theater am Markt bleibt bis Januar geschlossen. "
                           "Tickets werden erstattet.")
    assert short.content_html is not None and "Tickets werden erstattet" in short.content_html
    assert bold.title == "It’s a <b>bold</b> move & a good one"  # references decoded once
    assert bold.guid == bold.upstream_id == "42"  # a number, read as a string (the spec)
    assert bold.image == "https://kultur.example/img/mutig.jpg"


# --- (d) RSS items without links, and items with nothing to show -----------------------------


def test_items_without_a_usable_link_are_kept_and_empty_ones_counted() -> None:
    feed = parse("linkless.xml", "https://kabarkota.example/rss/terkini.xml")
    assert feed.skipped == ((upstream.SKIP_NOTHING_TO_SHOW, 2),)
    assert feed.home == "https://kabarkota.example/berita%20terkini/"
    assert feed.id == "https://kabarkota.example/rss/terkini.xml"  # RSS has no feed id
    items = {i.title: i for i in feed.items}
    assert len(items) == len(feed.items) == 11
    expected: dict[str, tuple[str | None, str | None, str]] = {  # title: guid, link, key
        "Pengumuman: layanan KTP libur Senin":
            (None, None, "Pengumuman: layanan KTP libur Senin"),
        "Siaran pers Pemkot: jam kerja Desember":  # a tag: URI is no link
            (None, None, "Siaran pers Pemkot: jam kerja Desember"),
        "Jadwal pemadaman listrik pekan ini": ("kk-88123", None, "kk-88123"),
        # A permalink guid that is no URL is not a link (feedparser would make one of it).
        "Info lalu lintas pagi": ("88124", None, "https://kabarkota.example/rss/88124"),
        "Tautan rusak dari CMS": ("kk-88128", None, "kk-88128"),  # javascript: is no link
        "Persib menang tipis": ("/berita/88129", "https://kabarkota.example/olahraga/persib-menang",
                                "https://kabarkota.example/berita/88129"),
        "Pasar malam dibuka lagi": ("88130", "https://kabarkota.example/berita/88130/pasar-malam",
                                    "88130"),
        "https://kabarkota.example/berita/88131": (  # untitled: titled by its link
            None, "https://kabarkota.example/berita/88131",
            "https://kabarkota.example/berita/88131"),
    }
    for title, (guid, link, key) in expected.items():
        assert (items[title].guid, items[title].link, items[title].upstream_id) == (
            guid, link, key), title
    quake = "Gempa kecil terasa di Ungaran pukul 05.10, tidak ada kerusakan."
    assert items[quake].link is None and items[quake].upstream_id == quake  # titled by its text


def test_links_are_made_valid_uris() -> None:
    feed = parse("linkless.xml", "https://kabarkota.example/rss/terkini.xml")
    items = {i.guid: i for i in feed.items}
    assert items["kk-88126"].link == ("https://kabarkota.example/berita/2026/12/harga%20cabai%20naik"
                                      "?kota=Semarang&kata=cabai%20rawit")
    assert items["kk-88127"].link == ("https://xn--bcher-kva.example/diskon-50%25-hari-ini/"
                                      "%C3%9Cbersicht#bagian%202")


def test_rss_titles_are_plain_text() -> None:
    feed = parse("linkless.xml", "https://kabarkota.example/rss/terkini.xml")
    titles = [i.title for i in feed.items]
    assert "Harga cabai naik, warga <b>menjerit</b>" in titles  # shown, not read as markup
    assert "Wali kota: “Kita siap” hadapi rob" in titles  # &amp;#8220; decoded once more


def test_enclosures_of_every_kind() -> None:
    feed = parse("linkless.xml", "https://kabarkota.example/rss/terkini.xml")
    item = next(i for i in feed.items if i.guid == "kk-88126")
    assert item.enclosures == (
        Enclosure("https://cdn.kabarkota.example/audio/cabai.mp3", "audio/mpeg", None),  # 12,345
        Enclosure("https://cdn.kabarkota.example/audio/cabai-pendek.mp3", "audio/mpeg", None),
        Enclosure("https://cdn.kabarkota.example/audio/cabai.ogg", None, None),  # type "ogg"
        Enclosure("https://cdn.kabarkota.example/foto/cabai.jpg", "image/jpeg", 204800),
        # media:content: the mp3 again is a duplicate; the photo is new
        Enclosure("https://cdn.kabarkota.example/foto/pasar%20johar.jpg", None, None),
    )
    assert item.image == "https://cdn.kabarkota.example/foto/cabai.jpg"  # as before


# --- (e) Atom: title types, an entry without a link, enclosures, an invalid id ---------------


def test_atom_titles_links_enclosures_and_ids() -> None:
    feed = parse("atom-types.xml", "https://devnotes.example/atom.xml")
    assert feed.title == "Code <b> and <i> — a newsletter"  # type="text": verbatim
    assert feed.id == "https://devnotes.example/atom.xml"  # urn:uuid: with no UUID
    assert any("urn:uuid:devnotes-feed-2026" in w and "not a valid URI" in w
               for w in feed.warnings)
    assert feed.home == "https://devnotes.example/"
    text, escaped, pageless, xhtml, spaced, relative = feed.items
    assert text.title == "Why <b> is not <strong> & never was"
    assert text.enclosures == (Enclosure("https://devnotes.example/audio/b-not-strong.mp3",
                                         "audio/mpeg", 4200000),)
    assert escaped.title == "Escaping & you"  # type="html": markup removed
    assert escaped.link == "https://devnotes.example/2026/12/escaping"
    assert pageless.link is None  # an Atom id is not a link, even an http one
    assert pageless.guid == pageless.upstream_id == "https://devnotes.example/notes/3"
    assert xhtml.title == "XHTML bold & italic"
    assert xhtml.enclosures == (  # no type: feedparser says text/html, which is not one
        Enclosure("https://devnotes.example/files/slides.pdf", None, None),
        Enclosure("https://devnotes.example/files/talk.mp4", "video/mp4", 98765432),
    )
    assert spaced.guid == "urn:uuid:not-a-uuid-5"  # as written: the caller namespaces it
    assert spaced.link == "https://devnotes.example/2026/12/a%20page%20with%20spaces"
    assert (relative.guid, relative.upstream_id) == ("notes/6", "https://devnotes.example/notes/6")


@pytest.mark.parametrize(
    ("written", "usable"),
    [
        ("tag:tempo.co,2026:nasional", True),
        ("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", True),
        ("urn:isbn:0451450523", True),
        ("https://devnotes.example/feed id", True),  # repaired: %20
        ("urn:uuid:not-a-uuid", False),
        ("tag:devnotes.example:feed", False),  # no date
        ("kanal-nasional", False),
        ("urn:uuid:{1225c695-cfb8-4ebb-aaaa-80da344efa6a}", False),
        ("https://", False),
    ],
)
def test_feed_id_must_be_a_valid_uri(written: str, usable: bool) -> None:
    body = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>{written}</id>'
            "<title>K</title><updated>2026-12-06T10:00:00Z</updated></feed>").encode()
    feed = parse_feed(body, "https://k.example/atom.xml", "application/atom+xml")
    assert (feed.id != "https://k.example/atom.xml") is usable, feed.id
    assert bool(feed.warnings) is not usable


# --- limits and cut documents ---------------------------------------------------------------


def rss_items(count: int) -> bytes:
    items = "".join(f"<item><title>Nomor {n}</title><guid isPermaLink=\"false\">n{n}</guid>"
                    f"</item>" for n in range(count))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>K</title>'
            f"<link>https://k.example/</link><description>d</description>{items}"
            f"</channel></rss>").encode()


def test_items_over_the_limit_are_counted() -> None:
    feed = parse_feed(rss_items(upstream.MAX_ITEMS + 3), "https://k.example/rss",
                      "application/rss+xml")
    assert len(feed.items) == upstream.MAX_ITEMS
    assert feed.skipped == ((upstream.SKIP_OVER_LIMIT, 3),)


@pytest.mark.parametrize("permalink", [False, True], ids=["guids", "relative-permalinks"])
def test_an_item_cut_off_by_the_end_of_the_body_is_counted_not_kept(permalink: bool) -> None:
    # Kept, "Nomor 2" would come back under another key once its guid arrives in full.
    body = rss_items(3)
    if permalink:
        body = body.replace(b' isPermaLink="false"', b"")
    cut = body[: body.index(b"Nomor 2") + 3]
    feed = parse_feed(cut, "https://k.example/rss", "application/rss+xml")
    assert [i.guid for i in feed.items] == ["n0", "n1"]
    assert [i.upstream_id for i in feed.items] == (
        ["https://k.example/n0", "https://k.example/n1"] if permalink else ["n0", "n1"])
    assert feed.skipped == ((upstream.SKIP_UNFINISHED, 1),)


def test_json_items_that_are_not_objects_or_empty_are_counted() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": '
            b'[5, "teks", null, {"id": "kosong"}, {"id": "isi", "content_text": "Isi."}]}')
    feed = parse_feed(body, "https://j.example/feed.json")
    assert [i.guid for i in feed.items] == ["isi"]
    assert feed.skipped == ((upstream.SKIP_NOT_AN_OBJECT, 3), (upstream.SKIP_NOTHING_TO_SHOW, 1))


def test_new_fields_come_last_with_defaults() -> None:
    """So that code constructing these values before them still works."""
    item = {f.name: f for f in dataclasses.fields(UpstreamItem)}
    assert item["guid"].default is None and item["enclosures"].default == ()
    assert {f.name: f for f in dataclasses.fields(ParsedFeed)}["skipped"].default == ()


# --- the URI helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("https://x.example/a b/ü?q=ä ö#frag x",
         "https://x.example/a%20b/%C3%BC?q=%C3%A4%20%C3%B6#frag%20x"),
        ("https://x.example/50%-off/%41", "https://x.example/50%25-off/%41"),
        ("http://Bücher.example:8080/", "http://xn--bcher-kva.example:8080/"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),  # IDNA 2008, not 2003's fass.de
        ("https://☃.net/", "https://xn--n3h.net/"),  # a symbol IDNA 2008 refuses
        ("  https://x.example/a\n\tb  ", "https://x.example/ab"),
        ("https://x.example/a#b#c", "https://x.example/a#b%23c"),
        ("https://x.example/<script>", "https://x.example/%3Cscript%3E"),
        ("https://x.example/a|b{c}\\d^e`f\"g", "https://x.example/a%7Cb%7Bc%7D%5Cd%5Ee%60f%22g"),
        ("https://user name@x.example/", "https://user%20name@x.example/"),
        ("HTTPS://X.example/?", "HTTPS://X.example/?"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://ex ample.com/", None),
        ("https://x.example:99999/", None),
        ("https://x.example:80a/", None),
        ("http://[fe80::1%eth0]/", None),
        ("http://[v1.x]/", None),
        ("https:///path", None),
        ("//x.example/a", None),
        ("/relative", None),
        ("javascript:alert(1)", None),
        ("tag:x.example,2026:1", None),
        ("https://x.example/\ud800", None),
    ],
)
def test_uri(written: str, expected: str | None) -> None:
    assert uri(written) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://b.example/x#utm_source=rss&utm_medium=feed", "https://b.example/x"),
        ("https://b.example/x#tk.rss_all", "https://b.example/x"),
        ("https://b.example/x#UTM_source=rss", "https://b.example/x"),
        ("https://b.example/x#post-2", "https://b.example/x#post-2"),
        ("https://b.example/x#utm", "https://b.example/x#utm"),
        ("https://b.example/x?utm_source=rss", "https://b.example/x?utm_source=rss"),
        ("https://b.example/x", "https://b.example/x"),
    ],
)
def test_strip_tracking_fragment(url: str, expected: str) -> None:
    assert strip_tracking_fragment(url) == expected


_URL_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_ANY_TEXT = st.text(max_size=40)


@given(prefix=st.sampled_from(["http://", "https://", "HTTP://", "http:", " https://", ""]),
       rest=_URL_TEXT | _ANY_TEXT)
@example(prefix="https://", rest="bücher.example/%/ü?%zz#a#b")
@example(prefix="http://", rest="[::ffff:1.2.3.4]:/")
def test_uri_gives_a_valid_uri_or_none_and_is_idempotent(prefix: str, rest: str) -> None:
    made = uri(prefix + rest)
    if made is not None:
        assert_valid_http_uri(made)
        assert uri(made) == made


def _chars(allowed: str) -> st.SearchStrategy[str]:
    single = st.sampled_from(allowed)
    encoded = st.integers(0, 255).map(lambda b: f"%{b:02X}")
    return st.lists(single | encoded, max_size=12).map("".join)


_UNRESERVED_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_SUB_DELIM_CHARS = "!$&'()*+,;="
_PCHARS = _UNRESERVED_CHARS + _SUB_DELIM_CHARS + ":@"


@st.composite
def valid_http_uris(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    userinfo = draw(st.none() | _chars(_UNRESERVED_CHARS + _SUB_DELIM_CHARS + ":"))
    host = draw(
        _chars(_UNRESERVED_CHARS + _SUB_DELIM_CHARS).filter(bool)
        | st.ip_addresses(v=4).map(str)
        | st.ip_addresses(v=6).map(lambda address: f"[{address}]")
    )
    port = draw(st.none() | st.just("") | st.integers(0, 65535).map(str))
    path = "".join(draw(st.lists(_chars(_PCHARS).map(lambda s: "/" + s), max_size=4)))
    query = draw(st.none() | _chars(_PCHARS + "/?"))
    fragment = draw(st.none() | _chars(_PCHARS + "/?"))
    return "".join([
        scheme, "://", "" if userinfo is None else userinfo + "@", host,
        "" if port is None else ":" + port, path,
        "" if query is None else "?" + query, "" if fragment is None else "#" + fragment,
    ])


@given(valid_http_uris())
@example("https://x.example")
@example("http://x.example:/?#")
def test_uri_leaves_valid_uris_unchanged(text: str) -> None:
    assert RFC3986_URI.match(text), text  # the strategy itself is right
    assert uri(text) == text
