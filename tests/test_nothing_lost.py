"""Nothing lost: a build never takes the site down by accident, a busy or newer state is never
thrown away, output and state errors are one line and exit 5, and the daemon says when its
builds fail.

Unreadable and read-only cases need an unprivileged user: root reads `chmod 000` files and
writes into read-only folders. Run as root (as CI is), the command drops to `nobody` once it
has loaded its code (the interpreter lives where `nobody` may not look), so that every file it
touches is checked as `nobody`'s; run as anyone else, it already is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feeds import config
from tests.helpers import ARTICLE, ROOT, SEED_MTIME, free_port

FEEDS = Path(sys.executable).parent / "feeds"
NOBODY = 65534
AS_NOBODY = """
import os, sys
# What a build loads, while it may still be read (the interpreter is where nobody may not look)
from feeds import builder, cli, jsonfeed, pages, publish, pull
from feeds.output import folder
from feeds.sources import article, fetch, upstream
from feeds.store import sqlite
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid({uid})
    os.setuid({uid})
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.fixture
def site() -> Iterator[Path]:
    """A project in a folder `nobody` can reach (pytest's own temp folder is root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="feeds-lost-"))
    os.chmod(root, 0o755)
    (root / "config").mkdir()
    text = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    (root / "config" / "feeds.toml").write_text(
        text.replace('[schedule]', '[schedule]\nlock_wait = "2s"'), encoding="utf-8")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    for seed in (root / "seeds").glob("*.txt"):
        os.utime(seed, (SEED_MTIME, SEED_MTIME))
    try:
        yield root
    finally:
        for path in [root, *root.rglob("*")]:  # whatever a test made unreadable
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o755)
        shutil.rmtree(root)


def feeds(root: Path, *args: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    if not as_nobody:
        argv = [str(FEEDS), *args]
        env = None
    else:
        argv = [sys.executable, "-c", AS_NOBODY.format(uid=NOBODY), *args]
        # Coverage's subprocess hook would write its data as nobody, where nobody may not.
        env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    return subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120,
                          check=False, env=env)


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under `folder` by its bytes' hash (a missing folder: nothing); the writer
    lock's file, which holds the pid of its last holder, aside."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".lock"}


def one_error(run: subprocess.CompletedProcess[str]) -> str:
    """The run's one `error:` line; it never shows a traceback."""
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    return errors[0]


# --- seeds must exist ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["build", "check", "export"])
@pytest.mark.parametrize("broken", ["missing", "a-file", "unreadable"])
def test_a_seeds_folder_that_cannot_be_listed_is_exit_2_and_nothing_changes(
    site: Path, command: str, broken: str
) -> None:
    assert feeds(site, "build").returncode == 0
    before = (fingerprint(site / "output"), fingerprint(site / "state"))
    seeds = site / "seeds"
    if broken == "missing":
        shutil.rmtree(seeds)
    elif broken == "a-file":
        shutil.rmtree(seeds)
        seeds.write_text("not a folder")
    else:
        os.chmod(seeds, 0o000)
    args = [command] + (["--feed", "all", "--format", "rss"] if command == "export" else [])
    run = feeds(site, *args, as_nobody=broken == "unreadable")
    assert run.returncode == 2, run.stderr
    line = one_error(run)
    assert line.startswith(f"error: {seeds}: the seeds folder "), line
    assert "nothing was built or unpublished" in line
    assert (fingerprint(site / "output"), fingerprint(site / "state")) == before
    assert run.stdout == ""


# --- the unpublish guard ----------------------------------------------------------------


def many_articles(root: Path, count: int) -> None:
    folder = root / "seeds" / "arsip"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        path = folder / f"{i:04}.txt"
        path.write_text(ARTICLE.replace("Awal", f"Nomor {i}"), encoding="utf-8")
        os.utime(path, (SEED_MTIME + i, SEED_MTIME + i))


def test_a_build_that_would_unpublish_300_of_1000_stops_with_4_and_writes_nothing(
    site: Path,
) -> None:
    (site / "seeds" / "000_4cab66b14d71472d.txt").unlink()
    many_articles(site, 1000)
    assert feeds(site, "build").returncode == 0
    before = (fingerprint(site / "output"), fingerprint(site / "state"))
    for i in range(300):
        (site / "seeds" / "arsip" / f"{i:04}.txt").unlink()
    stopped = feeds(site, "build")
    assert stopped.returncode == 4, stopped.stderr
    line = one_error(stopped)
    assert "would unpublish 300 of the 1000 published articles (300 deleted)" in line
    assert "max_unpublish = '20%'" in line and "--allow-unpublish" in line
    assert (fingerprint(site / "output"), fingerprint(site / "state")) == before
    allowed = feeds(site, "build", "--allow-unpublish")
    assert allowed.returncode == 0, allowed.stderr
    assert "700 entries published" in allowed.stdout
    assert not (site / "output" / "articles" / "0000.html").exists()


