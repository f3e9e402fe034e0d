"""Many daemons, one PostgreSQL state, as real processes on loopback (issue 13, items 3 and 4):
a daemon killed mid-pull, a builder stopped past its lease, PostgreSQL going away."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.httpserver import FeedServer, Reply, Seen
from tests.services import PostgresServer, RequestLog, S3Bucket
from tests.test_daemon import FEEDS, fast_config, free_port, wait_for

LEASE = 5  # [cluster] lease, seconds
POLL = 1  # [cluster] poll, seconds
CLUSTER = f'\n[cluster]\nlease = "{LEASE}s"\npoll = "{POLL}s"\n'


@dataclass
class Daemon:
    """One `feeds run` process: its name, log, URL and owner id (its claims' and leases')."""

    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    owner: str = ""

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Cluster:
    """The daemons a test started on one state; all of them are killed when it ends."""

    def __init__(self, project: Path, state: str) -> None:
        self.project = project
        self.state = state
        self.daemons: list[Daemon] = []

    def start(self, name: str, role: str, *options: str) -> Daemon:
        port = free_port()
        log = self.project / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(FEEDS), "run", "--role", role, "--state", self.state,
                 "--bind", f"127.0.0.1:{port}", *options],
                cwd=self.project, stdout=sink, stderr=subprocess.STDOUT)
        daemon = Daemon(name, process, f"http://127.0.0.1:{port}", log)
        self.daemons.append(daemon)
        return daemon

    def owners(self) -> None:
        """Wait for every daemon's `daemon OWNER starting` line and keep its owner id."""
        for daemon in self.daemons:
            wait_for(lambda d=daemon: re.search(r"daemon (\w+) starting", d.text()), 30,
                     f"{daemon.name} to start")
            found = re.search(r"daemon (\w+) starting", daemon.text())
            assert found is not None
            daemon.owner = found[1]

    def by_owner(self, owner: str) -> Daemon:
        return next(d for d in self.daemons if d.owner == owner)

    def close(self) -> None:
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.send_signal(signal.SIGCONT)
                daemon.process.kill()
                daemon.process.wait()


@pytest.fixture
def cluster(project: Path, postgres_url: str) -> Iterator[Cluster]:
    migrated = subprocess.run([str(FEEDS), "migrate", "--state", postgres_url], cwd=project,
                              capture_output=True, text=True, timeout=60, check=False)
    assert migrated.returncode == 0, migrated.stderr  # as a deploy script does first
    running = Cluster(project, postgres_url)
    try:
        yield running
    finally:
        running.close()


def query(url: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(sql, args).fetchall()


def healthz(base: str) -> httpx.Response | None:
    try:
        return httpx.get(base + "/healthz", timeout=5)
    except httpx.HTTPError:
        return None


# --- three daemons, one state, one killed mid-pull ----------------------------------------

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
SOURCES = 300
DELAY = 0.4  # seconds each upstream answer takes
CLOCK = 1  # leases count whole seconds of the database's clock


def rss(n: int) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>S{n}</title>'
            f"<link>https://s{n}.example/</link><description>d</description>"
            f"<item><title>Berita {n}</title><link>https://s{n}.example/b/{n}</link>"
            f'<guid isPermaLink="false">g{n}</guid></item></channel></rss>').encode()


@pytest.fixture
def upstream() -> Iterator[tuple[list[FeedServer], dict[str, list[float]]]]:
    """FeedServers on HOSTS; `asked[name]` is when each request for source `name` came."""
    asked: dict[str, list[float]] = {}

    def answer(n: int, seen: Seen) -> Reply:
        asked.setdefault(f"s{n:03}", []).append(time.monotonic())
        time.sleep(DELAY)
        return Reply(200, rss(n), {"Content-Type": "application/rss+xml"})

    with ExitStack() as stack:
        servers = [stack.enter_context(FeedServer(host)) for host in HOSTS]
        for n in range(SOURCES):
            servers[n % len(servers)].routes[f"/s{n}"] = (
                lambda seen, n=n: answer(n, seen))
        yield servers, asked


