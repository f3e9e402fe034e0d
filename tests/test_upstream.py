"""Upstream pulls against a real HTTP server on 127.0.0.1, plus MockTransport for fine cases."""

from __future__ import annotations

import dataclasses
import gzip
import ipaddress
import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from feeds import config, publish, pull
from feeds.codec import to_epoch
from feeds.output.folder import FolderOutput
from feeds.sources import fetch
from feeds.store import Store, open_store
from tests.httpserver import FeedServer, Reply, Seen

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Antara Terkini</title><link>https://www.antaranews.com/</link>
<description>x</description>
<item><title>Harga beras turun</title><link>https://www.antaranews.com/berita/1?utm_source=rss</link>
<guid>/berita/1</guid><pubDate>Sat, 28 Feb 2026 10:00:00 +0700</pubDate>
<description>Harga beras &lt;b&gt;turun&lt;/b&gt; di Semarang.</description></item>
<item><title>Banjir rob di pesisir</title><link>https://www.antaranews.com/berita/2</link>
<guid>/berita/2</guid><pubDate>Sat, 28 Feb 2026 11:00:00 +0700</pubDate>
<description>Air laut naik.</description></item>
</channel></rss>"""

HOSTILE_ITEM = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link>
<description>x</description>
<item><title>Berita &lt;script&gt;alert(1)&lt;/script&gt;</title>
<link>https://hostile.example/news/1</link><guid>h1</guid>
<pubDate>Sat, 28 Feb 2026 10:00:00 +0000</pubDate>
<description><![CDATA[<p onclick="steal()">Teks tetap <a href="javascript:alert(1)">tautan</a>
<img src="/img/foto.jpg" onerror="x()"><script>evil()</script><style>p{}</style>
<iframe src="https://evil.example/"></iframe><form action="/x"><input name="q"></form>
<a href="data:text/html,boo">data</a></p>]]></description>
</item></channel></rss>"""


def toml(server: FeedServer, sources: list[dict[str, str]], extra: str = "") -> str:
    text = (
        '[site]\ntitle = "USM News"\nbase_url = "https://usmnews.example/"\n'
        'id_prefix = "tag:usmnews.example,2026:"\n'
        '[[sections]]\nslug = "nasional"\nname = "Nasional"\n'
        '[outlets."Antara"]\nurl = "https://www.antaranews.com/"\n'
        '[fetch]\nallow_private_networks = true\nmin_every = "1s"\ntimeout = 3\n' + extra
    )
    for source in sources:
        text += "[[upstream]]\n" + "".join(f'{k} = "{v}"\n' for k, v in source.items())
    return text


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def setup(tmp_path: Path, server: FeedServer, sources: list[dict[str, str]],
          extra: str = "") -> tuple[config.Config, Store]:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "seeds").mkdir(exist_ok=True)
    path = tmp_path / "config" / "feeds.toml"
    path.write_text(toml(server, sources, extra), encoding="utf-8")
    cfg, _ = config.load(path)
    return cfg, open_store(cfg.paths.state)


def source(server: FeedServer, name: str = "antara", path: str = "/feed",
           **extra: str) -> dict[str, str]:
    return {"name": name, "outlet": "Antara", "url": server.url(path), "section": "nasional",
            "every": "30m", **extra}


def do_pull(cfg: config.Config, store: Store, now: datetime = NOW, **kwargs: object
            ) -> pull.PullResult:
    client = fetch.make_client(user_agent="feeds-test/1 (+https://usmnews.example/)",
                               allow_private_networks=True)
    with client:
        return pull.pull(cfg, store, client, now, rng=random.Random(1), **kwargs)  # type: ignore[arg-type]


def test_200_then_304_with_both_validators(tmp_path: Path, server: FeedServer) -> None:
    def feed(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, RSS, {"ETag": '"v1"', "Last-Modified": "Sat, 28 Feb 2026 05:00:00 GMT",
                                "Content-Type": "application/rss+xml"})

    server.routes["/feed"] = feed
    cfg, store = setup(tmp_path, server, [source(server)])
    first = do_pull(cfg, store)
    assert first.pulled == ["antara"] and first.new_entries == 2
    second = do_pull(cfg, store, force=True)
    assert second.pulled == ["antara"] and second.new_entries == 0
    conditional = server.seen[-1].headers
    assert conditional["if-none-match"] == '"v1"'
    assert conditional["if-modified-since"] == "Sat, 28 Feb 2026 05:00:00 GMT"
    assert conditional["user-agent"].startswith("feeds-test/1")
    state = store.source("antara")
    assert state is not None and state.last_status == "304" and state.failures == 0


