"""SIGKILL at many moments of a build and of a daemon's pulls: nothing torn, nothing lost.

The victim and an uninterrupted twin get the same input and the same clock
(SOURCE_DATE_EPOCH); after the kills the victim's next run must give the twin's bytes.
`make stress` runs this with a bigger corpus and more kills (FEEDS_CRASH_* below).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import brotli
import pytest
from lxml import etree

from tests.helpers import SEED_MTIME
from tests.httpserver import FeedServer, Reply, Seen

FEEDS = Path(sys.executable).parent / "feeds"
# 2,500: above Parallelism.from_articles (2,000), so the cold build and the edit phase run on
# worker processes, which write pages and feeds themselves.
ARTICLES = int(os.environ.get("FEEDS_CRASH_ARTICLES", "2500"))
KILLS = int(os.environ.get("FEEDS_CRASH_KILLS", "8"))  # per phase
SOURCES = int(os.environ.get("FEEDS_CRASH_SOURCES", "12"))
SECTIONS = ["International", "Nasional", "Kampus", "Ekonomi", "Olahraga", "Teknologi"]
T0 = SEED_MTIME + 86_400
FEED_NAMES = ("rss.xml", "atom.xml", "feed.json")
TEMP_SUFFIX = ".feeds-tmp"
LEASE = 3  # seconds a killed daemon's claims on sources hold


WORDS = ["kampus", "mahasiswa", "kota", "warga", "program", "harga", "pasar", "banjir",
         "sungai", "dosen", "riset"]


@dataclass
class Tally:
    kills: int = 0
    finished_first: int = 0  # attempts that ended before their kill moment
    temp_files_left: int = 0  # evidence of kills while files were being written
    torn: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bad_state: list[str] = field(default_factory=list)


def article(index: int, revision: int = 0) -> str:
    rng = random.Random(index * 7919 + revision)
    words = WORDS
    body = " ".join(rng.choice(words) for _ in range(rng.randint(60, 160)))
    title = f"Berita nomor {index} tentang {rng.choice(words)}"
    if revision:
        title += f" (revisi {revision})"
    return (f"---\ntags: [topik-{index % 40}, tema-{index % 7}]\n---\n"
            f"{SECTIONS[index % len(SECTIONS)]}\n{title}\n\n"
            f"Semarang (usmnews) – {body}.\n\nSubjudul Pertama\n\n{body[::-1]}.\n")


def write_article(seeds: Path, index: int, revision: int = 0) -> None:
    path = seeds / f"{index:05d}.txt"
    path.write_text(article(index, revision), encoding="utf-8")
    stamp = SEED_MTIME + index + revision * 1_000_000  # the same in victim and twin
    os.utime(path, (stamp, stamp))


def make_project(root: Path, toml: str) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "seeds").mkdir()
    (root / "config" / "feeds.toml").write_text(toml, encoding="utf-8")
    return root


SITE = (
    '[site]\ntitle = "USM News"\nbase_url = "https://usmnews.example/"\n'
    'id_prefix = "tag:usmnews.example,2026:"\nitems_per_feed = 30\n'
    + "".join(f'[[sections]]\nslug = "{s.lower()}"\nname = "{s}"\n' for s in SECTIONS)
)


def feeds(project: Path, *args: str, clock: int, timeout: float = 300) -> int:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(clock)}
    done = subprocess.run([str(FEEDS), *args], cwd=project, env=env, timeout=timeout,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.returncode


def snapshot(output: Path) -> dict[str, bytes]:
    return {p.relative_to(output).as_posix(): p.read_bytes()
            for p in sorted(output.rglob("*")) if p.is_file()}


def parses(name: str, data: bytes) -> bool:
    """Whether `data` is a whole document of the kind its name says."""
    if name.endswith(".gz"):
        return parses(name[:-3], gzip.decompress(data))
    if name.endswith(".br"):
        return parses(name[:-3], brotli.decompress(data))
    try:
        if name.endswith((".xml", ".opml")):
            etree.fromstring(data, etree.XMLParser(resolve_entities=False))
        elif name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".html"):
            return data.decode("utf-8").rstrip().endswith("</html>")
    except (etree.XMLSyntaxError, ValueError):
        return False
    return True


def inspect(project: Path, required: set[str], tally: Tally) -> set[str]:
    """Check what a killed run left; returns the feed files present."""
    output = project / "output"
    present: set[str] = set()
    for path in output.rglob("*") if output.exists() else ():
        if not path.is_file():
            continue
        name = path.relative_to(output).as_posix()
        if name.endswith(TEMP_SUFFIX):
            tally.temp_files_left += 1
            continue
        try:
            whole = parses(name, path.read_bytes())
        except (OSError, EOFError, brotli.error):
            whole = False
        if not whole:
            tally.torn.append(name)
        if name.rsplit("/", 1)[-1].removesuffix(".gz").removesuffix(".br") in FEED_NAMES:
            present.add(name)
    tally.missing.extend(sorted(required - present))
    state = project / "state" / "feeds.sqlite"
    if state.exists():
        db = sqlite3.connect(state)
        try:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            db.execute("SELECT count(*) FROM entries").fetchone()
        except sqlite3.DatabaseError as exc:
            check = str(exc)
        finally:
            db.close()
        if check != "ok":
            tally.bad_state.append(check)
    return present


def kill_builds(project: Path, clock: int, duration: float, required: set[str],
                rng: random.Random) -> Tally:
    """Start `feeds build` KILLS times and SIGKILL it at moments spread over its length."""
    tally = Tally()
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(clock)}
    for k in range(KILLS):
        # One moment in each slice of the run; every other kill aims at its last third,
        # where the files are renamed into place and the state commits. The twin's time is
        # only an estimate of the victim's, hence the margin.
        moment = 0.9 * duration * (k + rng.random()) / KILLS
        if k % 2:
            moment = 0.9 * duration * (0.6 + 0.4 * (k + rng.random()) / KILLS)
        process = subprocess.Popen([str(FEEDS), "build"], cwd=project, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=moment)
            tally.finished_first += 1
            break  # the input is published now: later attempts would have nothing to do
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            tally.kills += 1
        required |= inspect(project, required, tally)
    return tally


def timed_build(project: Path, clock: int) -> float:
    started = time.monotonic()
    assert feeds(project, "build", clock=clock) == 0
    return time.monotonic() - started


def report(request: pytest.FixtureRequest, line: str) -> None:
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # the figures the issue asks for, in the log
        print(f"\n[crash] {line}")


def test_build_killed_at_many_moments_never_tears_a_feed_and_converges(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    victim = make_project(tmp_path / "victim", SITE)
    twin = make_project(tmp_path / "twin", SITE)
    rng = random.Random(2026)
    phases = [
        ("cold build", lambda seeds: [write_article(seeds, i) for i in range(ARTICLES)]),
        ("a third edited", lambda seeds: [write_article(seeds, i, 1)
                                          for i in range(0, ARTICLES, 3)]),
        ("a tenth deleted, a tenth added", lambda seeds: [
            *((seeds / f"{i:05d}.txt").unlink() for i in range(0, ARTICLES, 10)),
            *(write_article(seeds, i) for i in range(ARTICLES, ARTICLES + ARTICLES // 10)),
        ]),
    ]
    before: set[str] = set()
    kills = 0
    for number, (what, change) in enumerate(phases):
        clock = T0 + number * 86_400
        change(victim / "seeds")
        change(twin / "seeds")
        duration = timed_build(twin, clock)
        expected = snapshot(twin / "output")
        required = before & set(expected)  # what a finished build keeps may never go missing
        tally = kill_builds(victim, clock, duration, required, rng)
        assert feeds(victim, "build", clock=clock) == 0
        report(request, f"{what}: {ARTICLES} articles, build {duration:.2f}s, "
               f"{tally.kills} kills, {tally.finished_first} finished first, "
               f"{tally.temp_files_left} temp files seen, torn {len(tally.torn)}, "
               f"missing {len(tally.missing)}, bad state {len(tally.bad_state)}")
        assert tally.torn == []
        assert tally.missing == []
        assert tally.bad_state == []
        assert tally.kills >= 1, "the kills must land while the build runs"
        kills += tally.kills
        got = snapshot(victim / "output")
        assert sorted(got) == sorted(expected)
        assert [name for name in expected if got[name] != expected[name]] == []
        before = {name for name in expected if name.rsplit("/", 1)[-1] in FEED_NAMES}
    assert kills >= KILLS  # of 3 × KILLS attempts


# --- the daemon killed while it pulls ------------------------------------------------------

ITEM_TIME = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def upstream_rss(number: int, items: int = 120) -> bytes:
    entries = "".join(
        f"<item><title>Sumber {number} berita {i}</title>"
        f"<link>https://outlet{number}.example/berita/{i}</link><guid>s{number}-{i}</guid>"
        f"<pubDate>{format_datetime(ITEM_TIME - timedelta(minutes=i * 13 + number))}</pubDate>"
        f"<description>Isi berita {i} dari sumber {number}, cukup panjang untuk disimpan "
        f"{'dan dibaca ' * 30}.</description></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {number}</title><link>https://outlet{number}.example/</link>"
            f"<description>x</description>{entries}</channel></rss>").encode()


def serve_sources(server: FeedServer) -> None:
    for number in range(SOURCES):
        body = upstream_rss(number)
        etag = f'"s{number}"'

        def route(seen: Seen, body: bytes = body, etag: str = etag) -> Reply:
            if seen.headers.get("if-none-match") == etag:
                return Reply(304, headers={"ETag": etag})
            # Dripped in 8 pieces: a pull takes a while, so kills land during fetches too.
            size = len(body)
            pieces = iter([body[i * size // 8:(i + 1) * size // 8] for i in range(8)])
            return Reply(200, headers={"ETag": etag, "Content-Type": "application/rss+xml"},
                         chunks=pieces, delay=0.02)

        server.routes[f"/s{number}"] = route


def daemon_toml(server: FeedServer) -> str:
    sources = "".join(
        f'[[upstream]]\nname = "outlet{n}"\nurl = "{server.url(f"/s{n}")}"\n'
        f'section = "{SECTIONS[n % len(SECTIONS)].lower()}"\nevery = "1s"\n'
        for n in range(SOURCES)
    )
    # A killed daemon's claims hold until their lease runs out: a short one here.
    return (SITE + '[fetch]\nallow_private_networks = true\nmin_every = "1s"\ntimeout = 10\n'
            '[schedule]\nrebuild_every = "1s"\nlock_wait = "30s"\n'
            f'[cluster]\nlease = "{LEASE}s"\npoll = "1s"\n' + sources)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def test_daemon_killed_while_pulling_loses_nothing_and_converges(
    tmp_path: Path, server: FeedServer, request: pytest.FixtureRequest
) -> None:
    serve_sources(server)
    base = make_project(tmp_path / "base", daemon_toml(server))
    for i in range(200):
        write_article(base / "seeds", i)
    assert feeds(base, "build", clock=T0) == 0
    victim = tmp_path / "victim"
    twin = tmp_path / "twin"
    shutil.copytree(base, victim)
    shutil.copytree(base, twin)
    required = {p.relative_to(base / "output").as_posix()
                for p in (base / "output").rglob("*") if p.name in FEED_NAMES}
    tally = Tally()
    rng = random.Random(7)
    requests_at_kill = []
    log = tmp_path / "daemon.log"
    for k in range(KILLS):
        with log.open("ab") as sink:
            process = subprocess.Popen([str(FEEDS), "run"], cwd=victim, stdout=sink,
                                       stderr=subprocess.STDOUT)
        seen = len(server.seen)
        deadline = time.monotonic() + 15
        while len(server.seen) == seen and time.monotonic() < deadline:
            time.sleep(0.01)  # until this daemon's first request: its pulls have begun
        # A pull is a dripped fetch (~0.2 s), a parse and a transaction storing 120 items.
        time.sleep(0.5 * (k + rng.random()) / KILLS)
        process.send_signal(signal.SIGKILL)
        process.wait()
        tally.kills += 1
        requests_at_kill.append(len(server.seen) - seen)
        required |= inspect(victim, required, tally)
    clock = int(time.time()) + 86_400  # later than any wall-clock time the daemon used
    time.sleep(LEASE + 1)  # the last killed daemon's claims run out
    for project in (victim, twin):
        assert feeds(project, "pull", "--all", clock=clock) == 0
        assert feeds(project, "build", clock=clock) == 0
    report(request, f"daemon: {SOURCES} sources, {tally.kills} kills, requests served before "
           f"each kill {requests_at_kill}, torn {len(tally.torn)}, missing "
           f"{len(tally.missing)}, bad state {len(tally.bad_state)}")
    assert tally.torn == []
    assert tally.missing == []
    assert tally.bad_state == []
    assert sum(requests_at_kill) > 0, "the kills must land while the daemon pulls"
    assert "Traceback" not in log.read_text(errors="replace")
    got, expected = snapshot(victim / "output"), snapshot(twin / "output")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []
    assert b"https://outlet" in expected["rss.xml"]  # the pulls did publish