def sessions_of(url: str, owner: str, *, in_transaction: bool = False) -> int:
    """How many sessions (in a transaction) a daemon has open: they carry its owner id."""
    return int(query(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name "
                          "LIKE %s AND (xact_start IS NOT NULL OR NOT %s)",
                     (f"% {owner}", in_transaction))[0][0])


def test_three_daemons_share_300_sources_and_a_killed_ones_claims_are_pulled_by_the_others(
    cluster: Cluster, project: Path, postgres_url: str,
    upstream: tuple[list[FeedServer], dict[str, list[float]]],
) -> None:
    """Three `--role pull` daemons share 300 slow sources; the one holding most claims in
    the middle of the round is SIGKILLed. Each source is stored and logged once, and what
    the dead one held is taken over and pulled by the others within the lease plus a poll."""
    servers, asked = upstream
    toml = project / "config" / "feeds.toml"
    sources = "".join(
        f'[[upstream]]\nname = "s{n:03}"\nurl = "{servers[n % len(servers)].url(f"/s{n}")}"\n'
        'section = "nasional"\nevery = "1h"\n' for n in range(SOURCES))
    toml.write_text(toml.read_text().replace(
        "allow_private_networks = false", "allow_private_networks = true") + CLUSTER + sources)
    daemons = [cluster.start(f"puller-{i}", "pull") for i in range(3)]
    cluster.owners()

    def pulled() -> int:
        return int(query(postgres_url, "SELECT COUNT(*) FROM pull_log")[0][0])

    def held_by(owner: str) -> list[str]:
        return [row[0] for row in query(
            postgres_url, "SELECT name FROM sources WHERE lease_owner = %s ORDER BY name",
            (owner,))]

    def busiest() -> Daemon:
        return max(daemons, key=lambda d: len(held_by(d.owner)))

    wait_for(lambda: pulled() >= 30 and len(held_by(busiest().owner)) >= 8, 30,
             "a daemon to hold claims in the middle of the round")
    victim = busiest()
    survivors = [d for d in daemons if d is not victim]
    victim.process.kill()
    killed = time.monotonic()
    victim.process.wait()
    # Its sessions gone, its transactions are over (rolled back): what it holds now is fixed.
    wait_for(lambda: sessions_of(postgres_url, victim.owner) == 0, 10,
             f"the server to end {victim.name}'s sessions")
    held = held_by(victim.owner)
    assert held, "the killed daemon held no claim"
    done_before = pulled()

    taken: dict[str, float] = {}
    stored: dict[str, float] = {}

    def all_pulled_again() -> bool:
        rows = query(postgres_url, "SELECT name, lease_owner FROM sources WHERE name = ANY(%s)",
                     (held,))
        logged = query(postgres_url, "SELECT source, owner FROM pull_log WHERE source = ANY(%s)",
                       (held,))
        moment = time.monotonic() - killed
        for name, owner in rows:
            if owner not in (None, victim.owner):
                taken.setdefault(name, moment)
        for name, owner in logged:
            assert owner != victim.owner, name
            taken.setdefault(name, moment)
            stored.setdefault(name, moment)
        return len(stored) == len(held)

    wait_for(all_pulled_again, LEASE + POLL + 30, "the killed daemon's sources pulled again")
    wait_for(lambda: pulled() == SOURCES, 30, "the whole round stored")

    # (a) each source of the round stored and logged once, by one daemon
    rows = query(postgres_url, "SELECT source, due, owner FROM pull_log")
    assert len(rows) == SOURCES
    assert sorted(source for source, _, _ in rows) == [f"s{n:03}" for n in range(SOURCES)]
    assert {due for _, due, _ in rows} == {0}  # all were due at once: one round
    by_owner = {d.name: sum(1 for _, _, owner in rows if owner == d.owner) for d in daemons}
    # (b) every source the killed daemon held was taken over and pulled by another, within
    # the lease plus one poll (and the whole second of the database's clock)
    fetched_twice = sum(1 for name in held if len(asked.get(name, [])) == 2)
    again = [min(t for t in asked[name] if t > killed) - killed for name in held]
    fetch = max(stored[name] - taken[name] for name in held)
    print(f"\n{victim.name} killed holding {len(held)} claim(s), {done_before} of {SOURCES} "
          f"sources stored by then ({fetched_twice} held sources had been fetched by it and "
          f"were fetched again); taken over after {min(taken.values()):.1f}-"
          f"{max(taken.values()):.1f}s, asked of the upstream again after at most "
          f"{max(again):.1f}s, stored after at most {max(stored.values()):.1f}s "
          f"(fetch and store: {fetch:.1f}s at most); stored pulls by daemon: {by_owner}")
    assert max(taken.values()) <= LEASE + POLL + CLOCK + 0.5
    assert max(again) <= LEASE + POLL + CLOCK + 0.5 + 2 * DELAY
    assert max(stored.values()) <= LEASE + POLL + CLOCK + 0.5 + 4 * DELAY
    assert all(len(asked[name]) <= 2 for name in held)
    assert all(len(times) == 1 for name, times in asked.items() if name not in held)
    # (c) the others run on, quiet
    for daemon in survivors:
        metrics = httpx.get(daemon.base + "/metrics", timeout=5).text
        assert "feeds_sources_claimed 0.0" in metrics and "feeds_sources_due 0.0" in metrics
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=15) == 0
    for daemon in daemons:
        assert "Traceback" not in daemon.text(), daemon.text()[-3000:]


