"""Which feeds exist, and their files: the three formats, listings, the index, about.html and the
OPML.

`FeedStyle` is pure and picklable (worker processes render feeds with it);
`FeedSet` asks the state which feeds exist and writes those that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from feeds import jsonfeed, pages
from feeds.config import Config
from feeds.model import ALL, Entry, FeedFormat, FeedInfo, FeedKey
from feeds.output import OutputKind, Staged
from feeds.store import Store

if TYPE_CHECKING:
    from feeds.publish.books import Books
    from feeds.publish.workers import Workers

FEED_FILES: dict[FeedFormat, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
INDEX_ENTRIES = 5


@dataclass(frozen=True, slots=True)
class FeedStyle:
    """What every feed of the site says of itself, and how its files are rendered."""

    page_site: pages.PageSite
    title: str
    description: str
    language: str
    base_url: str
    id_prefix: str
    created: datetime
    hub: str

    def info(self, key: FeedKey, name: str, items: Iterable[Entry]) -> FeedInfo:
        title = {
            "all": self.title,
            "section": f"{self.title} — {name}",
            "tag": f"{self.title} — #{name}",
        }[key.kind]
        updates = [e.updated for e in items]
        return FeedInfo(
            key=key,
            title=title,
            description=self.description or title,
            language=self.language,
            feed_id=f"{self.id_prefix}feed/{key.folder or 'all/'}".rstrip("/"),
            base_url=self.base_url,
            updated=max(updates, default=self.created),
            hub=self.hub,
        )

    def feed(self, info: FeedInfo, items: Sequence[Entry], fmt: FeedFormat) -> bytes:
        from feeds import builder  # feedgen and lxml load only to render

        if fmt == "rss":
            return builder.rss(info, items)
        if fmt == "atom":
            return builder.atom(info, items)
        return jsonfeed.json_feed(info, items, about=self.about)

    @property
    def about(self) -> str:
        """`_source.about` of every JSON Feed: where the extension is explained."""
        return f"{self.base_url}{pages.ABOUT}#{pages.SOURCE_ANCHOR}"

    def files(self, info: FeedInfo, items: Sequence[Entry]) -> list[tuple[str, bytes, OutputKind]]:
        """One feed's files: its three formats, and its listing page (but for `all`, whose
        listing is the site's index)."""
        files: list[tuple[str, bytes, OutputKind]] = [
            (info.folder + name, self.feed(info, items, fmt), "feed")
            for fmt, name in FEED_FILES.items()
        ]
        if info.key != ALL:
            files.append((info.folder + "index.html",
                          pages.listing_page(self.page_site, info, items), "listing"))
        return files

    def page(self, entry: Entry, up: str = "../") -> bytes:
        section = self.info(FeedKey("section", entry.section.slug), entry.section.name, ())
        return pages.article_page(self.page_site, entry, section, up)


@dataclass(frozen=True, slots=True)
class FeedDone:
    """One feed rendered and staged by a worker: what the build adopts and lists."""

    key: FeedKey
    info: FeedInfo
    files: list[str]  # every file of the feed, changed or not
    staged: list[Staged]  # those that changed
    head: tuple[Entry, ...]  # its newest entries, without content, for the site's index


def render_feed(style: FeedStyle, key: FeedKey, name: str, rows: list[Entry],
                stage: Callable[[str, bytes, OutputKind], list[Staged]]) -> FeedDone:
    """Render one feed's files and stage those that changed (in a worker process)."""
    info = style.info(key, name, rows)
    files = style.files(info, rows)
    staged = [item for relative, data, kind in files for item in stage(relative, data, kind)]
    head = tuple(replace(e, content_html="") for e in rows[:INDEX_ENTRIES])
    return FeedDone(key, info, [relative for relative, _, _ in files], staged, head)


