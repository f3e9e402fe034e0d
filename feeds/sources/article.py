"""Pure: (file name, bytes) → Article, or ArticleError naming the file and the reason.

Implements every rule of the plain article format (docs: shared/spec/article-format.md):
header block, section and title lines, the four body block kinds, lead,
dateline, attribution phrases, language, encodings and line endings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml

from feeds import lang, typos
from feeds.config import Config, Outlet, SectionConfig
from feeds.errors import ArticleError
from feeds.model import (
    Article,
    Attribution,
    Block,
    BulletList,
    Dateline,
    Diagnostic,
    Heading,
    ListItem,
    NumberedList,
    Paragraph,
    Section,
    Tag,
)
from feeds.sources.yaml_words import YamlFault, explain, not_key_value
from feeds.text import (
    collapse_spaces,
    fold,
    is_http_url,
    is_quotation_mark,
    name_hash,
    name_slug,
    section_slug,
    xml_safe,
)
from feeds.typos import fold_name

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BULLET = re.compile(r"^[-*•–]\s+(?P<text>\S.*)$")
_NUMBERED = re.compile(r"^(?P<n>\d+)[.)]\s+(?P<text>\S.*)$")
_ITEM_LABEL = re.compile(r"^(?P<label>[^:.;!?]{1,60}?)\s*:\s+(?P<text>\S.*)$")
_SENTENCE_END = ".,;:!?…"
_CLOSERS = "\"'”’»)]}›"
_LABEL_LINE = re.compile(
    r"^(baca\s+juga|lihat\s+juga|simak\s+juga|foto|video|editor|penulis|reporter|pewarta|"
    r"redaktur|kontributor|sumber|source|read\s+also|see\s+also|photo|writer|author|"
    r"ilustrasi|keterangan|caption)\s*:",
    re.IGNORECASE,
)
_DATELINE = re.compile(
    r"^(?P<city>[^\W\d_][^\W\d_.' -]*(?:[ .'-]+[^\W\d_]+){0,3})\s*"
    r"\((?P<outlet>[^()]{1,40}?)\)\s*[–—-]\s*"
)
_ATTRIBUTION_PHRASE = re.compile(
    r"(?<!\w)(?:dikutip\s+dari|dilansir\s+dari|dilansir|melansir|mengutip|"
    r"sumber\s*:|source\s*:|quoted\s+from)\s*",
    re.IGNORECASE,
)
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-]|\.\w)"
)
_CAPITALIZED_WORD = r"[^\W\d_][\w&.'’-]*"
_CAPITALIZED_RUN = re.compile(rf"{_CAPITALIZED_WORD}(?:\s+{_CAPITALIZED_WORD}){{0,3}}")
_HEADER_ID = re.compile(r"^[A-Za-z0-9._-]+\Z")
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
_HEADER_KEYS = frozenset(
    {"id", "date", "updated", "author", "tags", "summary", "image", "link", "lang", "source",
     "source_url"}
)
# The ways other tools mark a draft (docs/decisions.md, "Article format": the table).
_DRAFT_KEYS = ("draft", "published", "status", "hidden", "private")
_KEY_SYNONYMS = {"tanggal": "date"}
# An unknown key this close to one of these holds the article: misspelt, it would be ignored
# and a draft published, or an article published at the wrong time. The spec names the
# first four; the other draft keys and `tanggal` (the date) fail the same way.
_GUARDED_KEYS = ("draft", "date", "updated", "published", "status", "hidden", "private",
                 "tanggal")
_KNOWN_KEYS = (*sorted(_HEADER_KEYS), *_DRAFT_KEYS, *_KEY_SYNONYMS)
_YAML_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Rules:
    """What the reader needs of the configuration, prepared once per build.

    Picklable (worker processes get a copy). Sections already live in the state count as
    known for the typo check: the build adds them with `with_live`.
    """

    sections: Mapping[str, Section]  # fold_name of name/alias/slug → section
    outlets: Mapping[str, Outlet]  # folded name/alias/host → outlet
    outlet_names: tuple[str, ...]  # every name and alias, longest first
    languages: tuple[str, ...]
    default_lang: str
    zone: ZoneInfo
    # fold_name of a configured name/alias/slug → how to suggest it (a slug shows the name)
    section_labels: Mapping[str, str] = field(default_factory=dict)
    # fold_name of a live section's name/slug → (its name, the section); see `with_live`
    live_sections: Mapping[str, tuple[str, Section]] = field(default_factory=dict)
    # slug → fold_name of the section or tag name that holds it (configured or live): a new
    # name whose slug another name holds gets a slug of its own
    section_slugs: Mapping[str, str] = field(default_factory=dict)
    tag_slugs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Rules:
        return cls.build(config.sections, config.outlets, config.site.languages,
                         config.site.language, config.site.zone)

    @classmethod
    def build(
        cls,
        sections: tuple[SectionConfig, ...],
        outlets: tuple[Outlet, ...],
        languages: tuple[str, ...],
        default_lang: str,
        zone: ZoneInfo,
    ) -> Rules:
        section_map: dict[str, Section] = {}
        labels: dict[str, str] = {}
        for s in sections:
            for label, shown in ((s.name, s.name), (s.slug, s.name), *((a, a) for a in s.aliases)):
                key = fold_name(label)
                if key:  # the first section to claim a folded label keeps it
                    section_map.setdefault(key, Section(s.slug, s.name))
                    labels.setdefault(key, shown)
        outlet_map: dict[str, Outlet] = {}
        for o in outlets:
            for label in (o.name, *o.aliases):
                outlet_map[fold(label)] = o
            if o.url and (host := urlsplit(o.url).hostname):
                outlet_map.setdefault(_bare_host(host), o)
        names = sorted({n for o in outlets for n in (o.name, *o.aliases)}, key=len, reverse=True)
        slugs = {s.slug: fold_name(s.name) for s in sections}
        return cls(section_map, outlet_map, tuple(names), languages, default_lang, zone, labels,
                   section_slugs=slugs)

    def with_live(self, sections: Iterable[Section], tags: Iterable[Tag] = ()) -> Rules:
        """These rules, knowing `sections` and `tags` (slug, name) as live: the state's."""
        live: dict[str, tuple[str, Section]] = {}
        slugs = dict(self.section_slugs)
        for s in sections:
            slugs.setdefault(s.slug, fold_name(s.name))
            for label in (s.name, s.slug):
                if key := fold_name(label):
                    live.setdefault(key, (s.name, s))
        tag_slugs = {t.slug: fold_name(t.name) for t in tags}
        return replace(self, live_sections=live, section_slugs=slugs, tag_slugs=tag_slugs)