def test_drafts_and_embargoes_count_and_a_small_site_may_always_delete_a_few(
    site: Path,
) -> None:
    many_articles(site, 30)
    assert feeds(site, "build").returncode == 0
    for i in range(8):  # 8 drafted, 4 dated later: 12 of 31, over 20% and over 10
        path = site / "seeds" / "arsip" / f"{i:04}.txt"
        path.write_text("---\ndraft: true\n---\n" + path.read_text(encoding="utf-8"),
                        encoding="utf-8")
    for i in range(8, 12):
        path = site / "seeds" / "arsip" / f"{i:04}.txt"
        path.write_text("---\ndate: 2099-01-01\n---\n" + path.read_text(encoding="utf-8"),
                        encoding="utf-8")
    stopped = feeds(site, "build")
    assert stopped.returncode == 4
    assert "12 of the 31 published articles (8 drafted, 4 dated later)" in one_error(stopped)
    for i in range(8, 12):  # 8 of 31: more than 20%, but not more than 10 entries
        path = site / "seeds" / "arsip" / f"{i:04}.txt"
        path.write_text(ARTICLE.replace("Awal", f"Nomor {i}"), encoding="utf-8")
    assert feeds(site, "build").returncode == 0


def test_with_pull_the_stop_wins_and_says_the_pulled_entries_wait(site: Path) -> None:
    many_articles(site, 40)
    assert feeds(site, "build").returncode == 0
    for i in range(20):
        (site / "seeds" / "arsip" / f"{i:04}.txt").unlink()
    run = feeds(site, "build", "--pull")
    assert run.returncode == 4
    assert "will be published by the next build that goes through" in one_error(run)


def test_max_unpublish_takes_a_count_and_100_percent_turns_the_guard_off(site: Path) -> None:
    many_articles(site, 40)
    assert feeds(site, "build").returncode == 0
    toml = site / "config" / "feeds.toml"
    text = toml.read_text(encoding="utf-8")
    for i in range(30):
        (site / "seeds" / "arsip" / f"{i:04}.txt").unlink()
    toml.write_text(text + '\n[safety]\nmax_unpublish = 25\n', encoding="utf-8")
    assert feeds(site, "build").returncode == 4  # 30 > 25
    toml.write_text(text + '\n[safety]\nmax_unpublish = "100%"\n', encoding="utf-8")
    assert feeds(site, "build").returncode == 0
    toml.write_text(text + '\n[safety]\nmax_unpublish = "120%"\n', encoding="utf-8")
    bad = feeds(site, "build")
    assert bad.returncode == 2 and "safety.max_unpublish: must be a share" in bad.stderr


# --- a busy, newer or older state is never thrown away ------------------------------------


def state_bytes(root: Path) -> dict[str, str]:
    return fingerprint(root / "state")


def test_a_state_another_process_holds_locked_is_exit_3_and_untouched(site: Path) -> None:
    assert feeds(site, "build").returncode == 0
    path = site / "state" / "feeds.sqlite"
    # Read before the lock is taken: closing any descriptor of the file in this process would
    # drop this process's POSIX locks on it, the holder's included.
    before = state_bytes(site)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, past our lock_wait of 2s
    try:
        started = time.monotonic()
        run = feeds(site, "build")
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert run.returncode == 3, run.stderr
    assert "another process holds the state locked; gave up after 2s" in one_error(run)
    assert 2 <= waited < 30
    assert state_bytes(site) == before
    assert not list((site / "state").glob("*.corrupt-*"))


def test_a_state_of_a_newer_version_is_exit_5_naming_both_and_untouched(site: Path) -> None:
    assert feeds(site, "build").returncode == 0
    path = site / "state" / "feeds.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    before = state_bytes(site)
    for command in ("build", "pull", "check", "sources"):
        run = feeds(site, command)
        assert run.returncode == 5, (command, run.stderr)
        line = one_error(run)
        assert "schema is version 99, newer than this program knows (2)" in line, line
    assert state_bytes(site) == before
    assert not list((site / "state").glob("*.corrupt-*"))


