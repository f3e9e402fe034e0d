"""The PostgreSQL state, beyond the contract suite (tests/test_store.py runs that on both
backends): many processes at once, locks, versions, connections and passwords, against the
suite's real PostgreSQL server (tests/services.py)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds import cli
from feeds.config import PostgresURL
from feeds.errors import StateBusy, StoreError
from feeds.model import Entry, Section
from feeds.store import (
    EntryRow,
    SourceState,
    Store,
    connection_pool,
    open_store,
    schema_version,
)
from feeds.store import postgres as pg
from feeds.store import sqlite as lite
from tests.helpers import NOW
from tests.services import PostgresServer

FEEDS = Path(sys.executable).parent / "feeds"


@contextlib.contextmanager
def opened(url: str, **options: Any) -> Iterator[Store]:
    store = open_store(PostgresURL(url), **options)
    try:
        yield store
    finally:
        store.close()


def run(root: Path, *args: str, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FEEDS), *args], cwd=root, capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def upstream_row(key: str, canonical: str) -> EntryRow:
    item = Entry(id=f"tag:x,2026:{key}", key=key, title=key, link=canonical,
                 section=Section("nasional", "Nasional"), published=NOW, updated=NOW,
                 summary="s", content_html="<p>c</p>", lang="id")
    return EntryRow.of(item, origin="upstream:x", hash="h", first_seen=1, live=True,
                       canonical=canonical)


def in_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


# --- many processes at once ---------------------------------------------------------------


def test_two_daemons_claiming_at_once_get_disjoint_sources(postgres_url: str) -> None:
    names = [f"s{i:02}" for i in range(10)]
    with opened(postgres_url) as a, opened(postgres_url) as b:
        with a.transaction():
            a.register_sources([(name, f"https://x/{name}") for name in names])
            now = a.db_now()
        with a.transaction():  # a's claim is not committed yet: its rows are locked
            first = a.claim_sources("a", names, due_at=now, lease=60, limit=6)
            # b does not wait for a: it skips the locked rows and takes the others
            thread, result = in_thread(lambda: _claim(b, "b", names, now))
            thread.join(10)
            assert not thread.is_alive() and "error" not in result
        second = result["value"]
        assert len(first) == 6 and len(second) == 4
        assert {c.name for c in first}.isdisjoint({c.name for c in second})
        with b.transaction():  # committed leases hold: nothing is left to claim
            assert b.claim_sources("c", names, due_at=now, lease=60, limit=10) == []
        with a.snapshot():
            leases = a.leases()
        assert {name: owner for name, (owner, _) in leases.items()} == {
            **{c.name: "a" for c in first}, **{c.name: "b" for c in second}}


def _claim(store: Store, owner: str, names: list[str], now: int) -> list[Any]:
    with store.transaction():
        return store.claim_sources(owner, names, due_at=now, lease=60, limit=10)


def test_many_threads_claiming_at_once_never_share_a_source(postgres_url: str) -> None:
    names = [f"s{i:03}" for i in range(60)]
    with opened(postgres_url) as store, store.transaction():
        store.register_sources([(name, "https://x/") for name in names])
    start = threading.Barrier(4)

    def claimer(owner: str) -> list[str]:
        with opened(postgres_url) as mine:
            start.wait(10)
            taken: list[str] = []
            while True:
                with mine.transaction():
                    now = mine.db_now()
                    got = mine.claim_sources(owner, names, due_at=now, lease=60, limit=3)
                if not got:
                    return taken
                taken += [claim.name for claim in got]

    threads = [in_thread(lambda owner=f"d{i}": claimer(owner)) for i in range(4)]
    for thread, _ in threads:
        thread.join(60)
    results = [result for _, result in threads]
    assert all("error" not in result for result in results), results
    every = [name for result in results for name in result["value"]]
    assert sorted(every) == names  # each source claimed exactly once


def test_a_claim_finishes_once_and_the_cluster_queries_speak_postgresql(
    postgres_url: str,
) -> None:
    with opened(postgres_url) as store:
        with store.transaction():
            store.register_sources([("antara", "https://a/rss")])
            now = store.db_now()
            (claim,) = store.claim_sources("d1", ["antara"], due_at=now, lease=60, limit=5)
            assert store.source_counts(["antara"]) == (1, 1, 0)
            state = SourceState(name="antara", url="https://a/rss", fetch_url="https://a/rss",
                                next_due=now + 600, failures=1)
            assert store.finish_claim(claim, state)
            assert not store.finish_claim(claim, state)  # the claim ended
            assert store.log_pull("antara", claim.due, "d1", "200", now)
            assert not store.log_pull("antara", claim.due, "d2", "200", now)
            assert store.pull_history("antara", 5) == [(claim.due, "d1", "200", now)]
            store.prune_pull_log(now + 1)
            assert store.pull_history("antara", 5) == []
            assert store.source_counts(["antara"]) == (0, 0, 1)
            assert abs(now - time.time()) < 60  # the database's clock, in epoch seconds
        with store.transaction():
            epoch = store.take_build_lease("d1", 60)
            assert epoch == 1 and store.take_build_lease("d2", 60) is None
            assert store.renew_build_lease("d1", epoch, 60)
            store.release_build_lease("d1", epoch)
            assert store.take_build_lease("d2", 60) == 2
            store.put_manifest([("rss.xml", "ab", 10, "application/rss+xml")])
            assert store.manifest_entry("rss.xml") == ("ab", 10, "application/rss+xml")
            store.delete_manifest(["rss.xml"])
            assert store.manifest() == {}


def test_taking_the_build_over_from_a_stalled_builder_ends_its_transaction(
    postgres_url: str,
) -> None:
    """A builder whose lease ran out (stopped, hung) still holds its build's transaction and
    the row locks it took; the daemon that takes the lease over ends that transaction: its
    own build is not held back, and the stalled one commits nothing."""
    location = PostgresURL(postgres_url)
    stalled_pool: Any = connection_pool(location, size=2, owner="d1")
    live_pool: Any = connection_pool(location, size=2, owner="d2")
    try:
        with opened(postgres_url, pool=stalled_pool, wait=5) as lease, lease.transaction():
            assert lease.take_build_lease("d1", 1) == 1
        with opened(postgres_url, pool=stalled_pool, wait=5) as build, \
                opened(postgres_url, pool=live_pool, wait=5) as live:
            with pytest.raises(StoreError) as ended, build.transaction():
                name = build.conn.execute(  # type: ignore[attr-defined]
                    "SELECT current_setting('application_name')").fetchone()
                assert name == ("feeds d1",)  # the daemon's owner id names its sessions
                build.set_meta("fingerprint", "stalled")  # a row lock every build takes
                deadline = time.monotonic() + 10
                while True:  # ... and it stalls past its lease
                    with live.transaction():
                        epoch = live.take_build_lease("d2", 60)
                    if epoch is not None or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert epoch == 2
                with live.transaction():
                    live.set_meta("fingerprint", "live")  # not held back by that lock
                build.set_meta("last_success", "0")
            assert "lost the connection" in ended.value.message
        with opened(postgres_url) as store, store.snapshot():
            assert store.get_meta("fingerprint") == "live"
            assert store.get_meta("last_success") is None
    finally:
        stalled_pool.close()
        live_pool.close()


def test_a_canonical_link_taken_meanwhile_by_another_process_is_refused_not_an_error(
    postgres_url: str,
) -> None:
    with opened(postgres_url) as a, opened(postgres_url, wait=20) as b:
        with a.transaction():
            assert a.put_entry(upstream_row("a", "https://x/story"))
            # b checks, finds no holder (a has not committed), inserts, and waits on the
            # unique index until a commits: then it is refused, and its transaction goes on

            def second() -> bool:
                with b.transaction():
                    stored = b.put_entry(upstream_row("b", "https://x/story"))
                    b.set_meta("after", "kept")
                    return stored

            thread, result = in_thread(second)
            time.sleep(0.5)
            assert thread.is_alive()  # waiting for a's transaction
        thread.join(20)
        assert result == {"value": False}
        with b.snapshot():
            assert b.key_with_canonical("https://x/story") == "a"
            assert b.entry_record("b") is None and b.get_meta("after") == "kept"


def test_a_row_lock_held_past_wait_ends_a_build_in_exit_3_with_nothing_written(
    project: Path, postgres_url: str, postgres_server: PostgresServer,
) -> None:
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace('rebuild_every = "5m"',
                                             'rebuild_every = "5m"\nlock_wait = "1s"'))
    assert run(project, "build", "--state", postgres_url).returncode == 0
    before = sorted(p.name for p in (project / "output").rglob("*"))
    with postgres_server.connect(postgres_url) as holder, holder.transaction():
        holder.execute("SELECT * FROM meta FOR UPDATE")  # what every build writes
        started = time.monotonic()
        done = run(project, "build", "--full", "--state", postgres_url)
        took = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    assert "another process holds the state locked; gave up after 1s" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert took < 30
    assert sorted(p.name for p in (project / "output").rglob("*")) == before


def test_a_cron_build_on_a_shared_state_takes_the_build_lease(
    project: Path, postgres_url: str,
) -> None:
    """A one-shot `feeds build` builds only under the build lease, as a daemon does: while
    another process holds it, the build waits `lock_wait`, then exits 3 writing nothing."""
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace('rebuild_every = "5m"',
                                             'rebuild_every = "5m"\nlock_wait = "2s"'))
    assert run(project, "build", "--state", postgres_url).returncode == 0
    before = sorted(p.name for p in (project / "output").rglob("*"))
    with opened(postgres_url) as daemon:
        with daemon.transaction():
            epoch = daemon.take_build_lease("a-daemon", 60)
        assert epoch is not None
        (project / "seeds" / "baru.txt").write_text("Kampus\nBerita Baru\nIsi.\n")
        started = time.monotonic()
        busy = run(project, "build", "--state", postgres_url)
        took = time.monotonic() - started
        assert busy.returncode == 3, busy.stderr
        assert "another process holds the build lease; gave up after 2s" in busy.stderr
        assert 1.5 < took < 30
        assert sorted(p.name for p in (project / "output").rglob("*")) == before
        with daemon.transaction():
            daemon.release_build_lease("a-daemon", epoch)
    done = run(project, "build", "--state", postgres_url)
    assert done.returncode == 0, done.stderr
    assert (project / "output" / "articles" / "baru.html").is_file()


def test_a_store_waits_at_most_wait_for_a_lock(postgres_url: str,
                                                 postgres_server: PostgresServer) -> None:
    with opened(postgres_url) as store, store.transaction():
        store.set_meta("k", "1")
    with opened(postgres_url, wait=0.5) as store, \
            postgres_server.connect(postgres_url) as holder, holder.transaction():
        holder.execute("UPDATE meta SET value = '2' WHERE key = 'k'")
        started = time.monotonic()
        with pytest.raises(StateBusy) as busy, store.transaction():
            store.set_meta("k", "3")
        assert 0.4 < time.monotonic() - started < 5
        assert busy.value.exit_status == 3 and busy.value.where == str(PostgresURL(postgres_url))
        with store.snapshot():  # the store is usable after its transaction was refused
            assert store.get_meta("k") == "1"


def test_a_deadlock_ends_one_side_in_state_busy(postgres_url: str) -> None:
    with opened(postgres_url) as store, store.transaction():
        store.set_meta("k1", "0")
        store.set_meta("k2", "0")
    both = threading.Barrier(2)

    def crossing(first: str, second: str) -> None:
        with opened(postgres_url, wait=20) as mine, mine.transaction():
            mine.set_meta(first, "1")
            both.wait(10)
            mine.set_meta(second, "1")  # each waits for the other: PostgreSQL fails one

    threads = [in_thread(lambda: crossing("k1", "k2")), in_thread(lambda: crossing("k2", "k1"))]
    for thread, _ in threads:
        thread.join(30)
    errors = [result["error"] for _, result in threads if "error" in result]
    assert len(errors) == 1 and isinstance(errors[0], StateBusy), errors
    assert "deadlock detected" in errors[0].message


def test_every_other_psycopg_error_is_a_store_error_naming_the_state(
    postgres_url: str, postgres_server: PostgresServer,
) -> None:
    with opened(postgres_url) as store:
        with pytest.raises(StoreError) as missing:
            store._run("SELECT * FROM nowhere")  # type: ignore[attr-defined]
        assert 'relation "nowhere" does not exist' in missing.value.message
        assert missing.value.where == str(PostgresURL(postgres_url))
        store._run("SET statement_timeout = '50ms'")  # type: ignore[attr-defined]
        with pytest.raises(StoreError) as slow, store.snapshot():
            store._run("SELECT pg_sleep(2)")  # type: ignore[attr-defined]
        assert "statement_timeout" in slow.value.message
    with pytest.raises(StoreError) as closed:
        store.get_meta("k")
    assert "closed" in closed.value.message
    with postgres_server.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS feeds_nobody")
        conn.execute("CREATE ROLE feeds_nobody LOGIN")
    try:
        with postgres_server.schema() as other:
            stranger = other.replace("postgres@", "feeds_nobody@", 1)
            with pytest.raises(StoreError) as nowhere:
                open_store(PostgresURL(stranger))  # the schema is not the role's to use
            assert "no schema has been selected to create in" in nowhere.value.message
            assert "grant USAGE and CREATE on it" in nowhere.value.message
            schema = other.rpartition("search_path%3D")[2]
            with postgres_server.connect() as conn:
                conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO feeds_nobody")
            with pytest.raises(StoreError) as denied:
                open_store(PostgresURL(stranger))
            assert "permission denied" in denied.value.message
            assert "the role needs CREATE on the schema" in denied.value.message
    finally:
        with postgres_server.connect() as conn:
            conn.execute("DROP ROLE IF EXISTS feeds_nobody")


def test_tables_of_ours_without_a_version_are_not_taken_for_a_state(
    postgres_url: str, postgres_server: PostgresServer,
) -> None:
    with postgres_server.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE entries (key TEXT)")
    with pytest.raises(StoreError) as odd:
        open_store(PostgresURL(postgres_url), migrate=True)
    assert "holds tables named like feeds' (entries) but no feeds_schema table" in \
        odd.value.message
    with postgres_server.connect(postgres_url) as conn:
        conn.execute("DROP TABLE entries")
    with opened(postgres_url):
        pass
    with postgres_server.connect(postgres_url) as conn:
        conn.execute("DELETE FROM feeds_schema")
    with pytest.raises(StoreError) as unfinished:
        schema_version(PostgresURL(postgres_url + "&connect_timeout=5"))
    assert "its feeds_schema table is empty" in unfinished.value.message


# --- versions -------------------------------------------------------------------------------


def test_versions_follow_sqlite_and_the_tables_are_the_same(tmp_path: Path,
                                                            postgres_url: str,
                                                            postgres_server: PostgresServer,
                                                            ) -> None:
    assert pg.SCHEMA_VERSION == lite.SCHEMA_VERSION
    open_store(tmp_path / "s.sqlite").close()
    with contextlib.closing(sqlite3.connect(tmp_path / "s.sqlite")) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        expected = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    with opened(postgres_url):
        pass
    with postgres_server.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, collation_name "
            "FROM information_schema.columns WHERE table_schema = current_schema()").fetchall()
    found: dict[str, set[str]] = {}
    for table, column, kind, collation in rows:
        found.setdefault(table, set()).add(column)
        assert kind in ("bigint", "text"), (table, column, kind)  # mtime_ns needs 64 bits
        assert kind == "bigint" or collation == "C", (table, column)  # code point order
    assert found.pop(pg.VERSION_TABLE) == {"version"}
    assert found == expected


def test_big_integers_and_code_point_order_survive(postgres_url: str) -> None:
    from feeds.store import FileRow

    with opened(postgres_url) as store:
        with store.transaction():
            store.put_file(FileRow.of(("b.txt", 3, 1_768_467_600_123_456_789, 2**40), "b"))
            store.put_file(FileRow.of(("B.txt", 3, 1, 1), "B"))
        with store.snapshot():
            assert [r.path for r in store.iter_files()] == ["B.txt", "b.txt"]
            assert store.file("b.txt") == FileRow("b.txt", 3, 1_768_467_600_123_456_789,
                                                  2**40, "b", "[]")


def test_a_newer_schema_is_refused_with_exit_5_and_nothing_written(
    project: Path, postgres_url: str, postgres_server: PostgresServer,
) -> None:
    with opened(postgres_url):
        pass
    with postgres_server.connect(postgres_url) as conn:
        conn.execute("UPDATE feeds_schema SET version = 99")
    for migrate in (False, True):
        with pytest.raises(StoreError) as refused:
            open_store(PostgresURL(postgres_url), migrate=migrate)
        assert "version 99, newer than this program knows (2)" in refused.value.message
        assert refused.value.exit_status == 5
    for command in (("build",), ("migrate",), ("check",), ("pull",)):
        done = run(project, *command, "--state", postgres_url)
        assert done.returncode == 5, (command, done.stderr)
        assert "newer than this program knows" in done.stderr and "Traceback" not in done.stderr
    with postgres_server.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM feeds_schema").fetchall() == [(99,)]
        assert conn.execute("SELECT COUNT(*) FROM meta").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone() == (0,)
    assert not (project / "output").exists()


@pytest.fixture
def version_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """This program as if its next release had come: a migration to version 3."""
    monkeypatch.setitem(pg.MIGRATIONS, 3, "ALTER TABLE meta ADD COLUMN note TEXT;"
                                          "UPDATE meta SET note = 'migrated'")
    monkeypatch.setattr(pg, "SCHEMA_VERSION", 3)


def test_an_old_schema_read_only_says_run_feeds_migrate_and_migrate_does_it(
    project: Path, postgres_url: str, postgres_server: PostgresServer,
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest,
) -> None:
    with opened(postgres_url) as store, store.transaction():
        store.set_meta("id_prefix", "tag:x,2026:")
    request.getfixturevalue("version_3")
    config = str(project / "config" / "feeds.toml")
    for command in (["check"], ["sources"], ["export", "--feed", "all", "--format", "rss"]):
        assert cli.main([*command, "-c", config, "--state", postgres_url]) == 5
        err = capsys.readouterr().err
        assert "the state's schema is version 2; this program needs 3: run `feeds migrate`" in err
    assert schema_version(PostgresURL(postgres_url)) == 2  # nothing was migrated
    assert cli.main(["migrate", "-c", config, "--state", postgres_url]) == 0
    out = capsys.readouterr().out
    assert f"{PostgresURL(postgres_url)}: migrated from schema version 2 to 3" in out
    with postgres_server.connect(postgres_url) as conn:
        assert conn.execute("SELECT note FROM meta").fetchall() == [("migrated",)]
        advisory = conn.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert advisory.fetchone() == (0,)  # the lock lived only in the migration's transaction
    assert cli.main(["migrate", "-c", config, "--state", postgres_url]) == 0
    assert "schema version 3, up to date" in capsys.readouterr().out


def test_two_processes_migrating_at_once_migrate_once(postgres_url: str,
                                                      version_3: None) -> None:
    with opened(postgres_url):
        pass  # a new state is made at version 3 ...
    with contextlib.closing(pg.psycopg.connect(postgres_url, autocommit=True)) as conn:
        conn.execute("ALTER TABLE meta DROP COLUMN note")  # ... made old again: version 2
        conn.execute("UPDATE feeds_schema SET version = 2")
    start = threading.Barrier(3)

    def migrate() -> int:
        start.wait(10)
        with opened(postgres_url, migrate=True, wait=20) as store:
            return store.version  # type: ignore[attr-defined, no-any-return]

    threads = [in_thread(migrate) for _ in range(3)]
    for thread, _ in threads:
        thread.join(30)
    assert [result for _, result in threads] == [{"value": 3}] * 3  # nobody failed
    assert schema_version(PostgresURL(postgres_url)) == 3


def test_a_migration_waits_at_most_wait_for_another_migration(
    postgres_url: str, postgres_server: PostgresServer,
) -> None:
    with postgres_server.connect(postgres_url) as holder, holder.transaction():
        holder.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                       (0x66656564,))
        with pytest.raises(StateBusy):
            open_store(PostgresURL(postgres_url), migrate=True, wait=0.5)
    assert schema_version(PostgresURL(postgres_url)) is None  # nothing was made


def test_feeds_migrate_on_postgresql_prints_the_version(project: Path,
                                                        postgres_url: str) -> None:
    done = run(project, "migrate", "--state", postgres_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{PostgresURL(postgres_url)}: new state, schema version 2\n"
    again = run(project, "migrate", "--state", postgres_url)
    assert again.stdout == f"{PostgresURL(postgres_url)}: schema version 2, up to date\n"


def test_one_site_per_schema(postgres_url: str, postgres_server: PostgresServer) -> None:
    with postgres_server.schema() as other:
        with opened(postgres_url) as a, a.transaction():
            a.set_meta("id_prefix", "a")
        assert schema_version(PostgresURL(other)) is None
        with opened(other) as b, b.transaction():
            assert b.get_meta("id_prefix") is None
            b.set_meta("id_prefix", "b")
        with opened(postgres_url) as a, a.snapshot():
            assert a.get_meta("id_prefix") == "a"


# --- connections and passwords ------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "postgresql://u:secret@127.0.0.1:1/x",
    "postgresql://u@127.0.0.1:1/x?password=secret",
    "postgresql://u:secret%2Fx@127.0.0.1:1/x",
])
def test_an_unreachable_server_is_one_error_line_exit_5_without_the_password(
    project: Path, url: str,
) -> None:
    for command in (("build",), ("check",), ("migrate",), ("sources",), ("pull",)):
        done = run(project, *command, "--state", url)
        assert done.returncode == 5, (command, done.stderr)
        assert done.stderr.startswith("error: postgresql://u")
        assert done.stderr.count("\n") == 1, done.stderr
        assert "cannot reach the state database" in done.stderr
        assert "secret" not in done.stderr and "secret" not in done.stdout


def test_a_url_libpq_cannot_read_is_exit_2_without_the_password(project: Path) -> None:
    done = run(project, "build", "--state", "postgresql://u:sec ret@127.0.0.1:1/x")
    assert done.returncode == 2, done.stderr
    assert "not a PostgreSQL URL that libpq accepts" in done.stderr
    assert "sec ret" not in done.stderr and "sec%20ret" not in done.stderr


def test_a_daemons_pool_keeps_passwords_out_of_the_log(caplog: pytest.LogCaptureFixture,
                                                       ) -> None:
    pool: Any = connection_pool(PostgresURL("postgresql://u:secret@127.0.0.1:1/x"), size=1)
    try:
        with caplog.at_level(logging.INFO, logger="psycopg"):
            logging.getLogger("psycopg.pool").warning("error connecting: %s",
                                                      "postgresql://u:secret@127.0.0.1:1/x")
            logging.getLogger("psycopg").warning("password=secret in a conninfo")
            with pytest.raises(StoreError) as down:
                open_store(PostgresURL("postgresql://u:secret@127.0.0.1:1/x"), pool=pool, wait=1)
    finally:
        pool.close()
    assert down.value.where == "postgresql://u:***@127.0.0.1:1/x"
    assert "no connection within 1s" in down.value.message
    assert len(caplog.records) >= 2 and "secret" not in caplog.text


def test_passwords_are_scrubbed_from_every_message() -> None:
    url = PostgresURL("postgresql://u:p%40ss@h/x?password=other")
    assert pg.redacted(url) == "postgresql://u:***@h/x?password=***"
    said = pg._message(RuntimeError('bad "p@ss" or other, user=u password=p@ss'), url)
    assert "p@ss" not in said and "other" not in said


@pytest.fixture
def password_role(postgres_control: PostgresServer) -> Iterator[str]:
    """A role that must give its password (scram) on this server: its name."""
    assert postgres_control.data_dir is not None
    hba = postgres_control.data_dir / "pg_hba.conf"
    original = hba.read_text()
    with postgres_control.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS feeds_pw")
        conn.execute("CREATE ROLE feeds_pw LOGIN PASSWORD 's3cret-pw'")
        conn.execute("GRANT CREATE ON DATABASE postgres TO feeds_pw")
        hba.write_text("host all feeds_pw 127.0.0.1/32 scram-sha-256\n" + original)
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield "feeds_pw"
    finally:
        hba.write_text(original)
        with postgres_control.connect() as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("DROP SCHEMA IF EXISTS feeds_pw CASCADE")
            conn.execute("REVOKE CREATE ON DATABASE postgres FROM feeds_pw")
            conn.execute("DROP ROLE IF EXISTS feeds_pw")


def test_the_password_can_come_from_pgpassword_or_pgpass_never_the_url(
    project: Path, password_role: str, postgres_control: PostgresServer, tmp_path: Path,
) -> None:
    with postgres_control.connect() as conn:
        conn.execute("CREATE SCHEMA feeds_pw AUTHORIZATION feeds_pw")
    url = (f"postgresql://{password_role}@127.0.0.1:{postgres_control.port}/postgres"
           "?options=-csearch_path%3Dfeeds_pw")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    refused = run(project, "migrate", "--state", url, env={**env, "PGPASSWORD": "wrong"})
    assert refused.returncode == 5 and "password authentication failed" in refused.stderr
    assert "wrong" not in refused.stderr
    done = run(project, "migrate", "--state", url, env={**env, "PGPASSWORD": "s3cret-pw"})
    assert done.returncode == 0, done.stderr
    assert "new state, schema version 2" in done.stdout
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_control.port}:postgres:feeds_pw:s3cret-pw\n")
    pgpass.chmod(0o600)
    again = run(project, "migrate", "--state", url, env={**env, "PGPASSFILE": str(pgpass)})
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr


# --- a daemon's pool, and a server that goes away -----------------------------------------------


def test_a_daemons_pool_sets_its_session_limits_and_survives_a_restart(
    postgres_control: PostgresServer,
) -> None:
    with postgres_control.schema() as url:
        location = PostgresURL(url)
        pool: Any = connection_pool(location, size=2)
        try:
            with opened(url, pool=pool) as store, store.transaction():
                store.set_meta("k", "1")
                conn = store.conn  # type: ignore[attr-defined]
                settings = conn.execute(
                    "SELECT current_setting('statement_timeout'), "
                    "current_setting('idle_in_transaction_session_timeout'), "
                    "current_setting('application_name')").fetchone()
                assert settings == ("5min", "10min", "feeds")
            postgres_control.stop()
            with pytest.raises(StoreError) as down:
                open_store(location, pool=pool, wait=1)
            assert "cannot reach the state database" in down.value.message
            postgres_control.start()
            with opened(url, pool=pool, wait=30) as store, store.snapshot():
                assert store.get_meta("k") == "1"  # the broken connection was replaced
        finally:
            pool.close()


def test_a_daemon_starts_while_the_server_is_down(postgres_control: PostgresServer) -> None:
    with postgres_control.schema() as url:
        postgres_control.stop()
        try:
            pool: Any = connection_pool(PostgresURL(url), size=2)  # does not fail
        finally:
            postgres_control.start()
        try:
            with opened(url, pool=pool, wait=30) as store, store.transaction():
                store.set_meta("up", "1")
        finally:
            pool.close()


def test_a_connection_lost_mid_use_is_a_store_error(postgres_control: PostgresServer) -> None:
    with postgres_control.schema() as url, opened(url) as store:
        postgres_control.stop()
        try:
            with pytest.raises(StoreError) as lost, store.transaction():
                store.set_meta("k", "1")
            assert lost.value.exit_status == 5, lost.value
            assert "lost the connection to the state database" in lost.value.message, lost.value
        finally:
            postgres_control.start()

