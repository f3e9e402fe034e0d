"""The upstream pull benchmark: N sources over H loopback hosts that answer after a delay, as
the real web does (issue 13: 1,000 sources, 20 hosts, 250 ms).

    python bench/upstream.py [--sources 1000] [--hosts 20] [--delay 0.25]
                             [--concurrency 16,32,64] [--sequential] [--daemons 1,2,3]

Each host is its own server on 127.0.0.K (K = 1…H), answering every request after `delay`
seconds, with an ETag per (source, version). Rounds:

  304 round      every source answers 304 Not Modified to the stored validators
  changed round  every source answers 200 with 20 new items

One-process rows run `feeds pull --all` as a whole process (timed from spawn to exit) on a
copy of one primed SQLite state (all sources pulled once), at `[fetch] concurrency` 1 with
`per_host` 1 (sequential, what the daemon did before), and at each `--concurrency` with
`per_host` 2. "parse CPU" is `feeds.sources.upstream.parse_feed` over the same 1,000 changed
bodies, in this process, one after another: the least a changed round must spend.

Daemon rows run 1, 2 and 3 `feeds run --role pull` processes on one PostgreSQL state (the
primed state copied with `feeds copy-state`), every source made due at once, timed from
that moment until the pull log holds every source of the round. PostgreSQL is the server
named by FEEDS_TEST_POSTGRES, or one started from the PostgreSQL binaries (as the tests do).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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


class Upstream:
    """H slow servers on 127.0.0.1…H; `version` is what every source answers now."""

    def __init__(self, hosts: int, delay: float) -> None:
        self.version = 0
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.servers = [self._serve(f"127.0.0.{k + 1}") for k in range(hosts)]

    def _serve(self, host: str) -> ThreadingHTTPServer:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response

            def do_GET(self) -> None:
                with upstream.lock:
                    now = upstream.in_flight[host] = upstream.in_flight.get(host, 0) + 1
                    upstream.most[host] = max(upstream.most.get(host, 0), now)
                time.sleep(upstream.delay)
                with upstream.lock:
                    upstream.in_flight[host] -= 1
                body = feed_body(int(self.path.rsplit("/", 1)[-1]), upstream.version)
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

        server = ThreadingHTTPServer((host, 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def url(self, source: int) -> str:
        server = self.servers[source % len(self.servers)]
        host, port = server.server_address[:2]
        return f"http://{host}:{port}/feed/{source}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()


def project(work: Path, name: str, upstream: Upstream, sources: int, concurrency: int,
            per_host: int, extra: str = "") -> Path:
    folder = work / name
    (folder / "config").mkdir(parents=True)
    (folder / "seeds").mkdir()
    text = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8").replace(
        "allow_private_networks = false",
        f'allow_private_networks = true\nmin_every = "1s"\nconcurrency = {concurrency}\n'
        f"per_host = {per_host}")
    for i in range(sources):
        text += (f'\n[[upstream]]\nname = "s{i}"\noutlet = "Outlet {i}"\nurl = "{upstream.url(i)}"'
                 '\nsection = "nasional"\nevery = "30m"\n')
    (folder / "config" / "feeds.toml").write_text(text + extra, encoding="utf-8")
    return folder


def pull_all(folder: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(FEEDS), "pull", "--all"], cwd=folder, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"feeds pull --all in {folder}: exit {done.returncode}\n"
                         f"{done.stderr[-2000:]}")
    return wall, done.stdout.strip().splitlines()[0]


def parse_cpu(sources: int) -> float:
    from feeds.sources.upstream import parse_feed

    bodies = [feed_body(i, 1) for i in range(sources)]
    started = time.process_time()
    for i, body in enumerate(bodies):
        parse_feed(body, f"https://outlet{i}.example/feed", "application/rss+xml")
    return time.process_time() - started


def one_process_rows(args: argparse.Namespace, upstream: Upstream, work: Path
                     ) -> tuple[Path, list[tuple[str, float, float, str]]]:
    """(the primed state, rows: label, 304 s, changed s, summary)."""
    primed = project(work, "primed", upstream, args.sources, 32, 2)
    upstream.version = 0
    first, _ = pull_all(primed)
    print(f"# primed the state: first round (all 200) in {first:.1f} s", file=sys.stderr)
    state = primed / "state" / "feeds.sqlite"
    modes = [(f"concurrency {c}, per_host 2", c, 2) for c in args.concurrency]
    if args.sequential:
        modes.insert(0, ("sequential (concurrency 1, per_host 1)", 1, 1))
    rows = []
    for label, concurrency, per_host in modes:
        folder = project(work, f"c{concurrency}", upstream, args.sources, concurrency, per_host)
        (folder / "state").mkdir()
        shutil.copy(state, folder / "state" / "feeds.sqlite")
        upstream.version, upstream.most = 0, {}
        unchanged, summary = pull_all(folder)
        upstream.version = 1
        changed, summary = pull_all(folder)
        most = max(upstream.most.values())
        print(f"# {label}: 304 round {unchanged:.1f} s, changed {changed:.1f} s, "
              f"most in flight to one host {most}", file=sys.stderr)
        rows.append((label, unchanged, changed, f"{summary}; ≤ {most} in flight per host"))
    return state, rows


def daemon_rows(args: argparse.Namespace, upstream: Upstream, work: Path, primed: Path
                ) -> list[tuple[str, float, float, str]]:
    import psycopg

    from tests.services import PostgresServer

    external = os.environ.get("FEEDS_TEST_POSTGRES")
    server = PostgresServer.external(external) if external else PostgresServer.launch()
    rows = []
    try:
        for count in args.daemons:
            with server.schema() as url:
                folder = project(work, f"d{count}", upstream, args.sources, 16, 2,
                                 extra='\n[cluster]\npoll = "1s"\n')
                text = (folder / "config" / "feeds.toml").read_text(encoding="utf-8")
                (folder / "config" / "feeds.toml").write_text(
                    text.replace('state = "state/feeds.sqlite"', f'state = "{url}"'),
                    encoding="utf-8")
                subprocess.run([str(FEEDS), "copy-state", url, "--state", str(primed)],
                               cwd=folder, check=True, capture_output=True)
                with psycopg.connect(url, autocommit=True) as db:
                    times = []
                    processes = [subprocess.Popen(
                        [str(FEEDS), "run", "--role", "pull"], cwd=folder,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for _ in range(count)]
                    try:
                        time.sleep(2)  # started, polling
                        for version in (0, 1):
                            upstream.version, upstream.most = version, {}
                            times.append(_round(db, args.sources))
                    finally:
                        for process in processes:
                            process.send_signal(signal.SIGTERM)
                        for process in processes:
                            process.wait(timeout=30)
                most = max(upstream.most.values())
                print(f"# {count} daemon(s): 304 round {times[0]:.1f} s, changed "
                      f"{times[1]:.1f} s", file=sys.stderr)
                rows.append((f"{count} daemon(s) on one PostgreSQL state (16 each)", times[0],
                             times[1], f"≤ {most} in flight per host"))
    finally:
        server.close()
    return rows


def _round(db: object, sources: int) -> float:
    """Make every source due now; seconds until the pull log holds each of them."""
    started_at = int(db.execute("SELECT extract(epoch FROM now())::bigint").fetchone()[0])  # type: ignore[attr-defined]
    started = time.perf_counter()
    db.execute("UPDATE sources SET next_due = %s", (started_at,))  # type: ignore[attr-defined]
    while True:
        done = db.execute("SELECT count(DISTINCT source) FROM pull_log WHERE at >= %s",  # type: ignore[attr-defined]
                          (started_at,)).fetchone()[0]
        if done >= sources:
            return time.perf_counter() - started
        if time.perf_counter() - started > 1800:
            raise SystemExit(f"only {done} of {sources} sources pulled in 30 minutes")
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.25)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[16, 32, 64])
    parser.add_argument("--sequential", action=argparse.BooleanOptionalAction, default=True,
                        help="also the sequential rows (1,000 × delay: minutes)")
    parser.add_argument("--daemons", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[1, 2, 3], help="'' for none")
    args = parser.parse_args()
    upstream = Upstream(args.hosts, args.delay)
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-upstream-"))
    try:
        primed, rows = one_process_rows(args, upstream, work)
        if args.daemons:
            rows += daemon_rows(args, upstream, work, primed)
        floor = parse_cpu(args.sources)
    finally:
        upstream.close()
        shutil.rmtree(work, ignore_errors=True)
    waiting = args.sources * args.delay
    print(f"## Upstream pulls: {args.sources} sources over {args.hosts} hosts, each answer "
          f"after {args.delay * 1000:.0f} ms ({os.cpu_count()} cores)\n")
    print("| how | 304 round s | changed round s | |")
    print("| --- | ---: | ---: | --- |")
    for label, unchanged, changed, note in rows:
        print(f"| {label} | {unchanged:.1f} | {changed:.1f} | {note} |")
    print(f"| parse CPU alone (`parse_feed`, one thread) | | {floor:.1f} | |")
    print()
    sequential = next((r for r in rows if r[0].startswith("sequential")), None)
    c16 = next((r for r in rows if r[0] == "concurrency 16, per_host 2"), None)
    if sequential and c16:
        print(f"- 304 round at 16: {c16[1]:.1f} s = 1/{sequential[1] / c16[1]:.0f} of sequential "
              f"({sequential[1]:.1f} s); target ≤ 1/10: "
              f"{'PASS' if c16[1] * 10 <= sequential[1] else 'FAIL'}")
    if c16:
        bound = 1.2 * (floor + waiting / 16)
        print(f"- changed round at 16: {c16[2]:.1f} s; target ≤ (parse {floor:.1f} s + "
              f"{waiting:.0f} / 16 s) × 1.2 = {bound:.1f} s: "
              f"{'PASS' if c16[2] <= bound else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