# --- a builder stopped past its lease -----------------------------------------------------

ARTICLE = "Kampus\n{title}\n\nSemarang (usmnews) – Isi berita tentang {title}.\n"


def build_lease(url: str) -> tuple[str | None, int, int]:
    """(owner, epoch, seconds left) of the build lease row, by the database's clock."""
    rows = query(url, "SELECT owner, epoch, until - FLOOR(EXTRACT(EPOCH FROM now()))::bigint "
                      "FROM leases WHERE name = 'build'")
    return (rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else (None, 0, 0)


UPLOADERS = 4  # [s3] concurrency: uploads under way at once


class Published:
    """Where two builders publish: a local folder on their host, or a bucket on moto."""

    def __init__(self, project: Path, bucket: S3Bucket | None) -> None:
        self.folder = project / "output"
        self.bucket = bucket
        self.options = () if bucket is None else ("--output", f"s3://{bucket.name}/site/")
        self.puts = 0  # PUTs moto has seen (bucket)
        if bucket is not None:
            toml = project / "config" / "feeds.toml"
            toml.write_text(toml.read_text() + f'\n[s3]\nendpoint_url = "{bucket.endpoint_url}"'
                            f"\nconcurrency = {UPLOADERS}\n")

    def count(self, seen: RequestLog) -> None:
        self.puts = sum(1 for request in seen.requests if request.method == "PUT")

    def mid_build(self) -> bool:
        """The first build under way: nothing published yet (a folder), or uploading."""
        if self.bucket is None:  # (files are staged in a hidden folder until the commit)
            return not self.folder.exists() or all(
                path.name.startswith(".") for path in self.folder.iterdir())
        return self.puts >= 40  # of ~1,040 objects, in batches of 8 × UPLOADERS

    def snapshot(self) -> dict[str, tuple[bytes, int | str]]:
        """Every file (hidden ones too) with its bytes and mtime, or object with its ETag."""
        if self.bucket is None:
            return {str(path.relative_to(self.folder)): (path.read_bytes(),
                                                         path.stat().st_mtime_ns)
                    for path in sorted(self.folder.rglob("*")) if path.is_file()} if (
                self.folder.exists()) else {}
        client = self.bucket.client()
        found: dict[str, tuple[bytes, int | str]] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket.name):
            for item in page.get("Contents", []):
                answer = client.get_object(Bucket=self.bucket.name, Key=item["Key"])
                found[item["Key"]] = (answer["Body"].read(), answer["ETag"])
        return found


