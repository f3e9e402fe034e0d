"""The articles pass of a build: scan `seeds/`, read what changed, apply the rules, store.

The scan and the state's file rows are merged as two path-sorted streams:
a file whose size, mtime and inode are unchanged is not opened. Changed
files are read (on workers when many) oldest first, then each goes
through the rules of `decide` and its outcome is stored; the feeds it
was and is in are marked for rendering.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from feeds import entries
from feeds.codec import entry_from_json, entry_to_json, from_epoch, to_epoch
from feeds.model import Diagnostic, Entry, FeedKey, Section, Tag
from feeds.publish import decide
from feeds.publish.books import Books
from feeds.publish.report import Change
from feeds.publish.workers import ArticleJob, Prepared, Renderer, Workers
from feeds.sources import seeds
from feeds.store import EntryRecord, EntryRow, FileRow, Store


@dataclass
class Tally:
    """What the articles pass found, for the build's result."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    read: int = 0
    dirty: set[FeedKey] = field(default_factory=set)
    # Local entries published before this build that it takes down, by why (the guard's count),
    # and those it publishes that were not (to tell how many were published before).
    going: Counter[str] = field(default_factory=Counter)
    appeared: int = 0
    changes: list[Change] = field(default_factory=list)  # articles whose status changed
    repeated: list[Diagnostic] = field(default_factory=list)  # of files that did not change


def merge(
    found: Iterable[seeds.SeedFile], rows: Iterable[FileRow]
) -> Iterator[tuple[seeds.SeedFile | None, FileRow | None]]:
    """Pair two path-sorted streams: (file, its row), (new file, None), (None, gone)."""
    row_iter = iter(rows)
    row = next(row_iter, None)
    for seed in found:
        path = seed.path
        while row is not None and row.path < path:
            yield None, row
            row = next(row_iter, None)
        if row is not None and row.path == path:
            yield seed, row
            row = next(row_iter, None)
        else:
            yield seed, None
    while row is not None:
        yield None, row
        row = next(row_iter, None)


