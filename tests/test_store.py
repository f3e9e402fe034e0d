"""The state's contract (`feeds.store.Store`), run against every backend: units of work, and each
read and write a build, a pull and the server rely on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.codec import entry_to_json, from_epoch, to_epoch
from feeds.config import PostgresURL
from feeds.errors import StoreError
from feeds.model import ALL, Entry, FeedKey, Section, Tag, UpstreamFeed
from feeds.store import EntryRow, FileRow, SourceState, Store, open_store

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    location: Path | PostgresURL = tmp_path / "state" / "feeds.sqlite"
    if request.param == "postgres":  # a fresh schema of the suite's own PostgreSQL server
        location = PostgresURL(request.getfixturevalue("postgres_url"))
    opened = open_store(location)
    try:
        yield opened
    finally:
        opened.close()


def entry(key: str, published: datetime, *, section: str = "kampus",
          tags: tuple[str, ...] = ()) -> Entry:
    return Entry(
        id=f"tag:x,2026:{key}", key=key, title=f"Judul {key}", link=f"https://x/{key}",
        section=Section(section, section.title()), published=published, updated=published,
        summary="s", content_html="<p>c</p>", lang="id",
        tags=tuple(Tag(t, t.title()) for t in tags),
    )


def put(store: Store, item: Entry, *, live: bool = True, canonical: str | None = None,
        first_seen: int | None = None) -> bool:
    seen = to_epoch(item.published) if first_seen is None else first_seen
    return store.put_entry(EntryRow.of(item, origin=f"seeds:{item.key}.txt", hash="h",
                                       first_seen=seen, live=live, canonical=canonical))


def test_a_transaction_commits_at_the_end_and_rolls_back_on_error(store: Store) -> None:
    with store.transaction():
        store.set_meta("a", "1")
    with pytest.raises(RuntimeError), store.transaction():
        store.set_meta("a", "2")
        store.set_meta("b", "2")
        raise RuntimeError("the build failed")
    with store.snapshot():
        assert (store.get_meta("a"), store.get_meta("b")) == ("1", None)


def test_scratch_work_is_never_kept(store: Store) -> None:
    with store.scratch():
        store.set_meta("a", "1")
        assert store.get_meta("a") == "1"  # visible inside, as a build would see it
    with store.snapshot():
        assert store.get_meta("a") is None


def test_meta_is_set_replaced_and_deleted(store: Store) -> None:
    with store.transaction():
        store.set_meta("k", "1")
        store.set_meta("k", "2")
        assert store.get_meta("k") == "2"
        store.delete_meta("k")
        assert store.get_meta("k") is None


def test_file_rows_stream_in_code_point_order_with_their_diagnostics(store: Store) -> None:
    from feeds.model import Diagnostic

    broken = (Diagnostic("error", "seeds/b.txt", "no title line"),)
    with store.transaction():
        for path in ("b.txt", "a/z.txt", "Z.txt", "ä.txt", "a-b.txt"):
            store.put_file(FileRow.of((path, 10, 1_000, 7), path.removesuffix(".txt"),
                                      broken if path == "b.txt" else ()))
        store.put_file(FileRow.of(("Z.txt", 11, 2_000, 8), None))  # replaced
        store.delete_file("a-b.txt")
    with store.snapshot():
        rows = list(store.iter_files())
        assert [r.path for r in rows] == ["Z.txt", "a/z.txt", "b.txt", "ä.txt"]
        assert rows[0] == FileRow("Z.txt", 11, 2_000, 8, None, "[]")
        assert rows[2].diagnostics == broken and rows[1].diagnostics == ()
        assert rows[1].same_file(("a/z.txt", 10, 1_000, 7))
        assert not rows[1].same_file(("a/z.txt", 10, 1_001, 7))
        assert store.file("b.txt") == rows[2] and store.file("nope.txt") is None


def test_held_files_are_those_in_error_and_those_dated_later(store: Store) -> None:
    from feeds.model import Diagnostic

    with store.transaction():
        for key, when, live in (("now", NOW, True), ("later", NOW + timedelta(hours=1), True),
                                ("draft", NOW + timedelta(hours=1), False)):
            put(store, entry(key, when), live=live)
            store.put_file(FileRow.of((f"{key}.txt", 1, 1, 1), key))
        store.put_file(FileRow.of(("rusak.txt", 1, 1, 1), None,
                                  (Diagnostic("error", "seeds/rusak.txt", "no title line"),)))
        store.put_file(FileRow.of(("ragu.txt", 1, 1, 1), "ragu",
                                  (Diagnostic("warning", "seeds/ragu.txt", "unknown key"),)))
    with store.snapshot():
        assert [r.path for r in store.held_files(NOW)] == ["later.txt", "rusak.txt"]
        assert [r.path for r in store.held_files(NOW + timedelta(hours=2))] == ["rusak.txt"]


def test_latest_is_each_feeds_newest_published_live_entries(store: Store) -> None:
    with store.transaction():
        for hours, key in enumerate(["a", "b", "c", "d"]):
            put(store, entry(key, NOW - timedelta(hours=10 - hours), tags=("riset",)))
        put(store, entry("e", NOW - timedelta(hours=1), section="ekonomi"))
        put(store, entry("future", NOW + timedelta(hours=1), tags=("riset",)))
        put(store, entry("draft", NOW - timedelta(minutes=5), tags=("riset",)), live=False)
        put(store, entry("tie", NOW - timedelta(hours=7), tags=("riset",)))  # same time as d
    with store.snapshot():
        assert [e.key for e in store.latest(ALL, NOW, 3)] == ["e", "d", "tie"]
        assert [e.key for e in store.latest(FeedKey("section", "kampus"), NOW, 10)] == [
            "d", "tie", "c", "b", "a"]
        assert [e.key for e in store.latest(FeedKey("tag", "riset"), NOW, 2)] == ["d", "tie"]
        assert store.latest(FeedKey("tag", "none"), NOW, 5) == []
        rows = store.latest_rows(FeedKey("section", "ekonomi"), NOW, 5)
        assert rows == [entry_to_json(entry("e", NOW - timedelta(hours=1), section="ekonomi"))]
        assert store.count(NOW) == 6
        assert store.sections(NOW) == {"kampus": "Kampus", "ekonomi": "Ekonomi"}
        assert store.tags(NOW) == {"riset": "Riset"}
        assert store.next_due(NOW) == NOW + timedelta(hours=1)
        assert [e.key for e in store.due_between(NOW, NOW + timedelta(hours=2))] == ["future"]
        assert [e.key for e in store.live_entries(NOW, skip={"b"})] == ["a", "c", "d", "e", "tie"]
        assert store.published_at(to_epoch(NOW - timedelta(hours=1)))
        assert not store.published_at(to_epoch(NOW - timedelta(hours=1)) + 1)


def test_an_entry_is_replaced_with_its_tags_and_can_leave_the_feeds(store: Store) -> None:
    with store.transaction():
        put(store, entry("a", NOW - timedelta(hours=1), tags=("lama",)))
        put(store, entry("a", NOW - timedelta(hours=1), tags=("baru",)))
        record = store.entry_record("a")
        assert record is not None and record.tags == ("baru",) and record.live
        assert record.feed_keys() == (ALL, FeedKey("section", "kampus"), FeedKey("tag", "baru"))
        assert store.tags(NOW) == {"baru": "Baru"}
        store.set_live("a", False)
        assert store.latest(ALL, NOW, 5) == [] and store.tags(NOW) == {}
        assert store.entry_record("missing") is None


def test_one_entry_holds_an_article_link(store: Store) -> None:
    with store.transaction():
        assert put(store, entry("first", NOW), canonical="https://x/a")
        assert not put(store, entry("second", NOW), canonical="https://x/a")  # refused whole
        assert put(store, entry("first", NOW), canonical="https://x/a")  # its holder: stored
        assert store.key_with_canonical("https://x/a") == "first"
        assert store.entry_record("second") is None
        assert store.key_with_canonical("https://x/b") is None


def test_many_records_and_links_at_once_answer_as_one_at_a_time(store: Store) -> None:
    keys = [f"e{i:04}" for i in range(1203)]  # more than two chunks of one IN (…)
    with store.transaction():
        for i, key in enumerate(keys):
            put(store, entry(key, NOW, tags=("a", "b")[: i % 3]), live=i % 2 == 0,
                canonical=f"https://x/a/{i}" if i % 5 else None)
        asked = [*keys[::7], "absent", keys[0], "e9999"]
        records = store.entry_records(asked)
        assert records == {k: r for k in asked if (r := store.entry_record(k)) is not None}
        assert len(records) == len(set(keys[::7]))
        links = [f"https://x/a/{i}" for i in range(0, 1300, 3)]
        holders = store.keys_with_canonicals(links)
        assert holders == {link: h for link in links
                           if (h := store.key_with_canonical(link)) is not None}
        assert holders["https://x/a/3"] == "e0003" and "https://x/a/0" not in holders
        assert store.entry_records([]) == {} and store.keys_with_canonicals([]) == {}


def test_pending_feeds_are_taken_once(store: Store) -> None:
    with store.transaction():
        store.add_pending([ALL, FeedKey("tag", "riset")])
        store.add_pending([ALL])
    with store.transaction():
        assert store.take_pending() == {ALL, FeedKey("tag", "riset")}
        assert store.take_pending() == set()


def test_sources_keep_their_health_and_upstream_feed(store: Store) -> None:
    feed = UpstreamFeed(id="urn:x", title="Antara", url="https://a/rss", home="https://a/",
                        updated=from_epoch(1_700_000_000))
    state = SourceState(name="antara", url="https://a/rss", fetch_url="https://a/rss2",
                        etag='"e"', last_modified="Mon", next_due=5, last_attempt=4,
                        last_success=3, failures=1, last_status="200", last_error="",
                        items_seen=9, retired=False, feed=feed)
    with store.transaction():
        store.put_source(SourceState(name="zeta", url="https://z", fetch_url="https://z"))
        store.put_source(state)
        store.put_source(state)
    with store.snapshot():
        assert store.source("antara") == state
        assert [s.name for s in store.sources()] == ["antara", "zeta"]
        assert store.source("none") is None


def test_outputs_are_listed_by_owner(store: Store) -> None:
    with store.transaction():
        store.put_outputs([("rss.xml", "all"), ("kampus/rss.xml", "section:kampus")])
        store.put_outputs([("rss.xml", "site")])
        store.delete_outputs(["kampus/rss.xml"])
        assert store.outputs() == {"rss.xml": "site"}


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "feeds.sqlite"
    path.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(StoreError) as error:
        open_store(path)
    assert error.value.where == str(path) and error.value.exit_status == 5


def test_a_postgresql_state_without_the_extra_installed_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from feeds.config import PostgresURL
    from feeds.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real(name, *a))
    with pytest.raises(UsageError) as caught:
        open_store(PostgresURL("postgresql://feeds:secret@db.example/news"))
    assert caught.value.where == "postgresql://feeds:***@db.example/news"
    assert "pip install 'feeds[postgres]'" in caught.value.message
