"""Hypothesis properties of the whole build: hostile article files never break output/."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import brotli
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from feeds import config, entries, publish
from feeds.errors import ArticleError
from feeds.model import BulletList, Paragraph
from feeds.output.folder import FolderOutput
from feeds.sources.article import Rules, parse
from feeds.store import open_store
from feeds.text import collapse_spaces, xml_safe

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 2, 10, 12, 0, tzinfo=UTC).timestamp()
IN_CI = bool(os.environ.get("CI"))

# A whole build with its checks costs 0.05–1 s: CI runs a fixed 80 examples per property
# (derandomized by the "ci" profile loaded in conftest), a local run 25; the file then takes
# about 100 s in CI on 2 cores. No explain phase: after a failure it re-runs ~100 builds of
# varied huge inputs, minutes for one hint.
# `make stress` (HYPOTHESIS_PROFILE=stress) runs 500.
STRESS = os.environ.get("HYPOTHESIS_PROFILE") == "stress"
whole_build = settings(max_examples=500 if STRESS else 80 if IN_CI else 25,
                       phases=[p for p in settings.default.phases if p != Phase.explain])
# Reader-level properties on 100 KB+ inputs: CI 100, a local run 30, stress 1,000.
big_input = settings(max_examples=1000 if STRESS else 100 if IN_CI else 30)

# The XML 1.0 Char production; written out here, not borrowed from feeds.text.
NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
FEED_FILE = r"(?:rss\.xml|atom\.xml|feed\.json)"
# docs/interface.md "Output layout", plus the precompressed variants of decisions.md.
OUTPUT_LAYOUT = re.compile(
    rf"(?:(?:index\.html|about\.html|feeds\.opml|{FEED_FILE})"
    rf"|(?:tags/)?{SLUG}/(?:index\.html|{FEED_FILE}))(?:\.gz|\.br)?"
    r"|articles/[A-Za-z0-9][A-Za-z0-9._-]*\.html"
)
ATOM = "{http://www.w3.org/2005/Atom}"

# --- text pieces -----------------------------------------------------------------------

WORDS = st.sampled_from([
    "Semarang", "kampus", "wisuda", "mahasiswa", "Universitas", "ekonomi", "the", "and",
    "Rektor", "berita", "Jakarta", "2026", "10:30", "Rp1,5", "&", "<b>", "]]>", "&amp;",
    "'", '"', "<!--", "-->", "<?xml", "\\", "%2e%2e/", "../", "https://detik.com/x?a=1&b=2",
])
C0_C1_DEL = st.sampled_from(
    [chr(c) for c in range(1, 0x20) if chr(c) not in "\n\r"]  # NUL makes a file binary
    + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
)
NONCHARACTERS = st.sampled_from(["\ufffe", "\uffff", "\U0001fffe", "\U0010ffff", "\ufdd0"])
RTL = st.sampled_from([
    "مرحبا بالعالم", "שלום עולם", "\u202eevil\u202c", "\u202bنص\u202c", "\u200f", "\u061c",
    "abc\u202edef", "עברית English عربي",
])
EMOJI = st.sampled_from([
    "🎉", "👩\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "👍🏽", "🇮🇩", "#️⃣", "\u200d", "\ufe0f", "𝕏",
])
COMBINING = st.sampled_from(["e\u0301", "a\u0308\u0304", "\u0301", "Z\u0351\u0352\u0353" * 5,
                             "i\u0307", "\u0e49\u0e49\u0e49", "ı", "İ", "ß", "ﬁ"])
ANY_CHAR = st.characters(codec="utf-8", exclude_characters="\x00")
PIECE = st.one_of(WORDS, WORDS, WORDS, C0_C1_DEL, NONCHARACTERS, RTL, EMOJI, COMBINING,
                  st.text(ANY_CHAR, min_size=1, max_size=6))
SAFE_PIECE = st.one_of(WORDS, RTL, EMOJI, COMBINING)


def joined(piece: st.SearchStrategy[str], max_size: int = 10) -> st.SearchStrategy[str]:
    return st.lists(piece, min_size=1, max_size=max_size).map(" ".join)


TEXT = joined(PIECE)
ONE_LINE = TEXT.map(lambda t: " ".join(t.splitlines()) or "x")

# Bytes that are not UTF-8: lone surrogates written via surrogateescape (raw bytes
# 0x80–0xFF) and via surrogatepass (ED A0 80 …), truncated and overlong sequences.
INVALID_UTF8 = st.one_of(
    st.integers(0x80, 0xFF).map(lambda b: chr(0xDC00 + b).encode("utf-8", "surrogateescape")),
    st.integers(0xD800, 0xDFFF).map(lambda c: chr(c).encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\xff\xfe"]),
)

# --- article blocks (docs/article-format.md, "Body blocks") ----------------------------

OUTLETS = st.sampled_from(["detik.com", "Antara", "CNN Indonesia", "Tempo.co", "Reuters",
                           "usm.ac.id", "kompas", "Kantor Berita Antara", "x.y.z.museum"])
PARAGRAPH = st.builds(lambda t, end: t + end, TEXT, st.sampled_from(["", ".", "!", "?", "…"]))
SUBHEADING = joined(SAFE_PIECE, 4)
BULLET = st.builds(
    lambda mark, label, text: f"{mark}{label}{text}",
    st.sampled_from(["- ", "* ", "• ", "– ", "  - "]),
    st.one_of(st.just(""), joined(WORDS, 3).map(lambda w: w + ": ")), TEXT,
)
NUMBERED = st.builds(lambda n, sep, text: f"{n}{sep}{text}",
                     st.integers(0, 10**30), st.sampled_from([". ", ") "]), TEXT)
QUOTE = st.builds(lambda q, t: f"{q[0]}{t}{q[1]}", st.sampled_from(['""', "“”", "«»", "„“"]),
                  TEXT)
SUMBER = st.builds(lambda phrase, outlet, end: f"{phrase} {outlet}{end}",
                   st.sampled_from(["Sumber:", "Source:", "Dilansir dari", "Mengutip",
                                    "Dikutip dari", "sumber :", "Quoted from"]),
                   OUTLETS, st.sampled_from(["", ".", " dan lainnya."]))
DATELINE = st.builds(lambda city, outlet, dash, text: f"{city} ({outlet}) {dash} {text}",
                     st.sampled_from(["Semarang", "Kuala Lumpur", "İzmir", "القاهرة", "x"]),
                     st.sampled_from(["usmnews", "Antara", "", "a" * 41]),
                     st.sampled_from(["–", "—", "-"]), TEXT)


class Repeat(NamedTuple):
    """One line of `unit` repeated `count` times (100,000+ characters, cut at 150,000):
    cheap to generate, and a failure report shows the recipe, not 150 KB."""

    unit: str
    count: int

    def text(self) -> str:
        return (self.unit * self.count)[:150_000]


class Bullets(NamedTuple):
    """`count` bullet lines with `mark`, each a `Label: text` item."""

    mark: str
    count: int

    def text(self) -> str:
        return "\n".join(f"{self.mark}Butir {i}: isi ke-{i}" for i in range(self.count))


HUGE_LINE = st.builds(Repeat, joined(PIECE, 3).map(lambda u: " ".join(u.splitlines()) + " "),
                      st.integers(50_000, 150_000))
MANY_BULLETS = st.builds(Bullets, st.sampled_from(["- ", "* ", "• ", "– "]),
                         st.integers(1000, 3000))
BLOCK = st.one_of(PARAGRAPH, PARAGRAPH, SUBHEADING, BULLET, NUMBERED, QUOTE, SUMBER, DATELINE,
                  st.just(""), st.just("---"))

# --- header, section, whole file ---------------------------------------------------------

CONFIGURED_SECTIONS = st.sampled_from([
    "Kampus", "KAMPUS", "kampus", "International", "Internasional", "Ékonomi", "Olah Raga",
    "  Teknologi  ", "Sains dan Teknologi",
])
# Names that would collide with the output layout or the all-sections feed once slugged.
LAYOUT_SECTIONS = st.sampled_from(["All", "ALL!", "Articles", "tags", "CON", "..", "index",
                                   "feeds", "Section", "untitled", "/"])
SECTION = st.one_of(CONFIGURED_SECTIONS, LAYOUT_SECTIONS, ONE_LINE, ONE_LINE)


def yaml_quoted(text: str) -> str:
    # Single-quoted YAML has no escapes, so every character is written raw.
    return "'" + " ".join(text.splitlines()).replace("'", "''") + "'"


# Double-quoted YAML escapes make characters the file itself cannot hold (NUL, C0, U+FFFE).
YAML_ESCAPED = st.lists(st.one_of(
    st.sampled_from([r"\0", r"\x01", r"\x0B", r"\x7F", r"\x85", r"\uFFFE", r"\uFFFF",
                     r"\U0010FFFF", r"\u202E", r"\t", r"\e", r"\N", r"\_", r"\L"]),
    st.sampled_from(["kata", "Antara", " ", "🎉"]),
), min_size=1, max_size=5).map(lambda parts: '"' + "".join(parts) + '"')


# The whole calendar: at its ends a date in the site's zone leaves years 1–9999 in UTC.
ZONES = st.sampled_from([UTC, None, timezone(timedelta(hours=14)),
                         timezone(-timedelta(hours=12))])
PAST = st.datetimes(datetime(1, 1, 1), datetime(2025, 12, 31), timezones=ZONES)  # noqa: DTZ001
FUTURE = st.datetimes(datetime(2027, 1, 1), datetime(9999, 12, 31),  # noqa: DTZ001
                      timezones=ZONES)
HEADER_LINE = st.one_of(
    st.lists(ONE_LINE, max_size=4).map(
        lambda tags: "tags:\n" + "".join(f"  - {yaml_quoted(t)}\n" for t in tags)),
    ONE_LINE.map(lambda t: f"tags: {yaml_quoted(t)}\n"),
    ONE_LINE.map(lambda t: f"author: {yaml_quoted(t)}\n"),
    ONE_LINE.map(lambda t: f"summary: {yaml_quoted(t)}\n"),
    ONE_LINE.map(lambda t: f"source: {yaml_quoted(t)}\n"),
    st.tuples(st.sampled_from(["tags", "author", "summary", "source"]), YAML_ESCAPED).map(
        lambda pair: f"{pair[0]}: {pair[1]}\n"),
    YAML_ESCAPED.map(lambda t: f"tags: [{t}, {t}]\n"),
    st.sampled_from(["source_url: https://detik.com/a\n", "image: https://x.example/a.png\n",
                     "image: javascript:alert(1)\n", "link: https://elsewhere.example/a\n",
                     "lang: en\n", "lang: ar\n", "lang: 'no'\n", "lang: x y\n", "draft: true\n",
                     "draft: no\n", "draft: maybe\n", "id: tetap-1\n", "id: ../x\n",
                     "id: '..'\n", "unknown: 1\n", "tags: [a\n", "date: kemarin\n"]),
)
# The ends of the calendar and of the epoch, which uniform dates almost never reach; no date
# just after NOW (the later rebuilds of a property would rightly publish it).
CALENDAR_ENDS = st.sampled_from([
    "0001-01-01", "0001-01-01T06:59:59", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z",
    "9999-12-31", "9999-12-31T20:00:00-05:00", "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59.999999+00:00", "1970-01-01", "1969-12-31T23:59:59.5+00:00",
    "2026-03-01T08:00:00+00:00", "2026-03-01T15:00:00",
])
DATE_LINE = st.builds(
    lambda key, value: f"{key}: {value}\n",
    st.sampled_from(["date", "date", "updated"]),
    st.one_of(PAST.map(datetime.isoformat), FUTURE.map(datetime.isoformat),
              st.one_of(PAST, FUTURE).map(lambda d: d.date().isoformat()),
              CALENDAR_ENDS, CALENDAR_ENDS),
)


@st.composite
def header(draw: st.DrawFn) -> str:
    """A header block: a few random keys, and a date line one time in two."""
    lines = draw(st.lists(HEADER_LINE, max_size=3))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(DATE_LINE))
    return "---\n" + "".join(lines) + "---\n"


# One body line in ten is 100 KB+ or a thousand bullets: enough to meet them in every run,
# few enough to keep 100 whole builds within the CI budget.
BODY_LINE = st.one_of(*[BLOCK] * 8, HUGE_LINE, MANY_BULLETS)


class Recipe(NamedTuple):
    """The recipe of one article file: its lines, line ending, BOM, and maybe bytes that are
    not UTF-8 inserted at `bad[0]` (modulo the length)."""

    lines: tuple[str | Repeat | Bullets, ...]
    ending: str
    bom: bool
    bad: tuple[int, bytes] | None

    def data(self) -> bytes:
        text = self.ending.join(
            line if isinstance(line, str) else line.text().replace("\n", self.ending)
            for line in self.lines
        )
        data = (b"\xef\xbb\xbf" if self.bom else b"") + text.encode("utf-8", "surrogatepass")
        if self.bad is not None:
            at = self.bad[0] % (len(data) + 1)
            data = data[:at] + self.bad[1] + data[at:]
        return data


@st.composite
def article_file(draw: st.DrawFn) -> Recipe:
    """One file: maybe a header, a section, a title, blocks; line endings, BOM, bad bytes."""
    lines: list[str | Repeat | Bullets] = []
    if draw(st.booleans()):
        lines.extend(draw(header()).splitlines())
    lines.append(draw(SECTION))
    lines.append(draw(st.one_of(*[ONE_LINE] * 7, HUGE_LINE)))
    lines.extend(draw(st.lists(BODY_LINE, max_size=8)))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    # Sometimes not UTF-8 at all: read as Windows-1252 with a warning.
    bad = draw(st.one_of(st.none(), st.none(), st.none(), st.none(),
                         st.tuples(st.integers(0, 10**7), INVALID_UTF8)))
    return Recipe(tuple(lines), ending, draw(st.booleans()), bad)


ANY_FILE = st.one_of(article_file(), article_file(), article_file(), st.binary(max_size=3000))
# File names the page path must cope with: random ones, and a few odd ones often enough.
FILE_STEM = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), max_size=20),
    st.sampled_from(["", "\n", "x\n", "a b", "..", "-rf", "CON", "é", "\u202e", "x" * 200]),
)
FILES = st.lists(st.tuples(FILE_STEM, ANY_FILE), min_size=1, max_size=4).map(
    # The index prefix keeps names unique and not hidden; the rest of the name is random.
    lambda pairs: {f"{i}-{stem}.txt": recipe for i, (stem, recipe) in enumerate(pairs)}
)


def materialize(files: dict[str, Recipe | bytes]) -> dict[str, bytes]:
    return {name: f if isinstance(f, bytes) else f.data() for name, f in files.items()}

# --- building ------------------------------------------------------------------------


def new_project(parent: Path, files: dict[str, bytes]) -> Path:
    project = parent / "site"
    (project / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "feeds.toml", project / "config" / "feeds.toml")
    (project / "seeds").mkdir()
    for name, data in files.items():
        path = project / "seeds" / name
        path.write_bytes(data)
        os.utime(path, (WRITTEN, WRITTEN))
    (parent / "neighbour.txt").write_text("must stay as it is\n")
    return project


def build(project: Path, now: datetime = NOW, *, full: bool = False) -> publish.BuildResult:
    cfg, _ = config.load(project / "config" / "feeds.toml")
    store = open_store(cfg.paths.state)
    try:
        # Not durable: fsync is not what these properties test, and it dominates the cost.
        return publish.build(cfg, store, now, output=FolderOutput(cfg.paths.output, durable=False),
                             full=full)
    finally:
        store.close()


Tree = dict[str, tuple[str, str, int]]


def tree(folder: Path) -> Tree:
    """Every entry under `folder`: kind, sha256 of its bytes (files) or link target, mtime."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path), info.st_mtime_ns)
        elif path.is_dir():
            found[name] = ("dir", "", 0)
        else:
            found[name] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(),
                           info.st_mtime_ns)
    return found