@pytest.mark.parametrize("output", ["folder", "bucket"])
def test_a_builder_stopped_past_its_lease_writes_nothing_after_it_resumes(
    cluster: Cluster, project: Path, postgres_url: str, output: str,
    request: pytest.FixtureRequest,
) -> None:
    """Two build daemons (a local folder: on one host; a bucket: anywhere); the one building
    is SIGSTOPped in the middle of a cold build (of a bucket: while it uploads), the other
    takes the lease over once it runs out and builds; the stopped one, resumed, finds its
    lease lost and neither commits nor uploads anything."""
    fast_config(project)
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text() + CLUSTER)
    bucket = request.getfixturevalue("s3_bucket") if output == "bucket" else None
    published = Published(project, bucket)
    for i in range(1000):  # a cold build of some seconds, to be stopped in the middle
        (project / "seeds" / f"massal-{i:04}.txt").write_text(
            ARTICLE.format(title=f"Berita Massal {i}"), encoding="utf-8")
    first = cluster.start("builder-1", "build", *published.options)
    second = cluster.start("builder-2", "build", *published.options)
    cluster.owners()

    with ExitStack() as counting:
        seen = counting.enter_context(bucket.count_requests()) if bucket else RequestLog()

        def building() -> bool:
            owner, _, left = build_lease(postgres_url)
            published.count(seen)
            return owner is not None and left > 0 and published.mid_build()

        wait_for(building, 30, "a daemon to be in the middle of the cold build")
        owner, epoch, _ = build_lease(postgres_url)
        assert owner is not None
        stale = cluster.by_owner(owner)
        live = second if stale is first else first
        stale.process.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        assert build_lease(postgres_url)[:2] == (owner, epoch)
        published.count(seen)
        sent_before = published.puts

    wait_for(lambda: build_lease(postgres_url)[1] > epoch, LEASE + 2 * POLL + 5,
             "the other daemon to take the build lease over")
    taken = time.monotonic() - stopped
    holder, live_epoch, _ = build_lease(postgres_url)
    assert holder == live.owner
    # What the stopped one did is never committed: taking the lease over ended its open
    # transaction (whose row locks would also hold the new build back).
    wait_for(lambda: sessions_of(postgres_url, stale.owner, in_transaction=True) == 0, 5,
             f"{stale.name}'s transaction to be ended")
    wait_for(lambda: "rebuild: " in live.text(), 60, f"{live.name} to build")
    built = time.monotonic() - stopped
    before = published.snapshot()
    assert "index.html" in before or "site/index.html" in before

    with ExitStack() as counting:
        seen = counting.enter_context(bucket.count_requests()) if bucket else RequestLog()
        stale.process.send_signal(signal.SIGCONT)
        lost = f"epoch {epoch} was taken over by another daemon"
        wait_for(lambda: lost in stale.text(), 30, f"{stale.name} to find its lease lost")
        after_resume = list(seen.requests)
    print(f"\n{output}: {stale.name} stopped in epoch {epoch}"
          f"{f' after {sent_before} uploads' if bucket else ''}; {live.name} took the lease "
          f"over {taken:.1f}s later (epoch {live_epoch}) and had built {built:.1f}s after the "
          f"stop ({len(before)} files); requests after the resume: {len(after_resume)}")
    # A request the stopped one had begun (past the fence) goes out when it resumes: at most
    # one an upload thread. None begins after: the fence is asked first (the live one's
    # no-op builds send no request at all).
    assert len(after_resume) <= (UPLOADERS if bucket else 0), after_resume
    assert published.snapshot() == before  # not a byte, not an mtime, not an ETag
    assert build_lease(postgres_url)[1] >= live_epoch > epoch
    assert stale.process.poll() is None and live.process.poll() is None
    for daemon in (stale, live):
        assert "Traceback" not in daemon.text(), daemon.text()[-3000:]


# --- PostgreSQL going away ------------------------------------------------------------------

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
POOL = 4  # a daemon's connections at most: as many reconnection attempts at once
HEALTH_KEYS = {"healthy", "problems", "last_build", "age_seconds", "sources", "held"}


