"""Real feeds republished whole: a podcast whose episodes share one link, a daily page with one
anchor per post, items without a usable link, a plain-text title with markup characters, and a
story two sources carry; in all three formats."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from lxml import etree

from feeds import config, publish, pull
from feeds.output.folder import FolderOutput
from feeds.sources import fetch
from feeds.store import open_store
from tests.helpers import FIXTURES, NOW, ROOT

REAL = FIXTURES / "upstream" / "real"
FEEDS = {
    "https://podcast.example/feed.xml": REAL / "podcast.xml",
    "https://blog.example/feed.xml": REAL / "daily-blog.xml",
    "https://www.antaranews.com/rss/terkini.xml": FIXTURES / "upstream" / "antara.xml",
    "https://kabarpantura.example/rss": REAL / "mixed.xml",
}
SOURCES = """
[[upstream]]
name = "siniar"
outlet = "Siniar Kampus"
url = "https://podcast.example/feed.xml"
section = "kampus"

[[upstream]]
name = "catatan"
outlet = "Catatan Harian"
url = "https://blog.example/feed.xml"
section = "ekonomi"

[[upstream]]
name = "antara"
outlet = "Antara"
url = "https://www.antaranews.com/rss/terkini.xml"
section = "nasional"

[[upstream]]
name = "pantura"
outlet = "Kabar Pantura"
url = "https://kabarpantura.example/rss"
section = "nasional"
"""
ATOM = "{http://www.w3.org/2005/Atom}"


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=FEEDS[str(request.url)].read_bytes(),
                          headers={"Content-Type": "application/rss+xml"})


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("republished")
    (root / "config").mkdir()
    text = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    text = text.replace("items_per_feed = 50", "items_per_feed = 200")
    (root / "config" / "feeds.toml").write_text(text + SOURCES, encoding="utf-8")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    cfg, _ = config.load(root / "config" / "feeds.toml")
    store = open_store(cfg.paths.state, migrate=True)
    client = fetch.make_client(user_agent="t", allow_private_networks=False,
                               transport=httpx.MockTransport(_answer))
    try:
        with client:
            result = pull.pull(cfg, store, client, NOW, rng=random.Random(1))
        assert result.failed == [], result.diagnostics
        publish.build(cfg, store, NOW, output=FolderOutput(cfg.paths.output, durable=False))
    finally:
        store.close()
    yield cfg.paths.output


def by_source(path: Path, source: str) -> list[feedparser.FeedParserDict]:
    parsed = feedparser.parse(path.read_bytes())
    return [e for e in parsed.entries if f":upstream/{source}/" in e.id]


def test_131_episodes_sharing_one_link_are_131_entries_each_with_its_audio(out: Path) -> None:
    atom = etree.fromstring((out / "kampus" / "atom.xml").read_bytes())
    episodes = [e for e in atom.iter(f"{ATOM}entry")
                if ":upstream/siniar/" in (e.findtext(f"{ATOM}id") or "")]
    assert len(episodes) == 131
    for entry in episodes:
        audio = [link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "enclosure"]
        assert [link.get("type") for link in audio] == ["audio/mpeg"]
    rss = etree.fromstring((out / "kampus" / "rss.xml").read_bytes())
    items = [i for i in rss.iter("item") if ":upstream/siniar/" in (i.findtext("guid") or "")]
    assert len(items) == 131
    assert all(len(i.findall("enclosure")) == 1 for i in items)
    assert {i.find("enclosure").get("type") for i in items} == {"audio/mpeg"}  # type: ignore[union-attr]
    feed = json.loads((out / "kampus" / "feed.json").read_bytes())
    mine = [i for i in feed["items"] if ":upstream/siniar/" in i["id"]]
    assert len(mine) == 131
    assert all(i["attachments"][0]["mime_type"] == "audio/mpeg" for i in mine)
    assert len({i["attachments"][0]["url"] for i in mine}) == 131  # each episode its own file


def test_a_daily_page_with_one_anchor_per_post_gives_one_entry_per_post(out: Path) -> None:
    posts = by_source(out / "ekonomi" / "atom.xml", "catatan")
    links = sorted(p.link for p in posts)
    assert len(posts) == 7 and len(set(links)) == 7
    assert "https://blog.example/2026/12/06#post-1" in links
    assert not any("utm_" in link for link in links)  # a tracking fragment is dropped


def test_a_story_two_sources_carry_is_published_once(out: Path) -> None:
    entries = feedparser.parse((out / "nasional" / "rss.xml").read_bytes()).entries
    sungai = [e for e in entries if "normalisasi" in e.title.lower()]
    assert len(sungai) == 1 and ":upstream/antara/" in sungai[0].id  # the first to carry it


def test_items_without_a_usable_link_link_to_a_page_of_their_own(out: Path) -> None:
    entries = by_source(out / "nasional" / "atom.xml", "pantura")
    own = {e.title: e.link for e in entries if e.link.startswith("https://usmnews.example/")}
    assert set(own) == {"Pengumuman: jadwal kapal ke Karimunjawa berubah",  # no link at all
                        "Nelayan Demak panen rajungan",  # a tag: URI as link
                        "Rob surut di Sayung"}  # only a guid isPermaLink="false"
    for title, link in own.items():
        page = out / link.removeprefix("https://usmnews.example/")
        text = page.read_text(encoding="utf-8")
        assert title.split(":")[0] in text
        assert 'Sumber: <a href="https://kabarpantura.example/">Kabar Pantura</a>' in text


def test_a_plain_text_title_keeps_its_markup_characters_in_every_format(out: Path) -> None:
    title = "Die Rückkehr von <i> und <b>"
    for name in ("nasional/rss.xml", "nasional/atom.xml"):
        assert title in [e.title for e in by_source(out / name, "pantura")], name
    feed = json.loads((out / "nasional" / "feed.json").read_bytes())
    assert title in [i["title"] for i in feed["items"]]
    index = (out / "nasional" / "index.html").read_text(encoding="utf-8")
    assert "Die Rückkehr von &lt;i&gt; und &lt;b&gt;" in index