def changes(before: Tree, after: Tree, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """The names that appeared, vanished or changed (a short list, not a diff of bytes)."""
    def kept(name: str) -> bool:
        return not any(name == p or name.startswith(p + "/") for p in ignore)

    names = {n for n in (*before, *after) if kept(n)}
    return sorted(n for n in names if before.get(n) != after.get(n))


# --- checking every output file ----------------------------------------------------------


def assert_xml_chars_only(text: str, where: str) -> None:
    bad = NOT_XML_CHAR.search(text)
    assert bad is None, f"{where}: U+{ord(bad[0]):04X} is not an XML 1.0 character"


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def assert_rfc3339(value: object) -> None:
    assert isinstance(value, str) and "T" in value
    assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def check_json_feed(feed: Any, where: str) -> list[str]:
    """JSON Feed 1.1 (jsonfeed.org/version/1.1): the required keys and their types."""
    assert isinstance(feed, dict), where
    assert feed["version"] == "https://jsonfeed.org/version/1.1", where
    assert isinstance(feed["title"], str) and feed["title"], where
    for key in ("home_page_url", "feed_url", "description", "language"):
        assert isinstance(feed.get(key, ""), str), (where, key)
    assert isinstance(feed["items"], list), where
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"], where
        assert isinstance(item.get("content_html"), str) or isinstance(
            item.get("content_text"), str), where
        for key in ("url", "external_url", "title", "summary", "image", "language"):
            assert isinstance(item.get(key, ""), str), (where, key)
        for key in ("date_published", "date_modified"):
            if key in item:
                assert_rfc3339(item[key])
        assert all(isinstance(t, str) for t in item.get("tags", [])), where
        assert all(isinstance(a, dict) and isinstance(a.get("name"), str)
                   for a in item.get("authors", [])), where
        assert all(isinstance(a["url"], str) and isinstance(a["mime_type"], str)
                   for a in item.get("attachments", [])), where
    ids = [item["id"] for item in feed["items"]]
    assert len(ids) == len(set(ids)), f"{where}: an item twice"
    return ids


def check_xml(data: bytes, where: str) -> list[str]:
    """Parse completely with a strict parser; the entry ids of a feed, in order."""
    root = ET.fromstring(data)  # raises ParseError on anything not well-formed
    if where.endswith("rss.xml"):
        assert root.tag == "rss" and root.get("version") == "2.0", where
        channel = root.find("channel")
        assert channel is not None and channel.findtext("title"), where
        return [item.findtext("guid") or "" for item in channel.iter("item")]
    if where.endswith("atom.xml"):
        assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}id"), where
        assert root.findtext(f"{ATOM}updated"), where
        return [entry.findtext(f"{ATOM}id") or "" for entry in root.iter(f"{ATOM}entry")]
    assert root.tag == "opml", where
    return []


