"""Hostile upstream feeds over real HTTP on 127.0.0.1: each fails alone, visibly, and harmlessly."""

from __future__ import annotations

import contextlib
import gzip
import html
import ipaddress
import itertools
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import brotli
import httpx
import pytest
from lxml import etree

from feeds import config, publish, pull
from feeds.output.folder import FolderOutput
from feeds.sources import fetch
from feeds.store import Store, open_store
from tests.httpserver import FeedServer, Reply, Seen

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CAP = 1_000_000  # [fetch] max_bytes in these tests: small, so that a cut is cheap to reach
PEAK_RSS_LIMIT_MIB = 300
FEEDS = Path(sys.executable).parent / "feeds"
FEED_FILES = ("rss.xml", "atom.xml", "feed.json",
              "nasional/rss.xml", "nasional/atom.xml", "nasional/feed.json")
RSS_TYPE = {"Content-Type": "application/rss+xml"}
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
# Never resolve an entity or fetch a DTD while reading what the build wrote.
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

GOOD_OLD = "https://good.example/berita/lama"
GOOD_NEW = "https://good.example/berita/baru"
EARLIER = "https://hostile.example/berita/sebelumnya"

Route = Callable[[Seen], Reply]


# --- documents --------------------------------------------------------------------------


def item(link: str, title: str = "Berita", *, guid: str | None = None,
         date: str = "Sat, 28 Feb 2026 10:00:00 +0000", description: str = "Isi berita.",
         extra: str = "") -> str:
    guid_element = f'<guid isPermaLink="false">{guid}</guid>' if guid is not None else ""
    date_element = f"<pubDate>{date}</pubDate>" if date else ""
    return (f"<item><title>{title}</title><link>{link}</link>{guid_element}{date_element}"
            f"<description>{description}</description>{extra}</item>")


def rss(*items: str, title: str = "Kanal", encoding: str | None = "utf-8") -> str:
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    return (f'{declaration}<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{title}</title><link>https://hostile.example/</link>"
            f"<description>x</description>{''.join(items)}</channel></rss>")


def json_feed(*items: object, **fields: object) -> bytes:
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "Kanal JSON",
                **fields, "items": list(items)}
    return json.dumps(document).encode()


HOSTILE_BEFORE = rss(item(EARLIER, "Berita sebelumnya", guid="sebelumnya",
                          date="Fri, 27 Feb 2026 10:00:00 +0000")).encode()
GOOD_BEFORE = rss(item(GOOD_OLD, "Harga beras turun", guid="lama")).encode()
GOOD_AFTER = rss(item(GOOD_OLD, "Harga beras turun", guid="lama"),
                 item(GOOD_NEW, "Banjir rob di pesisir", guid="baru",
                      date="Sat, 28 Feb 2026 11:00:00 +0000")).encode()
PLAIN_FEED = rss(item("https://hostile.example/berita/biasa", "Biasa", guid="biasa")).encode()


def answer(body: bytes, headers: dict[str, str] | None = None) -> Route:
    """A route giving the same body every time (a fresh Reply per request)."""
    return lambda seen: Reply(200, body, dict(headers or {}))


# --- the newsroom under attack ----------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    # One server for the module: each FeedServer shutdown costs half a second of polling.
    with FeedServer() as running:
        yield running


@pytest.fixture(scope="module")
def private_server() -> Iterator[FeedServer]:
    """A server on 127.0.0.2, loopback to the guard: redirects there must never reach it."""
    with FeedServer("127.0.0.2") as running:
        running.routes["/secret"] = answer(rss(item("https://intranet.example/rahasia")).encode())
        yield running


_serial = itertools.count()


def serve(server: FeedServer, route: Route) -> str:
    """A path of its own for this route (the module shares one server)."""
    path = f"/feed-{next(_serial)}"
    server.routes[path] = route
    return path


