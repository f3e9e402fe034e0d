"""Every format says the same: feedparser and json round trips, attribution, escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from lxml import etree

from tests.helpers import NOW, SEED, build, write_article

ATOM = "{http://www.w3.org/2005/Atom}"
HEADERED = """---
id: khusus-2026
date: 2026-02-14T10:00:00+07:00
updated: 2026-02-15T08:00:00+07:00
author: [Ani, Budi]
tags: [Wisuda, kampus]
image: https://usmnews.example/img/foto.jpg
summary: Ringkasan dari kepala berkas.
---
Kampus
Judul <script>alert(1)</script> & "kutipan"

Semarang (usmnews) – Melansir Reuters, paragraf <b>pembuka</b> yang panjang.
- Poin: satu
"""


def test_reference_seed_in_every_format(project: Path) -> None:
    build(project)
    out = project / "output" / "international"
    rss = feedparser.parse((out / "rss.xml").read_bytes())
    atom = feedparser.parse((out / "atom.xml").read_bytes())
    data = json.loads((out / "feed.json").read_bytes())
    title = ("Sinyal Rekonsiliasi: Presiden Interim Venezuela Buka Pintu Kerja Sama Bilateral "
             "dengan Amerika Serikat")
    expected_id = f"tag:usmnews.example,2026:{SEED}"
    assert rss.bozo == 0 and atom.bozo == 0
    assert rss.entries[0].id == atom.entries[0].id == data["items"][0]["id"] == expected_id
    assert rss.entries[0].title == atom.entries[0].title == data["items"][0]["title"] == title
    link = f"https://usmnews.example/articles/{SEED}.html"
    assert rss.entries[0].link == atom.entries[0].link == data["items"][0]["url"] == link
    assert rss.feed.title == atom.feed.title == data["title"] == "USM News — International"
    assert rss.feed.language == "id" and atom.feed.language == "id" and data["language"] == "id"
    # Attribution: Atom rel="via" with the outlet as title; RSS <source url=feed>; JSON _source.
    via = [(lnk.href, lnk.title) for lnk in atom.entries[0].links if lnk.rel == "via"]
    assert via == [("https://www.detik.com/", "detik.com")]
    assert rss.entries[0].source == {
        "href": "https://rss.detik.com/index.php/detikcom", "title": "detik.com"
    }
    assert data["items"][0]["_source"]["name"] == "detik.com"
    assert data["items"][0]["_source"]["url"] == "https://www.detik.com/"
    credit = '<p class="credit">Sumber: <a href="https://www.detik.com/">detik.com</a></p>'
    assert credit in atom.entries[0].content[0].value
    assert credit in rss.entries[0].content[0].value
    assert credit in data["items"][0]["content_html"]
    assert data["items"][0]["content_html"].count("<h2>") == 3


def test_header_fields_reach_every_format_and_text_is_escaped(project: Path) -> None:
    write_article(project, "khusus.txt", HEADERED, datetime(2026, 2, 20, tzinfo=UTC))
    build(project, NOW)
    out = project / "output"
    atom_tree = etree.fromstring((out / "atom.xml").read_bytes())
    entry = next(e for e in atom_tree.iter(f"{ATOM}entry")
                 if e.findtext(f"{ATOM}id", "").endswith(":khusus-2026"))
    assert entry.findtext(f"{ATOM}published") == "2026-02-14T03:00:00+00:00"
    assert entry.findtext(f"{ATOM}updated") == "2026-02-15T01:00:00+00:00"
    assert [a.findtext(f"{ATOM}name") for a in entry.iter(f"{ATOM}author")] == ["Ani", "Budi"]
    assert sorted(c.get("term") for c in entry.iter(f"{ATOM}category")) == [
        "Kampus", "Wisuda", "kampus"
    ]
    links = {lnk.get("rel"): lnk.attrib for lnk in entry.iter(f"{ATOM}link")}
    assert links["enclosure"]["href"] == "https://usmnews.example/img/foto.jpg"
    assert links["enclosure"]["type"] == "image/jpeg"
    assert "via" not in links  # Reuters is not configured and not a host: no invented URL
    assert entry.findtext(f"{ATOM}summary") == "Ringkasan dari kepala berkas."
    content = entry.findtext(f"{ATOM}content") or ""
    assert "&lt;b&gt;pembuka&lt;/b&gt;" in content  # the article's literal tags are text
    assert "<strong>Poin:</strong> satu" in content
    assert '<p class="credit">Source: Reuters</p>' not in content
    assert '<p class="credit">Sumber: Reuters</p>' in content
    title = entry.findtext(f"{ATOM}title")
    assert title == 'Judul <script>alert(1)</script> & "kutipan"'  # text, escaped by XML

    rss_tree = etree.fromstring((out / "rss.xml").read_bytes())
    item = next(i for i in rss_tree.iter("item") if i.findtext("guid", "").endswith(":khusus-2026"))
    assert item.find("enclosure").attrib == {
        "url": "https://usmnews.example/img/foto.jpg", "length": "0", "type": "image/jpeg"
    }
    assert item.findtext("{http://purl.org/dc/elements/1.1/}source") == "Reuters"
    assert item.find("guid").get("isPermaLink") == "false"
    assert item.findtext("pubDate") == "Sat, 14 Feb 2026 03:00:00 +0000"

    data = json.loads((out / "feed.json").read_bytes())
    json_item = next(i for i in data["items"] if i["id"].endswith(":khusus-2026"))
    assert json_item["date_published"] == "2026-02-14T03:00:00Z"
    assert json_item["authors"] == [{"name": "Ani"}, {"name": "Budi"}]
    assert json_item["image"] == "https://usmnews.example/img/foto.jpg"
    assert json_item["tags"] == ["Kampus", "Wisuda", "kampus"]
    assert json_item["_source"] == {
        "about": "https://usmnews.example/about.html#json-source", "name": "Reuters", "url": None,
        "feed_url": None,
    }
    page = (out / "articles" / "khusus-2026.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert '<html lang="id">' in page


def test_header_link_is_the_entry_link_and_no_page_is_written(project: Path) -> None:
    write_article(project, "luar.txt", "---\nlink: https://usm.ac.id/berita/1\n---\n"
                  "Kampus\nJudul\n\nIsi berita.\n")
    build(project)
    parsed = feedparser.parse((project / "output" / "kampus" / "atom.xml").read_bytes())
    assert parsed.entries[0].link == "https://usm.ac.id/berita/1"
    assert not (project / "output" / "articles" / "luar.html").exists()


def test_summary_is_the_lead_cut_at_a_word_boundary(project: Path) -> None:
    lead = " ".join(["kata"] * 120)  # 599 characters
    write_article(project, "panjang.txt", f"Kampus\nJudul\n\n{lead}\n")
    build(project)
    parsed = feedparser.parse((project / "output" / "kampus" / "atom.xml").read_bytes())
    summary = parsed.entries[0].summary
    assert summary.endswith("kata…") and 250 < len(summary) <= 301


def test_autodiscovery_and_opml_list_every_feed(project: Path) -> None:
    write_article(project, "bertag.txt", "---\ntags: [wisuda]\n---\nKampus\nJudul\n\nIsi.\n")
    build(project)
    out = project / "output"
    index = (out / "index.html").read_text()
    feeds = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                   if p.name in ("rss.xml", "atom.xml", "feed.json"))
    assert len(feeds) == 3 * (1 + 6 + 1)
    for feed in feeds:
        assert f'href="{feed}"' in index, feed
    opml = etree.fromstring((out / "feeds.opml").read_bytes())
    urls = sorted(o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl"))
    assert urls == sorted(f"https://usmnews.example/{f}" for f in feeds if f.endswith("rss.xml"))


def test_feed_updated_is_newest_entry_update_not_the_clock(project: Path) -> None:
    build(project, NOW)
    parsed = feedparser.parse((project / "output" / "atom.xml").read_bytes())
    assert parsed.feed.updated == "2026-01-15T09:00:00+00:00"  # the seed's first-seen time
    empty = feedparser.parse((project / "output" / "olahraga" / "atom.xml").read_bytes())
    assert empty.entries == [] and empty.bozo == 0
