"""What readers see on the pages: the outlet after an upstream item's title, empty sections last,
the `_source` note on about.html, the OPML link on the front page; and an Atom entry's
`xml:lang` when its language is not the feed's. Every page checked is well-formed HTML."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from lxml import etree, html

from feeds import config, pages, publish, pull
from feeds.model import Attribution, Entry, FeedInfo, FeedKey, Section, Tag, UpstreamFeed
from feeds.output.folder import FolderOutput
from feeds.sources import fetch
from feeds.store import open_store
from tests.helpers import FIXTURES, NOW, ROOT, SEED_MTIME, WRITTEN, write_article

ANTARA = "https://www.antaranews.com/rss/terkini.xml"
SOURCES = f"""
[[upstream]]
name = "antara-terkini"
outlet = "Antara"
url = "{ANTARA}"
section = "nasional"
"""
UPSTREAM_TITLE = "Pemkot Semarang percepat normalisasi sungai jelang musim hujan"
QUOTING = "Nasional\nWali Kota Resmikan Jembatan Baru\n\nSemarang (usmnews) – Jembatan baru " \
    "di kawasan Kaligawe diresmikan pagi ini dan langsung dibuka untuk kendaraan roda dua.\n\n" \
    "Sumber: Antara\n"
ENGLISH = ("Kampus\nStudents Build a Flood Sensor Network\n\nSemarang (usmnews) – Students of "
           "the engineering faculty have built a network of cheap water-level sensors along the "
           "canal, and the city government said that it will use their data in the coming rainy "
           "season. The team told reporters that the sensors cost less than a textbook each.\n")
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Structure(HTMLParser):
    """Fails on what browsers would silently repair: unclosed or stray tags, duplicate ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [value or "" for name, value in attrs if name == "id"]
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def well_formed(path: Path) -> html.HtmlElement:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n<html lang=")
    checker = _Structure()
    checker.feed(text)
    checker.close()
    assert checker.open == [], f"{path.name}: unclosed {checker.open}"
    assert len(checker.ids) == len(set(checker.ids)), f"{path.name}: duplicate ids {checker.ids}"
    return html.fromstring(text)


def row(page: html.HtmlElement, title: str) -> str:
    """The text of the listing row whose link reads `title`."""
    rows = [li.text_content() for li in page.iter("li") if li.findtext("a") == title]
    assert len(rows) == 1, title
    return " ".join(rows[0].split())


def _answer(request: httpx.Request) -> httpx.Response:
    assert str(request.url) == ANTARA
    return httpx.Response(200, content=(FIXTURES / "upstream" / "antara.xml").read_bytes(),
                          headers={"Content-Type": "application/rss+xml"})


def _build(root: Path, toml: str) -> Path:
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / "feeds.toml").write_text(toml, encoding="utf-8")
    cfg, _ = config.load(root / "config" / "feeds.toml")
    store = open_store(cfg.paths.state)
    client = fetch.make_client(user_agent="feeds-test", allow_private_networks=False,
                               transport=httpx.MockTransport(_answer))
    try:
        if cfg.upstream:
            with client:
                pulled = pull.pull(cfg, store, client, NOW, rng=random.Random(1))
            assert pulled.failed == [], pulled.diagnostics
        result = publish.build(cfg, store, NOW, output=FolderOutput(cfg.paths.output,
                                                                    durable=False))
        assert result.errors == 0, result.diagnostics
    finally:
        store.close()
    return cfg.paths.output


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seed (quotes detik.com), a local article crediting Antara, an English article, and
    Antara's feed republished in `nasional`."""
    root = tmp_path_factory.mktemp("pages")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    for seed in (root / "seeds").glob("*.txt"):
        os.utime(seed, (SEED_MTIME, SEED_MTIME))
    write_article(root, "jembatan.txt", QUOTING)
    write_article(root, "sensor.txt", ENGLISH, WRITTEN + timedelta(hours=1))
    toml = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    yield _build(root, toml + SOURCES)


def test_an_upstream_item_shows_its_outlet_and_a_local_article_does_not(out: Path) -> None:
    for path in (out / "index.html", out / "nasional" / "index.html"):
        page = well_formed(path)
        assert row(page, UPSTREAM_TITLE).startswith(f"{UPSTREAM_TITLE} — Antara 2026-")
        # A local article that credits Antara is our reporting: no mark (its credit line is in
        # the article), though every feed carries its attribution.
        local = row(page, "Wali Kota Resmikan Jembatan Baru")
        assert "Antara" not in local and "—" not in local
    index = well_formed(out / "index.html")
    seed = row(index, "Sinyal Rekonsiliasi: Presiden Interim Venezuela Buka Pintu Kerja Sama "
                      "Bilateral dengan Amerika Serikat")
    assert "detik" not in seed and "—" not in seed
    data = json.loads((out / "nasional" / "feed.json").read_bytes())
    credited = {i["title"]: i["_source"]["name"] for i in data["items"] if "_source" in i}
    assert credited["Wali Kota Resmikan Jembatan Baru"] == "Antara"  # the premise holds


