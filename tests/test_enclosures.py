"""Enclosures travel: every upstream enclosure in Atom and JSON Feed, the first media one in RSS.

Entries are built directly and rendered with `builder` and `jsonfeed`; the bytes are read back
with feedparser, lxml and json. docs/formats.md says what each format carries and why.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from lxml import etree

from feeds import builder, entries, jsonfeed
from feeds.model import ALL, Enclosure, Entry, FeedInfo, Section

ATOM = "{http://www.w3.org/2005/Atom}"
WHEN = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
INFO = FeedInfo(key=ALL, title="Podcast", description="Episodes", language="id",
                feed_id="tag:usmnews.example,2026:feed", base_url="https://usmnews.example/",
                updated=WHEN)
ABOUT = "https://usmnews.example/#json-source"

MP3 = Enclosure("https://cdn.example.org/ep/1.mp3", "audio/mpeg", 12_345_678)
COVER = Enclosure("https://cdn.example.org/ep/1.png", "image/png", 20_480)
PDF = Enclosure("https://cdn.example.org/ep/1.pdf", "application/pdf", None)
OGG = Enclosure("https://cdn.example.org/ep/1.ogg", None, None)  # type guessed: audio/ogg
BLOB = Enclosure("https://cdn.example.org/get?id=7", None, None)  # nothing to guess from


def entry(key: str = "ep-1", **fields: Any) -> Entry:
    values: dict[str, Any] = {
        "id": f"tag:usmnews.example,2026:{key}", "key": key, "title": f"Episode {key}",
        "link": f"https://usmnews.example/articles/{key}.html",
        "section": Section("podcast", "Podcast"), "published": WHEN, "updated": WHEN,
        "summary": "Ringkasan.", "content_html": "<p>Isi.</p>", "lang": "id",
        "authors": ("Ani",),
    }
    return Entry(**(values | fields))


def rss_enclosures(item: Entry) -> list[dict[str, str]]:
    tree = etree.fromstring(builder.rss(INFO, [item]))
    return [attributes(e) for e in tree.iter("enclosure")]


def atom_enclosures(item: Entry) -> list[dict[str, str]]:
    tree = etree.fromstring(builder.atom(INFO, [item]))
    return [attributes(link) for link in tree.iter(f"{ATOM}link")
            if link.get("rel") == "enclosure"]


def attributes(element: etree._Element) -> dict[str, str]:
    return {str(name): str(value) for name, value in element.attrib.items()}


def attachments(item: Entry) -> list[dict[str, Any]]:
    data = json.loads(jsonfeed.json_feed(INFO, [item], about=ABOUT))
    found: list[dict[str, Any]] = data["items"][0].get("attachments", [])
    return found


# --- every enclosure in Atom and JSON Feed --------------------------------------------------


def test_atom_and_json_carry_every_enclosure_with_type_and_length_as_given() -> None:
    item = entry(enclosures=(MP3, COVER, PDF))
    assert atom_enclosures(item) == [
        {"href": MP3.url, "rel": "enclosure", "type": "audio/mpeg", "length": "12345678"},
        {"href": COVER.url, "rel": "enclosure", "type": "image/png", "length": "20480"},
        {"href": PDF.url, "rel": "enclosure", "type": "application/pdf"},
    ]
    assert attachments(item) == [
        {"url": MP3.url, "mime_type": "audio/mpeg", "size_in_bytes": 12_345_678},
        {"url": COVER.url, "mime_type": "image/png", "size_in_bytes": 20_480},
        {"url": PDF.url, "mime_type": "application/pdf"},
    ]
    parsed = feedparser.parse(builder.atom(INFO, [item]))
    assert parsed.bozo == 0
    assert [(e.href, e.type, e.get("length")) for e in parsed.entries[0].enclosures] == [
        (MP3.url, "audio/mpeg", "12345678"), (COVER.url, "image/png", "20480"),
        (PDF.url, "application/pdf", None),
    ]


def test_the_media_file_comes_first_in_atom_and_json_too() -> None:
    """Readers that take one enclosure take the first: the same one as RSS's."""
    item = entry(enclosures=(COVER, MP3, PDF))
    assert [link["href"] for link in atom_enclosures(item)] == [MP3.url, COVER.url, PDF.url]
    assert [a["url"] for a in attachments(item)] == [MP3.url, COVER.url, PDF.url]