def write_config(root: Path, hostile_url: str, good_url: str, *, timeout: float = 3,
                 max_bytes: int = CAP, content: str = "summary", items_per_feed: int = 20
                 ) -> Path:
    """The project a user would have: config/feeds.toml with two sources, the hostile first."""
    (root / "config").mkdir(exist_ok=True)
    (root / "seeds").mkdir(exist_ok=True)
    path = root / "config" / "feeds.toml"
    path.write_text(f"""
[site]
title = "USM News"
base_url = "https://usmnews.example/"
id_prefix = "tag:usmnews.example,2026:"
items_per_feed = {items_per_feed}

[[sections]]
slug = "nasional"
name = "Nasional"

[outlets."Antara"]
url = "https://www.antaranews.com/"

[fetch]
allow_private_networks = true  # the upstream server is 127.0.0.1
min_every = "1s"
timeout = {timeout}
max_bytes = {max_bytes}

[[upstream]]
name = "hostile"
outlet = "Kabar Liar"
url = "{hostile_url}"
section = "nasional"
content = "{content}"

[[upstream]]
name = "good"
outlet = "Antara"
url = "{good_url}"
section = "nasional"
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    # One client for the module, as the CLI builds one per run: its TLS context costs 40 ms.
    with fetch.make_client(user_agent="feeds-test/1 (+https://usmnews.example/)",
                           allow_private_networks=True) as client:
        yield client


@dataclass
class Outcome:
    cfg: config.Config
    store: Store
    pulled: pull.PullResult  # the pull that met the hostile answer
    seconds: float  # how long that pull took
    kept: tuple[str, ...]  # links the hostile source had published before

    @property
    def out(self) -> Path:
        return self.cfg.paths.output

    def messages(self, source: str) -> str:
        return " | ".join(d.message for d in self.pulled.diagnostics if d.where == source)


@pytest.fixture
def newsroom(tmp_path: Path, server: FeedServer, http: httpx.Client
             ) -> Iterator[Callable[..., Outcome]]:
    """`newsroom(route, **settings)`: pull and build with the hostile source answering `route`;
    with `before`, its earlier answer was pulled and built first (to see that it stays)."""
    stores: list[Store] = []

    def attack(route: Route, *, before: bool = False, client: httpx.Client | None = None,
               base: str | None = None, hostile_url: str | None = None,
               **settings: Any) -> Outcome:
        phase = {"attack": not before}
        hostile = serve(server, lambda seen: route(seen) if phase["attack"]
                        else Reply(200, HOSTILE_BEFORE, RSS_TYPE))
        good = serve(server, lambda seen: Reply(
            200, GOOD_AFTER if phase["attack"] else GOOD_BEFORE, RSS_TYPE))
        base = base or server.base
        path = write_config(tmp_path, hostile_url or base + hostile, base + good, **settings)
        cfg, _ = config.load(path)
        store = open_store(cfg.paths.state)
        stores.append(store)
        client = client or http
        if before:
            first = pull.pull(cfg, store, client, NOW, force=True, rng=random.Random(1))
            assert first.failed == [], first.diagnostics
            publish.build(cfg, store, NOW, output=FolderOutput(cfg.paths.output))
            phase["attack"] = True
        start = time.monotonic()
        result = pull.pull(cfg, store, client, LATER, force=True, rng=random.Random(1))
        seconds = time.monotonic() - start
        publish.build(cfg, store, LATER, output=FolderOutput(cfg.paths.output))
        return Outcome(cfg, store, result, seconds, (EARLIER,) if before else ())

    yield attack
    for store in stores:
        store.close()


# --- reading what the build wrote -------------------------------------------------------


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    summary: str
    content: str


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity are Python's, not JSON's


def parse_every_output(out: Path) -> None:
    """Every XML and JSON file the build wrote parses strictly (a reader stops at the first)."""
    checked = 0
    for path in sorted(out.rglob("*")):
        if path.suffix in (".xml", ".opml"):
            etree.fromstring(path.read_bytes(), SAFE_XML)
            checked += 1
        elif path.suffix == ".json":
            json.loads(path.read_bytes(), parse_constant=_no_constants)
            checked += 1
    assert checked >= len(FEED_FILES) + 1  # the feeds and feeds.opml, at least


def items(path: Path) -> list[Item]:
    data = path.read_bytes()
    if path.suffix == ".json":
        return [Item(i["title"], i["url"], i.get("summary", ""), i.get("content_html", ""))
                for i in json.loads(data)["items"]]
    root = etree.fromstring(data, SAFE_XML)
    if root.tag == "rss":
        return [Item(e.findtext("title") or "", e.findtext("link") or "",
                     e.findtext("description") or "", e.findtext(CONTENT_ENCODED) or "")
                for e in root.iter("item")]
    return [Item(e.findtext(f"{ATOM}title") or "",
                 next(link.get("href", "") for link in e.findall(f"{ATOM}link")
                      if link.get("rel") == "alternate"),
                 e.findtext(f"{ATOM}summary") or "", e.findtext(f"{ATOM}content") or "")
            for e in root.iter(f"{ATOM}entry")]


def published(out: Path) -> dict[str, list[Item]]:
    return {name: items(out / name) for name in FEED_FILES}


def hostile_items(out: Path) -> dict[str, list[Item]]:
    """The items of the hostile source (not the good one, not its earlier item)."""
    return {name: [i for i in found if "good.example" not in i.link and i.link != EARLIER]
            for name, found in published(out).items()}


def assert_published(out: Path, *links: str) -> None:
    for name, found in published(out).items():
        missing = set(links) - {i.link for i in found}
        assert not missing, f"{name} lacks {missing}"


def assert_contained(outcome: Outcome, refusal: str | None) -> None:
    """The hostile source failed alone with `refusal` (or was taken when None), earlier
    entries stayed, the good source published its new entry, and every file parses."""
    result = outcome.pulled
    assert "good" in result.pulled, outcome.messages("good")
    if refusal is None:
        assert "hostile" in result.pulled, outcome.messages("hostile")
    else:
        assert result.failed == ["hostile"], outcome.messages("hostile")
        message = outcome.messages("hostile")
        assert refusal in message and "published entries kept" in message, message
        state = outcome.store.source("hostile")
        assert state is not None and state.failures == 1 and refusal in state.last_error
    parse_every_output(outcome.out)
    assert_published(outcome.out, GOOD_NEW, *outcome.kept)


def assert_text_is_xml_safe(text: str) -> None:
    forbidden = re.findall("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", text)
    assert not forbidden, forbidden


# --- measuring the CLI in a child process -----------------------------------------------

# ru_maxrss of RUSAGE_CHILDREN keeps the high-water mark of the forked copy of *this* process
# (Linux records the old mm's peak at exec), so pytest's own size would be measured. A small
# wrapper process measures its own child instead: the real `feeds` command.
_MEASURE = """
import resource, subprocess, sys, time
start = time.monotonic()
code = subprocess.run(sys.argv[2:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as report:
    report.write(f"{peak} {time.monotonic() - start}")
sys.exit(code)
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    peak_rss_mib: float
    seconds: float


def feeds_cli(root: Path, *args: str) -> Run:
    """`feeds ARGS` run in `root` as a user would, with its peak RSS and wall time."""
    report = root / "measured.txt"
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(report), str(FEEDS), *args],
                          cwd=root, capture_output=True, text=True, timeout=120, check=False)
    peak, seconds = report.read_text().split()
    return Run(done.returncode, done.stdout, done.stderr, int(peak) / 1024, float(seconds))


class Endless:
    """An endless streamed body that says when the server stopped sending it."""

    def __init__(self, chunk: bytes = b"<item>" + b"x" * 65530) -> None:
        self.chunk = chunk
        self.finished = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                yield self.chunk
        finally:  # the handler dropped it: the client hung up and the write failed
            self.finished.set()


# --- 1, 2: entities ---------------------------------------------------------------------

LOL = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
BILLION_LAUGHS = (
    f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{LOL}]>'
    + rss(item("https://hostile.example/lol", "&lol9;", description="&lol9;"), encoding=None)
).encode()
PASSWD = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]


def test_billion_laughs_is_refused_before_any_expansion(newsroom: Callable[..., Outcome]
                                                        ) -> None:
    outcome = newsroom(answer(BILLION_LAUGHS), before=True)
    assert_contained(outcome, "document declares XML entities (<!ENTITY>): refused")
    assert outcome.seconds < 2  # refused by a scan, not after expanding 10⁹ laughs


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "cp037"])
def test_entity_declarations_in_other_encodings_are_refused_too(
    newsroom: Callable[..., Outcome], encoding: str
) -> None:
    entities = '<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    document = (f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE rss [{entities}]>'
                + rss(item("https://hostile.example/amp", "x &b;"), encoding=None))
    outcome = newsroom(answer(document.encode(encoding)))
    assert_contained(outcome, "declares XML entities")


