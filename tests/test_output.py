"""The output contract: nothing visible before commit, unchanged bytes kept, no escape.

Also files staged by other processes, removals, and the local folder's own
promises (0644 files, 0755 folders, durable renames, crashed staging swept).
"""

from __future__ import annotations

import gzip
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import brotli
import pytest

from feeds.compress import COMPRESSORS
from feeds.errors import OutputError
from feeds.output import open_output
from feeds.output.folder import STAGING, TEMP_SUFFIX, FolderOutput


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(TEMP_SUFFIX) or p.name == STAGING]


def test_nothing_is_visible_before_commit(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    assert out.stage("a/feed.xml", b"<new/>", "page")
    assert not (tmp_path / "a" / "feed.xml").exists() and not out.exists("a/feed.xml")
    assert out.commit() == ["a/feed.xml"]
    assert (tmp_path / "a" / "feed.xml").read_bytes() == b"<new/>"
    assert out.holds("a/feed.xml", b"<new/>") and not out.holds("a/feed.xml", b"<old/>")
    assert leftovers(tmp_path) == []


def test_unchanged_bytes_are_not_rewritten(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    out.stage("f.xml", b"same", "page")
    out.commit()
    before = (tmp_path / "f.xml").stat().st_mtime_ns
    assert out.stage("f.xml", b"same", "page") is False
    assert out.commit() == []
    assert (tmp_path / "f.xml").stat().st_mtime_ns == before


def test_feeds_get_precompressed_variants_and_pages_do_not(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    out.stage("rss.xml", b"<rss/>", "feed")
    out.stage("articles/a.html", b"<p>", "page")
    assert out.commit() == ["articles/a.html", "rss.xml", "rss.xml.br", "rss.xml.gz"]
    assert gzip.decompress((tmp_path / "rss.xml.gz").read_bytes()) == b"<rss/>"
    assert sorted(out.list_files()) == ["articles/a.html", "rss.xml", "rss.xml.br",
                                        "rss.xml.gz"]


def test_files_are_0644_and_new_folders_0755(tmp_path: Path) -> None:
    out = open_output(tmp_path / "site")
    out.stage("deep/er/f.xml", b"x", "page")
    out.commit()
    assert stat.S_IMODE((tmp_path / "site" / "deep" / "er" / "f.xml").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "site" / "deep").stat().st_mode) == 0o755


def test_discard_leaves_old_files_and_no_temp_files(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_bytes(b"old")
    out = open_output(tmp_path)
    out.stage("f.xml", b"new", "page")
    out.discard()
    assert (tmp_path / "f.xml").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.xml"]


def test_what_a_crashed_build_staged_is_swept_before_anything_is_staged(tmp_path: Path) -> None:
    (tmp_path / STAGING).mkdir()
    (tmp_path / STAGING / f"123-4{TEMP_SUFFIX}").write_bytes(b"partial")
    (tmp_path / "f.xml").write_bytes(b"old")
    out = open_output(tmp_path)
    out.stage("f.xml", b"new", "page")
    out.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.xml"]


def test_a_live_builders_staging_is_left_alone_and_a_dead_ones_swept(tmp_path: Path) -> None:
    """Two builders of one folder (one stalled past its build lease, one that took over)
    each stage in a folder of their own: neither's commit or discard takes the other's files."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / STAGING / f"{other.pid}-beef"
        live.mkdir(parents=True)
        (live / f"{other.pid}-1{TEMP_SUFFIX}").write_bytes(b"the other build's")
        gone = tmp_path / STAGING / "999999999-dead"  # no such process
        gone.mkdir()
        (gone / f"999999999-1{TEMP_SUFFIX}").write_bytes(b"a killed build's")
        out = open_output(tmp_path)
        out.stage("f.xml", b"new", "page")
        assert not gone.exists() and live.exists()
        out.commit()
        again = open_output(tmp_path)
        again.stage("f.xml", b"newer", "page")
        again.discard()
        assert sorted(p.name for p in (tmp_path / STAGING).iterdir()) == [live.name]
        assert (tmp_path / "f.xml").read_bytes() == b"new"
    finally:
        other.kill()
        other.wait()
    last = open_output(tmp_path)
    last.stage("f.xml", b"last", "page")
    last.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.xml"]


def test_large_batches_commit_with_one_sync(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    for i in range(200):
        out.stage(f"articles/{i}.html", str(i).encode(), "page")
    assert len(out.commit()) == 200
    assert (tmp_path / "articles" / "199.html").read_bytes() == b"199"


def test_removal_prunes_empty_folders(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    out.stage("tags/x/rss.xml", b"x", "page")
    out.commit()
    assert out.remove("tags/x/rss.xml")
    assert not out.remove("tags/x/missing.xml")
    out.commit()
    assert not (tmp_path / "tags").exists()


@pytest.mark.parametrize("bad", ["../escape.xml", "/etc/passwd", "a/../../escape.xml"])
def test_nothing_is_written_outside_the_output_folder(tmp_path: Path, bad: str) -> None:
    out = open_output(tmp_path / "out")
    with pytest.raises(ValueError, match="outside the output folder"):
        out.stage(bad, b"x", "page")


@pytest.mark.parametrize("renames_done", range(3))
def test_a_commit_cut_between_renames_never_leaves_a_stale_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renames_done: int
) -> None:
    first = open_output(tmp_path)
    first.stage("rss.xml", b"<old/>", "feed")
    first.commit()
    real_replace = os.replace
    done = 0

    def replace_then_die(source: str, target: str) -> None:  # a SIGKILL after N renames
        nonlocal done
        if done == renames_done:
            raise KeyboardInterrupt
        done += 1
        real_replace(source, target)

    cut = open_output(tmp_path)
    cut.stage("rss.xml", b"<new/>", "feed")
    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        cut.commit()
    monkeypatch.undo()
    again = open_output(tmp_path)
    again.stage("rss.xml", b"<new/>", "feed")
    again.commit()
    assert (tmp_path / "rss.xml").read_bytes() == b"<new/>"
    assert gzip.decompress((tmp_path / "rss.xml.gz").read_bytes()) == b"<new/>"
    assert brotli.decompress((tmp_path / "rss.xml.br").read_bytes()) == b"<new/>"


def test_files_staged_by_another_process_become_visible_only_when_adopted_and_committed(
    tmp_path: Path,
) -> None:
    out = open_output(tmp_path)
    stager = pickle.loads(pickle.dumps(out.stager()))  # as a worker process receives it
    staged = stager.stage("tags/riset/rss.xml", b"<rss/>", "feed")
    # Variants first: renamed before the file itself at commit.
    assert [item.relative for item in staged] == [
        "tags/riset/rss.xml.gz", "tags/riset/rss.xml.br", "tags/riset/rss.xml"]
    assert not (tmp_path / "tags" / "riset" / "rss.xml").exists()
    out.adopt(staged)
    assert out.commit() == sorted(item.relative for item in staged)
    assert (tmp_path / "tags" / "riset" / "rss.xml").read_bytes() == b"<rss/>"
    assert (tmp_path / "tags" / "riset" / "rss.xml.br").read_bytes() == COMPRESSORS[".br"](
        b"<rss/>")
    assert leftovers(tmp_path) == []
    assert out.stager().stage("tags/riset/rss.xml", b"<rss/>", "feed") == []  # current


def test_staged_files_not_adopted_are_gone_after_discard_or_drop(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    out.stage("articles/a.html", b"<p>", "page")
    out.commit()
    stager = out.stager()
    dropped = stager.stage("articles/b.html", b"<q>", "page")
    out.drop(dropped)  # the build did not want it after all
    stager.stage("articles/a.html", b"<p2>", "page")  # never adopted: a failed build
    out.discard()
    assert leftovers(tmp_path) == []
    assert (tmp_path / "articles" / "a.html").read_bytes() == b"<p>"
    assert not (tmp_path / "articles" / "b.html").exists()


def test_a_later_write_cancels_an_earlier_removal_of_the_same_path(tmp_path: Path) -> None:
    out = open_output(tmp_path)
    out.stage("articles/x.html", b"old", "page")
    out.commit()
    assert out.remove("articles/x.html")
    out.adopt(out.stager().stage("articles/x.html", b"new", "page"))
    out.commit()
    assert (tmp_path / "articles" / "x.html").read_bytes() == b"new"


def test_a_file_where_a_folder_must_be_is_an_output_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "kampus").write_text("not a folder")
    out = FolderOutput(tmp_path)
    out.stage("kampus/rss.xml", b"<rss/>", "feed")
    with pytest.raises(OutputError) as error:
        out.commit()
    assert error.value.where == str(tmp_path / "kampus")
    assert "a file stands where a folder must be" in error.value.message