def test_source_is_polled_only_when_due(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(200, RSS)
    cfg, store = setup(tmp_path, server, [source(server)])
    do_pull(cfg, store)
    assert do_pull(cfg, store, NOW + timedelta(minutes=10)).pulled == []
    assert do_pull(cfg, store, NOW + timedelta(minutes=34)).pulled == ["antara"]
    assert len(server.seen) == 2


def test_cache_control_max_age_delays_the_next_poll(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(200, RSS, {"Cache-Control": "max-age=7200"})
    cfg, store = setup(tmp_path, server, [source(server)])
    do_pull(cfg, store)
    state = store.source("antara")
    assert state is not None and state.next_due >= to_epoch(NOW) + 7200


def test_301_updates_the_stored_url_and_302_does_not(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/old"] = lambda seen: Reply(301, headers={"Location": "/new"})
    server.routes["/new"] = lambda seen: Reply(200, RSS)
    server.routes["/temp"] = lambda seen: Reply(302, headers={"Location": "/new"})
    sources = [source(server, "a", "/old"), source(server, "b", "/temp")]
    cfg, store = setup(tmp_path, server, sources)
    result = do_pull(cfg, store)
    assert sorted(result.pulled) == ["a", "b"]
    a, b = store.source("a"), store.source("b")
    assert a is not None and a.fetch_url == server.url("/new")
    assert b is not None and b.fetch_url == server.url("/temp")


def test_410_retires_the_source(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(410)
    cfg, store = setup(tmp_path, server, [source(server)])
    result = do_pull(cfg, store)
    assert result.failed == ["antara"] and "410 Gone" in result.diagnostics[0].message
    assert do_pull(cfg, store, NOW + timedelta(days=30)).pulled == []
    assert len(server.seen) == 1


def test_429_retry_after_delays_the_next_pull(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(429, headers={"Retry-After": "7200"})
    cfg, store = setup(tmp_path, server, [source(server, every="5m")])
    do_pull(cfg, store)
    state = store.source("antara")
    assert state is not None and state.next_due >= to_epoch(NOW) + 7200
    assert state.last_status == "HTTP 429"


def test_500_and_timeout_back_off_exponentially(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(500, b"oops")
    server.routes["/slow"] = lambda seen: Reply(200, chunks=iter([b"<rss>"] * 10), delay=1.0)
    cfg, store = setup(tmp_path, server, [source(server, every="5m"),
                                          source(server, "slow", "/slow", every="5m")])
    now = NOW
    delays = []
    for _ in range(3):
        do_pull(cfg, store, now, names=("antara",))
        state = store.source("antara")
        assert state is not None
        delays.append(state.next_due - to_epoch(now))
        now = now + timedelta(seconds=delays[-1])
    assert delays[0] == pytest.approx(300, rel=0.11)
    assert delays[1] == pytest.approx(600, rel=0.11)
    assert delays[2] == pytest.approx(1200, rel=0.11)
    result = do_pull(cfg, store, NOW, names=("slow",))
    assert result.failed == ["slow"] and "longer than 3s" in result.diagnostics[-1].message


def test_body_over_the_cap_is_refused_without_reading_it_whole(
    tmp_path: Path, server: FeedServer
) -> None:
    endless = itertools.repeat(b"<item>" + b"x" * 65530)
    server.routes["/huge"] = lambda seen: Reply(200, chunks=endless)
    server.routes["/declared"] = lambda seen: Reply(200, b"x" * 3_000_000)
    cfg, store = setup(tmp_path, server, [source(server, "huge", "/huge"),
                                          source(server, "declared", "/declared")],
                       )
    cfg = dataclasses.replace(cfg, fetch=config.FetchConfig(
        allow_private_networks=True, timeout=5, max_bytes=1_000_000, min_every=1))
    result = do_pull(cfg, store)
    assert sorted(result.failed) == ["declared", "huge"]
    messages = " ".join(d.message for d in result.diagnostics)
    assert "over the 1000000-byte cap (stopped reading)" in messages
    assert "body of 3000000 bytes is over the 1000000-byte cap" in messages


def test_gzip_bomb_is_stopped_by_the_cap(tmp_path: Path, server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    server.routes["/bomb"] = lambda seen: Reply(200, bomb, {"Content-Encoding": "gzip"})
    cfg, store = setup(tmp_path, server, [source(server, "bomb", "/bomb")])
    cfg = dataclasses.replace(cfg, fetch=config.FetchConfig(
        allow_private_networks=True, timeout=5, max_bytes=1_000_000, min_every=1))
    result = do_pull(cfg, store)
    assert result.failed == ["bomb"] and "cap" in result.diagnostics[0].message


def test_redirect_from_a_public_name_to_loopback_is_refused(server: FeedServer) -> None:
    with FeedServer("127.0.0.2") as private:
        private.routes["/secret"] = lambda seen: Reply(200, RSS)
        target = private.url("/secret")
        server.routes["/feed"] = lambda seen: Reply(302, headers={"Location": target})
        # "feeds.example" resolves to 127.0.0.1, which this test treats as a public address.
        transport = fetch.GuardedTransport(
            resolver=lambda host, port: ["127.0.0.1"],
            allowed=[ipaddress.ip_network("127.0.0.1/32")],
        )
        client = fetch.make_client(user_agent="t", allow_private_networks=False,
                                   transport=transport)
        url = f"http://feeds.example:{server.port}/feed"
        with client, pytest.raises(Exception) as info:
            fetch.fetch(client, url, fetch.Validators(), fetch.Limits(), now=NOW)
        assert "refused to connect to 127.0.0.2: 127.0.0.2 is a loopback address" in str(info.value)
        assert private.seen == []
        assert server.seen[0].headers["host"] == f"feeds.example:{server.port}"


def test_private_addresses_are_refused_by_default() -> None:
    client = fetch.make_client(user_agent="t", allow_private_networks=False)
    for url in ("http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/", "http://[::1]:9/", "http://100.64.0.1/", "http://[fd00::1]/",
                "http://224.0.0.1/", "http://0.0.0.0:9/"):
        with pytest.raises(Exception, match="refused to connect"):
            fetch.fetch(client, url, fetch.Validators(), fetch.Limits(timeout=2), now=NOW)
    client.close()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<rss><channel><title>broken</title><item><title>x</ite", None),
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>hi</p></body></html>",
         "not a feed"),
        (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
         b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><rss version="2.0"><channel>'
         b"<title>&lol2;</title></channel></rss>", "declares XML entities"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b'<rss version="2.0"><channel><title>&x;</title></channel></rss>',
         "declares XML entities"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": '
         b'[{"id": "1", "url": "https://j.example/1", "title": "Satu", '
         b'"content_html": "<p>isi</p>"}]}', None),
    ],
    ids=["malformed-xml", "empty", "html-page", "entity-bomb", "external-entity", "json-feed"],
)
def test_bad_documents(tmp_path: Path, server: FeedServer, body: bytes, problem: str | None
                      ) -> None:
    server.routes["/feed"] = lambda seen: Reply(200, body)
    cfg, store = setup(tmp_path, server, [source(server)])
    result = do_pull(cfg, store)
    if problem is None:
        assert result.pulled == ["antara"]
    else:
        assert result.failed == ["antara"]
        assert problem in result.diagnostics[0].message


def build(cfg: config.Config, store: Store, now: datetime = NOW) -> publish.BuildResult:
    return publish.build(cfg, store, now, output=FolderOutput(cfg.paths.output))


def test_hostile_html_is_neutralized_in_every_format(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(200, HOSTILE_ITEM)
    cfg, store = setup(tmp_path, server, [source(server, content="summary")])
    do_pull(cfg, store)
    build(cfg, store)
    out = cfg.paths.output / "nasional"
    atom = feedparser.parse((out / "atom.xml").read_bytes(), sanitize_html=False)
    rss = feedparser.parse((out / "rss.xml").read_bytes(), sanitize_html=False)
    data = json.loads((out / "feed.json").read_bytes())
    contents = [atom.entries[0].content[0].value, rss.entries[0].content[0].value,
                data["items"][0]["content_html"]]
    for html in contents:
        assert "Teks tetap" in html and "tautan" in html
        assert 'src="https://hostile.example/img/foto.jpg"' in html
        for bad in ("<script", "evil()", "onclick", "onerror", "javascript:", "<iframe", "<form",
                    "<input", "<style", "data:text"):
            assert bad not in html, (bad, html)
        assert 'Sumber: <a href="https://hostile.example/news/1">Antara</a>' in html
    # An RSS title is plain text: its markup is shown as text, escaped in every format.
    assert atom.entries[0].title == "Berita <script>alert(1)</script>"
    assert atom.entries[0].title_detail.type == "text/plain"
    assert data["items"][0]["title"] == "Berita <script>alert(1)</script>"
    assert b"<script" not in (out / "atom.xml").read_bytes()
    assert b"<script" not in (out / "rss.xml").read_bytes()


def test_attribution_in_every_format(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(200, RSS)
    cfg, store = setup(tmp_path, server, [source(server)])
    do_pull(cfg, store)
    build(cfg, store)
    out = cfg.paths.output
    atom = (out / "nasional" / "atom.xml").read_text()
    assert "<source>" in atom and "<title>Antara Terkini</title>" in atom
    assert f'<link href="{server.url("/feed")}" rel="self"/>' in atom
    assert 'rel="via"' in atom
    rss = feedparser.parse((out / "nasional" / "rss.xml").read_bytes())
    assert rss.entries[0].source == {"href": server.url("/feed"), "title": "Antara"}
    data = json.loads((out / "nasional" / "feed.json").read_bytes())
    assert data["items"][0]["_source"]["name"] == "Antara"
    assert data["items"][0]["_source"]["feed_url"] == server.url("/feed")
    assert data["items"][0]["url"] == "https://www.antaranews.com/berita/2"


def test_failing_source_keeps_its_entries_and_others_are_stored(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/a"] = lambda seen: Reply(200, RSS)
    server.routes["/b"] = lambda seen: Reply(200, RSS.replace(b"antaranews.com/berita",
                                                              b"antaranews.com/lain"))
    cfg, store = setup(tmp_path, server, [source(server, "a", "/a"), source(server, "b", "/b")])
    do_pull(cfg, store)
    build(cfg, store)
    server.routes["/a"] = lambda seen: Reply(503, headers={"Retry-After": "60"})
    server.routes["/b"] = lambda seen: Reply(200, RSS.replace(b"antaranews.com/berita",
                                                              b"antaranews.com/baru"))
    result = do_pull(cfg, store, NOW + timedelta(hours=1), force=True)
    assert result.failed == ["a"] and result.pulled == ["b"]
    build(cfg, store, NOW + timedelta(hours=1))
    parsed = feedparser.parse((cfg.paths.output / "nasional" / "atom.xml").read_bytes())
    links = sorted(e.link for e in parsed.entries)
    assert [link for link in links if "/berita/" in link]  # a's entries still published
    assert [link for link in links if "/baru/" in link]


def test_ids_are_namespaced_and_duplicates_across_sources_published_once(
    tmp_path: Path, server: FeedServer
) -> None:
    server.routes["/a"] = lambda seen: Reply(200, RSS)
    server.routes["/b"] = lambda seen: Reply(200, RSS.replace(b"utm_source=rss", b"fbclid=9"))
    cfg, store = setup(tmp_path, server, [source(server, "a", "/a"), source(server, "b", "/b")])
    do_pull(cfg, store)
    build(cfg, store)
    parsed = feedparser.parse((cfg.paths.output / "nasional" / "atom.xml").read_bytes())
    assert len(parsed.entries) == 2
    assert all(e.id.startswith("tag:usmnews.example,2026:upstream/a/") for e in parsed.entries)


def test_include_and_exclude_filters(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/feed"] = lambda seen: Reply(200, RSS)
    cfg, store = setup(tmp_path, server, [source(server)])
    cfg = dataclasses.replace(cfg, upstream=(
        config.UpstreamConfig(name="antara", outlet="Antara", url=server.url("/feed"),
                              section="nasional", every=1800, exclude=("banjir",)),))
    assert do_pull(cfg, store).new_entries == 1


def test_mock_transport_sends_gzip_and_brotli_accept_encoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=RSS)

    client = fetch.make_client(user_agent="t", allow_private_networks=True,
                               transport=httpx.MockTransport(handler))
    result = fetch.fetch(client, "https://x.example/feed", fetch.Validators(), fetch.Limits(),
                         now=NOW)
    assert result.status == 200 and result.body == RSS
    encodings = seen[0].headers["accept-encoding"]
    assert "gzip" in encodings and "br" in encodings


def test_too_many_redirects_is_an_error() -> None:
    client = fetch.make_client(
        user_agent="t", allow_private_networks=True,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(301, headers={"Location": "/again"})
        ),
    )
    with pytest.raises(Exception, match="more than 5 redirects"):
        fetch.fetch(client, "https://x.example/feed", fetch.Validators(), fetch.Limits(), now=NOW)


def test_pull_all_exits_1_naming_the_failed_source_and_stores_the_others(
    tmp_path: Path, server: FeedServer
) -> None:
    import subprocess
    import sys

    server.routes["/ok"] = lambda seen: Reply(200, RSS)
    server.routes["/down"] = lambda seen: Reply(500, b"down")
    setup(tmp_path, server, [source(server, "baik", "/ok"), source(server, "rusak", "/down")])
    feeds = Path(sys.executable).parent / "feeds"
    result = subprocess.run([str(feeds), "pull", "--all"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "error: rusak: HTTP 500" in result.stderr
    assert "1 failed: rusak" in result.stdout
    table = subprocess.run([str(feeds), "sources"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=False).stdout
    assert "baik" in table and "200" in table and "rusak" in table and "HTTP 500" in table
    built = subprocess.run([str(feeds), "build"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, check=False)
    assert built.returncode == 0  # a build without --pull attempts no source
    parsed = feedparser.parse((tmp_path / "output" / "nasional" / "atom.xml").read_bytes())
    assert len(parsed.entries) == 2