def test_only_a_file_that_is_no_database_is_moved_aside(site: Path) -> None:
    assert feeds(site, "build").returncode == 0
    path = site / "state" / "feeds.sqlite"
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.write_bytes(b"garbage, not a database " * 200)
    run = feeds(site, "build")
    assert run.returncode == 0, run.stderr
    assert "moved aside to feeds.sqlite.corrupt-" in run.stderr
    assert len(list((site / "state").glob("feeds.sqlite.corrupt-*"))) == 1


# --- output errors are one line and exit 5 -------------------------------------------------


def test_a_read_only_output_folder_is_one_error_line_and_exit_5(site: Path) -> None:
    assert feeds(site, "build").returncode == 0
    for path in (site / "state", *(site / "state").iterdir()):
        os.chown(path, NOBODY, -1)  # the state stays writable: the output is what fails
    for folder in [site / "output", *(p for p in (site / "output").rglob("*") if p.is_dir())]:
        os.chmod(folder, 0o555)
    seed = site / "seeds" / "000_4cab66b14d71472d.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + "\nParagraf baru.\n", encoding="utf-8")
    before = fingerprint(site / "output")
    run = feeds(site, "build", as_nobody=True)
    assert run.returncode == 5, run.stderr
    line = one_error(run)
    assert line.startswith(f"error: {site / 'output'}"), line
    assert "Permission denied" in line or "permission" in line, line
    assert fingerprint(site / "output") == before


def test_a_file_where_a_folder_must_be_is_one_error_line_and_exit_5(site: Path) -> None:
    assert feeds(site, "build").returncode == 0
    blocker = site / "output" / "international"
    shutil.rmtree(blocker)
    blocker.write_text("a file where the section's folder must be")
    seed = site / "seeds" / "000_4cab66b14d71472d.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + "\nParagraf baru.\n", encoding="utf-8")
    run = feeds(site, "build")
    assert run.returncode == 5, run.stderr
    assert one_error(run) == (f"error: {blocker}: Not a directory (a file stands where a "
                              "folder must be)")


# --- the daemon says when its builds fail -------------------------------------------------


def test_the_daemon_answers_503_while_seeds_is_a_file_and_keeps_serving(site: Path) -> None:
    toml = site / "config" / "feeds.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'rebuild_every = "5m"', 'rebuild_every = "1s"'), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (site / "daemon.log").open("wb")
    daemon = subprocess.Popen([str(FEEDS), "run", "--bind", f"127.0.0.1:{port}"], cwd=site,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        health = wait_for_status(base, 200, 30)
        assert health["problems"] == []
        entries_before = json.loads(httpx.get(base + "/feed.json").content)["items"]
        seeds = site / "seeds"
        aside = site / "seeds-aside"
        seeds.rename(aside)
        seeds.write_text("someone's typo: a file where the folder was")
        started = time.monotonic()
        health = wait_for_status(base, 503, 10)
        assert time.monotonic() - started < 3  # within one rebuild interval (1s), and a poll
        [problem] = health["problems"]
        assert problem["kind"] == "build" and "the seeds folder is a file" in problem["message"]
        assert set(problem) == {"kind", "message", "since"}
        served = json.loads(httpx.get(base + "/feed.json").content)["items"]
        assert served == entries_before  # the last good feeds stay served
        seeds.unlink()
        aside.rename(seeds)
        assert wait_for_status(base, 200, 10)["problems"] == []
    finally:
        daemon.terminate()
        daemon.wait(30)
        log.close()
    text = (site / "daemon.log").read_text(encoding="utf-8")
    assert "rebuild failed, the published feeds stay as they were" in text


def wait_for_status(base: str, status: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.get(base + "/healthz", timeout=2)
            if answer.status_code == status:
                report: dict[str, object] = answer.json()
                return report
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz did not answer {status} within {timeout}s")
        time.sleep(0.1)


def test_config_safety_accepts_shares_and_counts() -> None:
    limits = config.Safety("20%")
    assert not limits.stops(10, 11) and limits.stops(11, 50) and not limits.stops(11, 60)
    assert config.Safety("50").stops(51, 10_000) and not config.Safety("50").stops(50, 60)
    assert not config.Safety("100%").stops(5000, 5000)
