"""An s3:// output, against moto's S3 on loopback (tests/services.py): the acceptance lines.

Builds run the real `feeds` CLI in a subprocess, as a user does, with the
dummy AWS environment of the fixture, `--output s3://BUCKET/site/` and
`[s3] endpoint_url` = moto's. A local build of the same input at the same
clock (SOURCE_DATE_EPOCH) is the reference: the bucket must hold exactly its
files and bytes, minus the .gz/.br variants, plus the folder keys. Requests
are counted at moto's server (`bucket.count_requests()`).
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import brotli
import pytest

from feeds import config, publish
from feeds.config import S3URL, PostgresURL, S3Config
from feeds.errors import LeaseLost, OutputError
from feeds.output import Staged, open_output
from feeds.output.folder import FolderOutput
from feeds.output.s3 import PAGE_CACHE, SHORT_CACHE, S3Output
from feeds.store import open_store
from tests.helpers import NOW, WRITTEN, write_article
from tests.services import RequestLog, S3Bucket

FEEDS = Path(sys.executable).parent / "feeds"
CLOCK = int(NOW.timestamp())
PREFIX = "site/"
ARTICLES = {
    "wisuda.txt": "---\nid: wisuda\ntags: [wisuda, rektor]\n---\nKampus\nWisuda Periode Maret\n\n"
                  "Semarang (usmnews) – Seribu wisudawan dilepas rektor hari ini.\n",
    "pasar.txt": "---\nid: pasar\ntags: [pasar]\n---\nEkonomi\nHarga Beras Turun\n\n"
                 "Semarang (usmnews) – Harga beras di pasar tradisional turun.\n",
    "perpisahan.txt": "---\nid: perpisahan\ntags: [perpisahan, rektor]\n---\nKampus\n"
                      "Rektor Berpamitan\n\nSemarang (usmnews) – Rektor berpamitan kepada "
                      "sivitas akademika.\n",
    "liga.txt": "---\nid: liga\n---\nOlahraga\nTim Kampus Juara Liga\n\n"
                "Semarang (usmnews) – Tim futsal kampus menjuarai liga mahasiswa.\n",
}


# --- helpers ----------------------------------------------------------------------------------


def make_project(folder: Path, source: Path) -> Path:
    """A copy of the `project` fixture's config and seeds (mtimes kept), with the articles."""
    shutil.copytree(source / "config", folder / "config")
    shutil.copytree(source / "seeds", folder / "seeds")
    for name, text in ARTICLES.items():
        write_article(folder, name, text)
    return folder


def use_bucket(project: Path, bucket: S3Bucket, **settings: object) -> None:
    lines = [f'endpoint_url = "{bucket.endpoint_url}"']
    for key, value in settings.items():
        lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    with (project / "config" / "feeds.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n[s3]\n" + "\n".join(lines) + "\n")


def feeds(project: Path, *args: str, clock: int = CLOCK) -> subprocess.CompletedProcess[str]:
    """`feeds ARGS` as a user runs it; the fixture's AWS environment goes with it."""
    return subprocess.run([str(FEEDS), *args], cwd=project, capture_output=True, text=True,
                          timeout=300, check=False,
                          env={**os.environ, "SOURCE_DATE_EPOCH": str(clock)})


def s3_build(project: Path, bucket: S3Bucket, *args: str,
             clock: int = CLOCK) -> subprocess.CompletedProcess[str]:
    return feeds(project, "build", "--output", f"s3://{bucket.name}/{PREFIX}", *args,
                 clock=clock)


def built(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def contents(bucket: S3Bucket) -> dict[str, bytes]:
    client = bucket.client()
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket.name) for item in page.get("Contents", [])]
    return {key: client.get_object(Bucket=bucket.name, Key=key)["Body"].read() for key in keys}


def head(bucket: S3Bucket, key: str) -> dict[str, Any]:
    answer: dict[str, Any] = bucket.client().head_object(Bucket=bucket.name, Key=key)
    return answer