def test_a_daemon_whose_postgresql_goes_away_stays_up_and_resumes(
    cluster: Cluster, project: Path, postgres_url: str, postgres_control: PostgresServer,
) -> None:
    """`pg_ctl stop -m fast` under a running daemon: it stays up, /healthz says 503 with a
    `state` problem, its log has a line per reconnection attempt, backing off; once the
    server is back it is healthy again and pulls and publishes what became due."""
    newest = [1]  # items each upstream source serves: 1..newest[0]

    def feed(source: int, seen: Seen) -> Reply:
        items = "".join(f"<item><title>Berita Hulu {source}-{n}</title><link>https://hulu"
                        f"{source}.example/{n}</link><guid>h{source}-{n}</guid></item>"
                        for n in range(1, newest[0] + 1))
        return Reply(200, (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hulu'
                           f"</title><link>https://hulu{source}.example/</link><description>d"
                           f"</description>{items}</channel></rss>").encode(),
                     {"Content-Type": "application/rss+xml"})

    with FeedServer() as server:
        fast_config(project)
        toml = project / "config" / "feeds.toml"
        sources = ""
        for i in range(3):
            server.routes[f"/hulu{i}"] = lambda seen, i=i: feed(i, seen)
            sources += (f'[[upstream]]\nname = "hulu-{i}"\nurl = "{server.url(f"/hulu{i}")}"\n'
                        'section = "nasional"\nevery = "2s"\n')
        toml.write_text(toml.read_text().replace(
            "allow_private_networks = false",
            'allow_private_networks = true\nmin_every = "1s"') + CLUSTER + sources)
        daemon = cluster.start("daemon", "all")

        def health() -> tuple[int, dict[str, Any]]:
            reply = healthz(daemon.base)
            return (0, {}) if reply is None else (reply.status_code, reply.json())

        def served(title: str) -> bool:
            try:
                body = httpx.get(daemon.base + "/nasional/atom.xml", timeout=5).text
            except httpx.HTTPError:
                return False
            return title in body

        def pulls_since(moment: float) -> int:
            return int(query(postgres_url, "SELECT COUNT(*) FROM pull_log WHERE at >= %s",
                             (moment,))[0][0])

        wait_for(lambda: health()[0] == 200 and served("Berita Hulu 2-1"), 30,
                 "the daemon to pull, build and be healthy")
        before = len(daemon.text().splitlines())
        postgres_control.stop("fast")
        stopped = time.monotonic()
        wait_for(lambda: health()[0] == 503, 10, "/healthz to answer 503")
        status, body = health()
        assert status == 503 and set(body) == HEALTH_KEYS and body["healthy"] is False
        assert all(set(p) == {"kind", "message", "since"} for p in body["problems"])
        state = [p["message"] for p in body["problems"] if p["kind"] == "state"]
        assert state and "cannot reach the state database" in state[0], body

        def attempts() -> list[str]:
            return [line for line in daemon.text().splitlines()[before:]
                    if "error connecting" in line]

        # The server stays away a while: the daemon tries again, less and less often.
        wait_for(lambda: time.monotonic() - stopped >= 6 and len(attempts()) >= 3, 30,
                 "the daemon to try to reconnect")
        assert daemon.process.poll() is None
        assert health()[0] == 503
        outage = time.monotonic() - stopped
        lines = daemon.text().splitlines()[before:]
        tried = attempts()
        newest[0] = 2
        postgres_control.start()
        restarted = time.monotonic()
        back = int(query(postgres_url, "SELECT FLOOR(EXTRACT(EPOCH FROM now()))")[0][0])

        wait_for(lambda: health()[0] == 200, 60, "/healthz to answer 200 again")
        healthy = time.monotonic() - restarted
        wait_for(lambda: pulls_since(back) >= 3 and served("Berita Hulu 2-2"), 30,
                 "the pulls to resume and be published")
        published = time.monotonic() - restarted
        print(f"\nPostgreSQL away {outage:.1f}s: {len(tried)} reconnection attempt(s) logged, "
              f"{len(lines)} log line(s) in all; healthy {healthy:.1f}s after the restart, "
              f"the new upstream item served after {published:.1f}s")
        print("\n".join(lines))
        assert all(STAMP.match(line) for line in lines)  # one line each: no traceback
        assert "Traceback" not in daemon.text()
        # A line per reconnection attempt, backing off (a few per connection, not one a
        # second), and at most one for each job the stop cut short.
        assert len(tried) <= POOL * (2 + math.log2(outage))
        others = [line for line in lines if line not in tried]
        assert len(others) <= 3 and all("failed" in line or "discarding" in line
                                        for line in others), others
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=15) == 0