def test_an_enclosure_listed_twice_is_written_once() -> None:
    item = entry(enclosures=(MP3, replace(MP3, length=None), COVER))
    assert [link["href"] for link in atom_enclosures(item)] == [MP3.url, COVER.url]
    assert [a["url"] for a in attachments(item)] == [MP3.url, COVER.url]
    assert atom_enclosures(item)[0]["length"] == "12345678"  # the first one listed wins


# --- one enclosure in RSS --------------------------------------------------------------------


@pytest.mark.parametrize(("enclosures", "image", "expected"), [
    pytest.param((MP3,), None, MP3.url, id="audio"),
    pytest.param((COVER, MP3), None, MP3.url, id="audio-after-a-picture"),
    pytest.param((COVER, PDF, MP3), None, PDF.url, id="any-type-but-image-is-media"),
    pytest.param((COVER, OGG), None, OGG.url, id="type-guessed-from-the-extension"),
    pytest.param((COVER, BLOB), None, BLOB.url, id="unknown-type-counts-as-media"),
    pytest.param((COVER,), "https://usmnews.example/img/lead.jpg",
                 "https://usmnews.example/img/lead.jpg", id="entry-image-before-pictures"),
    pytest.param((COVER, replace(COVER, url="https://cdn.example.org/2.png")), None,
                 COVER.url, id="else-the-first-enclosure"),
    pytest.param((MP3,), "https://usmnews.example/img/lead.jpg", MP3.url,
                 id="media-before-the-entry-image"),
])
def test_rss_carries_one_enclosure_the_first_media_one(
    enclosures: tuple[Enclosure, ...], image: str | None, expected: str
) -> None:
    item = entry(enclosures=enclosures, image=image, image_type="image/jpeg" if image else None)
    found = rss_enclosures(item)
    assert [e["url"] for e in found] == [expected]
    parsed = feedparser.parse(builder.rss(INFO, [item]))
    assert parsed.bozo == 0
    assert [e.href for e in parsed.entries[0].enclosures] == [expected]


def test_rss_writes_the_length_and_type_as_given() -> None:
    assert rss_enclosures(entry(enclosures=(COVER, MP3))) == [
        {"url": MP3.url, "length": "12345678", "type": "audio/mpeg"}
    ]


# --- enclosures and the entry image ----------------------------------------------------------


def test_an_entry_with_enclosures_and_an_image_carries_both() -> None:
    lead = "https://usmnews.example/img/lead.jpg"
    item = entry(enclosures=(COVER, MP3), image=lead, image_type="image/jpeg")
    assert rss_enclosures(item) == [{"url": MP3.url, "length": "12345678", "type": "audio/mpeg"}]
    assert [(link["href"], link["type"]) for link in atom_enclosures(item)] == [
        (MP3.url, "audio/mpeg"), (COVER.url, "image/png"), (lead, "image/jpeg")
    ]
    data = json.loads(jsonfeed.json_feed(INFO, [item], about=ABOUT))["items"][0]
    assert data["image"] == lead
    assert data["attachments"] == [
        {"url": MP3.url, "mime_type": "audio/mpeg", "size_in_bytes": 12_345_678},
        {"url": COVER.url, "mime_type": "image/png", "size_in_bytes": 20_480},
        {"url": lead, "mime_type": "image/jpeg"},
    ]


def test_an_image_that_is_also_an_enclosure_is_written_once_with_the_enclosures_facts() -> None:
    """An upstream item's image is its first image enclosure; pull.py types it image/jpeg
    whatever it is. The enclosure knows better (here a PNG with its length)."""
    item = entry(enclosures=(COVER,), image=COVER.url, image_type="image/jpeg")
    assert rss_enclosures(item) == [{"url": COVER.url, "length": "20480", "type": "image/png"}]
    assert atom_enclosures(item) == [
        {"href": COVER.url, "rel": "enclosure", "type": "image/png", "length": "20480"}
    ]
    assert attachments(item) == [
        {"url": COVER.url, "mime_type": "image/png", "size_in_bytes": 20_480}
    ]