def local_files(output: Path) -> dict[str, bytes]:
    return {p.relative_to(output).as_posix(): p.read_bytes()
            for p in sorted(output.rglob("*")) if p.is_file()}


def expected_objects(files: dict[str, bytes]) -> dict[str, bytes]:
    """What the bucket holds for a local build's files: no .gz/.br, folder keys added."""
    objects = {PREFIX + name: data for name, data in files.items()
               if not name.endswith((".gz", ".br"))}
    for name, data in files.items():
        if name == "index.html" or name.endswith("/index.html"):
            objects[PREFIX + name.removesuffix("index.html")] = data
    return objects


def sent(seen: RequestLog, method: str) -> list[str]:
    """The object keys of the requests of one method, in the order moto received them."""
    keys = []
    for request in seen.requests:
        if request.method == method:
            path = unquote(urlsplit(request.path).path)
            keys.append(path.split("/", 2)[2])  # /BUCKET/KEY (path-style addressing)
    return keys


def manifest(project: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project / "state" / "feeds.sqlite") as db:
        return db.execute("SELECT key, hash, size, type FROM manifest ORDER BY key").fetchall()


def state_dump(project: Path) -> list[str]:
    db = sqlite3.connect(project / "state" / "feeds.sqlite")
    try:
        return list(db.iterdump())
    finally:
        db.close()


@pytest.fixture
def site(project: Path, tmp_path: Path) -> Path:
    return make_project(tmp_path / "site", project)


@pytest.fixture
def twin(project: Path, tmp_path: Path) -> Path:
    """The same input, built into a local folder: the reference."""
    return make_project(tmp_path / "twin", project)


# --- the acceptance lines -----------------------------------------------------------------------


