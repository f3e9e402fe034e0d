"""Upstream side of the benchmark: N sources on a local server, pulled as `feeds pull --all`.

    python bench/upstream.py --sources 1000

Rounds, each a whole `feeds pull --all` process: first (all 200, new state), unchanged
(all answer 304 to the stored validators), changed (all 200 with new items). The floor of
a changed round is feedparser's own parse time for the same bytes, measured in-process.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
FEEDS = Path(sys.executable).parent / "feeds"


def feed_body(source: int, version: int) -> bytes:
    items = []
    for i in range(20):
        n = version * 20 + i
        items.append(
            f"<item><title>Berita {source}-{n}: harga pangan dan cuaca</title>"
            f"<link>https://outlet{source}.example/berita/{n}?utm_source=rss</link>"
            f"<guid isPermaLink=\"false\">{source}-{n}</guid>"
            f"<pubDate>Mon, 23 Nov 2026 {i % 24:02}:{n % 60:02}:00 +0700</pubDate>"
            f"<description><![CDATA[<p>Ringkasan berita nomor {n} dari sumber {source}, "
            f"dengan <a href=\"/tag/{n}\">tautan</a> dan <b>teks tebal</b>."
            f"<script>track({n})</script></p>]]></description></item>"
        )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {source}</title><link>https://outlet{source}.example/</link>"
            f"<description>x</description>{''.join(items)}</channel></rss>").encode()


class State:
    version = 0


def serve() -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without TCP_NODELAY, delayed ACKs add
        # ~40 ms to every response (measured: 38 ms of the 74 ms per source).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            source = int(self.path.rsplit("/", 1)[-1])
            body = feed_body(source, State.version)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=1000)
    args = parser.parse_args()
    server, port = serve()
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-upstream-"))
    (work / "config").mkdir()
    (work / "seeds").mkdir()
    config = (ROOT / "config" / "feeds.toml").read_text().replace(
        "allow_private_networks = false", 'allow_private_networks = true\nmin_every = "1s"')
    for i in range(args.sources):
        config += (f'\n[[upstream]]\nname = "s{i}"\noutlet = "Outlet {i}"\n'
                   f'url = "http://127.0.0.1:{port}/feed/{i}"\nsection = "nasional"\n'
                   f'every = "30m"\n')
    (work / "config" / "feeds.toml").write_text(config)
    rows = []
    for label, version in (("first (all 200)", 0), ("unchanged (all 304)", 0),
                           ("changed (all 200)", 1)):
        State.version = version
        start = time.perf_counter()
        result = subprocess.run([str(FEEDS), "pull", "--all"], cwd=work, capture_output=True,
                                text=True, check=False)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            return 1
        rows.append((label, wall, result.stdout.strip().splitlines()[-1]))
    bodies = [feed_body(i, 1) for i in range(args.sources)]
    start = time.perf_counter()
    for body in bodies:
        feedparser.parse(body)
    floor = time.perf_counter() - start
    server.shutdown()
    print(f"## Upstream: {args.sources} sources on 127.0.0.1 ({len(bodies[0])} bytes each)\n")
    print("| round | wall s | × feedparser floor | result |")
    print("| --- | ---: | ---: | --- |")
    for label, wall, summary in rows:
        print(f"| {label} | {wall:.2f} | {wall / floor:.2f} | {summary} |")
    print(f"| feedparser.parse of the same {args.sources} bodies (floor) | {floor:.2f} | 1.00 | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