# The bytes the code at the start of this change wrote for an entry with only an image.
IMAGE_ONLY_RSS = """\
    <item>
      <title>Episode foto</title>
      <link>https://usmnews.example/articles/foto.html</link>
      <description>Ringkasan.</description>
      <content:encoded>&lt;p&gt;Isi.&lt;/p&gt;</content:encoded>
      <guid isPermaLink="false">tag:usmnews.example,2026:foto</guid>
      <category>Podcast</category>
      <enclosure url="https://usmnews.example/img/foto.png?w=600&amp;h=400" length="0" \
type="image/png"/>
      <pubDate>Tue, 10 Feb 2026 12:00:00 +0000</pubDate>
      <dc:creator>Ani</dc:creator>
    </item>
"""
IMAGE_ONLY_ATOM = """\
  <entry>
    <id>tag:usmnews.example,2026:foto</id>
    <title>Episode foto</title>
    <updated>2026-02-10T12:00:00+00:00</updated>
    <author>
      <name>Ani</name>
    </author>
    <content type="html">&lt;p&gt;Isi.&lt;/p&gt;</content>
    <summary>Ringkasan.</summary>
    <category term="Podcast"/>
    <published>2026-02-10T12:00:00+00:00</published>
    <link href="https://usmnews.example/articles/foto.html" rel="alternate" type="text/html" \
hreflang="id"/>
    <link href="https://usmnews.example/img/foto.png?w=600&amp;h=400" rel="enclosure" \
type="image/png"/>
  </entry>
"""
IMAGE_ONLY_JSON = """\
      "image": "https://usmnews.example/img/foto.png?w=600&h=400",
      "attachments": [
        {
          "url": "https://usmnews.example/img/foto.png?w=600&h=400",
          "mime_type": "image/png"
        }
      ]
    }
  ]
}
"""


def test_an_entry_with_only_an_image_renders_as_before() -> None:
    image = "https://usmnews.example/img/foto.png?w=600&h=400"
    item = entry("foto", image=image, image_type=entries.image_type(image))
    assert IMAGE_ONLY_RSS in builder.rss(INFO, [item]).decode()
    assert IMAGE_ONLY_ATOM in builder.atom(INFO, [item]).decode()
    assert jsonfeed.json_feed(INFO, [item], about=ABOUT).decode().endswith(IMAGE_ONLY_JSON)


def test_an_image_without_a_type_is_still_written_as_image_jpeg() -> None:
    item = entry(image="https://usmnews.example/img/foto", image_type=None)
    assert rss_enclosures(item)[0]["type"] == "image/jpeg"
    assert atom_enclosures(item)[0]["type"] == "image/jpeg"
    assert attachments(item)[0]["mime_type"] == "image/jpeg"


def test_an_entry_without_image_or_enclosures_has_none() -> None:
    item = entry()
    assert rss_enclosures(item) == atom_enclosures(item) == attachments(item) == []
    assert "attachments" not in json.loads(jsonfeed.json_feed(INFO, [item], about=ABOUT))[
        "items"][0]


# --- unknown length and type -----------------------------------------------------------------


def test_an_unknown_length_is_zero_in_rss_and_left_out_of_atom_and_json() -> None:
    item = entry(enclosures=(replace(MP3, length=None),))
    assert rss_enclosures(item) == [{"url": MP3.url, "length": "0", "type": "audio/mpeg"}]
    assert atom_enclosures(item) == [{"href": MP3.url, "rel": "enclosure", "type": "audio/mpeg"}]
    assert attachments(item) == [{"url": MP3.url, "mime_type": "audio/mpeg"}]


