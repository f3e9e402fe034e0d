"""The server fails loudly and the daemon keeps in step with its operator: a busy port is
exit 5 at once, `--bind` is checked like `[serve] bind`, a config edit is applied (or, when
invalid, reported on /healthz while the old one serves), and a pull made by cron is
published within seconds. Real processes, real sockets, real signals."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.helpers import free_port
from tests.httpserver import FeedServer, Reply
from tests.test_daemon import FEEDS, daemon, launch, wait_for

__all__ = ["daemon"]  # the fixture: `feeds run --bind`, rebuilding every second


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_busy_port_is_exit_5_at_once_naming_the_address(
    project: Path, busy_port: int, command: str
) -> None:
    started = time.monotonic()
    result = subprocess.run([str(FEEDS), command, "--bind", f"127.0.0.1:{busy_port}"],
                            cwd=project, capture_output=True, text=True, timeout=30, check=False)
    took = time.monotonic() - started
    assert result.returncode == 5, result.stderr
    assert took < 5, took
    assert f"error: --bind 127.0.0.1:{busy_port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr and "serving" not in result.stderr


@pytest.mark.parametrize(("bind", "words"), [
    ("localhost", "must be HOST:PORT with a port"),
    (":8080", "needs a host before the port"),
    ("127.0.0.1:99999", "the port must be a number from 1 to 65535"),
    ("127.0.0.1", "must be HOST:PORT with a port"),
    ("[::1]", "must be HOST:PORT with a port"),
    ("::1:8080", "an IPv6 host goes in brackets"),
])
@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_malformed_bind_is_exit_2_in_one_line(
    project: Path, bind: str, words: str, command: str
) -> None:
    result = subprocess.run([str(FEEDS), command, "--bind", bind], cwd=project,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: --bind: ") and words in result.stderr


def test_bind_takes_a_host_name_and_logs_serving_once_listening(project: Path) -> None:
    subprocess.run([str(FEEDS), "build"], cwd=project, capture_output=True, timeout=120,
                   check=True)
    port = free_port()
    process = subprocess.Popen([str(FEEDS), "serve", "--bind", f"localhost:{port}"],
                               cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # the first line comes once the socket listens
        assert f"serving {project / 'output'} on http://localhost:{port}/" in line, line
        reply = httpx.get(f"http://127.0.0.1:{port}/rss.xml", timeout=5)
        assert reply.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        process.stderr.close()


def metric(base: str, name: str) -> float:
    text = httpx.get(base + "/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return 0.0 if found is None else float(found.group(1))


def served_title(base: str) -> str:
    return str(feedparser.parse(httpx.get(base + "/rss.xml", timeout=5).content).feed.title)


def test_a_config_edit_is_applied_and_a_cron_build_agrees(
    daemon: tuple[subprocess.Popen[bytes], str, Path], project: Path
) -> None:
    process, base, log = daemon
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'title = "USM News"', 'title = "USM News Baru"'), encoding="utf-8")
    wait_for(lambda: served_title(base) == "USM News Baru", 15, "the new title")
    ok = 'feeds_builds_total{result="ok"}'
    builds = metric(base, ok)
    wait_for(lambda: metric(base, ok) >= builds + 1, 15, "a rebuild after the new title")
    files = metric(base, "feeds_output_files_changed_total")
    builds = metric(base, ok)
    wait_for(lambda: metric(base, ok) >= builds + 2, 15, "two more rebuilds")
    assert metric(base, "feeds_output_files_changed_total") == files  # 0 files changed
    cron = subprocess.run([str(FEEDS), "build"], cwd=project, capture_output=True, text=True,
                          timeout=120, check=False)
    assert cron.returncode == 0, cron.stderr
    assert "0 file(s) changed" in cron.stdout  # the daemon wrote what cron writes
    assert feedparser.parse((project / "output" / "atom.xml").read_bytes()).feed.title == \
        "USM News Baru"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    text = log.read_text(encoding="utf-8")
    assert "INFO config reloaded from" in text
    assert "ERROR error" not in text and "Traceback" not in text


def test_an_invalid_config_keeps_serving_with_a_config_problem(
    daemon: tuple[subprocess.Popen[bytes], str, Path], project: Path
) -> None:
    process, base, log = daemon
    toml = project / "config" / "feeds.toml"
    good = toml.read_text(encoding="utf-8")
    toml.write_text(good.replace('items_per_feed = 50', 'items_per_feed = "lima puluh"'),
                    encoding="utf-8")

    def unhealthy() -> bool:
        return httpx.get(base + "/healthz", timeout=5).status_code == 503

    wait_for(unhealthy, 15, "/healthz to report the config")
    report = httpx.get(base + "/healthz", timeout=5).json()
    assert report["healthy"] is False
    assert [p["kind"] for p in report["problems"]] == ["config"]
    assert "items_per_feed" in report["problems"][0]["message"]
    assert httpx.get(base + "/rss.xml", timeout=5).status_code == 200  # still serving
    process.send_signal(signal.SIGHUP)  # a reload by hand says the same
    time.sleep(1)
    assert httpx.get(base + "/healthz", timeout=5).status_code == 503
    toml.write_text(good, encoding="utf-8")
    wait_for(lambda: not unhealthy(), 15, "/healthz to recover")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    text = log.read_text(encoding="utf-8")
    assert "received SIGHUP: reloading the config" in text
    assert "ERROR config not reloaded, the running one stays" in text


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Antara</title>
<link>https://www.antaranews.com/</link><description>x</description>{items}</channel></rss>"""
ITEM = """<item><title>{title}</title><link>https://www.antaranews.com/berita/{n}</link>
<guid>a{n}</guid><pubDate>Mon, 30 Nov 2026 1{n}:00:00 +0000</pubDate>
<description>Isi.</description></item>"""


def test_an_external_pull_is_published_within_10_seconds(project: Path) -> None:
    """The daemon rebuilds every 5 minutes here: only its look at the state (every
    `[cluster] poll`) can publish what cron's `feeds pull` stored."""
    items = [ITEM.format(title="Berita Hulu Pertama", n=1)]
    with FeedServer() as upstream:
        upstream.routes["/feed"] = lambda seen: Reply(
            200, RSS.format(items="".join(items)).encode())
        toml = project / "config" / "feeds.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace(
            "allow_private_networks = false", "allow_private_networks = true") + (
            f'\n[[upstream]]\nname = "antara"\noutlet = "Antara"\nurl = "{upstream.url("/feed")}"'
            '\nsection = "nasional"\nevery = "1h"\n'), encoding="utf-8")
        process, base, _ = launch(project)
        try:
            def titles() -> list[str]:
                try:
                    body = httpx.get(base + "/nasional/atom.xml", timeout=2).content
                except httpx.HTTPError:
                    return []
                return [e.title for e in feedparser.parse(body).entries]

            wait_for(lambda: "Berita Hulu Pertama" in titles(), 30, "the daemon's own pull")
            items.insert(0, ITEM.format(title="Berita Hulu Kedua", n=2))
            pulled = subprocess.run([str(FEEDS), "pull", "--all"], cwd=project,
                                    capture_output=True, text=True, timeout=60, check=False)
            assert pulled.returncode == 0, pulled.stderr
            assert "1 new entries" in pulled.stdout
            started = time.monotonic()
            wait_for(lambda: "Berita Hulu Kedua" in titles(), 10, "the external pull served")
            print(f"published {time.monotonic() - started:.1f} s after `feeds pull`")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
