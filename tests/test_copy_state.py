"""`feeds copy-state TARGET`: a site moves from SQLite to PostgreSQL and back without one entry
id, date or byte of its feeds changing; the copy is one snapshot, taken while others write;
leases stay behind; a target that holds a state is refused."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds.config import PostgresURL
from feeds.store import FileRow, copy, open_store
from feeds.store.sql import SQLStore
from tests.helpers import FIXTURES, NOW, SEED_MTIME, UPSTREAM_SOURCES, pull_and_build, snapshot
from tests.services import PostgresServer

FEEDS = Path(sys.executable).parent / "feeds"
# Everything that moves, in an order both backends read alike (C collation in PostgreSQL).
TABLES = {table.name: f"SELECT {', '.join(table.columns)} FROM {table.name} "
                      f"ORDER BY {', '.join(table.key)}" for table in copy.TABLES}


def make_site(project: Path) -> Path:
    """The seeds, the samples and two pulled upstream feeds, built at NOW into a SQLite
    state."""
    for index, sample in enumerate(sorted((FIXTURES / "samples").glob("*.txt"))):
        shutil.copy(sample, project / "seeds" / sample.name)
        stamp = SEED_MTIME + (index + 1) * 3600  # an hour apart: the order they were written
        os.utime(project / "seeds" / sample.name, (stamp, stamp))
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + UPSTREAM_SOURCES, encoding="utf-8")
    cfg = pull_and_build(toml, etag='"v1"')
    assert isinstance(cfg.paths.state, Path)
    return cfg.paths.state


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(NOW.timestamp()))}
    return subprocess.run([str(FEEDS), *args], cwd=root, capture_output=True, text=True,
                          timeout=180, check=False, env=env)


@contextlib.contextmanager
def opened(location: Path | str, **options: Any) -> Iterator[SQLStore]:
    where = location if isinstance(location, Path) else PostgresURL(location)
    store = open_store(where, **options)
    assert isinstance(store, SQLStore)
    try:
        yield store
    finally:
        store.close()


def tables(location: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    with opened(location) as store, store.snapshot():
        return {name: [tuple(row) for row in store._run(sql).fetchall()]
                for name, sql in TABLES.items()}


def test_a_site_moves_to_postgresql_and_back_changing_no_byte(
    project: Path, postgres_url: str, tmp_path: Path,
) -> None:
    state = make_site(project)
    output = project / "output"
    published = snapshot(output)  # every file's bytes and mtime
    before = tables(state)
    assert len(before["entries"]) > 10 and any(row[3] == '"v1"' for row in before["sources"])

    done = run(project, "copy-state", postgres_url)
    assert done.returncode == 0, done.stderr
    assert f"copied {state} into {PostgresURL(postgres_url)} (schema version 2):" in done.stdout
    assert f"  entries        {len(before['entries'])} row(s)\n" in done.stdout
    assert tables(postgres_url) == before  # ids, dates, hashes, ETags, due times, id prefix

    built = run(project, "build", "--full", "--state", postgres_url)
    assert built.returncode == 0, built.stderr
    assert snapshot(output) == published  # not one byte (nor one file time) changed
    assert tables(postgres_url)["entries"] == before["entries"]

    back = tmp_path / "back" / "feeds.sqlite"
    done = run(project, "copy-state", str(back), "--state", postgres_url)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in back.parent.iterdir()) == ["feeds.sqlite"]
    built = run(project, "build", "--full", "--state", str(back))
    assert built.returncode == 0, built.stderr
    assert snapshot(output) == published
    assert tables(back)["entries"] == before["entries"]


def test_leases_stay_behind_and_fencing_tokens_are_kept(tmp_path: Path,
                                                        postgres_database_url: str) -> None:
    state = tmp_path / "feeds.sqlite"
    with opened(state) as store, store.transaction():
        store.register_sources([("a", "https://a/"), ("b", "https://b/")])
        store.claim_sources("d1", ["a"], due_at=store.db_now(), lease=600, limit=5)
        assert store.take_build_lease("d1", 600) == 1
        store.put_manifest([("rss.xml", "ab", 10, "application/rss+xml")])
    copied = copy.copy_state(state, PostgresURL(postgres_database_url), wait=5)
    assert copied.version == 2 and "leases" not in copied.rows
    assert copied.rows["sources"] == 2 and copied.rows["manifest"] == 1
    with opened(postgres_database_url) as moved, moved.transaction():
        assert moved.leases() == {}
        assert moved._run("SELECT name, lease_token FROM sources ORDER BY name").fetchall() == [
            ("a", 1), ("b", 0)]
        (claim,) = moved.claim_sources("d2", ["a"], due_at=moved.db_now(), lease=60, limit=1)
        assert claim.token == 2  # never a token handed out before the move
        assert moved.take_build_lease("d2", 60) == 1  # the build lease is free
        assert moved.manifest() == {"rss.xml": ("ab", 10, "application/rss+xml")}


def test_a_target_that_holds_a_state_is_refused_with_exit_2_naming_it(
    project: Path, postgres_url: str, postgres_server: PostgresServer, tmp_path: Path,
) -> None:
    assert run(project, "migrate").returncode == 0
    assert run(project, "copy-state", postgres_url).returncode == 0
    again = run(project, "copy-state", postgres_url)
    assert again.returncode == 2, again.stderr
    assert again.stderr.startswith(f"error: {PostgresURL(postgres_url)}: already holds tables "
                                   "of feeds (entries, entry_tags, feeds_schema, files, ")
    other = tmp_path / "other.sqlite"
    assert run(project, "migrate", "--state", str(other)).returncode == 0
    for target, why in ((other, "already holds a state (schema version 2)"),
                        (project / "config" / "feeds.toml", "already exists"),
                        (project / "state" / "feeds.sqlite", "is the state being copied")):
        before = target.read_bytes()
        refused = run(project, "copy-state", str(target))
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith(f"error: {target}: {why}")
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert target.read_bytes() == before
    with postgres_server.schema() as partial:
        with postgres_server.connect(partial) as conn:
            conn.execute("CREATE TABLE entries (key TEXT)")
        refused = run(project, "copy-state", partial)
        assert refused.returncode == 2 and "already holds tables of feeds (entries)" in \
            refused.stderr, refused.stderr


def test_an_old_or_missing_source_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    shutil.copy(Path(__file__).parent.parent / "config" / "feeds.toml", tmp_path / "config")
    old = tmp_path / "state" / "feeds.sqlite"
    old.parent.mkdir()
    shutil.copy(FIXTURES / "state-v1" / "feeds.sqlite", old)
    original = old.read_bytes()
    done = run(tmp_path, "copy-state", "copy.sqlite")
    assert done.returncode == 5, done.stderr
    assert "this program needs 2: run `feeds migrate`" in done.stderr
    assert old.read_bytes() == original and not (tmp_path / "copy.sqlite").exists()
    assert sorted(p.name for p in old.parent.iterdir()) == ["feeds.sqlite"]
    done = run(tmp_path, "copy-state", "copy.sqlite", "--state", "none.sqlite")
    assert done.returncode == 2 and "there is no state here to copy" in done.stderr
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize("source_kind", ["sqlite", "postgres"])
def test_a_copy_while_another_process_writes_holds_each_transaction_whole(
    source_kind: str, tmp_path: Path, postgres_url: str,
) -> None:
    """A writer commits a meta row and a file row together, again and again, while the copy
    reads meta, then (later) files: the copy holds both rows of a transaction or neither."""
    source: Path | str = tmp_path / "source.sqlite"
    target: Path | str = postgres_url
    if source_kind == "postgres":
        source, target = postgres_url, tmp_path / "target.sqlite"
    where = lambda place: place if isinstance(place, Path) else PostgresURL(place)  # noqa: E731
    with opened(source) as store, store.transaction():
        for i in range(200):
            store.put_file(FileRow.of((f"seed/{i:04}.txt", 1, 1, 1), None))
    committed = [0]
    stop = threading.Event()
    progress = threading.Condition()

    def writer() -> None:
        with opened(source) as mine:
            while not stop.is_set():
                with mine.transaction():
                    name = f"w{committed[0]:05}"
                    mine.set_meta(name, "x")
                    mine.put_file(FileRow.of((name, 1, 1, 1), None))
                with progress:
                    committed[0] += 1
                    progress.notify_all()

    def interleaved(table: str, rows: int) -> None:
        with progress:  # let the writer commit more before the next batch is read
            seen = committed[0]
            assert progress.wait_for(lambda: committed[0] >= seen + 3, timeout=10)
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with progress:
            assert progress.wait_for(lambda: committed[0] >= 3, timeout=10)
        copy.copy_state(where(source), where(target), wait=10, batch=7, on_batch=interleaved)
    finally:
        stop.set()
        thread.join(10)
    copied = tables(target)
    metas = {row[0] for row in copied["meta"] if row[0].startswith("w")}
    files = {row[0] for row in copied["files"] if row[0].startswith("w")}
    assert metas == files and len(metas) >= 3
    assert committed[0] > len(metas)  # the writer went on while the copy read
    assert len(copied["files"]) == 200 + len(files)

