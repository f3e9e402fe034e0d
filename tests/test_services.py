"""The test servers themselves (tests/services.py): PostgreSQL and moto's S3, on 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import services
from tests.services import MotoServer, PostgresServer, S3Bucket

ROOT = Path(__file__).resolve().parent.parent


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


# -- PostgreSQL --------------------------------------------------------------------------------


def test_postgres_accepts_connections(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
        version = conn.execute("SHOW server_version_num").fetchone()
        assert version is not None and int(version[0]) >= 130000  # DROP DATABASE … WITH (FORCE)
        if postgres_server.bin_dir is not None:  # our own cluster: loopback, tuned for speed
            assert conn.execute("SELECT host(inet_server_addr())").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
            assert conn.execute("SHOW port").fetchone() == (str(postgres_server.port),)
    if postgres_server.bin_dir is not None:
        assert urlsplit(postgres_server.url).hostname == "127.0.0.1"
        assert postgres_server.data_dir is not None
        assert (postgres_server.data_dir / "PG_VERSION").exists()
        if os.geteuid() == 0:  # PostgreSQL refuses root: the cluster belongs to nobody
            assert postgres_server.data_dir.stat().st_uid == postgres_server.run_as.pw_uid  # type: ignore[union-attr]


def test_postgres_url_is_a_fresh_empty_schema(
    postgres_server: PostgresServer, postgres_url: str,
) -> None:
    with postgres_server.connect(postgres_url) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        assert row is not None and row[0].startswith("test_")
        schema = row[0]
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,),
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE made_here (id int)")  # lands in the test's schema
        assert conn.execute("SELECT to_regclass(%s)", (f"{schema}.made_here",)).fetchone() != (
            None,
        )


def test_two_schemas_do_not_see_each_other(
    postgres_server: PostgresServer, postgres_url: str,
) -> None:
    import psycopg

    with postgres_server.schema() as other_url, postgres_server.connect(postgres_url) as a, \
            postgres_server.connect(other_url) as b:
        assert a.execute("SELECT current_schema()").fetchone() != (
            b.execute("SELECT current_schema()").fetchone()
        )
        a.execute("CREATE TABLE articles (slug text PRIMARY KEY)")
        a.execute("INSERT INTO articles VALUES ('in-a')")
        assert b.execute("SELECT to_regclass('articles')").fetchone() == (None,)
        with pytest.raises(psycopg.errors.UndefinedTable):
            b.execute("SELECT * FROM articles")
        b.execute("CREATE TABLE articles (slug text PRIMARY KEY)")  # same name, no clash
        b.execute("INSERT INTO articles VALUES ('in-b')")
        assert a.execute("SELECT slug FROM articles").fetchall() == [("in-a",)]
        assert b.execute("SELECT slug FROM articles").fetchall() == [("in-b",)]
        other = b.execute("SELECT current_schema()").fetchone()
    # the block's schema is dropped as the block ends, with its table
    with postgres_server.connect() as admin:
        assert admin.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", other,
        ).fetchone() == (0,)


def test_a_schema_is_dropped_even_when_a_connection_holds_locks_in_it(
    postgres_server: PostgresServer,
) -> None:
    import psycopg

    with postgres_server.schema() as url:
        leaked = postgres_server.connect(url)
        leaked.execute("CREATE TABLE held (id int)")
        leaked.autocommit = False
        leaked.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")  # open transaction, lock held
        schema = leaked.execute("SELECT current_schema()").fetchone()
    try:
        with postgres_server.connect() as admin:
            assert admin.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", schema,
            ).fetchone() == (0,)
        with pytest.raises(psycopg.OperationalError):  # it was terminated
            leaked.execute("SELECT 1")
    finally:
        leaked.close()


def test_postgres_database_url_is_a_fresh_database(
    postgres_server: PostgresServer, postgres_database_url: str,
) -> None:
    with postgres_server.connect(postgres_database_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None and name[0].startswith("test_")
        assert conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
        ).fetchone() == (0,)
    # a database of its own: the other fixture's next database is another one, dropped at the end
    # even with a connection still open (DROP DATABASE … WITH (FORCE))
    with postgres_server.database() as url:
        left_open = postgres_server.connect(url)
        other = left_open.execute("SELECT current_database()").fetchone()
        assert other != name
    try:
        with postgres_server.connect() as admin:
            assert admin.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", other,
            ).fetchone() == (0,)
    finally:
        left_open.close()


def test_skip_locked_skips_the_row_another_connection_holds(
    postgres_server: PostgresServer, postgres_url: str,
) -> None:
    import psycopg

    claim = "SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    with postgres_server.connect(postgres_url) as setup:
        setup.execute("CREATE TABLE jobs (id int PRIMARY KEY)")
        setup.execute("INSERT INTO jobs SELECT generate_series(1, 3)")
    with psycopg.connect(postgres_url) as one, psycopg.connect(postgres_url) as two:
        assert one.execute(claim).fetchone() == (1,)  # one's transaction holds row 1
        assert two.execute(claim).fetchone() == (2,)  # two skips it
        with pytest.raises(psycopg.errors.LockNotAvailable):
            two.execute("SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT")
        two.rollback()
        one.rollback()  # row 1 free again
        assert two.execute(claim).fetchone() == (1,)


def test_stop_and_start_keep_the_data(
    postgres_control: PostgresServer, postgres_url: str,
) -> None:
    import psycopg

    server = postgres_control
    with server.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE kept (word text)")
        conn.execute("INSERT INTO kept VALUES ('before the restart')")
    held = server.connect(postgres_url)
    server.stop()  # pg_ctl stop -m fast
    assert not server.running
    assert _refused(server.port)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_url, connect_timeout=2)
    with pytest.raises(psycopg.OperationalError):
        held.execute("SELECT 1")  # -m fast cut the open connection
    held.close()
    server.start()
    assert server.running
    with server.connect(postgres_url) as conn:
        assert conn.execute("SELECT word FROM kept").fetchall() == [("before the restart",)]
    assert "database system is ready to accept connections" in server.log_tail(200)


# -- S3 (moto) ---------------------------------------------------------------------------------


def test_s3_bucket_stores_content_type_and_cache_control(s3_bucket: S3Bucket) -> None:
    assert urlsplit(s3_bucket.endpoint_url).hostname == "127.0.0.1"
    s3 = s3_bucket.client()
    body = b'<?xml version="1.0"?><rss version="2.0"/>'
    s3.put_object(
        Bucket=s3_bucket.name, Key="world/rss.xml", Body=body,
        ContentType="application/rss+xml; charset=utf-8", CacheControl="max-age=300, public",
    )
    got = s3.get_object(Bucket=s3_bucket.name, Key="world/rss.xml")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/rss+xml; charset=utf-8"
    assert got["CacheControl"] == "max-age=300, public"
    head = s3.head_object(Bucket=s3_bucket.name, Key="world/rss.xml")
    assert head["ContentLength"] == len(body)
    assert head["CacheControl"] == "max-age=300, public"
    listed = s3.list_objects_v2(Bucket=s3_bucket.name)
    assert [o["Key"] for o in listed["Contents"]] == ["world/rss.xml"]


def test_s3_bucket_reads_no_real_aws_configuration(s3_bucket: S3Bucket) -> None:
    import boto3

    session = boto3.Session()
    credentials = session.get_credentials()
    assert credentials is not None and credentials.method == "env"
    assert credentials.access_key == s3_bucket.access_key_id
    assert session.region_name == s3_bucket.region
    for variable in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert Path(os.environ[variable]).read_text() == ""
    assert session.available_profiles == []
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"


def test_each_test_gets_a_fresh_bucket(s3_bucket: S3Bucket) -> None:
    s3 = s3_bucket.client()
    assert s3.list_objects_v2(Bucket=s3_bucket.name)["KeyCount"] == 0
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [s3_bucket.name]


def test_count_requests_counts_exactly_the_requests_of_the_block(s3_bucket: S3Bucket) -> None:
    s3 = s3_bucket.client()
    with s3_bucket.count_requests() as nothing:
        pass
    assert nothing.count == 0
    with s3_bucket.count_requests() as seen:
        for n in range(3):
            s3.put_object(Bucket=s3_bucket.name, Key=f"a/{n}.json", Body=b"{}")
    assert seen.count == 3
    assert [r.method for r in seen.requests] == ["PUT"] * 3
    assert [r.path.split("?")[0] for r in seen.requests] == [
        f"/{s3_bucket.name}/a/{n}.json" for n in range(3)
    ]
    # any HTTP client counts (here a presigned GET); moto's housekeeping (/moto-api/) does not
    url = s3.generate_presigned_url("get_object", Params={"Bucket": s3_bucket.name,
                                                          "Key": "a/0.json"})
    with s3_bucket.count_requests() as raw:
        with urllib.request.urlopen(url) as got:
            assert got.read() == b"{}"
        with urllib.request.urlopen(f"{s3_bucket.endpoint_url}/moto-api/data.json") as got:
            got.read()
    assert [(r.method, r.path.split("?")[0]) for r in raw.requests] == [
        ("GET", f"/{s3_bucket.name}/a/0.json"),
    ]
    assert seen.count == 3  # a closed block counts no more


def test_stoppable_server_refuses_connections_when_stopped(stoppable_s3_bucket: S3Bucket) -> None:
    import botocore.exceptions

    bucket = stoppable_s3_bucket
    server: MotoServer = bucket.server
    s3 = bucket.client(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2,
                       read_timeout=5)
    s3.put_object(Bucket=bucket.name, Key="before", Body=b"1")  # the client now pools a connection
    server.stop()
    assert not server.running
    assert _refused(server.port)
    with pytest.raises((botocore.exceptions.EndpointConnectionError,
                        botocore.exceptions.ConnectionClosedError)):
        s3.put_object(Bucket=bucket.name, Key="during", Body=b"2")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):  # a fresh connection too
        bucket.client(retries={"max_attempts": 1}).head_bucket(Bucket=bucket.name)
    server.start()
    assert not _refused(server.port)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket.name)["Contents"]]
    assert keys == ["before"]  # what was stored survives the outage; the failed put left nothing


# -- skip or fail ------------------------------------------------------------------------------


def test_postgres_binaries_are_found_on_path_or_newest_first(tmp_path: Path) -> None:
    for version in ("9.6", "13", "16"):
        folder = tmp_path / "lib" / version / "bin"
        folder.mkdir(parents=True)
        for name in ("initdb", "pg_ctl", "postgres"):
            (folder / name).write_text("#!/bin/sh\n")
            (folder / name).chmod(0o755)
    (tmp_path / "lib" / "17" / "bin").mkdir(parents=True)  # no binaries: not a candidate
    empty = tmp_path / "empty"
    empty.mkdir()
    assert services.find_postgres_bin(str(empty), tmp_path / "lib") == tmp_path / "lib/16/bin"
    on_path = str(tmp_path / "lib" / "13" / "bin")
    assert services.find_postgres_bin(on_path, tmp_path / "lib") == tmp_path / "lib/13/bin"
    assert services.find_postgres_bin(str(empty), empty) is None


def _run_inner_suite(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    """A small suite whose fixture finds no server, run by a pytest of its own."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        import pytest

        pytest_plugins = ["tests.services"]

        @pytest.fixture(scope="session")
        def demo_server():
            from tests import services

            services.unavailable("demo", "no demo server here")
    """))
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        def test_one(demo_server): pass
        def test_two(demo_server): pass
        def test_without_the_server(): pass
    """))
    env = {k: v for k, v in os.environ.items() if k not in (services.REQUIRE_ENV, "CI")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # no hypothesis, no cov: a second's start-up less
    if require:
        env[services.REQUIRE_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "-W", "error",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_missing_service_skips_loudly(tmp_path: Path) -> None:
    run = _run_inner_suite(tmp_path, require=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 2 skipped" in run.stdout
    assert "SERVICE UNAVAILABLE [demo]: no demo server here" in run.stdout
    assert "SERVICES UNAVAILABLE" in run.stdout
    assert "demo: 2 test(s) SKIPPED: no demo server here" in run.stdout


def test_a_missing_service_fails_when_services_are_required(tmp_path: Path) -> None:
    run = _run_inner_suite(tmp_path, require=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed, 2 errors" in run.stdout
    assert "demo: 2 test(s) failed: no demo server here" in run.stdout