@pytest.mark.parametrize(
    ("prologue", "body", "refusal"),
    [
        ('<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;", "declares XML"),
        ('<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', "x", "declares XML"),
        ('<!DOCTYPE rss SYSTEM "file:///etc/passwd">', "x", None),
        ("", '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
             'href="file:///etc/passwd" parse="text"/>', None),
    ],
    ids=["general-entity", "parameter-entity", "external-dtd", "xinclude"],
)
def test_external_entity_never_leaks_a_local_file(
    newsroom: Callable[..., Outcome], prologue: str, body: str, refusal: str | None
) -> None:
    document = (f'<?xml version="1.0"?>{prologue}'
                + rss(item("https://hostile.example/xxe", f"Judul {body}",
                           description=f"Isi {body}"), encoding=None))
    outcome = newsroom(answer(document.encode()))
    assert_contained(outcome, refusal)
    assert_no_leak(outcome)


def test_external_entity_in_utf16_never_leaks_a_local_file(newsroom: Callable[..., Outcome]
                                                            ) -> None:
    # UTF-16 slips past the <!ENTITY scan (see above); the parser must still not read the file.
    document = ('<?xml version="1.0" encoding="utf-16"?>'
                '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                + rss(item("https://hostile.example/xxe16", "Judul &x;", description="&x;"),
                      encoding=None))
    outcome = newsroom(answer(document.encode("utf-16")))
    assert "good" in outcome.pulled.pulled
    parse_every_output(outcome.out)
    assert_no_leak(outcome)


def assert_no_leak(outcome: Outcome) -> None:
    assert PASSWD not in " ".join(str(d) for d in outcome.pulled.diagnostics)
    for path in outcome.out.rglob("*"):
        if path.is_file() and path.suffix in (".xml", ".json", ".html", ".opml"):
            assert PASSWD not in path.read_text(encoding="utf-8"), path


# --- 3: the "2 GB" body (child process) -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("declared", [None, "2000000000"], ids=["endless-stream", "declared-2GB"])
def test_2gb_body_is_cut_at_the_byte_cap(tmp_path: Path, server: FeedServer,
                                         declared: str | None) -> None:
    body = Endless()
    phase = {"attack": False}
    hostile = serve(server, lambda seen: Reply(
        200, chunks=iter(body), headers={"Content-Length": declared} if declared else {})
        if phase["attack"] else Reply(200, HOSTILE_BEFORE, RSS_TYPE))
    good = serve(server, lambda seen: Reply(
        200, GOOD_AFTER if phase["attack"] else GOOD_BEFORE, RSS_TYPE))
    write_config(tmp_path, server.url(hostile), server.url(good), timeout=20)
    assert feeds_cli(tmp_path, "build", "--pull").code == 0
    before = server.bytes_sent.get(hostile, 0)
    phase["attack"] = True

    run = feeds_cli(tmp_path, "pull", "--all")
    assert body.finished.wait(10), "the server is still streaming after the pull ended"
    sent = server.bytes_sent[hostile] - before
    print(f"\n{declared or 'endless'}: {run.seconds:.2f}s, peak RSS {run.peak_rss_mib:.0f} MiB, "
          f"server sent {sent / 2**20:.1f} MiB")
    assert run.code == 1, run.stderr
    refusal = (f"body of {declared} bytes is over the {CAP}-byte cap" if declared
               else f"body is over the {CAP}-byte cap (stopped reading)")
    assert f"error: hostile: error: {refusal}" in run.stderr
    assert "1 failed: hostile" in run.stdout
    assert sent < 64 * 2**20  # socket buffers' worth, not 2 GB
    assert run.peak_rss_mib < PEAK_RSS_LIMIT_MIB
    assert feeds_cli(tmp_path, "build").code == 0
    parse_every_output(tmp_path / "output")
    assert_published(tmp_path / "output", GOOD_NEW, EARLIER)


# --- 4: drips and silences --------------------------------------------------------------


def drip(seen: Seen) -> Reply:
    """A feed sent one byte a second."""
    return Reply(200, chunks=(bytes([byte]) for byte in PLAIN_FEED), delay=1.0)


def test_drip_feed_is_cut_at_the_fetch_deadline(newsroom: Callable[..., Outcome]) -> None:
    outcome = newsroom(drip, before=True, timeout=1)
    assert_contained(outcome, "fetch took longer than 1s")
    assert outcome.seconds < 3.5  # one second of deadline, one drip, and the good source


