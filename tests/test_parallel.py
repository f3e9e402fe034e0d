"""Builds on worker processes (which also write the pages) publish exactly what one process does."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from feeds import publish
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


def _leftovers(project: Path) -> list[str]:
    return [p.name for p in (project / "output").rglob("*.feeds-tmp")]


def _step_cold(project: Path) -> None:
    for i in range(30):  # one mtime second for all: first-seen seconds are handed out
        write_article(project, f"p/{i:02}.txt", ARTICLE.replace("Awal", f"Nomor {i}"))
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
    for i in range(12):
        write_article(project, f"p/{i:02}.txt", ARTICLE.replace("Awal", f"Nomor {i}"))
    monkeypatch.setattr(publish, "PARALLEL_FROM", 1)

    def broken_feeds(self: object) -> None:
        raise RuntimeError("disk full while rendering the feeds")

    monkeypatch.setattr(publish._Run, "_write_feeds", broken_feeds)
    with pytest.raises(RuntimeError):
        build(project)
    assert _leftovers(project) == []
    assert not (project / "output" / "articles").exists() or not any(
        (project / "output" / "articles").iterdir())
