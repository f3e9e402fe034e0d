"""Frozen values passed between the pipeline stages: article blocks, entries, diagnostics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

Level = Literal["error", "warning", "notice"]
FeedFormat = Literal["rss", "atom", "json"]
FeedKind = Literal["all", "section", "tag"]


class FeedKey(NamedTuple):
    """Which feed: all sections, one section, or one tag. `str()` is the state's stored form
    (`all`, `section:S`, `tag:T`); a NamedTuple because a cold build makes 400,000 of them."""

    kind: FeedKind
    slug: str = ""

    def __str__(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}:{self.slug}"

    @classmethod
    def parse(cls, text: str) -> FeedKey:
        """The stored form back into a key; ValueError for anything else."""
        if text == "all":
            return ALL
        kind, sep, slug = text.partition(":")
        if not sep or not slug or kind not in ("section", "tag"):
            raise ValueError(f"not a feed key: {text!r}")
        return cls("section" if kind == "section" else "tag", slug)

    @classmethod
    def from_path(cls, name: str) -> FeedKey:
        """A feed as operators name it on the command line: `all`, a section slug, `tags/T`."""
        name = name.strip("/")
        if name == "all":
            return ALL
        if name.startswith("tags/"):
            return cls("tag", name.removeprefix("tags/").strip("/"))
        return cls("section", name)

    @property
    def folder(self) -> str:
        """Where its files live in the output: '', 'S/' or 'tags/T/'."""
        if self.kind == "all":
            return ""
        return f"{self.slug}/" if self.kind == "section" else f"tags/{self.slug}/"


ALL = FeedKey("all")


def feed_keys(section: str, tags: Iterable[str]) -> tuple[FeedKey, ...]:
    """Every feed an entry of this section and these tags (slugs) appears in."""
    return (ALL, FeedKey("section", section), *(FeedKey("tag", t) for t in tags))


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem worth telling the operator, printed as `LEVEL: WHERE: MESSAGE`."""

    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Section:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Tag:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Attribution:
    """The outlet whose reporting an entry reproduces, credited in every format."""

    name: str
    url: str | None = None
    feed_url: str | None = None


@dataclass(frozen=True, slots=True)
class Dateline:
    city: str
    outlet: str


# --- body blocks -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Heading:
    text: str


@dataclass(frozen=True, slots=True)
class ListItem:
    text: str
    label: str | None = None  # the `Label` of a `Label: text` item


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[ListItem, ...]


@dataclass(frozen=True, slots=True)
class NumberedList:
    items: tuple[ListItem, ...]
    start: int = 1


Block = Paragraph | Heading | BulletList | NumberedList


@dataclass(frozen=True, slots=True)
class Article:
    """One article file, parsed; nothing here depends on the clock or the state."""

    path: str  # relative to the seeds folder, with `/` separators
    key: str  # the id without `site.id_prefix`
    section: Section
    title: str
    blocks: tuple[Block, ...]
    lang: str
    dateline: Dateline | None = None
    attribution: Attribution | None = None
    attribution_block: int | None = None  # index of the closing `Sumber: X` block, if any
    date: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[Tag, ...] = ()
    summary: str | None = None
    image: str | None = None
    link: str | None = None
    draft: bool = False
    key_from_header: bool = False

    @property
    def lead(self) -> str | None:
        for block in self.blocks:
            if isinstance(block, Paragraph):
                return block.text
        return None


@dataclass(frozen=True, slots=True)
class UpstreamFeed:
    """What an Atom `<source>` says of the feed an entry was republished from."""

    id: str
    title: str
    url: str  # the feed's own URL
    home: str | None = None
    updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file an entry points to (a podcast episode, a picture): linked, never downloaded."""

    url: str  # absolute http(s), a valid RFC 3986 URI
    type: str | None = None  # lower-case media type such as "audio/mpeg"; None when unknown
    length: int | None = None  # bytes; None unless known ("0", "", "-1" in feeds are unknown)


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, whatever it came from; the builder needs nothing else."""

    id: str  # absolute IRI: site.id_prefix + key
    key: str
    title: str
    link: str
    section: Section
    published: datetime
    updated: datetime
    summary: str
    content_html: str
    lang: str
    authors: tuple[str, ...] = ()
    tags: tuple[Tag, ...] = ()
    image: str | None = None
    image_type: str | None = None
    attribution: Attribution | None = None
    upstream: UpstreamFeed | None = None
    page: str | None = None  # output-relative path of the entry's own HTML page
    dateline: Dateline | None = None
    enclosures: tuple[Enclosure, ...] = ()

    def feed_keys(self) -> tuple[FeedKey, ...]:
        """Every feed this entry appears in: all, its section, each tag."""
        return feed_keys(self.section.slug, (t.slug for t in self.tags))


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """One feed's own metadata."""

    key: FeedKey
    title: str
    description: str
    language: str
    feed_id: str
    base_url: str
    updated: datetime
    hub: str = ""

    @property
    def folder(self) -> str:
        return self.key.folder

    def url(self, filename: str) -> str:
        return f"{self.base_url}{self.folder}{filename}"

    @property
    def home(self) -> str:
        return f"{self.base_url}{self.folder}"
