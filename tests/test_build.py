"""The whole build: stable ids and times, byte-identical rebuilds, unpublishing, errors."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from feeds import config, publish
from feeds.store import open_store
from tests.helpers import (
    ARTICLE,
    NOW,
    SEED,
    WRITTEN,
    build,
    entry_of,
    snapshot,
    write_article,
)


def test_layout_of_output(project: Path) -> None:
    result = build(project)
    out = project / "output"
    assert result.errors == 0
    for name in ("index.html", "feeds.opml", "rss.xml", "atom.xml", "feed.json"):
        assert (out / name).is_file(), name
    for slug in ("international", "nasional", "kampus", "ekonomi", "olahraga", "teknologi"):
        for name in ("rss.xml", "atom.xml", "feed.json", "index.html"):
            assert (out / slug / name).is_file(), f"{slug}/{name}"
    assert (out / "articles" / f"{SEED}.html").is_file()
    assert not (project / "output" / "state").exists()
    assert (project / "state" / "feeds.sqlite").is_file()


def test_files_are_world_readable(project: Path) -> None:
    build(project)
    for path in (project / "output").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
        assert not path.name.endswith(".feeds-tmp")


def test_building_twice_rewrites_nothing_and_is_byte_identical(project: Path) -> None:
    build(project)
    before = snapshot(project / "output")
    result = build(project, NOW + timedelta(minutes=5))
    assert result.changed == []
    assert snapshot(project / "output") == before


def test_same_input_gives_same_bytes_in_another_folder(project: Path, tmp_path: Path) -> None:
    build(project)
    other = tmp_path / "copy"
    other.mkdir()
    (other / "config").mkdir()
    (other / "config" / "feeds.toml").write_bytes((project / "config" / "feeds.toml").read_bytes())
    (other / "seeds").mkdir()
    for seed in (project / "seeds").iterdir():
        target = other / "seeds" / seed.name
        target.write_bytes(seed.read_bytes())
        os.utime(target, ns=(seed.stat().st_atime_ns, seed.stat().st_mtime_ns))
    build(other)
    assert {k: v[0] for k, v in snapshot(project / "output").items()} == {
        k: v[0] for k, v in snapshot(other / "output").items()
    }


def test_editing_title_keeps_id_and_published_and_moves_updated(project: Path) -> None:
    written = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    write_article(project, "kampus-1.txt", ARTICLE, written)
    build(project)
    first = entry_of(project / "output" / "atom.xml", "kampus-1")
    write_article(project, "kampus-1.txt", ARTICLE.replace("Judul Awal", "Judul Baru"),
                  written + timedelta(days=3))
    later = NOW + timedelta(hours=1)
    build(project, later)
    second = entry_of(project / "output" / "atom.xml", "kampus-1")
    assert second.id == first.id
    assert second.title == "Judul Baru Artikel"
    assert second.published == first.published == "2026-02-01T09:00:00+00:00"
    assert second.updated == later.isoformat()
    assert first.updated == first.published


def test_moving_to_another_section_keeps_id_and_moves_feeds(project: Path) -> None:
    write_article(project, "pindah.txt", ARTICLE, datetime(2026, 2, 1, tzinfo=UTC))
    build(project)
    first = entry_of(project / "output" / "kampus" / "atom.xml", "pindah")
    write_article(project, "pindah.txt", ARTICLE.replace("Kampus\n", "Ekonomi\n"))
    build(project, NOW + timedelta(hours=1))
    moved = entry_of(project / "output" / "ekonomi" / "atom.xml", "pindah")
    assert moved.id == first.id and moved.published == first.published
    assert moved.updated > first.updated
    kampus = feedparser.parse((project / "output" / "kampus" / "atom.xml").read_bytes())
    assert all(not e.id.endswith(":pindah") for e in kampus.entries)


def test_touching_a_file_changes_nothing(project: Path) -> None:
    build(project)
    before = snapshot(project / "output")
    seed = project / "seeds" / f"{SEED}.txt"
    os.utime(seed, (1_900_000_000, 1_900_000_000))
    assert build(project, NOW + timedelta(hours=2)).changed == []
    assert snapshot(project / "output") == before


def test_new_base_url_keeps_ids(project: Path) -> None:
    build(project)
    first = entry_of(project / "output" / "atom.xml", SEED)
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace("https://usmnews.example/", "https://news.example.org/"))
    build(project, NOW + timedelta(hours=1))
    second = entry_of(project / "output" / "atom.xml", SEED)
    assert second.id == first.id
    assert second.link.startswith("https://news.example.org/articles/")
    assert second.published == first.published and second.updated == first.updated


def test_deleted_article_leaves_every_feed_and_its_page(project: Path) -> None:
    path = write_article(project, "hapus.txt", ARTICLE + "Tags di badan.\n")
    build(project)
    assert (project / "output" / "articles" / "hapus.html").exists()
    path.unlink()
    build(project, NOW + timedelta(hours=1))
    assert not (project / "output" / "articles" / "hapus.html").exists()
    for feed in (project / "output").rglob("*.xml"):
        assert b":hapus<" not in feed.read_bytes(), feed


def test_draft_is_unpublished_and_undraft_keeps_published_time(project: Path) -> None:
    write_article(project, "draf.txt", ARTICLE, datetime(2026, 2, 2, tzinfo=UTC))
    build(project)
    first = entry_of(project / "output" / "atom.xml", "draf")
    write_article(project, "draf.txt", "---\ndraft: true\n---\n" + ARTICLE)
    build(project, NOW + timedelta(hours=1))
    assert b":draf<" not in (project / "output" / "atom.xml").read_bytes()
    assert not (project / "output" / "articles" / "draf.html").exists()
    write_article(project, "draf.txt", ARTICLE)
    build(project, NOW + timedelta(hours=2))
    assert entry_of(project / "output" / "atom.xml", "draf").published == first.published


def test_future_article_is_held_back_until_due(project: Path) -> None:
    due = NOW + timedelta(days=1)
    write_article(project, "nanti.txt", f"---\ndate: {due.isoformat()}\n---\n" + ARTICLE)
    result = build(project)
    assert result.next_due == due
    assert b":nanti<" not in (project / "output" / "atom.xml").read_bytes()
    assert not (project / "output" / "articles" / "nanti.html").exists()
    build(project, due + timedelta(minutes=1))
    assert entry_of(project / "output" / "atom.xml", "nanti").published == due.isoformat()
    assert (project / "output" / "articles" / "nanti.html").exists()


def test_broken_article_is_reported_and_the_rest_publishes(project: Path) -> None:
    write_article(project, "kosong.txt", "")
    write_article(project, "baik.txt", ARTICLE)
    result = build(project)
    errors = [str(d) for d in result.diagnostics if d.level == "error"]
    assert errors == ["error: seeds/kosong.txt: empty file"]
    assert (project / "output" / "articles" / "baik.html").exists()
    # Still broken and unchanged: reported again without being re-read.
    again = build(project, NOW + timedelta(hours=1))
    assert [str(d) for d in again.diagnostics if d.level == "error"] == errors
    assert again.articles_read == 0


def test_broken_edit_keeps_the_last_good_version_published(project: Path) -> None:
    write_article(project, "rusak.txt", ARTICLE)
    build(project)
    write_article(project, "rusak.txt", "---\ntags: [a\n---\n" + ARTICLE)
    result = build(project, NOW + timedelta(hours=1))
    assert result.errors == 1
    assert entry_of(project / "output" / "atom.xml", "rusak").title == "Judul Awal Artikel"
    # A full rebuild into an emptied output re-renders its page from the state.
    shutil.rmtree(project / "output")
    build(project, NOW + timedelta(hours=2), full=True)
    page = project / "output" / "articles" / "rusak.html"
    assert "Judul Awal Artikel" in page.read_text(encoding="utf-8")
    assert (project / "output" / "articles" / f"{SEED}.html").is_file()


def test_same_file_name_in_two_folders_is_an_error_naming_both(project: Path) -> None:
    write_article(project, "a/sama.txt", ARTICLE, datetime(2026, 2, 1, tzinfo=UTC))
    write_article(project, "b/sama.txt", ARTICLE.replace("Awal", "Kedua"),
                  datetime(2026, 2, 2, tzinfo=UTC))
    result = build(project)
    errors = [d for d in result.diagnostics if d.level == "error"]
    assert len(errors) == 1
    assert errors[0].where == "seeds/b/sama.txt" and "seeds/a/sama.txt" in errors[0].message
    assert entry_of(project / "output" / "atom.xml", "sama").title == "Judul Awal Artikel"


def test_tags_get_their_own_feeds_and_vanish_with_their_last_entry(project: Path) -> None:
    path = write_article(project, "bertag.txt", "---\ntags: [Wisuda Raya, kampus]\n---\n" + ARTICLE)
    build(project)
    tag_feed = project / "output" / "tags" / "wisuda-raya" / "atom.xml"
    assert entry_of(tag_feed, "bertag").title == "Judul Awal Artikel"
    assert feedparser.parse(tag_feed.read_bytes()).feed.title == "USM News — #Wisuda Raya"
    path.unlink()
    build(project, NOW + timedelta(hours=1))
    assert not tag_feed.exists()
    assert not (project / "output" / "tags" / "wisuda-raya").exists()


def test_burst_of_files_gets_distinct_first_seen_seconds(project: Path) -> None:
    same = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)
    for i in range(5):
        write_article(project, f"burst-{i}.txt", ARTICLE.replace("Awal", f"Ke-{i}"), same)
    build(project)
    parsed = feedparser.parse((project / "output" / "kampus" / "atom.xml").read_bytes())
    updated = [e.updated for e in parsed.entries]
    assert len(set(updated)) == len(updated) == 5
    assert max(updated) == same.isoformat()
    assert min(updated) == (same - timedelta(seconds=4)).isoformat()
    # Pages are rendered before the state assigns the seconds: the moved ones are redone.
    for entry in parsed.entries:
        page = project / "output" / "articles" / f"{entry.id.rsplit(':', 1)[1]}.html"
        assert f'<time datetime="{entry.published}">' in page.read_text(encoding="utf-8")


def test_feed_lists_newest_first_and_at_most_items_per_feed(project: Path) -> None:
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace("items_per_feed = 50", "items_per_feed = 3"))
    for day in range(1, 6):
        write_article(project, f"hari-{day}.txt", ARTICLE, datetime(2026, 2, day, tzinfo=UTC))
    build(project)
    parsed = feedparser.parse((project / "output" / "kampus" / "rss.xml").read_bytes())
    assert [e.id.rsplit(":", 1)[1] for e in parsed.entries] == ["hari-5", "hari-4", "hari-3"]
    assert parsed.feed.updated == "Thu, 05 Feb 2026 00:00:00 +0000"


def test_check_writes_nothing(project: Path) -> None:
    cfg, _ = config.load(project / "config" / "feeds.toml")
    store = open_store(cfg.paths.state)
    result = publish.build(cfg, store, NOW, output=None, reread=True)
    store.close()
    assert result.articles_read == 1
    assert not (project / "output").exists()


def test_parallel_parse_gives_the_same_output(project: Path, tmp_path: Path) -> None:
    for i in range(40):
        write_article(project, f"p/{i:02}.txt", ARTICLE.replace("Awal", f"Nomor {i}"),
                      WRITTEN + timedelta(minutes=i))
    write_article(project, "p/rusak.txt", "Kampus\n")
    serial = build(project)
    before = {k: v[0] for k, v in snapshot(project / "output").items()}
    shutil.rmtree(project / "output")
    shutil.rmtree(project / "state")
    parallel = build(project, parallel=publish.Parallelism(from_articles=5))
    assert {k: v[0] for k, v in snapshot(project / "output").items()} == before
    assert [str(d) for d in parallel.diagnostics] == [str(d) for d in serial.diagnostics]
    assert parallel.articles_read == 42


def test_scan_is_in_path_order_so_it_merges_with_the_state(tmp_path: Path) -> None:
    from feeds.sources.seeds import scan

    for name in ("a.txt", "a/b.txt", "a-b.txt", "a/.hidden.txt", "Z.txt", "b/c/d.txt", "b.txt~",
                 ".x/y.txt", "ä.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    paths = [f.path for f in scan(tmp_path)]
    assert paths == sorted(paths) == ["Z.txt", "a-b.txt", "a.txt", "a/b.txt", "b/c/d.txt", "ä.txt"]


def test_no_op_rebuild_opens_no_article_file(project: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        write_article(project, f"n/{i}.txt", ARTICLE.replace("Awal", f"No {i}"))
    build(project)
    seeds_folder = str(project / "seeds")
    opened: list[str] = []
    real_open = open

    def watching_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file).startswith(seeds_folder):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", watching_open)
    monkeypatch.setattr("io.open", watching_open)
    before = snapshot(project / "output")
    result = build(project, NOW + timedelta(hours=1))
    assert opened == [] and result.articles_read == 0
    assert result.changed == [] and snapshot(project / "output") == before


def test_one_changed_article_rewrites_only_the_feeds_that_contain_it(project: Path) -> None:
    write_article(project, "kampus-a.txt", "---\ntags: [wisuda]\n---\n" + ARTICLE)
    write_article(project, "ekonomi-b.txt", ARTICLE.replace("Kampus\n", "Ekonomi\n"))
    build(project)
    write_article(project, "kampus-a.txt", "---\ntags: [wisuda]\n---\n"
                  + ARTICLE.replace("Awal", "Diperbarui"), WRITTEN + timedelta(hours=1))
    result = build(project, NOW + timedelta(hours=1))
    folders = {path.rsplit("/", 1)[0] if "/" in path else "" for path in result.changed}
    assert folders == {"", "kampus", "tags/wisuda", "articles"}
    assert "articles/kampus-a.html" in result.changed
    assert not any(p.startswith(("ekonomi/", "international/")) for p in result.changed)
    top = {p for p in result.changed if "/" not in p}
    assert top <= {"rss.xml", "atom.xml", "feed.json", "index.html", "feeds.opml",
                   "rss.xml.gz", "rss.xml.br", "atom.xml.gz", "atom.xml.br", "feed.json.gz",
                   "feed.json.br", "index.html.gz", "index.html.br"}


def test_a_file_name_that_is_not_utf8_is_reported_and_the_rest_publishes(project: Path) -> None:
    bad = os.path.join(os.fsencode(project / "seeds"), b"caf\xe9.txt")
    with open(bad, "wb") as handle:
        handle.write(ARTICLE.encode())
    result = build(project)
    errors = [str(d) for d in result.diagnostics if d.level == "error"]
    assert errors == ["error: seeds/caf\\udce9.txt: file or folder name is not valid UTF-8: "
                      "skipped (rename it)"]
    assert (project / "output" / "articles" / f"{SEED}.html").is_file()
