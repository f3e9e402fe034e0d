"""Atomic output: nothing visible before commit, unchanged bytes not rewritten, 0644, no escape."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from feeds.writer import TEMP_SUFFIX, Output


def test_nothing_is_visible_before_commit(tmp_path: Path) -> None:
    out = Output(tmp_path)
    assert out.put("a/feed.xml", b"<new/>")
    assert not (tmp_path / "a" / "feed.xml").exists()
    assert out.commit() == ["a/feed.xml"]
    assert (tmp_path / "a" / "feed.xml").read_bytes() == b"<new/>"
    assert not list(tmp_path.rglob(f"*{TEMP_SUFFIX}"))


def test_unchanged_bytes_are_not_rewritten(tmp_path: Path) -> None:
    out = Output(tmp_path)
    out.put("f.xml", b"same")
    out.commit()
    before = (tmp_path / "f.xml").stat().st_mtime_ns
    assert out.put("f.xml", b"same") is False
    assert out.commit() == []
    assert (tmp_path / "f.xml").stat().st_mtime_ns == before


def test_files_are_0644_and_new_folders_0755(tmp_path: Path) -> None:
    out = Output(tmp_path / "site")
    out.put("deep/er/f.xml", b"x")
    out.commit()
    assert stat.S_IMODE((tmp_path / "site" / "deep" / "er" / "f.xml").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "site" / "deep").stat().st_mode) == 0o755


def test_discard_leaves_old_files_and_no_temp_files(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_bytes(b"old")
    out = Output(tmp_path)
    out.put("f.xml", b"new")
    out.discard()
    assert (tmp_path / "f.xml").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.xml"]


def test_temp_files_left_by_a_crash_are_swept(tmp_path: Path) -> None:
    (tmp_path / f".f.xml.abc{TEMP_SUFFIX}").write_bytes(b"partial")
    (tmp_path / "f.xml").write_bytes(b"old")
    out = Output(tmp_path)
    out.put("f.xml", b"new")
    out.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.xml"]


def test_large_batches_commit_with_one_sync(tmp_path: Path) -> None:
    out = Output(tmp_path)
    for i in range(200):
        out.put(f"articles/{i}.html", str(i).encode())
    assert len(out.commit()) == 200
    assert (tmp_path / "articles" / "199.html").read_bytes() == b"199"


def test_removal_prunes_empty_folders(tmp_path: Path) -> None:
    out = Output(tmp_path)
    out.put("tags/x/rss.xml", b"x")
    out.commit()
    assert out.remove("tags/x/rss.xml")
    assert not out.remove("tags/x/missing.xml")
    out.commit()
    assert not (tmp_path / "tags").exists()


@pytest.mark.parametrize("bad", ["../escape.xml", "/etc/passwd", "a/../../escape.xml"])
def test_nothing_is_written_outside_the_output_folder(tmp_path: Path, bad: str) -> None:
    out = Output(tmp_path / "out")
    with pytest.raises(ValueError, match="outside the output folder"):
        out.put(bad, b"x")


@pytest.mark.parametrize("renames_done", range(3))
def test_a_commit_cut_between_renames_never_leaves_a_stale_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renames_done: int
) -> None:
    import gzip

    import brotli

    first = Output(tmp_path)
    first.put("rss.xml", b"<old/>", precompress=True)
    first.commit()
    import os

    real_replace = os.replace
    done = 0

    def replace_then_die(source: str, target: str) -> None:  # a SIGKILL after N renames
        nonlocal done
        if done == renames_done:
            raise KeyboardInterrupt
        done += 1
        real_replace(source, target)

    cut = Output(tmp_path)
    cut.put("rss.xml", b"<new/>", precompress=True)
    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        cut.commit()
    monkeypatch.undo()
    again = Output(tmp_path)
    again.put("rss.xml", b"<new/>", precompress=True)
    again.commit()
    assert (tmp_path / "rss.xml").read_bytes() == b"<new/>"
    assert gzip.decompress((tmp_path / "rss.xml.gz").read_bytes()) == b"<new/>"
    assert brotli.decompress((tmp_path / "rss.xml.br").read_bytes()) == b"<new/>"


def test_files_staged_by_another_process_become_visible_only_when_adopted_and_committed(
    tmp_path: Path,
) -> None:
    from feeds.compress import COMPRESSORS
    from feeds.writer import stage_changes

    out = Output(tmp_path)
    root = str(out.root)
    out.open_folder("tags/riset")
    staged = stage_changes(root, "tags/riset/rss.xml", b"<rss/>", precompress=True)
    # Variants first: renamed before the file itself at commit.
    assert [name for name, _ in staged] == ["tags/riset/rss.xml.gz", "tags/riset/rss.xml.br",
                                            "tags/riset/rss.xml"]
    assert not (tmp_path / "tags" / "riset" / "rss.xml").exists()
    for name, temp in staged:
        out.adopt(name, temp)
    assert out.commit() == sorted(name for name, _ in staged)
    assert (tmp_path / "tags" / "riset" / "rss.xml").read_bytes() == b"<rss/>"
    assert (tmp_path / "tags" / "riset" / "rss.xml.br").read_bytes() == COMPRESSORS[".br"](
        b"<rss/>")
    assert stage_changes(root, "tags/riset/rss.xml", b"<rss/>", precompress=True) == []
    assert not list(tmp_path.rglob(f"*{TEMP_SUFFIX}"))


def test_opening_a_folder_sweeps_it_before_other_processes_stage_in_it(tmp_path: Path) -> None:
    from feeds.writer import stage_changes

    (tmp_path / "articles").mkdir()
    leftover = tmp_path / "articles" / f".a.html.x1{TEMP_SUFFIX}"
    leftover.write_bytes(b"from a crash")
    out = Output(tmp_path)
    out.open_folder("articles")
    assert not leftover.exists()
    [(name, temp)] = stage_changes(str(out.root), "articles/a.html", b"<p>", precompress=False)
    out.adopt(name, temp)
    out.put("articles/b.html", b"<q>")  # the folder is not swept again: the adopted file stays
    assert out.commit() == ["articles/a.html", "articles/b.html"]
    assert (tmp_path / "articles" / "a.html").read_bytes() == b"<p>"
    [(name, temp)] = stage_changes(str(out.root), "articles/a.html", b"<p2>", precompress=False)
    out.adopt(name, temp)
    out.discard()  # a failed build: what was adopted goes, the old file stays
    assert not list(tmp_path.rglob(f"*{TEMP_SUFFIX}"))
    assert (tmp_path / "articles" / "a.html").read_bytes() == b"<p>"