def test_the_bucket_holds_a_local_builds_bytes_without_variants_plus_folder_keys(
        site: Path, twin: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    built(feeds(twin, "build"))
    local = local_files(twin / "output")
    assert any(name.endswith(".gz") for name in local)  # the folder has variants; the bucket not
    stored = contents(s3_bucket)
    assert stored == expected_objects(local)
    assert {PREFIX, f"{PREFIX}kampus/", f"{PREFIX}tags/rektor/"} <= set(stored)
    assert stored[PREFIX] == local["index.html"]
    assert [row[0] for row in manifest(site)] == sorted(stored)  # the state lists them all


@pytest.mark.parametrize(("key", "content_type", "cache"), [
    ("rss.xml", "application/rss+xml; charset=utf-8", SHORT_CACHE),
    ("atom.xml", "application/atom+xml; charset=utf-8", SHORT_CACHE),
    ("feed.json", "application/feed+json; charset=utf-8", SHORT_CACHE),
    ("kampus/rss.xml", "application/rss+xml; charset=utf-8", SHORT_CACHE),
    ("tags/rektor/feed.json", "application/feed+json; charset=utf-8", SHORT_CACHE),
    ("kampus/index.html", "text/html; charset=utf-8", SHORT_CACHE),
    ("kampus/", "text/html; charset=utf-8", SHORT_CACHE),
    ("index.html", "text/html; charset=utf-8", SHORT_CACHE),
    ("", "text/html; charset=utf-8", SHORT_CACHE),
    ("feeds.opml", "text/x-opml; charset=utf-8", SHORT_CACHE),
    ("articles/wisuda.html", "text/html; charset=utf-8", PAGE_CACHE),
])
def test_each_kind_of_object_has_its_content_type_and_cache_control(
        site: Path, s3_bucket: S3Bucket, key: str, content_type: str, cache: str) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    answer = head(s3_bucket, PREFIX + key)
    assert answer["ContentType"] == content_type
    assert answer["CacheControl"] == cache
    assert "ContentEncoding" not in answer  # plain objects: S3 does not negotiate encodings


def test_a_no_op_build_sends_no_request_at_all(site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    with s3_bucket.count_requests() as seen:
        again = s3_build(site, s3_bucket)
        later = s3_build(site, s3_bucket, clock=CLOCK + 3600)
    built(again)
    built(later)
    assert "0 file(s) changed" in again.stdout and "0 file(s) changed" in later.stdout
    assert seen.count == 0, seen.requests


def test_one_changed_article_uploads_only_the_objects_whose_bytes_changed(
        site: Path, twin: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    built(feeds(twin, "build"))
    before = local_files(twin / "output")
    edit = ARTICLES["pasar.txt"].replace("turun.", "turun tajam pekan ini.")
    for project in (site, twin):
        write_article(project, "pasar.txt", edit)
    with s3_bucket.count_requests() as seen:
        built(s3_build(site, s3_bucket, clock=CLOCK + 600))
    built(feeds(twin, "build", clock=CLOCK + 600))
    after = local_files(twin / "output")
    changed = {name: data for name, data in after.items() if before.get(name) != data}
    assert "articles/pasar.html" in changed and "kampus/rss.xml" not in changed
    puts = sent(seen, "PUT")
    assert sorted(puts) == sorted(expected_objects(changed))  # each once, nothing else
    assert seen.count == len(puts)  # no listing, no HEAD: the manifest knows
    assert contents(s3_bucket) == expected_objects(after)


def test_a_failed_upload_leaves_the_state_as_it_was_and_exits_5(
        site: Path, stoppable_s3_bucket: S3Bucket) -> None:
    bucket = stoppable_s3_bucket
    use_bucket(site, bucket)
    built(s3_build(site, bucket))
    write_article(site, "liga.txt", ARTICLES["liga.txt"].replace("futsal", "bola basket"))
    rows, dump = manifest(site), state_dump(site)
    bucket.server.stop()
    failed = s3_build(site, bucket, clock=CLOCK + 600)
    assert failed.returncode == 5, failed.stdout + failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"s3://{bucket.name}/{PREFIX}" in errors[0], failed.stderr
    assert "Traceback" not in failed.stderr
    assert manifest(site) == rows
    assert state_dump(site) == dump  # the whole state, not only the manifest
    bucket.server.start()
    with bucket.count_requests() as seen:
        built(s3_build(site, bucket, clock=CLOCK + 600))  # the next build does the work
    assert f"{PREFIX}articles/liga.html" in sent(seen, "PUT")
    assert b"basket" in contents(bucket)[f"{PREFIX}articles/liga.html"]


# --- variants, --full, removals -------------------------------------------------------------


def test_precompressed_uploads_gz_and_br_with_their_content_encoding(
        site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket, precompressed=True)
    built(s3_build(site, s3_bucket))
    stored = contents(s3_bucket)
    for name in ("rss.xml", "kampus/atom.xml", "kampus/index.html", "index.html",
                 "feeds.opml"):
        plain = stored[PREFIX + name]
        assert gzip.decompress(stored[PREFIX + name + ".gz"]) == plain
        assert brotli.decompress(stored[PREFIX + name + ".br"]) == plain
        for suffix, encoding in ((".gz", "gzip"), (".br", "br")):
            answer = head(s3_bucket, PREFIX + name + suffix)
            assert answer["ContentEncoding"] == encoding
            assert answer["ContentType"] == head(s3_bucket, PREFIX + name)["ContentType"]
    assert f"{PREFIX}articles/wisuda.html.gz" not in stored  # pages stay plain
    assert f"{PREFIX}kampus/.gz" not in stored  # and so do folder keys


def test_turning_precompressed_off_deletes_the_variants(site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket, precompressed=True)
    built(s3_build(site, s3_bucket))
    toml = site / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace("precompressed = true", "precompressed = false"))
    with s3_bucket.count_requests() as seen:
        built(s3_build(site, s3_bucket))
    assert sent(seen, "PUT") == []  # the plain objects are current
    stored = contents(s3_bucket)
    assert stored and not [key for key in stored if key.endswith((".gz", ".br"))]
    assert not [row for row in manifest(site) if row[0].endswith((".gz", ".br"))]


def test_full_uploads_again_what_is_missing_or_of_another_size(
        site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    client = s3_bucket.client()
    page, folder, feed = (f"{PREFIX}articles/pasar.html", f"{PREFIX}ekonomi/",
                          f"{PREFIX}tags/pasar/rss.xml")
    good = contents(s3_bucket)
    client.delete_object(Bucket=s3_bucket.name, Key=page)
    client.delete_object(Bucket=s3_bucket.name, Key=folder)
    client.put_object(Bucket=s3_bucket.name, Key=feed, Body=b"truncated")
    with s3_bucket.count_requests() as seen:
        built(s3_build(site, s3_bucket))
    assert seen.count == 0  # without --full, the manifest is believed
    with s3_bucket.count_requests() as seen:
        full = s3_build(site, s3_bucket, "--full")
    built(full)
    assert [r.method for r in seen.requests].count("GET") == 1  # one listing
    assert sorted(sent(seen, "PUT")) == sorted([page, folder, feed])
    assert contents(s3_bucket) == good


def test_removals_come_last_after_the_files_that_linked_them(
        site: Path, twin: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    built(feeds(twin, "build"))
    for project in (site, twin):
        (project / "seeds" / "perpisahan.txt").unlink()
    with s3_bucket.count_requests() as seen:
        built(s3_build(site, s3_bucket, clock=CLOCK + 600))
    methods = [r.method for r in seen.requests]
    deletes = sent(seen, "DELETE")
    page = f"{PREFIX}articles/perpisahan.html"
    tag = f"{PREFIX}tags/perpisahan/"
    assert set(deletes) == {page, tag, *(tag + name for name in
                                         ("rss.xml", "atom.xml", "feed.json", "index.html"))}
    assert methods.index("DELETE") > max(i for i, m in enumerate(methods) if m == "PUT")
    assert deletes[-1] == page  # the tag's listing linked it: gone first
    puts = sent(seen, "PUT")
    assert {f"{PREFIX}kampus/rss.xml", f"{PREFIX}index.html", f"{PREFIX}feeds.opml"} <= set(puts)
    built(feeds(twin, "build", clock=CLOCK + 600))
    assert contents(s3_bucket) == expected_objects(local_files(twin / "output"))
    assert page not in [row[0] for row in manifest(site)]


def test_upload_order_pages_tags_and_about_then_sections_then_the_index(
        site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket, concurrency=4)
    with s3_bucket.count_requests() as seen:
        built(s3_build(site, s3_bucket))
    puts = sent(seen, "PUT")

    def phase(key: str) -> int:
        name = key.removeprefix(PREFIX)
        if name.startswith(("articles/", "tags/")) or name == "about.html":
            return 0  # about.html: every JSON Feed links it
        return 2 if name in ("index.html", "feeds.opml", "") else 1

    assert f"{PREFIX}about.html" in puts

    assert [phase(key) for key in puts] == sorted(phase(key) for key in puts)


# --- errors -------------------------------------------------------------------------------------


def test_no_credentials_is_one_clear_error_and_exit_5(
        site: Path, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    use_bucket(site, s3_bucket)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = s3_build(site, s3_bucket)
    assert result.returncode == 5
    assert "AWS_ACCESS_KEY_ID" in result.stderr and "Traceback" not in result.stderr
    assert manifest(site) == []


def test_a_missing_bucket_is_named_and_exits_5(site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    result = feeds(site, "build", "--output", "s3://no-such-bucket-here/")
    assert result.returncode == 5
    assert "error: s3://no-such-bucket-here/" in result.stderr
    assert "NoSuchBucket" in result.stderr and "Traceback" not in result.stderr


def test_moving_the_output_to_another_prefix_uploads_everything_there(
        site: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    built(s3_build(site, s3_bucket))
    first = contents(s3_bucket)
    built(feeds(site, "build", "--output", f"s3://{s3_bucket.name}/elsewhere/"))
    moved = {key.replace(PREFIX, "elsewhere/", 1): data for key, data in first.items()}
    assert contents(s3_bucket) == first | moved
    assert {row[0] for row in manifest(site)} == set(moved)


# --- the output object itself ---------------------------------------------------------------------


def s3_output(tmp_path: Path, bucket: S3Bucket, **settings: Any) -> S3Output:
    store = open_store(tmp_path / "state.sqlite", migrate=True)
    config = S3Config(endpoint_url=bucket.endpoint_url, **settings)
    output = open_output(S3URL(bucket.name, "p/"), store=store, s3=config)
    assert isinstance(output, S3Output)
    return output


def test_a_stager_pickles_into_another_process_and_stages_only_changes(
        tmp_path: Path, s3_bucket: S3Bucket) -> None:
    out = s3_output(tmp_path, s3_bucket)
    with out.store.transaction():
        out.stage("a/index.html", b"<p>one</p>", "listing")
        assert out.commit() == ["a/", "a/index.html"]
    with s3_bucket.count_requests() as seen, out.store.transaction():
        assert out.holds("a/index.html", b"<p>one</p>") and out.exists("a/")
        stager = pickle.loads(pickle.dumps(out.stager()))
        assert stager.stage("a/index.html", b"<p>one</p>", "listing") == []
        staged = stager.stage("b.html", b"<p>two</p>", "page")
        assert [item.relative for item in staged] == ["b.html"]
        out.adopt(staged)
        assert not out.exists("b.html")  # nothing visible before commit
        assert seen.count == 0
        assert out.commit() == ["b.html"]
    assert contents(s3_bucket)["p/b.html"] == b"<p>two</p>"
    out.store.close()


def test_staged_spool_files_are_named_by_the_sha256_of_their_bytes(
        tmp_path: Path, s3_bucket: S3Bucket) -> None:
    import hashlib

    out = s3_output(tmp_path, s3_bucket)
    staged = out.stager().stage("x.html", b"body", "page")
    assert staged == [Staged("x.html", staged[0].temp)]
    assert Path(staged[0].temp).name == hashlib.sha256(b"body").hexdigest()
    spool = Path(staged[0].temp).parent.parent
    out.discard()
    assert not spool.exists()  # the spool goes with the build
    out.store.close()


def test_a_lost_lease_stops_the_uploads_between_batches(
        tmp_path: Path, s3_bucket: S3Bucket) -> None:
    out = s3_output(tmp_path, s3_bucket, concurrency=1)  # batches of 8
    asked = 0

    def fence() -> None:
        nonlocal asked
        asked += 1
        if asked > 1:
            raise LeaseLost("build lease", "taken over")

    with s3_bucket.count_requests() as seen, pytest.raises(LeaseLost), out.store.transaction():
        for number in range(20):
            out.stage(f"articles/{number}.html", b"page %d" % number, "page")
        out.commit(fence)
    assert len(sent(seen, "PUT")) == 8  # the first batch; nothing after the fence said no
    assert out.store.manifest() == {}
    out.discard()
    out.store.close()


def test_after_a_stall_no_upload_starts_before_the_fence_is_asked_again(
        tmp_path: Path, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """A builder stopped in the middle of a batch (past its lease) must not go on with the
    batch when it resumes: here every pause counts as a stall."""
    from feeds.output import s3

    monkeypatch.setattr(s3, "STALL", 0.0)
    out = s3_output(tmp_path, s3_bucket, concurrency=1)
    asked: list[int] = []

    def fence() -> None:
        asked.append(len(asked))
        if len(asked) >= 5:  # the batch's question, then one before each upload
            raise LeaseLost("build lease", "taken over")

    with s3_bucket.count_requests() as seen, pytest.raises(LeaseLost), out.store.transaction():
        for number in range(8):
            out.stage(f"articles/{number}.html", b"page %d" % number, "page")
        out.commit(fence)
    assert len(sent(seen, "PUT")) == 3
    out.discard()
    out.store.close()


def test_an_unreachable_endpoint_is_an_output_error_naming_the_object(
        tmp_path: Path, stoppable_s3_bucket: S3Bucket) -> None:
    out = s3_output(tmp_path, stoppable_s3_bucket)
    stoppable_s3_bucket.server.stop()
    with pytest.raises(OutputError) as caught, out.store.transaction():
        out.stage("rss.xml", b"<rss/>", "feed")
        out.commit()
    assert caught.value.where == f"s3://{stoppable_s3_bucket.name}/p/rss.xml"
    assert "\n" not in caught.value.message
    out.discard()
    out.store.close()


WORKERS = publish.Parallelism(workers=2, from_articles=1, from_feeds=1)


def build_in_process(project: Path, bucket: S3Bucket | None, clock: int) -> None:
    """A build on worker processes (they stage through the output's stager)."""
    cfg, _ = config.load(project / "config" / "feeds.toml")
    store = open_store(cfg.paths.state, migrate=True)
    try:
        output = (FolderOutput(cfg.paths.output, durable=False) if bucket is None else
                  open_output(S3URL(bucket.name, PREFIX), store=store, s3=cfg.s3))
        now = NOW.fromtimestamp(clock, NOW.tzinfo)
        result = publish.build(cfg, store, now, output=output, parallel=WORKERS)
        assert result.errors == 0, result.diagnostics
    finally:
        store.close()


def test_worker_processes_stage_through_the_stager_what_one_process_would(
        site: Path, twin: Path, s3_bucket: S3Bucket) -> None:
    use_bucket(site, s3_bucket)
    for number in range(12):  # with tags of their own: feeds enough for the workers
        write_article(site, f"n/{number}.txt", f"---\ntags: [topik {number}]\n---\nNasional\n"
                      f"Berita Nomor {number}\n\nSemarang (usmnews) – Isi berita {number}.\n")
    shutil.rmtree(twin / "seeds")
    shutil.copytree(site / "seeds", twin / "seeds")
    build_in_process(site, s3_bucket, CLOCK)
    build_in_process(twin, None, CLOCK)
    before = local_files(twin / "output")
    assert contents(s3_bucket) == expected_objects(before)
    later = WRITTEN.timestamp() + 86400
    for project in (site, twin):
        path = project / "seeds" / "n" / "3.txt"
        path.write_text(path.read_text().replace("Isi berita", "Isi baru berita"))
        os.utime(path, (later, later))
    with s3_bucket.count_requests() as seen:
        build_in_process(site, s3_bucket, CLOCK + 600)
    build_in_process(twin, None, CLOCK + 600)
    after = local_files(twin / "output")
    changed = {name: data for name, data in after.items() if before.get(name) != data}
    assert sorted(sent(seen, "PUT")) == sorted(expected_objects(changed))
    assert contents(s3_bucket) == expected_objects(after)


def test_the_manifest_lives_in_a_postgresql_state_too(
        postgres_url: str, s3_bucket: S3Bucket) -> None:
    """Daemons on many hosts share a PostgreSQL state and build into one bucket."""
    store = open_store(PostgresURL(postgres_url), migrate=True)
    config = S3Config(endpoint_url=s3_bucket.endpoint_url)
    try:
        output = open_output(S3URL(s3_bucket.name, PREFIX), store=store, s3=config)
        with store.transaction():
            output.stage("kampus/index.html", b"<p>kampus</p>", "listing")
            output.stage("articles/a.html", b"<p>a</p>", "page")
            assert output.commit() == ["articles/a.html", "kampus/", "kampus/index.html"]
        again = open_output(S3URL(s3_bucket.name, PREFIX), store=store, s3=config)
        with s3_bucket.count_requests() as seen, store.transaction():
            assert again.exists("articles/a.html") and again.holds("kampus/", b"<p>kampus</p>")
            assert again.stage("articles/a.html", b"<p>a</p>", "page") is False
            assert again.remove("kampus/index.html")
            assert again.commit() == ["kampus/", "kampus/index.html"]
        assert sorted(sent(seen, "DELETE")) == [f"{PREFIX}kampus/", f"{PREFIX}kampus/index.html"]
        assert sent(seen, "PUT") == []
        assert set(store.manifest()) == {f"{PREFIX}articles/a.html"}
    finally:
        store.close()