def check_output(output: Path) -> dict[str, list[str]]:
    """Every file under output/ is where the layout says and valid for its kind; returns the
    entry ids of every feed file."""
    ids: dict[str, list[str]] = {}
    feed_ids: dict[str, str] = {}  # atom:id of each feed → its file
    for path in sorted(output.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        name = path.relative_to(output).as_posix()
        # The layout has no `..` and no absolute part; with no links, nothing points outside.
        assert OUTPUT_LAYOUT.fullmatch(name), f"unexpected output file {name!r}"
        assert not path.is_symlink(), name
        data = path.read_bytes()
        if name.endswith((".gz", ".br")):
            plain = gzip.decompress(data) if name.endswith(".gz") else brotli.decompress(data)
            fresh = plain == (output / name[:-3]).read_bytes()  # no byte diff on failure
            assert fresh, f"{name} does not hold what {name[:-3]} holds"
            continue
        text = data.decode("utf-8")  # strict: every text output is UTF-8
        assert_xml_chars_only(text, name)
        if name.endswith(".json"):
            feed = json.loads(text)
            for value in strings_in(feed):  # json escapes controls as \u00XX: check values too
                assert_xml_chars_only(value, name)
            ids[name] = check_json_feed(feed, name)
        elif name.endswith((".xml", ".opml")):
            found = check_xml(data, name)
            if name.endswith(".xml"):
                ids[name] = found
            if name.endswith("atom.xml"):
                feed_id = ET.fromstring(data).findtext(f"{ATOM}id") or ""
                assert feed_id not in feed_ids, f"{name} and {feed_ids[feed_id]} share an id"
                feed_ids[feed_id] = name
    return ids


def expected_outcome(
    rules: Rules, files: dict[str, bytes]
) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """What the spec says each file becomes, read with the reader alone: errors by file,
    published keys by file, and keys whose page must exist."""
    errors: dict[str, str] = {}
    published: dict[str, str] = {}
    pages: set[str] = set()
    claimed: dict[str, str] = {}
    for name in sorted(files):  # one mtime for all: the first path claims a duplicate id
        where = f"seeds/{name}"
        try:
            article, _ = parse(where, files[name], rules)
        except ArticleError as exc:
            errors[where] = exc.message
            continue
        if article.key in claimed:
            errors[where] = (f"id {article.key!r} is already used by {claimed[article.key]}; "
                             "rename one file")
            continue
        claimed[article.key] = where
        if article.draft or (article.date is not None and article.date > NOW):
            continue
        published[where] = article.key
        if article.link is None:
            pages.add(article.key)
    return errors, published, pages


# --- whole-build properties -----------------------------------------------------------------

Files = dict[str, Recipe | bytes]


@whole_build
@given(files=FILES)
def test_any_seeds_build_without_exception_and_every_problem_names_its_file(
    rules: Rules, files: Files
) -> None:
    data = materialize(files)
    with tempfile.TemporaryDirectory() as temp:
        project = new_project(Path(temp), data)
        result = build(project)
    names = {f"seeds/{name}" for name in files}
    for diagnostic in result.diagnostics:
        assert diagnostic.where in names, str(diagnostic)
        assert diagnostic.message.strip(), str(diagnostic)
    errors, _, _ = expected_outcome(rules, data)
    reported = {d.where: d.message for d in result.diagnostics if d.level == "error"}
    assert reported == errors


@whole_build
@given(files=FILES)
def test_every_output_file_is_valid_and_every_good_article_is_published(
    rules: Rules, files: Files
) -> None:
    data = materialize(files)
    with tempfile.TemporaryDirectory() as temp:
        project = new_project(Path(temp), data)
        build(project)
        output = project / "output"
        ids = check_output(output)
        _, published, pages = expected_outcome(rules, data)
        for key in pages:
            assert (output / entries.page_path(key)).is_file(), key
    prefix = "tag:usmnews.example,2026:"
    assert Counter(ids["feed.json"]) == Counter(
        entries.entry_id(prefix, key) for key in published.values())
    # The three formats of one feed carry the same entries in the same order.
    for name, found in ids.items():
        folder = name.rpartition("/")[0]
        base = folder + "/" if folder else ""
        assert found == ids[base + "feed.json"], name


@whole_build
@given(files=FILES)
def test_a_build_writes_nothing_outside_output_and_state(files: Files) -> None:
    with tempfile.TemporaryDirectory() as temp:
        parent = Path(temp)
        project = new_project(parent, materialize(files))
        before = tree(parent)
        build(project)
        after = tree(parent)
        state_files = [p.name for p in (project / "state").iterdir()]
    assert changes(before, after, ignore=("site/output", "site/state")) == []
    assert all(name.startswith("feeds.sqlite") for name in state_files), state_files


@whole_build
@given(files=FILES)
def test_a_second_build_of_the_same_seeds_rewrites_nothing(files: Files) -> None:
    with tempfile.TemporaryDirectory() as temp:
        project = new_project(Path(temp), materialize(files))
        first = build(project)
        before = tree(project / "output")
        second = build(project, NOW + timedelta(minutes=5))
        after_second = tree(project / "output")
        # A full build re-renders every feed and page: the bytes must come out the same.
        third = build(project, NOW + timedelta(minutes=10), full=True)
        after_third = tree(project / "output")
    assert second.changed == [] and third.changed == []
    # Same bytes and same mtimes: nothing was rewritten.
    assert changes(before, after_second) == []
    assert changes(before, after_third) == []
    # Unchanged broken files are reported again, without being re-read.
    assert Counter(map(str, second.diagnostics)) == Counter(map(str, first.diagnostics))


# --- reader-level properties on inputs tests/test_properties.py does not reach ---------------


@big_input
@given(line=HUGE_LINE.filter(lambda r: r.unit[:1].isalpha()))
def test_a_huge_line_is_one_whole_paragraph(rules: Rules, line: Repeat) -> None:
    text = line.text()
    article, _ = parse("seeds/x.txt", f"Kampus\nJudul\n\n{text}\n".encode(), rules)
    assert len(article.blocks) == 1 and isinstance(article.blocks[0], Paragraph)
    whole = article.blocks[0].text == collapse_spaces(xml_safe(text))  # no 150 KB diff
    assert whole, f"paragraph of {len(article.blocks[0].text)} characters"


@big_input
@given(title=HUGE_LINE.filter(lambda r: collapse_spaces(xml_safe(r.unit))))
def test_a_huge_title_is_kept_whole(rules: Rules, title: Repeat) -> None:
    text = title.text()
    article, _ = parse("seeds/x.txt", f"Kampus\n{text}\n\nIsi.\n".encode(), rules)
    whole = article.title == collapse_spaces(xml_safe(text))
    assert whole, f"title of {len(article.title)} characters"


@big_input
@given(bullets=MANY_BULLETS, labelled=st.booleans())
def test_thousands_of_bullets_make_one_list_in_order(
    rules: Rules, bullets: Bullets, labelled: bool
) -> None:
    body = bullets.text() if labelled else bullets.text().replace(": ", " ")
    article, _ = parse("seeds/x.txt", f"Kampus\nJudul\n\nPembuka.\n{body}\n".encode(), rules)
    assert len(article.blocks) == 2
    found = article.blocks[1]
    assert isinstance(found, BulletList)
    if labelled:
        wanted = [(f"Butir {i}", f"isi ke-{i}") for i in range(bullets.count)]
    else:
        wanted = [(None, f"Butir {i} isi ke-{i}") for i in range(bullets.count)]
    in_order = [(item.label, item.text) for item in found.items] == wanted
    assert in_order, f"{len(found.items)} items"


@big_input
@given(lines=st.lists(TEXT, min_size=2, max_size=6), bad=st.lists(
    st.tuples(st.integers(0, 10**6), INVALID_UTF8), min_size=1, max_size=5))
def test_bytes_that_are_not_utf8_are_read_as_windows_1252_with_a_warning(
    rules: Rules, lines: list[str], bad: list[tuple[int, bytes]]
) -> None:
    data = "\n".join(["Kampus", "Judul", *lines]).encode("utf-8", "surrogatepass")
    for at, chunk in bad:
        at %= len(data) + 1
        data = data[:at] + chunk + data[at:]
    try:
        article, notes = parse("seeds/x.txt", data, rules)
    except ArticleError as exc:  # the bad bytes may have eaten the title line
        assert exc.where == "seeds/x.txt"
        return
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False  # two chunks side by side can make a valid sequence: check, don't assume
    warned = any(n.where == "seeds/x.txt" and "not valid UTF-8" in n.message for n in notes)
    assert warned == (not valid)
    for text in [article.title, article.section.name,
                 *(getattr(b, "text", "") for b in article.blocks)]:
        assert_xml_chars_only(text, "article")
        assert not re.search("[\ud800-\udfff\u0080-\u009f]", text)


@big_input
@given(lines=st.lists(TEXT, min_size=1, max_size=6))
def test_characters_xml_forbids_are_removed_with_a_warning(rules: Rules, lines: list[str]) -> None:
    text = "\n".join(["Kampus", "Judul", *lines])
    try:
        article, notes = parse("seeds/x.txt", text.encode("utf-8"), rules)
    except ArticleError:
        return
    forbidden = NOT_XML_CHAR.search(text) or re.search("[\u0080-\u009f]", text)
    warned = any(n.where == "seeds/x.txt" and "removed" in n.message for n in notes)
    assert warned == (forbidden is not None)
    for block in article.blocks:
        assert_xml_chars_only(getattr(block, "text", ""), "block")


@pytest.mark.parametrize("encoding", ["surrogateescape", "surrogatepass"])
def test_a_title_with_lone_surrogates_is_published_with_valid_feeds(
    tmp_path: Path, encoding: str
) -> None:
    title = "Judul \udcff\udc80 akhir" if encoding == "surrogateescape" else "Judul \ud800 akhir"
    data = f"Kampus\n{title}\n\nIsi berita.\n".encode("utf-8", encoding)
    project = new_project(tmp_path, {"s.txt": data})
    result = build(project)
    assert [d.level for d in result.diagnostics] == ["warning"]
    feed = json.loads((project / "output" / "feed.json").read_text(encoding="utf-8"))
    assert [item["title"].startswith("Judul ") for item in feed["items"]] == [True]
    check_output(project / "output")


# --- bugs the properties above found, one example each ------------------------------------

GOOD = "Kampus\nJudul Baik\n\nIsi berita yang baik.\n"


def assert_one_bad_file_does_not_stop_the_build(project: Path, header: str) -> None:
    (project / "seeds" / "buruk.txt").write_text(f"---\n{header}\n---\n{GOOD}")
    (project / "seeds" / "baik.txt").write_text(GOOD.replace("Baik", "Lain"))
    build(project)  # must not raise: the spec makes every problem one file's diagnostic
    check_output(project / "output")
    keys = {item["id"].rsplit(":", 1)[1] for item in json.loads(
        (project / "output" / "feed.json").read_text(encoding="utf-8"))["items"]}
    assert "baik" in keys


@pytest.mark.parametrize("header", [
    r'summary: "a\x01b"', r'tags: ["a\x01b"]', r'tags: ["a\0b"]', r'author: "x\uFFFEy"',
    r'source: "Ant\x0Bara"',
])
def test_a_yaml_escape_of_a_forbidden_character_fails_only_its_file(
    tmp_path: Path, header: str
) -> None:
    assert_one_bad_file_does_not_stop_the_build(new_project(tmp_path, {}), header)


@pytest.mark.parametrize("header", [
    "date: 0001-01-01", "date: 0001-01-01T00:00:00+14:00", "date: 9999-12-31T23:59:59-12:00",
])
def test_a_header_date_at_the_ends_of_the_calendar_fails_only_its_file(
    tmp_path: Path, header: str
) -> None:
    assert_one_bad_file_does_not_stop_the_build(new_project(tmp_path, {}), header)


@pytest.mark.parametrize("header", ["date: 0001-01-02", "updated: 9999-12-31",
                                    "date: 1969-12-31T23:59:59.5+00:00"])
def test_a_header_date_just_inside_the_calendar_builds(tmp_path: Path, header: str) -> None:
    assert_one_bad_file_does_not_stop_the_build(new_project(tmp_path, {}), header)