def parse(path: str, data: bytes, rules: Rules) -> tuple[Article, list[Diagnostic]]:
    """Parse one article file; raise ArticleError for a file that cannot be published."""
    diagnostics: list[Diagnostic] = []
    text = _decode(path, data, diagnostics)
    raw_lines = _LINE_BREAK.split(text)
    header, header_line, body_start = _split_header(path, raw_lines)
    fields = (
        _read_header(path, header, header_line, rules, diagnostics) if header is not None else {}
    )
    # Runs of spaces inside a line mean nothing either (as in HTML): one space each.
    lines = [collapse_spaces(line) for line in raw_lines[body_start:]]
    lines = [line for line in lines if line]
    if not lines:
        raise ArticleError(path, "no section line and no title line")
    if len(lines) < 2:
        raise ArticleError(path, "no title line (only a section line)")
    section = _section(path, lines[0], rules, diagnostics, raw_lines, body_start)
    title = lines[1]
    blocks = _blocks(lines[2:])
    attribution, attribution_block = _attribution(fields, blocks, rules)
    key = fields.get("id") or path.rpartition("/")[2].removesuffix(".txt")  # no Path: 20 µs
    prose = " ".join([title, *(b.text for b in blocks if isinstance(b, Paragraph | Heading))])
    article = Article(
        path=path,
        key=key,
        section=section,
        title=title,
        blocks=blocks,
        lang=fields.get("lang") or lang.recognize(prose, rules.languages, rules.default_lang),
        dateline=_dateline(blocks),
        attribution=attribution,
        attribution_block=attribution_block,
        date=fields.get("date"),
        updated=fields.get("updated"),
        authors=fields.get("author", ()),
        tags=fields.get("tags", ()),
        summary=fields.get("summary"),
        image=fields.get("image"),
        link=fields.get("link"),
        draft=fields.get("draft", False),
        key_from_header="id" in fields,
    )
    return article, diagnostics