@contextlib.contextmanager
def dripping_headers(seconds: float) -> Iterator[str]:
    """A raw server that sends a status line, then a header byte every 0.1 s, then hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)  # if no fetch ever comes, the thread still ends

    def drip() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    connection.sendall(b"a")
                    time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed"
    finally:
        thread.join(seconds + 6)
        listener.close()


@pytest.mark.slow
def test_silent_body_is_cut_at_the_fetch_deadline(newsroom: Callable[..., Outcome]) -> None:
    outcome = newsroom(lambda seen: Reply(200, chunks=iter([PLAIN_FEED]), delay=2),
                       timeout=0.5)
    assert_contained(outcome, "")  # any message: the fix chooses its words
    assert outcome.seconds < 1.5  # the configured half second, with slack for the good source


@pytest.mark.slow
def test_dripping_headers_are_cut_at_the_fetch_deadline(newsroom: Callable[..., Outcome]
                                                        ) -> None:
    with dripping_headers(2) as url:
        outcome = newsroom(lambda seen: Reply(500), hostile_url=url, timeout=0.5)
    assert_contained(outcome, "")
    assert outcome.seconds < 1.5


# --- 5, 6: redirects --------------------------------------------------------------------


def test_ping_pong_redirects_are_given_up(newsroom: Callable[..., Outcome],
                                          server: FeedServer) -> None:
    urls: dict[str, str] = {}
    ping = serve(server, lambda seen: Reply(301, headers={"Location": urls["pong"]}))
    pong = serve(server, lambda seen: Reply(302, headers={"Location": urls["ping"]}))
    urls.update(ping=server.url(ping), pong=server.url(pong))
    outcome = newsroom(lambda seen: Reply(302, headers={"Location": urls["ping"]}),
                       before=True)
    assert_contained(outcome, "more than 5 redirects")
    asked = [s.path for s in server.seen if s.path in (ping, pong)]
    assert len(asked) == 5  # six requests: the source URL, then ping, pong, ping, pong, ping


def test_ever_new_redirects_are_given_up(newsroom: Callable[..., Outcome],
                                         server: FeedServer) -> None:
    hops = itertools.count()
    path = serve(server, lambda seen: Reply(307, headers={"Location": f"{path}?n={next(hops)}"}))
    outcome = newsroom(lambda seen: Reply(302, headers={"Location": path}))
    assert_contained(outcome, "more than 5 redirects")
    assert next(hops) == 5  # five hops answered, the sixth never asked


def test_redirect_to_a_local_file_is_refused(newsroom: Callable[..., Outcome]) -> None:
    outcome = newsroom(lambda seen: Reply(302, headers={"Location": "file:///etc/passwd"}))
    assert_contained(outcome, "redirect to a non-http(s) URL 'file:///etc/passwd': refused")
    assert_no_leak(outcome)


@pytest.mark.parametrize("location", ["javascript:alert(1)", "data:text/html,x", "mailto:a@b"])
def test_redirect_to_a_non_http_url_is_refused(newsroom: Callable[..., Outcome],
                                               location: str) -> None:
    outcome = newsroom(lambda seen: Reply(302, headers={"Location": location}))
    assert_contained(outcome, "unusable redirect target")  # httpx refuses to parse these


@pytest.mark.parametrize("target", ["literal-address", "name-resolving-to-it"])
def test_redirect_to_a_private_address_is_refused(
    newsroom: Callable[..., Outcome], server: FeedServer, private_server: FeedServer,
    target: str,
) -> None:
    location = (private_server.url("/secret") if target == "literal-address"
                else f"http://intranet.example:{private_server.port}/secret")
    # The test_upstream trick: "feeds.example" resolves to 127.0.0.1, which this guard treats
    # as public; "intranet.example" resolves to 127.0.0.2, which stays loopback (refused).
    names = {"feeds.example": ["127.0.0.1"], "intranet.example": ["127.0.0.2"]}
    transport = fetch.GuardedTransport(resolver=lambda host, port: names[host],
                                       allowed=[ipaddress.ip_network("127.0.0.1/32")])
    with fetch.make_client(user_agent="t", allow_private_networks=False,
                           transport=transport) as client:
        outcome = newsroom(lambda seen: Reply(302, headers={"Location": location}),
                           before=True, client=client,
                           base=f"http://feeds.example:{server.port}")
    assert_contained(outcome, "127.0.0.2 is a loopback address")
    assert private_server.seen == []


# --- 7: compression bombs ---------------------------------------------------------------


@cache
def gzip_bomb(mebibytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    block = bytes(2**20)
    return b"".join(packer.compress(block) for _ in range(mebibytes)) + packer.flush()


@cache
def brotli_bomb(mebibytes: int) -> bytes:
    packer = brotli.Compressor(quality=5)
    block = bytes(2**20)
    return b"".join(packer.process(block) for _ in range(mebibytes)) + packer.finish()


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "gzip, gzip"],
                         ids=["gzip", "brotli", "deflate", "gzip-inside-gzip"])
def test_compression_bomb_is_cut_at_the_byte_cap(newsroom: Callable[..., Outcome],
                                                 encoding: str) -> None:
    bomb = {"gzip": gzip_bomb(32), "br": brotli_bomb(32),
            "deflate": zlib.compress(bytes(32 * 2**20), 9),
            "gzip, gzip": gzip.compress(gzip_bomb(32))}[encoding]
    outcome = newsroom(answer(bomb, {"Content-Encoding": encoding, **RSS_TYPE}), before=True)
    if encoding == "gzip, gzip":  # no feed needs two layers: refused before any inflating
        assert_contained(outcome, "more than one content coding (gzip, gzip): refused")
    else:
        assert_contained(outcome, f"body is over the {CAP}-byte cap (stopped reading)")


@pytest.mark.parametrize("inside", ["feed", "bomb"])
def test_gzip_file_without_content_encoding_is_not_unpacked(
    newsroom: Callable[..., Outcome], inside: str
) -> None:
    packed = gzip.compress(PLAIN_FEED) if inside == "feed" else gzip_bomb(32)
    outcome = newsroom(answer(packed, {"Content-Type": "application/gzip"}), before=True)
    assert_contained(outcome, "not a feed")
    assert all(not found for found in hostile_items(outcome.out).values())


@pytest.mark.slow
@pytest.mark.parametrize("encoding", [
    "gzip",
    pytest.param("br"),
], ids=["gzip", "brotli"])
def test_compression_bomb_memory_stays_bounded(tmp_path: Path, server: FeedServer,
                                               encoding: str) -> None:
    bomb = gzip_bomb(128) if encoding == "gzip" else brotli_bomb(384)
    hostile = serve(server, answer(bomb, {"Content-Encoding": encoding, **RSS_TYPE}))
    good = serve(server, answer(GOOD_AFTER, RSS_TYPE))
    write_config(tmp_path, server.url(hostile), server.url(good))
    run = feeds_cli(tmp_path, "build", "--pull")
    print(f"\n{encoding} bomb of {len(bomb)} bytes: {run.seconds:.2f}s, "
          f"peak RSS {run.peak_rss_mib:.0f} MiB")
    assert run.code == 1 and f"over the {CAP}-byte cap" in run.stderr, run.stderr
    assert_published(tmp_path / "output", GOOD_NEW)
    assert run.peak_rss_mib < PEAK_RSS_LIMIT_MIB


# --- 8: charsets ------------------------------------------------------------------------

TEXT = "Café résumé naïve – “kutip” €5"
MOJIBAKE = "Café – €5".encode().decode("cp1252")  # UTF-8 read as Windows-1252: "CafÃ© â€“ â‚¬5"


def charset_feed(declared: str | None, codec: str, title: str = TEXT) -> bytes:
    return rss(item("https://hostile.example/kode", title, description=title),
               encoding=declared).encode(codec)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (charset_feed("utf-8", "cp1252"), None, TEXT),
        (charset_feed("utf-8", "latin-1", "Ärger über Öl"), None, "Ärger über Öl"),
        (charset_feed("iso-8859-1", "utf-8"), "application/rss+xml; charset=utf-8", TEXT),
        (charset_feed("utf-8", "utf-8"), "text/xml; charset=iso-8859-1", TEXT),
        (charset_feed("windows-1252", "cp1252"), "application/xml; charset=utf-8", TEXT),
        (charset_feed("utf-16", "utf-16"), "application/rss+xml", TEXT),
        (charset_feed("utf-8", "utf-16"), "application/rss+xml", TEXT),
        (charset_feed("utf-16", "utf-16-le"), None, TEXT),
        (b"\xef\xbb\xbf" + charset_feed("iso-8859-1", "utf-8"), None, TEXT),
        (charset_feed("utf-8", "utf-8", MOJIBAKE), None, MOJIBAKE),
        (charset_feed("utf-8", "utf-8", "Judul ÿ").replace("ÿ".encode(), b"\xff\xfe\xc3("),
         None, None),
    ],
    ids=["cp1252-declared-utf8", "latin1-declared-utf8", "header-utf8-over-declared-latin1",
         "header-latin1-over-utf8-bytes", "header-utf8-over-cp1252-bytes", "utf16-with-bom",
         "utf16-bom-declared-utf8", "utf16le-without-bom", "utf8-bom-declared-latin1",
         "mojibake-passes-unrepaired", "invalid-utf8-bytes"],
)
def test_wrong_charset_still_gives_valid_text(
    newsroom: Callable[..., Outcome], body: bytes, content_type: str | None,
    expected: str | None,
) -> None:
    outcome = newsroom(answer(body, {"Content-Type": content_type} if content_type else {}))
    assert_contained(outcome, None)
    for name, found in hostile_items(outcome.out).items():
        assert len(found) == 1, name
        title = found[0].title
        assert_text_is_xml_safe(title)
        assert "\ufffd" not in title
        if expected is None:  # undecodable bytes: fell back to Windows-1252, still text
            assert title.startswith("Judul "), title
        else:
            assert title == expected, (name, title)


# --- 9: 10,000 entries (child process) --------------------------------------------------


@pytest.mark.slow
def test_10000_entries_keep_only_the_per_source_and_per_feed_limits(
    tmp_path: Path, server: FeedServer
) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)  # older than the good entries, which stay on top
    entries = [item(f"https://hostile.example/n/{n}", f"Berita nomor {n}", guid=f"n{n}",
                    date=(start + timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S +0000"))
               for n in range(10_000)]
    body = rss(*entries).encode()
    hostile = serve(server, answer(body, RSS_TYPE))
    good = serve(server, answer(GOOD_AFTER, RSS_TYPE))
    write_config(tmp_path, server.url(hostile), server.url(good), items_per_feed=50,
                 max_bytes=10 * 2**20)  # the default cap: the document is 2 MiB
    run = feeds_cli(tmp_path, "build", "--pull")
    print(f"\n10,000 entries ({len(body) / 2**20:.1f} MiB): pull + build {run.seconds:.2f}s, "
          f"peak RSS {run.peak_rss_mib:.0f} MiB")
    assert run.code == 0, run.stderr
    assert "warning: hostile: feed has 10000 entries; kept the first 500" in run.stderr
    assert "502 entries published" in run.stdout  # 500 hostile and 2 good
    parse_every_output(tmp_path / "output")
    for name, found in published(tmp_path / "output").items():
        assert len(found) == 50, name  # items_per_feed
        assert {GOOD_OLD, GOOD_NEW} <= {i.link for i in found}, name
    assert run.peak_rss_mib < PEAK_RSS_LIMIT_MIB
    assert run.seconds < 30


# --- 10: active content -----------------------------------------------------------------

EVIL_TITLE = ("Judul <script>alert('t')</script><b onmouseover=alert(1)>tebal</b>"
              "<iframe src=https://evil.example/if></iframe>")
EVIL_HTML = """<p>Aman satu</p><script>alert('s1')</script><style>body{color:red}</style>
<iframe src="https://evil.example/if"></iframe>
<form action="https://evil.example/f"><input name=q><button>go</button></form>
<a href="javascript:alert('j1')" onclick="alert('c1')">tautan satu</a>
<a href="jav&#x61;script:alert('j2')">tautan dua</a> <a href="JaVaScRiPt:alert(3)">tiga</a>
<a href=" &#14;javascript:alert(4)">empat</a> <a href="vbscript:msgbox(7)">vb</a>
<img src="data:image/png;base64,AAAA" onerror="alert('e1')">
<a href="data:text/html,PHNjcmlwdD4=">data</a>
<svg onload="alert('svg1')"><circle r=1 /></svg>
<object data="https://evil.example/o.swf"></object><embed src="https://evil.example/e.swf">
<meta http-equiv="refresh" content="0;url=https://evil.example/refresh">
<base href="https://evil.example/base/"><link rel=stylesheet href="https://evil.example/c">
<div style="width: expression(alert('css1'))">Aman dua</div>
<p style="background:url(javascript:alert(5))">Aman tiga</p>
<b><i><u>tak ditutup <div><table><tr><td>sel <p>Aman empat
<math><mi xlink:href="javascript:alert(6)">m</mi></math> <img src=x onerror=alert(8)//>
<body onload=alert(9)><noscript><p title="</noscript><img src=x onerror=alert(10)>"></noscript>
"""
SAFE_TEXT = ("Aman satu", "Aman dua", "Aman tiga", "Aman empat", "tautan satu", "tautan dua")
LIVE_TAG = re.compile(r"<\s*/?\s*(script|style|iframe|frame|form|input|button|svg|math|object|"
                      r"embed|meta|base|link|body|noscript|applet)\b", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
BAD_URL = re.compile(r"(javascript|vbscript|data)\s*:|expression\s*\(", re.IGNORECASE)
RAW_MARKERS = ("alert(", "evil.example", "msgbox(", "javascript", "expression(")


def evil_document(shape: str) -> tuple[bytes, str]:
    """The hostile item as RSS description, RSS content:encoded, Atom or JSON Feed."""
    link = "https://hostile.example/berita/aktif"
    evil_links = item("javascript:alert('link')", "Tautan jahat", guid="js") + item(
        "data:text/html,x", "Tautan data", guid="data")
    if shape == "rss-description":
        return rss(item(link, escape(EVIL_TITLE), guid="aktif", description=escape(EVIL_HTML),
                        extra='<enclosure url="javascript:alert(1)" type="image/png"/>'),
                   evil_links).encode(), "summary"
    if shape == "rss-content-encoded":
        return rss(item(link, escape(EVIL_TITLE), guid="aktif", description="Ringkasan aman",
                        extra=f"<content:encoded><![CDATA[{EVIL_HTML}]]></content:encoded>"),
                   evil_links).encode(), "full"
    if shape == "atom":
        return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>K'
                f"</title><id>urn:k</id><updated>2026-02-28T10:00:00Z</updated><entry>"
                f'<title type="html">{escape(EVIL_TITLE)}</title><id>urn:k:1</id>'
                f'<link href="{link}"/><updated>2026-02-28T10:00:00Z</updated>'
                f'<summary type="html">{escape(EVIL_HTML)}</summary>'
                f'<content type="html">{escape(EVIL_HTML)}</content></entry>'
                f'<entry><title>j</title><id>urn:k:2</id><link href="javascript:alert(2)"/>'
                f"</entry></feed>").encode(), "full"
    return json_feed({"id": "aktif", "url": link, "title": "Judul tebal",
                      "content_html": EVIL_HTML, "image": "javascript:alert(1)"},
                     {"id": "js", "url": "javascript:alert(2)", "title": "jahat"}), "full"


@pytest.mark.parametrize("shape", ["rss-description", "rss-content-encoded", "atom", "json-feed"])
def test_active_content_is_neutralized_in_every_format(newsroom: Callable[..., Outcome],
                                                       shape: str) -> None:
    body, content = evil_document(shape)
    outcome = newsroom(answer(body), content=content)
    assert_contained(outcome, None)
    # An RSS title is plain text: the evil title is shown as text, so its markers are there,
    # escaped; no other trace of the active content is anywhere.
    plain_title = shape.startswith("rss")
    for path in outcome.out.rglob("*"):
        if path.suffix in (".xml", ".json", ".html", ".opml"):
            text = path.read_text(encoding="utf-8")
            if plain_title:  # read as a reader would, without the title it shows as text
                text = html.unescape(html.unescape(text)).replace(EVIL_TITLE, "")
            for marker in RAW_MARKERS:
                assert marker not in text, (path.name, marker)
    for name, found in hostile_items(outcome.out).items():
        # The items whose only link was javascript: or data: are kept, linking to a page of
        # their own; no feed links anything but http(s).
        linked = [i for i in found if not i.link.startswith("https://usmnews.example/articles/")]
        assert [i.link for i in linked] == ["https://hostile.example/berita/aktif"], name
        expected = 3 if shape.startswith("rss") else 2  # the evil-link items, kept
        assert len(found) == expected, (name, [i.link for i in found])
        entry = linked[0]
        assert entry.title == (EVIL_TITLE if plain_title else "Judul tebal"), (name, entry.title)
        for field in (entry.summary, entry.content):  # RSS description is HTML to readers
            assert not LIVE_TAG.search(field), (name, field)
            assert not HANDLER.search(field), (name, field)
            assert not BAD_URL.search(html.unescape(field)), (name, field)
        shown = entry.content or entry.summary
        for words in SAFE_TEXT:
            assert words in shown, (name, words)


@pytest.mark.parametrize("shape", ["rss-escaped-text", "json-feed-summary"])
def test_markup_shown_as_text_stays_inert_in_rss_descriptions(
    newsroom: Callable[..., Outcome], shape: str
) -> None:
    shown = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    link = "https://hostile.example/berita/kode"
    body = (rss(item(link, "Judul", guid="k", description="Kode: " + escape(escape(shown))))
            .encode() if shape == "rss-escaped-text"
            else json_feed({"id": "k", "url": link, "title": "Judul", "summary": "Kode: " + shown}))
    outcome = newsroom(answer(body))
    assert_contained(outcome, None)
    for name in ("rss.xml", "nasional/rss.xml"):
        for entry in hostile_items(outcome.out)[name]:
            assert "Kode:" in entry.summary
            assert not re.search(r"<\s*(img|script)", entry.summary, re.IGNORECASE), (name, entry)


def test_markup_in_a_json_feed_title_is_text(newsroom: Callable[..., Outcome]) -> None:
    outcome = newsroom(answer(json_feed({"id": "k", "url": "https://hostile.example/berita/k",
                                         "title": EVIL_TITLE})))
    assert_contained(outcome, None)
    for name, found in hostile_items(outcome.out).items():
        assert [i.title for i in found] == [EVIL_TITLE], name  # JSON Feed titles are text
    for path in outcome.out.rglob("*.xml"):
        assert b"<script" not in path.read_bytes(), path  # escaped wherever it is written


# --- 11: characters XML forbids ---------------------------------------------------------

C0 = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
C0_REFERENCES = "".join(f"&#x{ord(c):x};" for c in C0) + "&#xFFFE;&#xFFFF;"


def forbidden_feed(title: str, description: str) -> bytes:
    return rss(item("https://hostile.example/kendali", title, guid="kendali",
                    description=description)).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(forbidden_feed(f"Judul aman {C0}", f"Isi {C0} aman"), id="raw-c0-bytes"),
        pytest.param(forbidden_feed(f"Judul aman {C0_REFERENCES}", f"Isi {C0_REFERENCES}"),
                     id="c0-and-fffe-references"),
        pytest.param(forbidden_feed("Judul aman \x7f\x85\x9f", "Isi \x7f\x85\x9f"),
                     id="del-and-c1"),
        pytest.param(json_feed({"id": "kendali\u0001", "url": "https://hostile.example/kendali",
                                "title": "Judul aman \u0001\u001f\ud800\ufffe",
                                "content_html": "<p>Isi \u0000\u0008\udfff</p>",
                                "authors": [{"name": "Nama\u0007"}]}),
                     id="json-escapes"),
        pytest.param(forbidden_feed(f"Judul aman {escape(C0_REFERENCES)}",
                                    f"Isi {escape(C0_REFERENCES)}"),
                     id="escaped-references"),
        pytest.param(forbidden_feed(f"<![CDATA[Judul aman {C0_REFERENCES}]]>",
                                    f"<![CDATA[Isi {C0_REFERENCES}]]>"),
                     id="references-in-cdata"),
        pytest.param(forbidden_feed("Judul aman &#xD800;", "Isi &#xDFFF;"),
                     id="lone-surrogate-references"),
    ],
)
def test_forbidden_characters_never_reach_the_xml(newsroom: Callable[..., Outcome],
                                                  body: bytes) -> None:
    outcome = newsroom(answer(body))
    assert_contained(outcome, None)
    for name, found in hostile_items(outcome.out).items():
        assert len(found) == 1, name
        assert found[0].title.startswith("Judul aman"), (name, found[0].title)
        for field in (found[0].title, found[0].summary, found[0].content):
            assert_text_is_xml_safe(field)
            assert not re.search("[\x80-\x9f]", field), (name, field)  # C1: mis-decoding


# --- 12: a one-megabyte title -----------------------------------------------------------


def test_megabyte_title_keeps_the_feeds_valid(newsroom: Callable[..., Outcome]) -> None:
    title = ("Judul sangat panjang " * 50_000)[:1_000_000]
    body = rss(item("https://hostile.example/panjang", title, guid="panjang",
                    description=title[:200_000]), title=title).encode()
    outcome = newsroom(answer(body, RSS_TYPE), max_bytes=10 * 2**20)  # the default cap
    assert_contained(outcome, None)
    sizes = {name: (outcome.out / name).stat().st_size for name in FEED_FILES}
    print(f"\n1 MB title: pull {outcome.seconds:.2f}s; feed sizes {sizes}")
    for name, found in hostile_items(outcome.out).items():
        assert found[0].title.startswith("Judul sangat panjang"), name
        assert len(found[0].summary) <= 301, name  # summaries are cut at ~300 characters


# --- 13: ids, links and dates -----------------------------------------------------------


def dated(*dates: str) -> bytes:
    return rss(*(item(f"https://hostile.example/tanggal/{n}", f"Tanggal {n}", guid=f"t{n}",
                      date=date) for n, date in enumerate(dates))).encode()


def test_items_without_a_usable_link_get_a_page_of_their_own(
    newsroom: Callable[..., Outcome]
) -> None:
    body = rss("<item><title>Tanpa tautan dan id</title></item>",
               "<item><link>https://hostile.example/hanya-tautan</link></item>",
               '<item><guid isPermaLink="false">hanya-id</guid><title>Hanya id</title></item>',
               "<item><description>Hanya isi</description></item>",
               item("javascript:alert(1)", "Tautan skrip", guid="skrip"),
               "<item><enclosure/></item>").encode()
    outcome = newsroom(answer(body))
    assert_contained(outcome, None)
    own = "https://usmnews.example/articles/"
    for name, found in hostile_items(outcome.out).items():
        titles = {i.title: i.link for i in found}
        assert set(titles) == {"Tanpa tautan dan id", "https://hostile.example/hanya-tautan",
                               "Hanya id", "Hanya isi", "Tautan skrip"}, name
        assert titles["https://hostile.example/hanya-tautan"] == (
            "https://hostile.example/hanya-tautan")  # an item without a title: titled by link
        for title in ("Tanpa tautan dan id", "Hanya id", "Hanya isi", "Tautan skrip"):
            assert titles[title].startswith(own), (name, title)
            page = outcome.out / titles[title].removeprefix("https://usmnews.example/")
            text = page.read_text(encoding="utf-8")  # its page: the text and the credit
            assert "Kabar Liar" in text and "javascript" not in text, page
    message = outcome.messages("hostile")
    assert "1 item(s) not republished: no title, link, text or enclosure (1)" in message


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ((item("https://hostile.example/a", "A", guid="sama"),
          item("https://hostile.example/b", "B", guid="sama")), ["https://hostile.example/a"]),
        ((item("https://hostile.example/c", "C", guid="satu"),
          item("https://hostile.example/c?utm_source=x", "C lagi", guid="dua")),
         ["https://hostile.example/c", "https://hostile.example/c"]),
    ],
    ids=["one-id-twice-the-first-stands", "two-ids-one-link-two-entries"],
)
def test_an_item_is_what_its_id_says(newsroom: Callable[..., Outcome],
                                     items: tuple[str, ...], expected: list[str]) -> None:
    outcome = newsroom(answer(rss(*items).encode()))
    assert_contained(outcome, None)
    for name, found in hostile_items(outcome.out).items():
        assert sorted(i.link for i in found) == expected, name


def test_dates_in_year_1_or_9999_or_garbage_still_publish(newsroom: Callable[..., Outcome]
                                                          ) -> None:
    outcome = newsroom(answer(dated("Mon, 01 Jan 0001 00:00:00 GMT",
                                    "Fri, 31 Dec 9999 23:59:59 GMT", "bukan tanggal 99:99",
                                    "Sat, 01 Jan 0000 00:00:00 GMT", "")))
    assert_contained(outcome, None)
    feed = json.loads((outcome.out / "nasional" / "feed.json").read_bytes())
    mine = [i for i in feed["items"] if "/tanggal/" in i["url"]]
    assert len(mine) == 5
    for entry in mine:  # no entry is dated after the pull that found it
        for key in ("date_published", "date_modified"):
            moment = datetime.fromisoformat(entry[key].replace("Z", "+00:00"))
            assert moment <= LATER, (entry["title"], key, moment)


def test_atom_date_before_year_1_in_utc_does_not_break_the_pull(
    newsroom: Callable[..., Outcome]
) -> None:
    body = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>K</title>'
            b"<id>urn:k</id><updated>2026-02-28T10:00:00Z</updated><entry><title>Awal</title>"
            b'<id>urn:k:1</id><link href="https://hostile.example/awal"/>'
            b"<updated>0001-01-01T00:00:00+14:00</updated></entry></feed>")
    assert_contained(newsroom(answer(body)), None)


def test_json_date_after_year_9999_in_utc_does_not_poison_the_build(
    newsroom: Callable[..., Outcome]
) -> None:
    body = json_feed({"id": "akhir", "url": "https://hostile.example/akhir", "title": "Akhir",
                      "date_published": "9999-12-31T23:59:59-14:00"})
    assert_contained(newsroom(answer(body)), None)


# --- 14: hostile JSON Feed --------------------------------------------------------------

JSON_VERSION = '"version": "https://jsonfeed.org/version/1.1"'


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        pytest.param(("{" + JSON_VERSION + ', "items": {"id": "1"}}').encode(),
                     "items is not a list", id="items-is-an-object"),
        pytest.param(("{" + JSON_VERSION + ', "items": "semua"}').encode(),
                     "items is not a list", id="items-is-a-string"),
        pytest.param(b'{"version": 1.1, "items": []}', "JSON without a JSON Feed version",
                     id="version-not-a-string"),
        pytest.param(b"[1, 2, 3]", "JSON without a JSON Feed version", id="array-at-root"),
        pytest.param(("{" + JSON_VERSION + ', "items": [').encode(), "invalid JSON",
                     id="truncated"),
        pytest.param(("{" + JSON_VERSION + ', "title": "Café"}').encode("latin-1"),
                     "invalid JSON", id="latin1-bytes"),
        pytest.param(("{" + JSON_VERSION + ', "items": ' + "[" * 100_000).encode(), "not a feed",
                     id="deep-nesting"),
        pytest.param(("{" + JSON_VERSION + ', "items": [{"id": ' + "9" * 5000 + "}]}").encode(),
                     "not a feed",
                     id="huge-integer"),
    ],
)
def test_hostile_json_feed_is_refused(newsroom: Callable[..., Outcome], body: bytes,
                                      refusal: str) -> None:
    outcome = newsroom(answer(body, {"Content-Type": "application/feed+json"}), before=True)
    assert_contained(outcome, refusal)


def test_json_feed_with_wrong_types_keeps_only_usable_items(newsroom: Callable[..., Outcome]
                                                             ) -> None:
    body = json_feed(
        5, "teks", None, [], {"id": {"a": 1}, "url": ["x"]}, {"id": 1, "url": 5},
        {"id": "js", "url": "javascript:alert(1)", "title": "jahat"},
        {"id": True, "url": "https://hostile.example/aneh", "title": {"a": 1},
         "content_html": ["<b>x</b>"], "summary": 12, "date_published": 5,
         "date_modified": [], "authors": "saya", "author": 5, "image": 7, "tags": "x"},
        {"id": "baik", "url": "https://hostile.example/baik", "title": "Baik",
         "authors": [5, None, {"name": ["n"]}], "content_text": 5,
         "date_published": "2026-02-28T10:00:00+07:00"},
        {"id": "tak-hingga", "url": "https://hostile.example/nan", "title": float("nan")},
        title=["x", {"y": 1}], home_page_url=5, feed_url={"a": 1}, language=7,
    )
    outcome = newsroom(answer(body))
    assert_contained(outcome, None)
    for name, found in hostile_items(outcome.out).items():
        links = {i.link for i in found}
        own = {link for link in links if link.startswith("https://usmnews.example/articles/")}
        assert links - own == {"https://hostile.example/aneh", "https://hostile.example/baik",
                               "https://hostile.example/nan"}, name
        assert len(own) == 1 and "jahat" in {i.title for i in found}, name  # javascript: url
        assert "Baik" in {i.title for i in found}, name


# --- 15: not a feed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "refusal"),
    [
        (b"<!DOCTYPE html><html><head><title>Selamat datang</title></head><body><h1>Hai</h1>"
         b"<a href=/berita>berita</a></body></html>", "text/html", "not a feed"),
        (b"", "application/rss+xml", "empty body"),
        (b" \r\n\t ", "application/rss+xml", "empty body"),
        (b"\0" * 1000, None, "not a feed"),
        (random.Random(7).randbytes(100_000), "application/octet-stream", "not a feed"),
        (b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(5000), "image/png", "not a feed"),
        (b"Ini bukan umpan berita.\n", "text/plain", "not a feed"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><title>x</title></svg>',
         "image/svg+xml", "not a feed"),
        (b'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
         b'<outline text="a" xmlUrl="https://hostile.example/rss"/></body></opml>',
         "text/x-opml", "not a feed"),
    ],
    ids=["html-page", "empty", "whitespace", "nul-bytes", "binary-garbage", "png", "plain-text",
         "svg", "opml"],
)
def test_non_feed_is_refused(newsroom: Callable[..., Outcome], body: bytes,
                             content_type: str | None, refusal: str) -> None:
    outcome = newsroom(answer(body, {"Content-Type": content_type} if content_type else {}))
    assert_contained(outcome, refusal)


# --- 16: broken connections -------------------------------------------------------------


def unfinished_chunks(*parts: bytes) -> Iterator[bytes]:
    """Transfer-Encoding: chunked framing by hand, without the last (empty) chunk."""
    for part in parts:
        yield b"%x\r\n%s\r\n" % (len(part), part)


@pytest.mark.parametrize(
    ("route", "refusal"),
    [
        (lambda seen: Reply(200, chunks=unfinished_chunks(PLAIN_FEED[:200], PLAIN_FEED[200:400]),
                            headers={"Transfer-Encoding": "chunked"}),
         "incomplete chunked read"),
        (lambda seen: Reply(200, chunks=iter([PLAIN_FEED[:200]]),
                            headers={"Content-Length": "100000"}),
         "peer closed connection without sending complete message body"),
        (lambda seen: Reply(200, PLAIN_FEED, {"X-Besar": "a" * 300_000}), "RemoteProtocolError"),
    ],
    ids=["closed-mid-chunked-body", "content-length-larger-than-body", "oversized-header"],
)
def test_broken_connection_fails_only_its_source(newsroom: Callable[..., Outcome], route: Route,
                                                 refusal: str) -> None:
    assert_contained(newsroom(route, before=True), refusal)


def test_body_cut_without_framing_keeps_the_complete_items(newsroom: Callable[..., Outcome]
                                                           ) -> None:
    # With neither Content-Length nor chunking, a close *is* the end: the document is short.
    body = rss(item("https://hostile.example/utuh", "Utuh", guid="utuh"),
               item("https://hostile.example/terpotong", "Terpotong", guid="potong")).encode()
    cut = body[: body.index(b"terpotong") + 4]
    outcome = newsroom(lambda seen: Reply(200, chunks=iter([cut])))
    assert_contained(outcome, None)
    assert "feed parsed with problems" in outcome.messages("hostile")
    for name, found in hostile_items(outcome.out).items():
        assert "https://hostile.example/utuh" in {i.link for i in found}, name
