"""Hostile section, tag and file names: safe slugs, no lost entries, no writes outside output/."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds import config, entries, publish
from feeds.errors import ArticleError
from feeds.output.folder import FolderOutput, target_path
from feeds.sources.article import Rules, parse
from feeds.store import open_store
from feeds.text import slugify
from feeds.typos import fold_name

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 2, 10, 12, 0, tzinfo=UTC).timestamp()
PREFIX = "tag:usmnews.example,2026:"

# The documented slug: "lower-case ASCII, words joined by `-`" (spec), at most 80 characters
# (feeds/text.py), never a name the output layout or Windows reserves.
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG = 80
RESERVED = ({"articles", "tags", "con", "prn", "aux", "nul"}
            | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)})

HOSTILE_NAMES = [
    "..", "../../etc", "/", "/etc/passwd", "a/b", "\\", "..\\..\\windows", "C:\\",
    "C:\\Windows\\System32", "CON", "NUL", "con.txt", "LPT1", "index", "feeds", "articles",
    "tags", ".git", ".well-known", "", " ", "...", ".", "!!!", "?*<>|\"", "~", "%2e%2e%2f",
    "$HOME", "a\x00b", "\x00", "x" * 10_000, "ab " * 3000, "\uff0fetc\uff0fpasswd",
    "a\u2215b", "ı", "İstanbul", "i\u0307", "e\u0301\u0307\u0323", "\u202eevil.exe",
    "a\u200db", "ﬁ", "Ⅸ", "①", "🎉", "👩\u200d👩\u200d👧", "Ｋａｍｐｕｓ", "\ufeff", "\u3000",
    "日本", "مرحبا", "שלום", "All", "ALL!",
]


def safe_slug(slug: str) -> bool:
    return (
        SLUG.fullmatch(slug) is not None
        and len(slug) <= MAX_SLUG
        and slug not in RESERVED
        and PurePosixPath(slug).parts == (slug,)
        and PureWindowsPath(slug).parts == (slug,)
    )


# --- slugs -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: ascii(n)[:30])
@pytest.mark.parametrize("fallback", ["untitled", "section"])
def test_a_hostile_name_slugs_to_one_safe_path_component(name: str, fallback: str) -> None:
    slug = slugify(name, fallback=fallback)
    assert safe_slug(slug), slug
    assert slugify(slug, fallback=fallback) == slug  # a slug used as a name stays itself


@given(name=st.text(st.one_of(st.characters(), st.characters(categories=["Cs"]))))
def test_any_text_slugs_to_one_safe_path_component(name: str) -> None:
    slug = slugify(name)
    assert safe_slug(slug), slug
    assert slugify(slug) == slug


@pytest.mark.parametrize(("name", "slug"), [
    ("../../etc", "etc"), ("/etc/passwd", "etc-passwd"), ("C:\\", "c"), ("CON", "con-1"),
    ("articles", "articles-1"), ("tags", "tags-1"), (".git", "git"), ("", "untitled"),
    ("..", "untitled"), ("\uff0fetc\uff0fpasswd", "etc-passwd"), ("İstanbul", "istanbul"),
    ("ﬁ", "fi"), ("Ｋａｍｐｕｓ", "kampus"), ("\u202eevil.exe", "evil-exe"), ("🎉", "untitled"),
])
def test_slugs_of_some_hostile_names(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: ascii(n)[:30])
def test_a_hostile_section_line_and_tag_give_safe_slugs(rules: Rules, name: str) -> None:
    data = f"---\ntags:\n  - {yaml_quoted(name)}\n---\n{name}\nJudul\n\nIsi.\n"
    try:
        article, _ = parse("seeds/x.txt", data.encode(), rules)
    except ArticleError as exc:  # a NUL makes the file binary: rejected, naming the file
        assert "\x00" in name and exc.where == "seeds/x.txt"
        return
    assert safe_slug(article.section.slug), article.section.slug
    assert article.section.slug != "all"  # the all-sections feed's name (interface.md)
    assert all(safe_slug(tag.slug) for tag in article.tags), article.tags


# --- building with hostile names -----------------------------------------------------------


def yaml_quoted(text: str) -> str:
    # Single-quoted YAML has no escapes: the name reaches the reader as written.
    return "'" + " ".join(text.splitlines()).replace("'", "''") + "'"


def new_project(parent: Path) -> Path:
    project = parent / "site"
    (project / "config").mkdir(parents=True)
    toml = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    # Every entry of these builds must fit in one feed to tell "lost" from "not listed".
    toml = toml.replace("items_per_feed = 50", "items_per_feed = 500")
    (project / "config" / "feeds.toml").write_text(toml, encoding="utf-8")
    (project / "seeds").mkdir()
    (parent / "neighbour.txt").write_text("must stay as it is\n")
    return project


def write(project: Path, name: str, data: bytes) -> Path:
    path = project / "seeds" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (WRITTEN, WRITTEN))
    return path


def article(section: str, title: str, tags: Sequence[str] = ()) -> bytes:
    header = "tags:\n" + "".join(f"  - {yaml_quoted(t)}\n" for t in tags) if tags else ""
    return f"---\n{header}---\n{section}\n{title}\n\nIsi berita {title}.\n".encode()


def build(project: Path) -> publish.BuildResult:
    cfg, _ = config.load(project / "config" / "feeds.toml")
    store = open_store(cfg.paths.state)
    try:
        return publish.build(cfg, store, NOW, output=FolderOutput(cfg.paths.output, durable=False))
    finally:
        store.close()


def tree(folder: Path, skip: Path | None = None) -> dict[str, tuple[str, int, int]]:
    """Kind, size and mtime of everything under `folder` (links not followed)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        info = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        found[path.relative_to(folder).as_posix()] = (
            kind, info.st_size if kind != "dir" else 0, info.st_mtime_ns if kind != "dir" else 0)
    return found


def contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def private(name: str) -> bool:
    return name.startswith(("site/output/", "site/state/")) or name in ("site/output",
                                                                        "site/state")


def feed_ids(path: Path) -> list[str]:
    return [item["id"] for item in json.loads(path.read_text(encoding="utf-8"))["items"]]


def output_folders(output: Path) -> list[str]:
    """Every feed folder name: section slugs and tag slugs."""
    sections = [p.name for p in output.iterdir() if p.is_dir() and p.name not in
                ("articles", "tags")]
    tags = [p.name for p in (output / "tags").iterdir()] if (output / "tags").is_dir() else []
    return sections + tags


class Watch:
    """Snapshots of everything a build must not touch: the project minus output/ and state/,
    its neighbours in tmp_path, and the other entries of tmp_path's parent."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.before = self._take()

    def _take(self) -> tuple[dict[str, bytes], dict[str, object], dict[str, object]]:
        mine = {k: v for k, v in contents(self.tmp_path).items() if not private(k)}
        shape = {k: v for k, v in tree(self.tmp_path).items() if not private(k)}
        parent = tree(self.tmp_path.parent, skip=self.tmp_path)
        return mine, shape, parent

    def assert_untouched(self) -> None:
        after = self._take()
        assert after[0] == self.before[0], "a file outside output/ and state/ changed"
        assert after[1] == self.before[1], "the tree outside output/ and state/ changed"
        assert after[2] == self.before[2], "tmp_path's parent changed"


def published_keys(
    rules: Rules, project: Path, names: Sequence[str]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """key → (section slug, tag slugs) of each of `names` in seeds/ that the reader accepts."""
    found = {}
    for name in names:
        try:
            read, _ = parse(f"seeds/{name}", (project / "seeds" / name).read_bytes(), rules)
        except ArticleError:
            continue
        found[read.key] = (read.section.slug, tuple(t.slug for t in read.tags))
    return found


def assert_every_entry_in_its_feeds(output: Path, keys: dict[str, tuple[str, tuple[str, ...]]]
                                    ) -> None:
    for key, (section, tags) in keys.items():
        wanted = entries.entry_id(PREFIX, key)
        assert wanted in feed_ids(output / "feed.json"), key
        assert wanted in feed_ids(output / section / "feed.json"), (key, section)
        for tag in tags:
            assert wanted in feed_ids(output / "tags" / tag / "feed.json"), (key, tag)


def test_a_build_with_hostile_section_and_tag_names_writes_only_under_output(
    tmp_path: Path, rules: Rules
) -> None:
    project = new_project(tmp_path)
    for i, name in enumerate(HOSTILE_NAMES):
        write(project, f"n{i:02}.txt", article(name, f"Judul {i}", [name, f"tag {name}"]))
    watch = Watch(tmp_path)
    result = build(project)
    watch.assert_untouched()
    output = project / "output"
    assert all(safe_slug(name) for name in output_folders(output))
    assert not (output / "all").exists()
    assert (output / "index.html").is_file() and (output / "feeds.opml").is_file()
    for path in output.rglob("*"):
        assert path.resolve().is_relative_to(output.resolve()), path
    keys = published_keys(rules, project, [f"n{i:02}.txt" for i in range(len(HOSTILE_NAMES))])
    assert len(keys) == len(HOSTILE_NAMES) - 2  # the two names holding NUL: binary files
    assert_every_entry_in_its_feeds(output, keys)
    assert sorted(d.where for d in result.diagnostics if d.level == "error") == [
        f"seeds/n{HOSTILE_NAMES.index(n):02}.txt" for n in ("a\x00b", "\x00")]


# Names that differ only by case, accents, normalization, width or reserved-name suffix: one
# slug each, so one feed each group (sections match case- and accent-insensitively).
ALIKE = {
    "case-and-accents": ["Café Baru", "CAFÉ BARU", "Cafe\u0301 Baru", "café-baru!"],
    "nfkc": ["ﬁnal", "final", "ＦＩＮＡＬ", "FINAL"],
    "dotted-i": ["İstanbul", "Istanbul", "i\u0307stanbul"],
    "reserved": ["Con", "con 1", "CON-1"],
    "configured-section": ["Kampus!!", "KAMPUS", "kampus"],
}


def build_one_article_per_name(tmp_path: Path, rules: Rules, names: list[str]) -> tuple[
        Path, publish.BuildResult, dict[str, tuple[str, tuple[str, ...]]]]:
    project = new_project(tmp_path)
    for i, name in enumerate(names):
        write(project, f"alike-{i}.txt", article(name, f"Judul {i}", [name]))
    result = build(project)
    keys = published_keys(rules, project, [f"alike-{i}.txt" for i in range(len(names))])
    assert len(keys) == len(names)
    return project, result, keys


@pytest.mark.parametrize("names", ALIKE.values(), ids=ALIKE.keys())
def test_names_that_slug_alike_share_one_feed_and_lose_no_entry(
    tmp_path: Path, rules: Rules, names: list[str]
) -> None:
    project, result, keys = build_one_article_per_name(tmp_path, rules, names)
    assert len({section for section, _ in keys.values()}) == 1
    assert_every_entry_in_its_feeds(project / "output", keys)
    # The merge is not silent: every section created on the fly is named in a notice.
    for i, name in enumerate(names):
        if fold_name(name) not in rules.sections:
            assert any(d.where == f"seeds/alike-{i}.txt" and "created as" in d.message
                       for d in result.diagnostics), name


def test_names_without_latin_letters_lose_no_entry(tmp_path: Path, rules: Rules) -> None:
    # They slug to the fallback (`section`, tag `untitled`), so today they share one feed
    # named after one of them; undocumented, so only "no entry lost" is tested here.
    names = ["أخبار", "חדשות", "🎉", "日本", "Ελλάδα", "Москва"]
    project, _, keys = build_one_article_per_name(tmp_path, rules, names)
    assert_every_entry_in_its_feeds(project / "output", keys)
    assert all(safe_slug(section) for section, _ in keys.values())


def test_tags_that_slug_alike_in_one_article_become_one_tag_named_by_the_first(
    tmp_path: Path,
) -> None:
    project = new_project(tmp_path)
    write(project, "wisuda.txt", article("Kampus", "Judul", ["Wisuda Raya", "WISUDA  raya",
                                                               "wísuda-raya"]))
    build(project)
    tags = [p.name for p in (project / "output" / "tags").iterdir()]
    assert tags == ["wisuda-raya"]
    feed = json.loads((project / "output" / "tags" / "wisuda-raya" / "feed.json").read_text())
    assert feed["title"] == "USM News — #Wisuda Raya"
    assert feed["items"][0]["tags"] == ["Kampus", "Wisuda Raya"]


def test_a_section_named_all_has_a_feed_id_of_its_own(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    write(project, "semua.txt", article("All", "Judul"))
    build(project)
    output = project / "output"
    ids = {}
    for path in output.rglob("atom.xml"):
        text = path.read_text(encoding="utf-8")
        feed_id = re.search(r"<id>(.*?)</id>", text)
        assert feed_id is not None
        ids.setdefault(feed_id[1], []).append(path.relative_to(output).as_posix())
    assert all(len(paths) == 1 for paths in ids.values()), ids


# --- odd file names and links in seeds/ ------------------------------------------------------

ODD_FILE_NAMES = [
    "with space.txt", "ünïcödé.txt", "-leading.txt", "--.txt", "a..b.txt", "a...txt",
    "CON.txt", "x\\y.txt", "日本語 記事.txt", "\u202etxt.exe.txt", "a\nb.txt", "a\tb.txt",
    "%2e%2e.txt", "x" * 240 + ".txt", "index.txt", "~.txt", "$(id).txt", "*.txt", "UPPER.TXT",
    "-/b.txt", "sub dir/c.txt", "CON/d.txt", "articles/e.txt", "…/f.txt",
    "output/g.txt", "\U0001f389/h.txt",
]
HIDDEN_FILE_NAMES = ["..txt", "...x.txt", ".hidden.txt", ".well-known/i.txt", "..x/j.txt"]


def test_odd_file_names_publish_with_safe_pages_and_write_only_under_output(
    tmp_path: Path, rules: Rules
) -> None:
    project = new_project(tmp_path)
    for i, name in enumerate(ODD_FILE_NAMES + HIDDEN_FILE_NAMES):
        write(project, name, article("Kampus", f"Judul {i}"))
    watch = Watch(tmp_path)
    result = build(project)
    watch.assert_untouched()
    assert result.errors == 0
    output = project / "output"
    pages = sorted(p.relative_to(output).as_posix() for p in (output / "articles").iterdir())
    assert len(pages) == len(ODD_FILE_NAMES)  # hidden files and folders are skipped
    assert all(re.fullmatch(r"articles/[A-Za-z0-9][A-Za-z0-9._-]*\.html", p) for p in pages)
    keys = published_keys(rules, project, ODD_FILE_NAMES)
    assert sorted(keys) == sorted(PurePosixPath(n).name.removesuffix(".txt")
                                  for n in ODD_FILE_NAMES)
    assert_every_entry_in_its_feeds(output, keys)


def test_a_file_name_ending_in_a_newline_gets_a_page_name_without_one(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    write(project, "berita\n.txt", article("Kampus", "Judul"))
    build(project)
    pages = [p.name for p in (project / "output" / "articles").iterdir()]
    assert len(pages) == 1 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.html", pages[0]), pages


def test_a_symlink_to_a_file_outside_seeds_changes_nothing_outside_output(
    tmp_path: Path,
) -> None:
    project = new_project(tmp_path)
    target = tmp_path / "outside.txt"
    target.write_bytes(article("Kampus", "Dari luar"))
    (project / "seeds" / "link.txt").symlink_to(target)
    (project / "seeds" / "up.txt").symlink_to("../config/feeds.toml")
    write(project, "dekat.txt", article("Kampus", "Dekat"))
    watch = Watch(tmp_path)
    result = build(project)
    watch.assert_untouched()  # covers the link targets' bytes and mtimes
    assert (project / "seeds" / "link.txt").is_symlink()
    # Not read: whoever can make links in seeds/ must not publish the config or any file.
    errors = {d.where: d.message for d in result.diagnostics if d.level == "error"}
    assert errors == {f"seeds/{name}": "a link to a file outside the seeds folder: skipped"
                      for name in ("link.txt", "up.txt")}
    assert feed_ids(project / "output" / "feed.json") == [entries.entry_id(PREFIX, "dekat")]


def test_a_link_to_an_article_inside_seeds_is_read(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    write(project, "asli.txt", article("Kampus", "Asli"))
    (project / "seeds" / "salinan.txt").symlink_to("asli.txt")
    result = build(project)
    assert [str(d) for d in result.diagnostics if d.level == "error"] == []
    assert entries.entry_id(PREFIX, "salinan") in feed_ids(project / "output" / "feed.json")


def test_a_symlinked_folder_in_seeds_is_not_followed(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "jauh.txt").write_bytes(article("Kampus", "Jauh"))
    (project / "seeds" / "linked").symlink_to(elsewhere, target_is_directory=True)
    (project / "seeds" / "loop").symlink_to(".", target_is_directory=True)
    write(project, "dekat.txt", article("Kampus", "Dekat"))
    watch = Watch(tmp_path)
    result = build(project)
    watch.assert_untouched()
    assert result.errors == 0
    assert feed_ids(project / "output" / "feed.json") == [entries.entry_id(PREFIX, "dekat")]


def test_a_dangling_symlink_in_seeds_does_not_stop_the_build(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    (project / "seeds" / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    write(project, "dekat.txt", article("Kampus", "Dekat"))
    watch = Watch(tmp_path)
    result = build(project)
    watch.assert_untouched()
    assert not (tmp_path / "missing.txt").exists()
    assert [str(d) for d in result.diagnostics if d.level == "error"] == [
        "error: seeds/dangling.txt: a link to a file outside the seeds folder: skipped"]
    assert feed_ids(project / "output" / "feed.json") == [entries.entry_id(PREFIX, "dekat")]


def test_a_symlink_loop_named_like_an_article_does_not_stop_the_build(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    (project / "seeds" / "loop.txt").symlink_to("loop.txt")
    write(project, "dekat.txt", article("Kampus", "Dekat"))
    result = build(project)
    assert [d.where for d in result.diagnostics if d.level == "error"] == ["seeds/loop.txt"]
    assert feed_ids(project / "output" / "feed.json") == [entries.entry_id(PREFIX, "dekat")]


def test_output_refuses_paths_that_leave_it(tmp_path: Path) -> None:
    # The last line of defence behind the slugs: the writer's own lexical check.
    root = str(tmp_path / "output")
    for relative in ("../x", "../../etc/passwd", "/etc/passwd", "a/../../x", "..", ""):
        with pytest.raises(ValueError, match="outside the output folder"):
            target_path(root, relative)
