"""The daemon as a real process: serving, new articles, SIGTERM, cron alongside, WebSub."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import httpx
import pytest
from lxml import etree

from feeds import config
from feeds.jobs import Jobs
from tests.httpserver import FeedServer, Reply, Seen

FEEDS = Path(sys.executable).parent / "feeds"
ARTICLE = "Kampus\n{title}\n\nSemarang (usmnews) – Isi berita tentang {title}.\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fast_config(project: Path, extra: str = "") -> None:
    toml = project / "config" / "feeds.toml"
    text = toml.read_text().replace('rebuild_every = "5m"', 'rebuild_every = "1s"')
    toml.write_text(text.replace('[schedule]', f'[schedule]\nlock_wait = "30s"{extra}'))


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def launch(project: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`feeds run --bind` on a free port, its output in daemon.log: (process, URL, log)."""
    port = free_port()
    log = project / "daemon.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([str(FEEDS), "run", "--bind", f"127.0.0.1:{port}"],
                                   cwd=project, stdout=sink, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log


@pytest.fixture
def daemon(project: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    fast_config(project)
    process, base, log = launch(project)

    def serving() -> bool:
        try:
            return httpx.get(base + "/rss.xml", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(serving, 30, "the daemon to serve rss.xml")
        yield process, base, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def all_feeds_parse(output: Path) -> int:
    count = 0
    for path in output.rglob("*"):
        if path.name in ("rss.xml", "atom.xml", "feeds.opml"):
            etree.fromstring(path.read_bytes())
            count += 1
        elif path.name == "feed.json":
            import json

            json.loads(path.read_bytes())
            count += 1
    return count


def test_daemon_serves_picks_up_new_articles_and_stops_on_sigterm(
    daemon: tuple[subprocess.Popen[bytes], str, Path], project: Path
) -> None:
    process, base, log = daemon
    first = httpx.get(base + "/kampus/atom.xml")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
    etag = first.headers["etag"]
    again = httpx.get(base + "/kampus/atom.xml", headers={"If-None-Match": etag})
    assert again.status_code == 304

    (project / "seeds" / "baru.txt").write_text(ARTICLE.format(title="Artikel Baru Daemon"),
                                                encoding="utf-8")

    def served() -> bool:
        response = httpx.get(base + "/kampus/atom.xml")
        return any(e.title == "Artikel Baru Daemon"
                   for e in feedparser.parse(response.content).entries)

    started = time.monotonic()
    wait_for(served, 15, "the new article in the served feed")
    assert time.monotonic() - started < 15
    assert httpx.get(base + "/kampus/atom.xml", headers={"If-None-Match": etag}).status_code == 200

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert all_feeds_parse(project / "output") >= 3 * 7 + 1
    text = log.read_text()
    assert "received SIGTERM: stopping" in text and "stopped" in text
    assert not list((project / "output").rglob(".*feeds-tmp"))


def test_cron_build_while_the_daemon_rebuilds(
    daemon: tuple[subprocess.Popen[bytes], str, Path], project: Path
) -> None:
    process, _, log = daemon
    for i in range(300):
        (project / "seeds" / f"massal-{i:03}.txt").write_text(
            ARTICLE.format(title=f"Berita Massal {i}"), encoding="utf-8")
    results = []
    for _ in range(3):  # the daemon rebuilds every second and after the burst above
        results.append(subprocess.run([str(FEEDS), "build", "--full"], cwd=project,
                                      capture_output=True, text=True, timeout=120, check=False))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert all_feeds_parse(project / "output") >= 3 * 7 + 1
    final = subprocess.run([str(FEEDS), "build"], cwd=project, capture_output=True, text=True,
                           timeout=120, check=False)
    assert final.returncode == 0 and "0 file(s) changed" in final.stdout
    assert "Traceback" not in log.read_text()


def test_second_writer_gives_up_with_status_3(project: Path) -> None:
    from feeds.lock import writer_lock

    cfg, _ = config.load(project / "config" / "feeds.toml")
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace("[schedule]", '[schedule]\nlock_wait = "1s"'))
    with writer_lock(cfg.paths.state, wait=1):
        result = subprocess.run([str(FEEDS), "build"], cwd=project, capture_output=True,
                                text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert "another build holds the writer lock; gave up after 1s" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "output").exists()


def test_websub_one_ping_per_changed_feed_and_none_when_unchanged(project: Path) -> None:
    pings: list[str] = []

    def hub(seen: Seen) -> Reply:
        form = parse_qs(seen.body.decode())
        assert form["hub.mode"] == ["publish"]
        pings.extend(form["hub.url"])
        return Reply(204)

    with FeedServer() as server:
        server.routes["/hub"] = hub
        toml = project / "config" / "feeds.toml"
        toml.write_text(toml.read_text().replace('hub = ""', f'hub = "{server.url("/hub")}"'))
        cfg, _ = config.load(toml)
        with httpx.Client() as client, httpx.Client() as hub_client:
            jobs = Jobs(cfg, client, hub_client, owner="test")
            jobs.rebuild()
            first = sorted(pings)
            assert len(first) == len(set(first)) == 3 * 7  # every feed is new
            assert "https://usmnews.example/kampus/atom.xml" in first
            pings.clear()
            jobs.rebuild()
            assert pings == []
            seed = project / "seeds" / "000_4cab66b14d71472d.txt"
            seed.write_text(seed.read_text().replace("Sinyal Rekonsiliasi", "Sinyal Baru"))
            os.utime(seed, (1_770_000_000, 1_770_000_000))
            jobs.rebuild()
    assert sorted(pings) == [
        "https://usmnews.example/atom.xml", "https://usmnews.example/feed.json",
        "https://usmnews.example/international/atom.xml",
        "https://usmnews.example/international/feed.json",
        "https://usmnews.example/international/rss.xml", "https://usmnews.example/rss.xml",
    ]
    atom = (project / "output" / "atom.xml").read_text()
    rss = (project / "output" / "rss.xml").read_text()
    assert f'<link href="{server.url("/hub")}" rel="hub"/>' in atom
    assert f'<atom:link href="{server.url("/hub")}" rel="hub"/>' in rss