def test_a_tag_listing_marks_upstream_items_too() -> None:
    # Upstream items carry no tags today; the listing code is the same for every feed.
    when = NOW - timedelta(days=1)
    section = Section("nasional", "Nasional")
    tag = Tag("banjir", "banjir")
    common = dict(section=section, published=when, updated=when, summary="s",
                  content_html="", lang="id", tags=(tag,))
    upstream = Entry(id="tag:x,2026:u", key="u", title="Banjir <rob> & hujan",
                     link="https://www.antaranews.com/berita/1",
                     attribution=Attribution("Antara & Co", "https://www.antaranews.com/"),
                     upstream=UpstreamFeed("https://www.antaranews.com/", "ANTARA", ANTARA),
                     **common)  # type: ignore[arg-type]
    local = Entry(id="tag:x,2026:l", key="l", title="Banjir lokal",
                  link="https://usmnews.example/articles/l.html", page="articles/l.html",
                  attribution=Attribution("Antara & Co"), **common)  # type: ignore[arg-type]
    info = FeedInfo(FeedKey("tag", "banjir"), "USM News — #banjir", "d", "id",
                    "tag:x,2026:feed/tags/banjir", "https://usmnews.example/", NOW)
    site = pages.PageSite("USM News", "id", ZoneInfo("Asia/Jakarta"))
    text = pages.listing_page(site, info, [upstream, local]).decode()
    assert ('Banjir &lt;rob&gt; &amp; hujan</a> <span class="outlet">— Antara &amp; Co</span> '
            in text)
    assert text.count('class="outlet"') == 1
    page = html.fromstring(text)
    assert row(page, "Banjir <rob> & hujan").startswith("Banjir <rob> & hujan — Antara & Co ")
    assert "Antara" not in row(page, "Banjir lokal")


def test_empty_sections_come_after_the_others(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")  # one article, in International
    write_article(tmp_path, "ekonomi.txt", "Ekonomi\nHarga Cabai Turun\n\nIsi berita.\n")
    toml = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    out = _build(tmp_path, toml)  # sections: international, nasional, kampus, ekonomi, …
    index = well_formed(out / "index.html")
    order = [h2.get("id") for h2 in index.iter("h2") if h2.get("id") in
             {"international", "nasional", "kampus", "ekonomi", "olahraga", "teknologi"}]
    assert order == ["international", "ekonomi", "nasional", "kampus", "olahraga", "teknologi"]
    opml = etree.fromstring((out / "feeds.opml").read_bytes())
    sections = [o.get("htmlUrl") for o in opml.iter("outline")
                if (o.get("htmlUrl") or "").count("/") == 4 and "/tags/" not in o.get("htmlUrl")]
    assert [url.split("/")[3] for url in sections] == order  # grouped as on the front page


def test_the_source_note_is_on_the_about_page_that_every_json_feed_links(out: Path) -> None:
    index = well_formed(out / "index.html")
    about = well_formed(out / "about.html")
    note = about.get_element_by_id("json-source")
    assert note.tag == "h2" and "_source" in note.text_content()
    explained = " ".join(about.text_content().split())
    assert '"_source": {"about", "name", "url", "feed_url"}' in explained
    assert "url is null when the outlet has no known address" in explained
    # The front page links the about page and no longer holds the explanation; its old anchor
    # (the `about` of JSON Feed items delivered before) points there.
    links = [a.get("href") for a in index.iter("a")]
    assert "about.html" in links
    assert "feed_url" not in index.text_content()
    old = index.get_element_by_id("json-source")
    assert [a.get("href") for a in old.iter("a")] == ["about.html#json-source"]
    abouts = set()
    for feed in out.rglob("feed.json"):
        data = json.loads(feed.read_bytes())
        abouts |= {i["_source"]["about"] for i in data["items"] if "_source" in i}
    assert abouts == {"https://usmnews.example/about.html#json-source"}


def test_the_opml_link_is_near_the_top_of_the_front_page(out: Path) -> None:
    index = well_formed(out / "index.html")
    body = index.find("body")
    assert body is not None
    first_section = next(h2 for h2 in body.iter("h2"))
    opml = [a for a in body.iter("a") if a.get("href") == "feeds.opml"]
    assert len(opml) == 1 and opml[0].text == "All feeds as OPML"
    position = {element: n for n, element in enumerate(body.iter())}
    assert position[opml[0]] < position[first_section]


def test_an_atom_entry_carries_xml_lang_only_when_it_is_not_the_feeds(out: Path) -> None:
    tree = etree.fromstring((out / "atom.xml").read_bytes())
    assert tree.get(XML_LANG) == "id"
    langs = {e.findtext(f"{ATOM}title"): e.get(XML_LANG) for e in tree.iter(f"{ATOM}entry")}
    assert langs.pop("Students Build a Flood Sensor Network") == "en"
    assert langs["Wali Kota Resmikan Jembatan Baru"] is None
    assert langs[UPSTREAM_TITLE] is None
    assert set(langs.values()) == {None}, langs
    data = json.loads((out / "feed.json").read_bytes())
    languages = {i["title"]: i["language"] for i in data["items"]}
    assert languages["Students Build a Flood Sensor Network"] == "en"  # the premise holds
    assert languages["Wali Kota Resmikan Jembatan Baru"] == "id"
    kampus = etree.fromstring((out / "kampus" / "atom.xml").read_bytes())
    assert [e.get(XML_LANG) for e in kampus.iter(f"{ATOM}entry")] == ["en"]


def test_the_about_page_does_not_follow_the_entries_and_escapes_the_title() -> None:
    site = pages.PageSite("USM <News>", "id", ZoneInfo("Asia/Jakarta"))
    info = FeedInfo(FeedKey("all"), "USM <News>", "d", "id", "tag:x,2026:feed/all",
                    "https://usmnews.example/", NOW)
    page = pages.about_page(site, info)
    assert page == pages.about_page(site, replace(info, updated=NOW + timedelta(days=1)))
    assert b"USM &lt;News&gt;" in page and b"USM <News>" not in page
