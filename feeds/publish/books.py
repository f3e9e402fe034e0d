"""The build's books over the output: what it staged, adopted and removed, and which feed owns what.

The state's `outputs` table lists every feed and site file by its owner (a
feed key's stored form, or `site`), so that the files of a feed that no
longer exists are removed. Article pages are not listed there: an entry
knows its page, and 100,000 rows would cost every build. The few pages of
upstream items without a link of their own are (owner `page:KEY`): they are
removed when the entry ages out of every feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from feeds.model import FeedKey
from feeds.output import Output, OutputKind, Staged
from feeds.publish.feedset import FeedDone
from feeds.store import Store

PAGE_OWNER = "page:"  # the owner of a listed page: `page:` + its entry's key


class Books:
    """Every write of one build goes through here; with no output, nothing is written."""

    def __init__(self, output: Output | None, store: Store, *, full: bool) -> None:
        self.output = output
        self.store = store
        self.full = full
        self.written: list[tuple[str, str]] = []  # (path, owner) of feed and site files
        self.removed: list[str] = []
        self.rendered: set[str] = set()  # keys whose pages a full build has written already

    def put(self, relative: str, data: bytes, kind: OutputKind, *, owner: str) -> None:
        """Stage a feed, listing or site file owned by `owner`."""
        if self.output is None:
            return
        self.output.stage(relative, data, kind)
        self.written.append((relative, owner))

    def put_page(self, key: str, page: str, data: bytes) -> None:
        if self.output is None:
            return
        if self.full:
            self.rendered.add(key)
        self.output.stage(page, data, "page")

    def put_owned_page(self, key: str, page: str, data: bytes) -> None:
        """The page of an upstream entry: listed, so that it goes when the entry does."""
        self.put_page(key, page, data)
        if self.output is not None:
            self.written.append((page, f"{PAGE_OWNER}{key}"))

    def owned_pages(self) -> dict[str, str]:
        """Page path → entry key of every listed page."""
        return {path: owner.removeprefix(PAGE_OWNER) for path, owner in self.store.outputs().items()
                if owner.startswith(PAGE_OWNER)}

    def adopt_page(self, key: str, staged: Iterable[Staged]) -> None:
        """A page a worker staged (or found already current): nothing left to render."""
        if self.output is None:
            return
        if self.full:
            self.rendered.add(key)
        self.output.adopt(staged)

    def adopt_feed(self, done: FeedDone) -> None:
        assert self.output is not None
        self.written.extend((relative, str(done.key)) for relative in done.files)
        self.output.adopt(done.staged)

    def drop(self, staged: Iterable[Staged]) -> None:
        if self.output is not None:
            self.output.drop(staged)

    def remove(self, relative: str) -> None:
        if self.output is not None and self.output.remove(relative):
            self.removed.append(relative)

    def feeds_before(self) -> set[FeedKey]:
        """The feeds whose files the output held before this build."""
        return {FeedKey.parse(owner) for owner in self.store.outputs().values()
                if owner != "site" and not owner.startswith(PAGE_OWNER)}

    def remove_feeds(self, gone: set[FeedKey]) -> None:
        """Remove every file of feeds that no longer exist."""
        if not gone:
            return
        owners = {str(key) for key in gone}
        for path, owner in self.store.outputs().items():
            if owner in owners:
                self.remove(path)

    def commit(self, fence: Callable[[], None] | None = None) -> list[str]:
        """Make the output visible, then record it in the state (in the build's transaction,
        which commits after: a crash in between makes the next build redo the work)."""
        assert self.output is not None
        changed = self.output.commit(fence)
        self.store.put_outputs(self.written)
        self.store.delete_outputs(self.removed)
        return changed