# --- bytes to lines --------------------------------------------------------------


def _decode(path: str, data: bytes, diagnostics: list[Diagnostic]) -> str:
    if b"\x00" in data:
        raise ArticleError(path, "binary file (contains NUL bytes), not a text article")
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise ArticleError(path, "empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        diagnostics.append(
            Diagnostic(
                "warning",
                path,
                f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "read as Windows-1252",
            )
        )
        text = data.decode("cp1252", errors="replace")
    clean = xml_safe(text)
    if len(clean) != len(text):
        diagnostics.append(
            Diagnostic(
                "warning", path,
                f"removed {len(text) - len(clean)} control or non-character code point(s) "
                "that XML cannot carry",
            )
        )
    return clean


def _split_header(path: str, lines: list[str]) -> tuple[str | None, int, int]:
    """The YAML between the first two `---` lines, the file's line number of its first line
    (1-based: blank lines before the header count, a byte-order mark does not), and the
    index of the line where the body starts."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != "---":
        return None, 0, 0
    for end in range(first + 1, len(lines)):
        if lines[end].strip() == "---":
            return "\n".join(lines[first + 1 : end]), first + 2, end + 1
    raise ArticleError(
        path,
        f"malformed header: the '---' on line {first + 1} is never closed: "
        "end the header with a line of exactly '---' before the section line",
    )


# --- the header ------------------------------------------------------------------


def _read_header(
    path: str, header: str, first_line: int, rules: Rules, diagnostics: list[Diagnostic]
) -> dict[str, Any]:
    """The header's fields by their canonical key; `first_line` is the file's line of the
    header's first line, so that every message names the file's own line."""
    fields: dict[str, Any] = {}
    seen: dict[str, tuple[str, int]] = {}  # canonical key → (as written, line)
    votes: list[tuple[str, int, bool]] = []  # ("key: value" as written, line, is a draft)
    for written, value, line in _header_entries(path, header, first_line):
        key = written.strip().casefold()
        key = _KEY_SYNONYMS.get(key, key)
        if key in seen:
            raise ArticleError(path, _given_twice(key, *seen[key], written, line))
        seen[key] = (written, line)

        def fail(problem: str, written: str = written, line: int = line) -> ArticleError:
            return ArticleError(path, f"header line {line}: {written}: {problem}")

        if key in _DRAFT_KEYS:
            draft = _draft_vote(key, written, value, fail)
            if draft is not None:
                votes.append((f"{written}: {_text(value, fail).strip()}", line, draft))
        elif key in _HEADER_KEYS:
            fields[key] = _header_value(key, value, rules, fail)
        else:
            _unknown_key(path, written, line, diagnostics)
    if votes:
        said, line, draft = votes[0]
        for other, other_line, other_draft in votes[1:]:
            if other_draft != draft:
                raise ArticleError(
                    path,
                    f"header lines {line} and {other_line}: {said!r} and {other!r} disagree "
                    "on whether the article is a draft: keep one of them",
                )
        fields["draft"] = draft
    if fields.get("source_url") and not fields.get("source"):
        raise ArticleError(
            path,
            f"header line {seen['source_url'][1]}: source_url is given without source: "
            "add source: with the outlet's name (it is what subscribers read)",
        )
    return {k: v for k, v in fields.items() if v is not None}


def _given_twice(key: str, first: str, first_line: int, second: str, second_line: int) -> str:
    where = f"header lines {first_line} and {second_line}"
    if first.strip().casefold() != second.strip().casefold():  # tanggal and date
        return (
            f"{where}: {first!r} and {second!r} both give the {key} "
            f"('tanggal' is read as 'date'): keep one of them"
        )
    if first != second:
        return f"{where}: {first!r} and {second!r} are the same key (keys ignore case): keep one"
    return f"{where}: {first!r} is given twice: keep one of them"


def _unknown_key(path: str, written: str, line: int, diagnostics: list[Diagnostic]) -> None:
    """A key that looks like a typo of a guarded key holds the article; others warn."""
    folded = fold_name(written)
    guarded = typos.closest(folded, _GUARDED_KEYS)
    if guarded is not None:
        raise ArticleError(
            path,
            f"header line {line}: unknown key {written!r}: did you mean {guarded!r}? "
            f"Correct the key (the article is held until then: a misspelt {guarded!r} "
            "would be ignored)",
        )
    near = typos.closest(folded, _KNOWN_KEYS)
    hint = f": did you mean {near!r}?" if near is not None else ""
    diagnostics.append(
        Diagnostic("warning", path, f"unknown header key {written!r} (ignored){hint}")
    )


def _draft_vote(key: str, written: str, value: object, fail: Any) -> bool | None:
    """What one of the draft keys says: True a draft, False published, None nothing (empty).

    Anything unclear is an error that holds the article, never a silent publish."""
    text = _text(value, fail).strip()
    word = text.lower()
    if not word:
        return None
    if key == "status":
        if word == "draft":
            return True
        if word in ("published", "publish"):
            return False
        raise fail(
            f"{text!r} is neither draft nor published: write {written}: draft to keep the "
            f"article out of the feeds, or {written}: published to publish it"
        )
    if word in _TRUE or word in _FALSE:
        flag = word in _TRUE
        return not flag if key == "published" else flag
    if key == "published" and _DATE_LIKE.match(text):
        raise fail(
            f"{text!r} is a date, not true or false: write the publication time as "
            f"date: {text} (and {written}: false only to keep the article a draft)"
        )
    raise fail(f"{text!r} is not true or false: write {written}: true or {written}: false")


def _header_value(key: str, value: object, rules: Rules, fail: Any) -> object:
    if key in ("author", "tags"):
        # A plain author is one name ("Dr. Budi Santoso, M.Si."); plain tags may be "a, b".
        if isinstance(value, list):
            items = value
        elif key == "author":
            items = [_text(value, fail)]
        else:
            items = _text(value, fail).split(",")
        names = tuple(n.strip() for n in (_text(i, fail) for i in items) if n.strip())
        if key == "author":
            return names
        tags: dict[str, Tag] = {}
        for name in names:
            slug = _own_slug(name_slug(name, "tag"), name, rules.tag_slugs)
            tags.setdefault(slug, Tag(slug, name))
        return tuple(tags.values())
    text = _text(value, fail).strip()
    if key == "id":
        if not _HEADER_ID.match(text) or text in (".", ".."):
            raise fail(f"{text!r} may hold only letters, digits, '.', '_' and '-'")
        return text
    if key in ("date", "updated"):
        return _parse_date(text, rules.zone, fail) if text else None
    if key in ("image", "link", "source_url"):
        if not is_http_url(text):
            raise fail(f"must be an absolute http(s) URL, not {text!r}")
        return text
    if key == "lang":
        if not _LANG_TAG.match(text):
            raise fail(f"{text!r} is not a BCP 47 language tag")
        return text
    return text or None  # summary, source


# --- the header's YAML -------------------------------------------------------------


def _header_entries(path: str, header: str, first_line: int) -> list[tuple[str, object, int]]:
    """(key as written, value, file line) of each top-level `key: value`, in file order.

    The composed node tree is walked here rather than loaded as a dict: a dict would keep
    the last of two equal keys silently, and case-insensitive keys and `tanggal`/`date` are
    duplicates only after their names are folded, which the caller does. Composing still
    runs in libyaml when PyYAML has it.
    """
    loader = _YAML_LOADER(header)
    try:
        node = loader.get_single_node()
        if node is None:
            return []
        if not isinstance(node, yaml.MappingNode):
            problem = _not_a_mapping(header, first_line, node)
            raise ArticleError(path, f"malformed header: {problem}")
        entries: list[tuple[str, object, int]] = []
        for key_node, value_node in node.value:
            line = first_line + header.count("\n", 0, key_node.start_mark.index)
            if not isinstance(key_node, yaml.ScalarNode):
                raise ArticleError(
                    path,
                    f"malformed header: line {line}: a key must be a plain word "
                    "(a list goes after the key: tags: [a, b])",
                )
            value = loader.construct_object(value_node, deep=True)
            entries.append((key_node.value, value, line))
        return entries
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        fault = YamlFault(exc.context or "", exc.problem or "",
                          mark.index if mark is not None else None,
                          exc.context_mark.index if exc.context_mark is not None else None)
        raise ArticleError(path, f"malformed header: {explain(header, first_line, fault)}"
                           ) from None
    except yaml.YAMLError as exc:
        raise ArticleError(path, f"malformed header: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _not_a_mapping(header: str, first_line: int, node: yaml.Node) -> str:
    k = header.count("\n", 0, node.start_mark.index)
    text = header.split("\n")[k].strip()
    line = first_line + k
    if isinstance(node, yaml.SequenceNode):
        return (f"line {line}: a list where 'key: value' lines belong: put it after its key, "
                "e.g. tags: [a, b]")
    return not_key_value(line, text)


def _text(value: object, fail: Any) -> str:
    if not isinstance(value, str):
        raise fail("must be text, not a list or mapping")
    # Double-quoted YAML escapes ("\x01", "\0") make characters the file itself could not
    # hold: removed like those of the body, never emitted.
    return xml_safe(value)


def _parse_date(text: str, zone: ZoneInfo, fail: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), time())
        except ValueError:
            raise fail(f"{text!r} is not an ISO 8601 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:  # 0001-01-01 in Jakarta is year 0 in UTC; times are stored as UTC seconds
        datetime.fromtimestamp(parsed.timestamp(), UTC)
    except (OverflowError, ValueError, OSError):
        raise fail(f"{text!r} is outside the calendar once in UTC") from None
    return parsed


# --- section, blocks ---------------------------------------------------------------


def _section(
    path: str,
    line: str,
    rules: Rules,
    diagnostics: list[Diagnostic],
    raw_lines: list[str],
    body_start: int,
) -> Section:
    """A configured section by name, alias or slug; else a new one, unless a typo."""
    key = fold_name(line)
    known = rules.sections.get(key)
    if known is not None:
        return known
    if key not in rules.live_sections:
        meant = typos.closest(key, rules.section_labels) or typos.closest(
            key, rules.live_sections
        )
        if meant is not None:
            number = next(i for i in range(body_start, len(raw_lines)) if raw_lines[i].strip())
            raise ArticleError(path, _section_typo(line, number + 1, meant, rules))
    live = rules.live_sections.get(key)
    slug = live[1].slug if live is not None else section_slug(line)
    section = Section(_own_slug(slug, line, rules.section_slugs), line)
    diagnostics.append(
        Diagnostic("notice", path, f"unknown section {line!r}: created as {section.slug!r}")
    )
    return section


def _own_slug(slug: str, name: str, holders: Mapping[str, str]) -> str:
    """`slug`, unless another name (different once folded) holds it: then a slug of its own,
    so that two names never share one feed."""
    holder = holders.get(slug)
    if holder is None or holder == fold_name(name):
        return slug
    return f"{slug}-{name_hash(name)}"


def _section_typo(line: str, number: int, meant: str, rules: Rules) -> str:
    if meant in rules.section_labels:
        label, name = rules.section_labels[meant], rules.sections[meant].name
    else:
        label = name = rules.live_sections[meant][0]
    suggestion = repr(label) if label == name else f"{label!r} (section {name!r})"
    return (
        f"line {number}: unknown section {line!r}: did you mean {suggestion}? Correct the "
        f"section line; or, to create the section {line!r} on purpose, add it to "
        f"[[sections]] in the configuration (name = {_toml_string(line)})"
    )


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _blocks(lines: list[str]) -> tuple[Block, ...]:
    kinds = [_kind(line) for line in lines]
    blocks: list[Block] = []
    items: list[ListItem] = []
    for i, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind in ("bullet", "numbered"):
            match = (_BULLET if kind == "bullet" else _NUMBERED).match(line)
            assert match is not None
            items.append(_list_item(match["text"]))
            if i + 1 < len(lines) and kinds[i + 1] == kind:
                continue
            if kind == "bullet":
                blocks.append(BulletList(tuple(items)))
            else:
                first = _NUMBERED.match(lines[i - len(items) + 1])
                assert first is not None
                blocks.append(NumberedList(tuple(items), start=int(first["n"])))
            items = []
        elif kind == "candidate" and i > 0 and i + 1 < len(lines) and kinds[i + 1] != "candidate":
            blocks.append(Heading(line))
        else:
            blocks.append(Paragraph(line))
    return tuple(blocks)


def _kind(line: str) -> str:
    if _BULLET.match(line):
        return "bullet"
    if _NUMBERED.match(line):
        return "numbered"
    if _is_candidate(line):
        return "candidate"
    return "paragraph"


def _is_candidate(line: str) -> bool:
    """A line that could be a subheading: short, no closing punctuation, not quoted or a label."""
    if len(line) > 80 or len(line.split()) > 12:
        return False
    last = line[-1]
    if last in _SENTENCE_END:
        return False
    if last in _CLOSERS and len(line) > 1 and line[-2] in _SENTENCE_END:
        return False
    return not is_quotation_mark(line[0]) and not _LABEL_LINE.match(line)


def _list_item(text: str) -> ListItem:
    match = _ITEM_LABEL.match(text)
    if match and len(match["label"].split()) <= 8:
        return ListItem(text=match["text"], label=match["label"])
    return ListItem(text=text)


# --- metadata found in the text -----------------------------------------------------


def _dateline(blocks: tuple[Block, ...]) -> Dateline | None:
    lead = next((b.text for b in blocks if isinstance(b, Paragraph)), None)
    if lead is None or not (match := _DATELINE.match(lead)):
        return None
    city = match["city"].strip()
    if not city[0].isupper():
        return None
    return Dateline(city=city, outlet=match["outlet"].strip())


def _attribution(
    fields: Mapping[str, Any], blocks: tuple[Block, ...], rules: Rules
) -> tuple[Attribution | None, int | None]:
    """Header `source` wins over phrases; a phrase in the lead wins over the last block."""
    closing: tuple[str, int] | None = None
    if blocks and isinstance(last := blocks[-1], Paragraph):
        name = _closing_attribution(last.text, rules)
        if name is not None:
            closing = (name, len(blocks) - 1)
    attribution: Attribution | None
    if "source" in fields:
        attribution = _attribute(fields["source"], rules, fields.get("source_url"))
    else:
        lead = next((b.text for b in blocks if isinstance(b, Paragraph)), "")
        name = _phrase_attribution(lead, rules)
        if name is None and closing is not None:
            name = closing[0]
        attribution = _attribute(name, rules) if name is not None else None
    if attribution is None or closing is None or fold(closing[0]) != fold(attribution.name):
        return attribution, None
    return attribution, closing[1]


def _phrase_attribution(text: str, rules: Rules) -> str | None:
    for match in _ATTRIBUTION_PHRASE.finditer(text):
        name = _outlet_after(text[match.end() :], rules)
        if name is not None:
            return name
    return None


def _closing_attribution(text: str, rules: Rules) -> str | None:
    """The outlet of a last block that is nothing but an attribution phrase and its X."""
    match = _ATTRIBUTION_PHRASE.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    name = _outlet_after(rest, rules)
    if name is None or rest[len(name) :].strip() not in ("", "."):
        return None
    return name


def _outlet_after(text: str, rules: Rules) -> str | None:
    """X in 'Dilansir X': a host name, else a configured outlet, else 1–4 capitalized words."""
    if match := _HOST.match(text):
        return match[0]
    for name in rules.outlet_names:
        head = text[: len(name)]
        if fold(head) == fold(name) and not text[len(name) : len(name) + 1].isalnum():
            return head
    match = _CAPITALIZED_RUN.match(text)
    if match is None:
        return None
    words: list[str] = []
    for word in match[0].split():
        if not word[0].isupper():
            break
        words.append(word)
    name = " ".join(words).rstrip(".")
    return name or None


def _attribute(name: str, rules: Rules, url: str | None = None) -> Attribution:
    outlet = rules.outlets.get(fold(name))
    is_host = _HOST.fullmatch(name) is not None
    if outlet is None and is_host:
        outlet = rules.outlets.get(_bare_host(name.lower()))
    if outlet is not None:
        return Attribution(name=name, url=url or outlet.url, feed_url=outlet.feed)
    if url is None and is_host:
        url = f"https://{name.lower()}/"
    return Attribution(name=name, url=url)


def _bare_host(host: str) -> str:
    return host.removeprefix("www.")
