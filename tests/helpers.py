"""What many test modules share: the fixed clock, a build of a project folder, article files.

No test module imports another; they import from here (and `tests.httpserver`,
`tests.faults`).
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx

from feeds import config, publish, pull
from feeds.output.folder import FolderOutput
from feeds.sources import fetch
from feeds.store import open_store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # the clock of builds in tests
WRITTEN = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)  # when test articles were written
SEED_MTIME = 1_768_467_600  # 2026-01-15T09:00:00Z: the reference seed's file time in tests
SEED = "000_4cab66b14d71472d"
ARTICLE = "Kampus\nJudul Awal Artikel\n\nSemarang (usmnews) – Paragraf pembuka artikel ini.\n"


def build(
    project: Path,
    now: datetime = NOW,
    *,
    durable: bool = True,
    wrap_store: Callable[[Any], Any] = lambda store: store,
    wrap_output: Callable[[Any], Any] = lambda output: output,
    **options: object,
) -> publish.BuildResult:
    """`feeds build` of a project folder, in this process (options: full, reread, parallel).
    `wrap_store` and `wrap_output` put a test double around the state or the output."""
    cfg, _ = config.load(project / "config" / "feeds.toml")
    store = open_store(cfg.paths.state)
    try:
        output = wrap_output(FolderOutput(cfg.paths.output, durable=durable))
        return publish.build(cfg, wrap_store(store), now, output=output,
                             **options)  # type: ignore[arg-type]
    finally:
        store.close()


def write_article(project: Path, name: str, text: str, mtime: datetime = WRITTEN) -> Path:
    path = project / "seeds" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime: a build that changes nothing leaves both alone."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def entry_of(feed_path: Path, key: str) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(feed_path.read_bytes())
    matches = [e for e in parsed.entries if e.id.endswith(":" + key)]
    assert len(matches) == 1, [e.id for e in parsed.entries]
    return matches[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Two outlets' feeds, answered in-process at fixed URLs (so the URLs in the output are fixed).
UPSTREAM_FEEDS = {
    "https://www.antaranews.com/rss/terkini.xml": FIXTURES / "upstream" / "antara.xml",
    "https://www.tempo.co/rss/nasional": FIXTURES / "upstream" / "tempo.xml",
}
UPSTREAM_SOURCES = """
[[upstream]]
name = "antara-terkini"
outlet = "Antara"
url = "https://www.antaranews.com/rss/terkini.xml"
section = "nasional"

[[upstream]]
name = "tempo-nasional"
outlet = "Tempo.co"
url = "https://www.tempo.co/rss/nasional"
section = "nasional"
content = "full"
"""


def pull_and_build(toml: Path, *, etag: str | None = None) -> config.Config:
    """Pull UPSTREAM_FEEDS (configured in `toml` with UPSTREAM_SOURCES; each answered with
    `etag` when given) and build into a folder, at NOW; the config."""
    headers = {"Content-Type": "application/rss+xml", **({"ETag": etag} if etag else {})}

    def answer(request: httpx.Request) -> httpx.Response:
        body = UPSTREAM_FEEDS[str(request.url)].read_bytes()
        return httpx.Response(200, content=body, headers=headers)

    cfg, _ = config.load(toml)
    store = open_store(cfg.paths.state)
    client = fetch.make_client(user_agent="feeds-test", allow_private_networks=False,
                               transport=httpx.MockTransport(answer))
    try:
        with client:
            pulled = pull.pull(cfg, store, client, NOW, rng=random.Random(1))
        assert pulled.failed == [], pulled.diagnostics
        result = publish.build(cfg, store, NOW, output=FolderOutput(cfg.paths.output))
        assert result.errors == 0, result.diagnostics
    finally:
        store.close()
    return cfg