@pytest.mark.parametrize(("enclosure", "expected"), [
    pytest.param(OGG, "audio/ogg", id="guessed-from-the-extension"),
    pytest.param(Enclosure("https://cdn.example.org/a.M4A?dl=1"), "audio/mp4",
                 id="extension-of-the-path-in-any-case"),
    pytest.param(Enclosure("https://cdn.example.org/a.opus"), "audio/opus",
                 id="python-table-not-the-machines"),
    pytest.param(BLOB, "application/octet-stream", id="nothing-to-guess-from"),
    pytest.param(Enclosure("https://cdn.example.org/a.mp3", "audio/x-custom"), "audio/x-custom",
                 id="a-known-type-is-kept"),
])
def test_an_unknown_type_is_guessed_else_binary_data_in_every_format(
    enclosure: Enclosure, expected: str
) -> None:
    item = entry(enclosures=(enclosure,))
    assert rss_enclosures(item)[0]["type"] == expected
    assert atom_enclosures(item)[0]["type"] == expected
    assert attachments(item)[0]["mime_type"] == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("https://usmnews.example/img/a.png", "image/png"),
    ("https://usmnews.example/img/a.PNG?w=600", "image/png"),
    ("https://usmnews.example/img/a.webp", "image/webp"),
    ("https://usmnews.example/img/a.jpeg", "image/jpeg"),
    ("https://usmnews.example/img/a", "image/jpeg"),
    ("https://usmnews.example/img/a.mp3", "image/jpeg"),  # a lead picture is a picture
])
def test_the_entry_image_type_follows_the_extension(url: str, expected: str) -> None:
    assert entries.image_type(url) == expected


# --- escaping ---------------------------------------------------------------------------------


def test_urls_with_query_strings_are_escaped_in_xml_and_intact_in_json() -> None:
    url = "https://cdn.example.org/ep.mp3?a=1&b=<2>&c=\"3\""
    item = entry(enclosures=(Enclosure(url, "audio/mpeg", 5),))
    rss, atom = builder.rss(INFO, [item]), builder.atom(INFO, [item])
    written = 'https://cdn.example.org/ep.mp3?a=1&amp;b=&lt;2&gt;&amp;c=&quot;3&quot;'
    assert f'<enclosure url="{written}"'.encode() in rss
    assert f'<link href="{written}" rel="enclosure"'.encode() in atom
    assert rss_enclosures(item)[0]["url"] == url
    assert atom_enclosures(item)[0]["href"] == url
    assert feedparser.parse(rss).entries[0].enclosures[0].href == url
    assert feedparser.parse(atom).entries[0].enclosures[0].href == url
    assert attachments(item)[0]["url"] == url


# --- a podcast --------------------------------------------------------------------------------


def test_a_131_episode_podcast_renders_each_enclosure_once() -> None:
    episodes = [
        entry(f"ep-{n}", published=WHEN - timedelta(days=n), updated=WHEN - timedelta(days=n),
              enclosures=(Enclosure(f"https://cdn.example.org/ep/{n}.mp3", "audio/mpeg",
                                    1_000_000 + n),))
        for n in range(131)
    ]
    expected = [f"https://cdn.example.org/ep/{n}.mp3" for n in range(131)]
    rss = etree.fromstring(builder.rss(INFO, episodes))
    assert [e.get("url") for e in rss.iter("enclosure")] == expected
    assert [len(item.findall("enclosure")) for item in rss.iter("item")] == [1] * 131
    atom = etree.fromstring(builder.atom(INFO, episodes))
    assert [link.get("href") for link in atom.iter(f"{ATOM}link")
            if link.get("rel") == "enclosure"] == expected
    data = json.loads(jsonfeed.json_feed(INFO, episodes, about=ABOUT))
    assert [[a["url"] for a in item["attachments"]] for item in data["items"]] == [
        [url] for url in expected
    ]
    parsed = feedparser.parse(builder.rss(INFO, episodes))
    assert [[e.length for e in item.enclosures] for item in parsed.entries] == [
        [str(1_000_000 + n)] for n in range(131)
    ]