class FeedSet:
    """The feeds that exist now, rendered from the state; only those that changed are written."""

    def __init__(self, config: Config, store: Store, now: datetime, style: FeedStyle) -> None:
        self.config = config
        self.store = store
        self.now = now
        self.style = style
        self.limit = config.site.items_per_feed

    def names(self) -> dict[FeedKey, str]:
        """Every feed that exists now: key → display name."""
        names = {ALL: self.config.site.title}
        for section in self.config.sections:
            names[FeedKey("section", section.slug)] = section.name
        for slug, name in sorted(self.store.sections(self.now).items()):
            names.setdefault(FeedKey("section", slug), name)
        for slug, name in sorted(self.store.tags(self.now).items()):
            names[FeedKey("tag", slug)] = name
        return names

    def render(self, key: FeedKey, name: str, fmt: FeedFormat) -> bytes:
        items = self.store.latest(key, self.now, self.limit)
        return self.style.feed(self.style.info(key, name, items), items, fmt)

    def write(self, books: Books, workers: Workers, dirty: set[FeedKey], *, full: bool) -> None:
        """Render the feeds `dirty` names (all with `full`), and the site when any changed."""
        if not dirty and not full:
            return  # no entry changed and none fell due: no feed, listing or index can change
        names = self.names()
        before = books.feeds_before()
        gone = before - set(names)
        books.remove_feeds(gone)
        todo = set(names) if full else (dirty & set(names)) | (set(names) - before)
        if not todo and not gone:
            return
        infos: dict[FeedKey, tuple[FeedInfo, list[Entry]]] = {}
        # Render, compress and stage feeds on every core (~30 ms each, hundreds with tags),
        # each sent as soon as its rows are read; the build adopts the staged files.
        parallel = workers.for_feeds(len(todo))
        sent = []
        for key in sorted(names):
            if key not in todo and key.kind == "tag":
                continue  # the index lists tags by name only: no query needed
            if key in todo and parallel:
                rows = self.store.latest_rows(key, self.now, self.limit)
                sent.append(workers.render_feed(key, names[key], rows))
                continue
            items = self.store.latest(key, self.now, self.limit)
            info = self.style.info(key, names[key], items)
            infos[key] = (info, items)
            if key in todo:
                for relative, data, kind in self.style.files(info, items):
                    books.put(relative, data, kind, owner=str(key))
        for result in sent:
            done = result.get()
            infos[done.key] = (done.info, list(done.head))
            books.adopt_feed(done)
        self._write_site(books, names, infos)

    def write_upstream_pages(self, books: Books, pending: set[str], *, recheck: bool) -> None:
        """Pages of upstream items that have no link of their own: written while the entry is
        in some feed, removed once it has aged out of every one. `pending`: entries a pull
        stored since the last build; `recheck`: feeds changed, so check every page that exists."""
        for key in sorted(pending):
            entry = self.store.entry(key)
            if entry is not None and entry.page is not None and self._shown(key):
                books.put_owned_page(key, entry.page, self.style.page(entry))
        if recheck:
            for path, owner in sorted(books.owned_pages().items()):
                if not self._shown(owner) and owner not in pending:
                    books.remove(path)

    def _shown(self, key: str) -> bool:
        return self.store.in_feeds(key, self.now, self.limit)

    def _write_site(
        self, books: Books, names: dict[FeedKey, str],
        infos: dict[FeedKey, tuple[FeedInfo, list[Entry]]],
    ) -> None:
        all_info = infos[ALL][0]
        sections = [(info, items[:INDEX_ENTRIES]) for key, (info, items) in infos.items()
                    if key.kind == "section"]
        tags = [infos[key][0] if key in infos else self.style.info(key, names[key], ())
                for key in names if key.kind == "tag"]
        # Sections with entries first (configured ones in config order, then the others by
        # title), then the empty ones in that same order.
        order = {s.slug: i for i, s in enumerate(self.config.sections)}
        sections.sort(key=lambda pair: (not pair[1], order.get(pair[0].key.slug, len(order)),
                                        pair[0].title))
        tags.sort(key=lambda info: info.folder)
        site = self.style.page_site
        books.put("index.html", pages.index_page(site, all_info, sections, tags), "site",
                  owner="site")
        feeds = [all_info, *(info for info, _ in sections), *tags]
        books.put("feeds.opml", pages.opml(site, feeds), "site", owner="site")
        books.put(pages.ABOUT, pages.about_page(site, all_info), "site", owner="site")
