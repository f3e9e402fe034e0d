"""The server, sent real HTTP requests on 127.0.0.1: types, ETags, 304, encodings, HEAD, paths."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest

from feeds import config, daemon, health
from feeds.jobs import Jobs
from feeds.server import CONTENT_TYPES, Served, Server, listen, make_app
from feeds.store import open_store
from tests.helpers import NOW, build, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def served(project: Path) -> Iterator[tuple[str, config.Config]]:
    cfg, _ = config.load(project / "config" / "feeds.toml")
    build(project, datetime.now(UTC))
    port = free_port()
    site = Served(output=cfg.paths.output, base_url=cfg.site.base_url,
                  health=daemon.served(cfg).health, clock=lambda: datetime.now(UTC),
                  hub="https://hub.example/", max_age=120)
    server = Server(make_app(site), listen("127.0.0.1", port, "test"))
    server.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", cfg
    finally:
        server.stop()


@dataclass
class Wire:
    status_code: int
    headers: httpx.Headers
    content: bytes  # as sent: httpx's own .content would be decompressed

    def json(self) -> Any:
        return json.loads(self.content)


def get(url: str, **headers: str) -> Wire:
    with httpx.Client(headers={"Accept-Encoding": "identity", **headers}) as client, \
            client.stream("GET", url) as response:
        return Wire(response.status_code, response.headers, b"".join(response.iter_raw()))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/kampus/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/international/", "text/html; charset=utf-8"),
        ("/articles/000_4cab66b14d71472d.html", "text/html; charset=utf-8"),
    ],
)
def test_content_types(served: tuple[str, config.Config], path: str, kind: str) -> None:
    base, _ = served
    response = get(base + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == kind
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=120"
    assert response.headers["vary"] == "Accept-Encoding"


def test_etag_and_conditional_requests(served: tuple[str, config.Config]) -> None:
    base, cfg = served
    first = get(base + "/atom.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.content == (cfg.paths.output / "atom.xml").read_bytes()
    again = get(base + "/atom.xml", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert get(base + "/atom.xml", **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert get(base + "/atom.xml", **{"If-Modified-Since": modified}).status_code == 304
    assert get(base + "/atom.xml", **{"If-None-Match": '"stale"'}).status_code == 200
    assert get(base + "/atom.xml",
               **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200


def test_gzip_and_brotli_from_precompressed_files_with_their_own_etags(
    served: tuple[str, config.Config],
) -> None:
    base, _ = served
    plain = get(base + "/rss.xml")
    gz = get(base + "/rss.xml", **{"Accept-Encoding": "gzip"})
    br = get(base + "/rss.xml", **{"Accept-Encoding": "gzip, br"})
    assert gz.headers["content-encoding"] == "gzip" and br.headers["content-encoding"] == "br"
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(gz.content) == plain.content == brotli.decompress(br.content)
    assert len({plain.headers["etag"], gz.headers["etag"], br.headers["etag"]}) == 3
    assert get(base + "/rss.xml", **{"Accept-Encoding": "br;q=0, gzip"}).headers[
        "content-encoding"] == "gzip"
    conditional = get(base + "/rss.xml", **{"Accept-Encoding": "br",
                                            "If-None-Match": br.headers["etag"]})
    assert conditional.status_code == 304


def test_head_has_headers_and_no_body(served: tuple[str, config.Config]) -> None:
    base, cfg = served
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        response = client.head(base + "/feed.json")
    assert response.status_code == 200 and response.content == b""
    size = (cfg.paths.output / "feed.json").stat().st_size
    assert int(response.headers["content-length"]) == size


def test_websub_and_self_link_headers_on_feeds(served: tuple[str, config.Config]) -> None:
    base, _ = served
    link = get(base + "/kampus/atom.xml").headers["link"]
    assert link == ('<https://hub.example/>; rel="hub", '
                    '<https://usmnews.example/kampus/atom.xml>; rel="self"')
    assert "link" not in get(base + "/").headers


def raw_get(base: str, path: str) -> int:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize("path", ["/../config/feeds.toml", "/%2e%2e/config/feeds.toml",
                                  "/articles/../../state/feeds.sqlite", "/.gitignore",
                                  "/kampus/rss.xml.gz", "/articles/", "/nope.xml"])
def test_paths_outside_output_hidden_or_listings_are_refused(
    served: tuple[str, config.Config], path: str
) -> None:
    base, _ = served
    assert raw_get(base, path) == 404


def test_folder_without_slash_redirects(served: tuple[str, config.Config]) -> None:
    base, _ = served
    response = get(base + "/kampus")
    assert response.status_code == 308 and response.headers["location"] == "/kampus/"


def test_healthz_reports_the_daemons_failed_build_until_one_succeeds(project: Path) -> None:
    cfg, _ = config.load(project / "config" / "feeds.toml")
    jobs = Jobs(cfg, None, None, owner="test")  # type: ignore[arg-type] (rebuilds fetch nothing)
    assert jobs.rebuild() is None and jobs.problems.current() == []
    port = free_port()
    server = Server(make_app(daemon.served(cfg, jobs.problems)),
                    listen("127.0.0.1", port, "test"))
    server.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        healthy = get(base + "/healthz")
        assert healthy.status_code == 200 and healthy.json()["healthy"] is True
        assert healthy.json()["problems"] == [] and healthy.json()["age_seconds"] < 60
        blocker = cfg.paths.output / "international"  # the seed's section
        shutil.rmtree(blocker)
        blocker.write_text("a file where a folder must be")
        seed = project / "seeds" / "000_4cab66b14d71472d.txt"
        seed.write_text(seed.read_text(encoding="utf-8") + "\nParagraf baru.\n",
                        encoding="utf-8")  # an edit: its feeds must be written
        jobs.rebuild()
        unhealthy = get(base + "/healthz")
        assert unhealthy.status_code == 503
        [problem] = unhealthy.json()["problems"]
        assert problem["kind"] == "build" and str(blocker) in problem["message"]
        assert "a file stands where a folder must be" in problem["message"]
        blocker.unlink()
        jobs.rebuild()
        assert get(base + "/healthz").status_code == 200
    finally:
        server.stop()


def test_healthz_is_unhealthy_when_the_last_build_is_too_old(project: Path) -> None:
    cfg, _ = config.load(project / "config" / "feeds.toml")
    build(project)
    store = open_store(cfg.paths.state)
    fresh = health.report(store, rebuild_every=300, now=NOW)
    stale = health.report(store, rebuild_every=300, now=NOW.replace(hour=NOW.hour + 1))
    store.close()
    assert fresh["healthy"] is True and stale["healthy"] is False


def test_nginx_snippet_sends_the_same_types_as_the_server() -> None:
    snippet = (ROOT / "docs" / "nginx.conf").read_text()
    for name, kind in CONTENT_TYPES.items():
        if name.startswith("."):
            continue  # by-name types are what the snippet must spell out
        location = re.search(rf"location ~ {re.escape(name.replace('.', '[.]'))}\$ \{{(.*?)\}}",
                             snippet, re.S)
        assert location is not None, name
        assert f"default_type {kind.split(';')[0]};" in location.group(1)
        assert "charset utf-8;" in location.group(1)
    assert "text/x-opml" in snippet and "gzip_static on;" in snippet and "brotli_static" in snippet
    assert "autoindex off;" in snippet
    # A location with an add_header of its own would drop every server-level header.
    for block in re.findall(r"location [^{]*\{(.*?)\}", snippet, re.S):
        assert not re.search(r"^\s*add_header", block, re.M), block
