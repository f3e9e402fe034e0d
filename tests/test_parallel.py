"""Builds on worker processes (which also write the pages) publish exactly what one process does."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from feeds import publish
from tests import faults
from tests.test_build import ARTICLE, NOW, WRITTEN, build, write_article

HEADER = "---\nid: {key}\ndate: 2026-02-0{day}T09:00:00+07:00\ntags: [Riset, Beasiswa]\n---\n"


def _outputs(project: Path) -> dict[str, bytes]:
    out = project / "output"
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file()}


def _state(project: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(project / "state" / "feeds.sqlite") as db:
        return db.execute("SELECT key, origin, hash, first_seen, published, updated, live, data "
                          "FROM entries ORDER BY key").fetchall()


def _numbered(project: Path, count: int) -> None:
    for i in range(count):
        write_article(project, f"p/{i:02}.txt", ARTICLE.replace("Awal", f"Nomor {i}"))


def _leftovers(project: Path) -> list[str]:
    return [p.name for p in (project / "output").rglob("*.feeds-tmp")]


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


def test_worker_builds_publish_what_one_process_does(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(project, twin, ignore=shutil.ignore_patterns("twin"))
    for day, (step, options) in enumerate(STEPS):
        now = NOW + timedelta(days=day)
        step(project)
        step(twin)
        monkeypatch.setattr(publish, "PARALLEL_FROM", 10**9)
        serial = build(project, now, **options)
        monkeypatch.setattr(publish, "PARALLEL_FROM", 1)
        parallel = build(twin, now, **options)
        assert _outputs(twin) == _outputs(project), step.__name__
        assert _state(twin) == _state(project), step.__name__
        assert [str(d) for d in parallel.diagnostics] == [str(d) for d in serial.diagnostics]
        assert parallel.changed == serial.changed, step.__name__
        assert _leftovers(twin) == [], step.__name__
    assert any("already used by" in str(d) for d in serial.diagnostics)


def test_a_failed_worker_build_leaves_no_staged_page(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _numbered(project, 12)
    monkeypatch.setattr(publish, "PARALLEL_FROM", 1)

    def broken_feeds(self: object) -> None:
        raise RuntimeError("disk full while rendering the feeds")

    monkeypatch.setattr(publish._Run, "_write_feeds", broken_feeds)
    with pytest.raises(RuntimeError):
        build(project)
    assert _leftovers(project) == []
    assert not (project / "output" / "articles").exists() or not any(
        (project / "output" / "articles").iterdir())


def test_results_not_yet_adopted_when_a_worker_build_fails_leave_no_staged_page(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _numbered(project, 60)
    monkeypatch.setattr(publish, "PARALLEL_FROM", 1)
    real_accept = publish._Run._accept
    calls = 0

    def accept_then_fail(self: publish._Run, *args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:  # the workers have staged pages the main process never takes
            raise RuntimeError("the main process failed mid-build")
        real_accept(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(publish._Run, "_accept", accept_then_fail)
    with pytest.raises(RuntimeError):
        build(project)
    assert _leftovers(project) == []


def test_a_feed_failing_on_a_worker_fails_the_build_and_leaves_no_staged_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(publish.PARALLEL_FEEDS):  # enough feeds to render them on workers
        write_article(project, f"t/{i:02}.txt",
                      f"---\ntags: [Topik {i}]\n---\n" + ARTICLE.replace("Awal", f"N {i}"))
    write_article(project, "t/rusak.txt", "---\ntags: [Rusak]\n---\n" + ARTICLE)
    monkeypatch.setattr(publish, "_init_worker", faults.broken_tag_feed)
    with pytest.raises(RuntimeError, match="rendering the feed failed"):
        build(project)
    assert _leftovers(project) == []
    assert not (project / "output" / "rss.xml").exists()  # nothing of the failed build shows


def test_a_write_error_on_a_worker_fails_the_build_and_the_next_build_retries(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(project, "p/x.txt", ARTICLE.replace("Awal", "Penuh"))
    monkeypatch.setattr(publish, "PARALLEL_FROM", 1)
    monkeypatch.setattr(publish, "_init_worker", faults.disk_full_for_pages)
    with pytest.raises(OSError, match="No space left"):
        build(project)  # not blamed on the article: nothing is recorded, all is retried
    monkeypatch.setattr(publish, "_init_worker", faults.healthy)
    result = build(project, NOW + timedelta(minutes=5))
    assert result.errors == 0 and result.articles_read >= 1
    assert (project / "output" / "articles" / "x.html").is_file()
    assert _leftovers(project) == []


@pytest.mark.parametrize("parallel_from", [10**9, 1], ids=["one-process", "workers"])
def test_an_id_given_up_and_taken_in_one_build_keeps_its_page(
    project: Path, monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    monkeypatch.setattr(publish, "PARALLEL_FROM", parallel_from)
    write_article(project, "a.txt", "---\nid: berita\n---\n" + ARTICLE, WRITTEN)
    build(project)
    # a.txt takes a new id (its old page is removed), and b.txt takes the id it gave up
    # (its page is written at the same path): the removal must not win at commit.
    write_article(project, "a.txt", "---\nid: berita-lama\n---\n" + ARTICLE,
                  WRITTEN + timedelta(days=1))
    write_article(project, "b.txt", "---\nid: berita\n---\n" + ARTICLE.replace("Awal", "Baru"),
                  WRITTEN + timedelta(days=2))
    result = build(project, NOW + timedelta(hours=1))
    assert result.errors == 0
    page = project / "output" / "articles" / "berita.html"
    assert page.is_file() and "Judul Baru Artikel" in page.read_text(encoding="utf-8")
    assert (project / "output" / "articles" / "berita-lama.html").is_file()
