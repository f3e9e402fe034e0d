"""Builds on worker processes (which also write the pages) publish exactly what one process does."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from feeds.errors import OutputError
from feeds.publish import Parallelism
from tests import faults
from tests.helpers import ARTICLE, NOW, WRITTEN, build, files, write_article

ONE_PROCESS = Parallelism(from_articles=10**9, from_feeds=10**9)
WORKERS = Parallelism(from_articles=1)

HEADER = "---\nid: {key}\ndate: 2026-02-0{day}T09:00:00+07:00\ntags: [Riset, Beasiswa]\n---\n"


def _state(project: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(project / "state" / "feeds.sqlite") as db:
        return db.execute("SELECT key, origin, hash, first_seen, published, updated, live, data "
                          "FROM entries ORDER BY key").fetchall()


def _numbered(project: Path, count: int) -> None:
    for i in range(count):
        write_article(project, f"p/{i:02}.txt", ARTICLE.replace("Awal", f"Nomor {i}"))


def _leftovers(project: Path) -> list[str]:
    """Temp files, or a staging folder, left in the output."""
    out = project / "output"
    return [p.name for p in out.rglob("*") if p.name.endswith(".feeds-tmp")
            or p.name == ".feeds-staging"]


def _step_cold(project: Path) -> None:
    _numbered(project, 30)  # one mtime second for all: first-seen seconds are handed out
    for i in range(6):
        write_article(project, f"h/{i}.txt",
                      HEADER.format(key=f"hdr-{i}", day=i % 9 + 1) + ARTICLE)
    write_article(project, "h/kembar.txt", HEADER.format(key="hdr-1", day=3) + ARTICLE,
                  WRITTEN + timedelta(hours=1))  # claims an id another file owns
    write_article(project, "p/rusak.txt", "Kampus\n")
    write_article(project, "p/draf.txt", "---\ndraft: true\n---\n" + ARTICLE)
    write_article(project, "p/nanti.txt", "---\ndate: 2026-05-01\n---\n" + ARTICLE)


def _step_edit(project: Path) -> None:
    later = WRITTEN + timedelta(days=1)
    for i in range(0, 30, 6):  # text edits: new `updated`, page rendered again in the main process
        write_article(project, f"p/{i:02}.txt", ARTICLE.replace("Awal", f"Baru {i}"), later)
    for i in range(1, 30, 6):  # touched only: same hash, the worker's page is not kept
        os.utime(project / "seeds" / f"p/{i:02}.txt", (later.timestamp(),) * 2)
    write_article(project, "h/0.txt", "Kampus\n", later)  # broken: its last good version stays
    # Same text and time in a new file (a new inode), its page gone: the entry is unchanged, and
    # the page the worker staged for it must not be left behind.
    copy = project / "seeds" / "h/2.txt"
    data, stamp = copy.read_bytes(), copy.stat().st_mtime
    copy.unlink()
    copy.write_bytes(data)
    os.utime(copy, (stamp, stamp))
    (project / "output" / "articles" / "hdr-2.html").unlink()
    (project / "seeds" / "p/03.txt").unlink()
    write_article(project, "p/draf.txt", ARTICLE.replace("Awal", "Tidak lagi draf"), later)


def _step_full(project: Path) -> None:
    """Nothing changes on disk: a full build re-renders every page and finds them current."""


STEPS = [(_step_cold, {}), (_step_edit, {}), (_step_full, {"full": True}),
         (_step_full, {"reread": True})]


def test_worker_builds_publish_what_one_process_does(project: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(project, twin, ignore=shutil.ignore_patterns("twin"))
    for day, (step, options) in enumerate(STEPS):
        now = NOW + timedelta(days=day)
        step(project)
        step(twin)
        serial = build(project, now, parallel=ONE_PROCESS, **options)
        parallel = build(twin, now, parallel=WORKERS, **options)
        assert files(twin / "output") == files(project / "output"), step.__name__
        assert _state(twin) == _state(project), step.__name__
        assert [str(d) for d in parallel.diagnostics] == [str(d) for d in serial.diagnostics]
        assert parallel.changed == serial.changed, step.__name__
        assert _leftovers(twin) == [], step.__name__
    assert any("already used by" in str(d) for d in serial.diagnostics)


def test_a_failed_worker_build_leaves_no_staged_page(project: Path) -> None:
    _numbered(project, 12)
    full = OutputError("output/index.html", "No space left on device")
    with pytest.raises(OutputError):  # the feeds fail after the workers staged every page
        build(project, parallel=WORKERS, wrap_output=faults.failing("stage", 1, full))
    assert _leftovers(project) == []
    assert not (project / "output" / "articles").exists() or not any(
        (project / "output" / "articles").iterdir())


def test_results_not_yet_adopted_when_a_worker_build_fails_leave_no_staged_page(
    project: Path,
) -> None:
    _numbered(project, 60)
    # The workers have staged pages the main process never takes.
    broken = faults.failing("put_entry", 10, RuntimeError("the state failed mid-build"))
    with pytest.raises(RuntimeError):
        build(project, parallel=WORKERS, wrap_store=broken)
    assert _leftovers(project) == []


def test_a_feed_failing_on_a_worker_fails_the_build_and_leaves_no_staged_file(
    project: Path,
) -> None:
    for i in range(WORKERS.from_feeds):  # enough feeds to render them on workers
        write_article(project, f"t/{i:02}.txt",
                      f"---\ntags: [Topik {i}]\n---\n" + ARTICLE.replace("Awal", f"N {i}"))
    write_article(project, "t/rusak.txt", "---\ntags: [Rusak]\n---\n" + ARTICLE)
    with pytest.raises(RuntimeError, match="rendering the feed failed"):
        build(project, parallel=Parallelism(setup=faults.broken_tag_feed))
    assert _leftovers(project) == []
    assert not (project / "output" / "rss.xml").exists()  # nothing of the failed build shows


def test_a_write_error_on_a_worker_fails_the_build_and_the_next_build_retries(
    project: Path,
) -> None:
    write_article(project, "p/x.txt", ARTICLE.replace("Awal", "Penuh"))
    with pytest.raises(OSError, match="No space left"):  # not blamed on the article:
        build(project, parallel=Parallelism(from_articles=1,  # nothing is recorded
                                            setup=faults.disk_full_for_pages))
    result = build(project, NOW + timedelta(minutes=5), parallel=WORKERS)
    assert result.errors == 0 and result.articles_read >= 1
    assert (project / "output" / "articles" / "x.html").is_file()
    assert _leftovers(project) == []


@pytest.mark.parametrize("parallel", [ONE_PROCESS, WORKERS], ids=["one-process", "workers"])
def test_an_id_given_up_and_taken_in_one_build_keeps_its_page(
    project: Path, parallel: Parallelism
) -> None:
    write_article(project, "a.txt", "---\nid: berita\n---\n" + ARTICLE, WRITTEN)
    build(project, parallel=parallel)
    # a.txt takes a new id (its old page is removed), and b.txt takes the id it gave up
    # (its page is written at the same path): the removal must not win at commit.
    write_article(project, "a.txt", "---\nid: berita-lama\n---\n" + ARTICLE,
                  WRITTEN + timedelta(days=1))
    write_article(project, "b.txt", "---\nid: berita\n---\n" + ARTICLE.replace("Awal", "Baru"),
                  WRITTEN + timedelta(days=2))
    result = build(project, NOW + timedelta(hours=1), parallel=parallel)
    assert result.errors == 0
    page = project / "output" / "articles" / "berita.html"
    assert page.is_file() and "Judul Baru Artikel" in page.read_text(encoding="utf-8")
    assert (project / "output" / "articles" / "berita-lama.html").is_file()