class ArticlePass:
    """One build's reconciliation of `seeds/` with the state (not shared between builds)."""

    def __init__(
        self,
        store: Store,
        now: datetime,
        renderer: Renderer,
        books: Books,
        seeds_folder: Path,
        seeds_label: str,
        *,
        full: bool,
        reread: bool,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.store = store
        self.now = now
        self.epoch = to_epoch(now)
        self.renderer = renderer
        self.books = books
        self.seeds_folder = seeds_folder
        self.label = seeds_label
        self.full = full
        self.reread = reread
        self.progress = progress
        self.seconds = decide.Seconds(store.published_at)
        self.tally = Tally()

    def run(self, workers: Workers) -> Tally:
        changed: list[tuple[seeds.SeedFile, FileRow | None]] = []
        deleted: list[FileRow] = []
        skipped: list[tuple[str, str]] = []
        found = seeds.scan(self.seeds_folder, skipped)
        for seed, row in merge(found, self.store.iter_files()):
            if seed is None:
                assert row is not None
                deleted.append(row)
            elif row is not None and not self.reread and row.same_file(seed):
                if row.diagnostics_json != "[]":  # a broken file stays reported
                    notes = row.diagnostics
                    self.tally.diagnostics.extend(notes)
                    self.tally.repeated.extend(notes)
            else:
                changed.append((seed, row))
        for name, reason in skipped:
            self.tally.diagnostics.append(Diagnostic("error", f"{self.label}/{name}", reason))
        # Oldest first: the first claimant of an id keeps it, and first-seen times keep file order.
        changed.sort(key=lambda pair: (pair[0].mtime_ns, pair[0].path))
        jobs = [ArticleJob(str(self.seeds_folder), self.label, seed.path,
                           seed.mtime_ns // 10**9) for seed, _ in changed]
        claimed: dict[str, str] = {}  # key -> path, for the files read in this build
        if jobs:  # what is live counts for typos and slugs: asked only when there is reading
            rules = self.renderer.rules.with_live(
                (Section(slug, name) for slug, name in self.store.sections(self.now).items()),
                (Tag(slug, name) for slug, name in self.store.tags(self.now).items()))
            self.renderer = workers.renderer = replace(self.renderer, rules=rules)
        results = workers.prepare(jobs)
        for done, ((seed, row), prepared) in enumerate(zip(changed, results, strict=True), 1):
            if self.progress is not None and done % 500 == 0:
                self.progress(done, len(changed))
            self._accept(seed, row, prepared, claimed)
        for row in deleted:
            self.store.delete_file(row.path)
            if row.key is not None and row.key not in claimed:
                self._unpublish(row.key, f"seeds:{row.path}", "deleted")
        return self.tally

    def _accept(
        self, seed: seeds.SeedFile, row: FileRow | None, prepared: Prepared,
        claimed: dict[str, str],
    ) -> None:
        self.tally.read += 1
        where = f"{self.label}/{seed.path}"
        owned = row.key if row is not None else None
        if prepared.problem is not None:  # unreadable or invalid: remembered until it changes
            rejected = self._reject(where, prepared, prepared.problem, owned, claimed, seed.path,
                                    owned)
            self.store.put_file(FileRow.of(seed, owned, (rejected,)))
            return
        key = prepared.key
        previous = None
        other = claimed.get(key)
        if other is None or other == seed.path:
            previous = self.store.entry_record(key)
            stored = _seed_path(previous)
            still = stored is not None and stored != seed.path and self._still_claims(stored, key)
            other = decide.owner(seed.path, other, stored, still)
        if other is not None:  # not remembered: re-checked every build until renamed
            problem = f"id {key!r} is already used by seeds/{other}; rename one file"
            self._reject(where, prepared, problem, owned, claimed, seed.path,
                         owned if owned != key else None)
            return
        notes = prepared.diagnostics
        self.tally.diagnostics.extend(notes)
        claimed[key] = seed.path
        if owned is not None and owned != key:
            self._unpublish(owned, f"seeds:{seed.path}", "gave their id up")  # header `id`
        self.store.put_file(FileRow.of(seed, key, notes))
        self._publish(seed, prepared, previous)

    def _reject(self, where: str, prepared: Prepared, problem: str, owned: str | None,
                claimed: dict[str, str], path: str, mine: str | None) -> Diagnostic:
        """An article that cannot be published as it is: its last good version (`mine`, the
        entry this file published before) stays online, and the message says so."""
        self.books.drop(prepared.staged)
        kept = mine is not None and self._shown(self.store.entry_record(mine))
        if kept:
            problem += "; the published version stays online until then"
        diagnostic = Diagnostic("error", where, problem)
        self.tally.diagnostics.append(diagnostic)
        self.tally.changes.append(
            Change("error-kept" if kept else "error", where, prepared.title, None, problem))
        if owned is not None:
            claimed.setdefault(owned, path)  # its last good version stays published
        return diagnostic

    def _still_claims(self, other: str, key: str) -> bool:
        """Whether the file the state says owns `key` exists and still claims it."""
        if not (self.seeds_folder / other).is_file():
            return False
        row = self.store.file(other)
        return row is not None and row.key == key

    def _publish(self, seed: seeds.SeedFile, prepared: Prepared,
                 previous: EntryRecord | None) -> None:
        first = decide.first_seen(seed.mtime_ns // 10**9, self.epoch)
        if previous is None and prepared.date is None:
            first = self.seconds.unique(first)
        facts = decide.Facts(
            key=prepared.key, origin=f"seeds:{seed.path}", digest=prepared.digest,
            draft=prepared.draft, date=prepared.date, updated=prepared.updated,
            rendered=prepared.times, has_page=prepared.page is not None,
        )
        decision = decide.decide(facts, previous, first, self.epoch, full=self.full)
        times, data, entry = decision.times, prepared.data, None
        if times != prepared.times:  # decoded only when the times it was rendered with moved
            entry = replace(entry_from_json(data), published=from_epoch(times.published),
                            updated=from_epoch(times.updated))
            data = entry_to_json(entry)
        self.store.put_entry(
            EntryRow(key=prepared.key, origin=facts.origin, hash=prepared.digest,
                     first_seen=times.first_seen, published=times.published,
                     updated=times.updated, live=decision.live, section=prepared.section,
                     tags=prepared.tags, data=data),
            new=previous is None,
        )
        if not decision.unchanged:
            self.tally.dirty.update(prepared.feed_keys())
            if previous is not None:
                self.tally.dirty.update(previous.feed_keys())
        if self._shown(previous) and decision.outcome in ("draft", "held"):
            self.tally.going["drafted" if decision.outcome == "draft" else "dated later"] += 1
        elif not self._shown(previous) and decision.outcome == "published":
            self.tally.appeared += 1
        if decision.outcome != "unchanged":
            self._changed(facts.origin, prepared, decision, previous)
        self._page(decision.page, prepared, entry)

    def _page(self, action: decide.PageAction, prepared: Prepared, entry: Entry | None) -> None:
        """Carry out the decision about the article's page."""
        page = prepared.page
        if action in ("none", "remove", "render") or page is None:
            self.books.drop(prepared.staged)
        if page is None or action == "none":
            return
        if action == "remove":
            self.books.remove(page)
        elif action == "render":
            assert entry is not None
            if self.books.output is not None:
                self.books.put_page(prepared.key, page, self.renderer.style.page(entry))
        elif prepared.staged or prepared.current:
            self.books.adopt_page(prepared.key, prepared.staged)
        elif prepared.page_bytes is not None:  # rendered here, with these times and clock
            self.books.put_page(prepared.key, page, prepared.page_bytes)

    def _changed(self, origin: str, prepared: Prepared, decision: decide.Decision,
                 previous: EntryRecord | None) -> None:
        """An article's status changed: for the per-article report."""
        if previous is not None and previous.live == decision.live and (
            (previous.published > self.epoch) == (decision.times.published > self.epoch)
        ) and decision.outcome in ("draft", "held"):
            return  # still a draft, still held: nothing new to say
        self.tally.changes.append(Change(
            decision.outcome, f"{self.label}/{origin.removeprefix('seeds:')}", prepared.title,
            decision.times.published if decision.outcome == "held" else None))

    def _shown(self, previous: EntryRecord | None) -> bool:
        """Whether the entry was published before this build."""
        return previous is not None and previous.live and previous.published <= self.epoch

    def _unpublish(self, key: str, origin: str, why: str) -> None:
        previous = self.store.entry_record(key)
        if previous is None or not decide.may_unpublish(previous, origin):
            return
        if self._shown(previous):
            self.tally.going[why] += 1
            if why == "deleted":
                self.tally.changes.append(Change(
                    "removed", f"{self.label}/{origin.removeprefix('seeds:')}", "", None))
        self.store.set_live(key, False)
        self.tally.dirty.update(previous.feed_keys())
        self.books.remove(entries.page_path(key))


def _seed_path(previous: EntryRecord | None) -> str | None:
    """The seed file the state says owns an entry (None for upstream entries)."""
    if previous is None or not previous.origin.startswith("seeds:"):
        return None
    return previous.origin.removeprefix("seeds:")
