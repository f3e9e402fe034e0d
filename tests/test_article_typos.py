"""Typos fail safe: the section-typo rule, header keys, draft synonyms, YAML error lines.

Each case is named after the rule of shared/spec/article-format.md (or the decision in
docs/decisions.md, "Article format") it checks. Inputs are small articles built inline,
read with the rules of the real config (config/feeds.toml).
"""

from __future__ import annotations

import pickle
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from feeds import config, typos
from feeds.errors import ArticleError
from feeds.model import Article, Diagnostic, Section
from feeds.sources import article as article_module
from feeds.sources.article import Rules, parse

JAKARTA = ZoneInfo("Asia/Jakarta")
TITLE_AND_LEAD = (
    "Judul Berita Hari Ini\nPemerintah kota menggelar rapat koordinasi pada Senin pagi.\n"
)


@pytest.fixture(scope="module")
def rules() -> Rules:
    cfg, _ = config.load(Path(__file__).parent.parent / "config" / "feeds.toml")
    return Rules.from_config(cfg)


def read(rules: Rules, text: str | bytes, path: str = "berita.txt") -> tuple[
        Article, list[Diagnostic]]:
    return parse(path, text.encode("utf-8") if isinstance(text, str) else text, rules)


def error_of(rules: Rules, text: str | bytes, path: str = "berita.txt") -> ArticleError:
    with pytest.raises(ArticleError) as caught:
        read(rules, text, path)
    assert caught.value.where == path
    return caught.value


def in_section(section: str) -> str:
    return f"{section}\n{TITLE_AND_LEAD}"


def with_header(header: str, section: str = "Nasional") -> str:
    return f"---\n{header}\n---\n{in_section(section)}"


# --- the typo rule itself (feeds/typos.py) --------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "typo"),
    [
        ("olahrgaa", "olahraga", True),  # a swap of neighbours is one edit
        ("kampuz", "kampus", True),  # 4–7 characters: 1 edit
        ("kampung", "kampus", False),  # 4–7 characters: 2 edits are too many
        ("teknolgoi", "teknologi", True),  # 8 or more: a swap …
        ("tekmolgoi", "teknologi", True),  # … and a substitution: 2 edits
        ("tqkmolgi", "teknologi", False),  # 3 edits
        ("by", "id", False),  # 3 characters or fewer: never
        ("abc", "abd", False),
        ("dat", "date", True),  # the longer name's length counts (4: 1 edit)
        ("nasional2", "nasional", False),  # digits differ: never
        ("liga 1", "liga 2", False),
        ("pilkada 2024", "pilkada 2042", False),  # same digits, other order
        ("esports", "sports", False),  # first letters aligned: a letter in front costs 2
        ("ports", "sports", False),
        ("xolahraga", "olahraga", True),  # (2 edits are allowed at 8 characters)
        ("plahraga", "olahraga", True),  # a wrong first letter is one edit
        ("loahraga", "olahraga", True),  # the first two letters swapped: one edit
        ("dalam negri", "dalam negeri", True),  # spaces are characters
        ("olahraga", "olahraga", False),  # a name is not a typo of itself
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else str(v),
)
def test_typo_rule(a: str, b: str, typo: bool) -> None:
    assert typos.is_typo(a, b) is typo
    assert typos.is_typo(b, a) is typo


@pytest.mark.parametrize(
    ("name", "folded"),
    [("Nasional!", "nasional"), ("Olah-Raga", "olah raga"), ("  ¡Kampus! ", "kampus"),
     ("Jum'at Berkah", "jumat berkah"), ("Seni & Budaya", "seni budaya"),
     ("ÉKONOMI", "ekonomi"), ("dalam-negeri", "dalam negeri"), ("C++", "c++")],
)
def test_fold_name_ignores_case_accents_and_punctuation(name: str, folded: str) -> None:
    assert typos.fold_name(name) == folded


def test_closest_prefers_fewer_edits_then_the_first_known() -> None:
    assert typos.closest("teknologii", ["teknolog", "teknologi"]) == "teknologi"  # 1 edit < 2
    assert typos.closest("sportz", ["sport", "sports"]) == "sport"  # 1 edit each: the first
    assert typos.closest("olahraga", ["olahrag", "olahraga"]) is None  # known itself


NAMES = st.text(alphabet="abcdeflmnorst 12-!", max_size=12).map(typos.fold_name)


@given(NAMES, NAMES)
def test_typo_relation_is_symmetric(a: str, b: str) -> None:
    assert typos.is_typo(a, b) == typos.is_typo(b, a)


@given(NAMES)
def test_a_name_is_never_a_typo_of_itself(a: str) -> None:
    assert not typos.is_typo(a, a)
    assert typos.fold_name(a) == a  # folding is idempotent


CLOSE_NAMES = st.text(alphabet="ab", min_size=3, max_size=9)  # often typos of each other


@given(CLOSE_NAMES, st.lists(CLOSE_NAMES, max_size=8))
def test_closest_is_the_nearest_typo_whatever_the_prefilter(name: str, known: list[str]) -> None:
    typos_of = [(typos.distance(name, k), i, k) for i, k in enumerate(known)
                if typos.is_typo(name, k)]
    expected = None if name in known or not typos_of else min(typos_of)[2]
    assert typos.closest(name, known) == expected


@given(NAMES, NAMES)
def test_typos_keep_their_digits_and_need_four_characters(a: str, b: str) -> None:
    if typos.is_typo(a, b):
        assert [c for c in a if c.isdigit()] == [c for c in b if c.isdigit()]
        assert max(len(a), len(b)) >= 4


# --- section line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("Olahrgaa", "'Olahraga'"),
        ("olahrgaa", "'Olahraga'"),
        ("Sprots", "'Sports' (section 'Olahraga')"),  # an alias is suggested as written
        ("Internasionl", "'Internasional' (section 'International')"),
        ("Dalam Negri", "'Dalam Negeri' (section 'Nasional')"),
        ("Teknologii", "'Teknologi'"),
        ("internatonal", "'International'"),  # the slug's typo suggests the name
    ],
)
def test_section_typo_of_a_configured_section_is_an_error_with_did_you_mean(
    rules: Rules, line: str, suggestion: str
) -> None:
    error = error_of(rules, "\n\n" + in_section(line))
    assert f"line 3: unknown section {line!r}: did you mean {suggestion}?" in error.message
    assert "add it to [[sections]] in the configuration" in error.message


@pytest.mark.parametrize(
    ("line", "slug"),
    [("Nasional2", "nasional2"), ("Esports", "esports"), ("Kampung", "kampung"),
     ("Seni dan Budaya", "seni-dan-budaya"), ("Budaya", "budaya"), ("Esprot", "esprot")],
)
def test_section_that_is_no_typo_is_created_with_a_notice(
    rules: Rules, line: str, slug: str
) -> None:
    art, diagnostics = read(rules, in_section(line))
    assert art.section == Section(slug, line)
    assert diagnostics == [
        Diagnostic("notice", "berita.txt", f"unknown section {line!r}: created as {slug!r}")]


@pytest.mark.parametrize(
    ("line", "slug"),
    [("Nasional!", "nasional"), ("Olah-Raga", "olahraga"), ("KAMPUS.", "kampus"),
     ("Dalam-Negeri", "nasional"), ("¿Tekno?", "teknologi"), ("Ekonomi dan Bisnis!", "ekonomi")],
)
def test_section_matches_after_case_accent_and_punctuation_folding(
    rules: Rules, line: str, slug: str
) -> None:
    art, diagnostics = read(rules, in_section(line))
    assert art.section.slug == slug
    assert diagnostics == []


def test_live_but_unconfigured_section_counts_as_known_for_typos(rules: Rules) -> None:
    live = rules.with_live([Section("esport", "Esport")])
    error = error_of(live, in_section("Esprot"))
    assert "did you mean 'Esport'?" in error.message
    art, _ = read(rules, in_section("Esprot"))  # not live: a new section
    assert art.section.slug == "esprot"


def test_live_section_slug_counts_as_known_for_typos(rules: Rules) -> None:
    live = rules.with_live([Section("seni-budaya", "Seni & Budaya")])
    assert "did you mean 'Seni & Budaya'?" in error_of(live, in_section("Seni Budya")).message


def test_a_live_section_is_no_typo_of_a_configured_one(rules: Rules) -> None:
    # Published under "Olahrgaa" before the rule existed: it keeps publishing there.
    live = rules.with_live([Section("olahrgaa", "Olahrgaa")])
    art, diagnostics = read(live, in_section("Olahrgaa"))
    assert art.section == Section("olahrgaa", "Olahrgaa")
    assert [d.level for d in diagnostics] == ["notice"]


def test_rules_with_live_sections_stay_frozen_and_picklable(rules: Rules) -> None:
    live = rules.with_live([Section("esport", "Esport")])
    assert rules.live_sections == {}
    assert pickle.loads(pickle.dumps(live)) == live
    with pytest.raises(AttributeError):
        live.live_sections = {}  # type: ignore[misc]


# --- header keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field", "value"),
    [("Draft: True", "draft", True), ("DRAFT: yes", "draft", True),
     ("Date: 2026-01-14", "date", datetime(2026, 1, 14, tzinfo=JAKARTA)),
     ("Tags: [Wisuda]", "tags", ()), ("ID: dari-kepala", "key", "dari-kepala"),
     ("tanggal: 2026-01-14", "date", datetime(2026, 1, 14, tzinfo=JAKARTA)),
     ("Tanggal: 2026-01-14", "date", datetime(2026, 1, 14, tzinfo=JAKARTA))],
    ids=["draft-capitalized", "draft-upper", "date-capitalized", "tags-capitalized",
         "id-upper", "tanggal-is-date", "tanggal-capitalized"],
)
def test_header_keys_match_case_insensitively_and_tanggal_is_date(
    rules: Rules, header: str, field: str, value: object
) -> None:
    art, diagnostics = read(rules, with_header(header))
    assert diagnostics == []
    if field == "tags":
        assert [t.name for t in art.tags] == ["Wisuda"]
    else:
        assert getattr(art, field) == value


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("draft: true\ndraft: false", "header lines 2 and 3: 'draft' is given twice"),
        ("draft: true\nid: a\nDraft: false", "header lines 2 and 4: 'draft' and 'Draft' are "
                                             "the same key (keys ignore case)"),
        ("date: 2026-01-14\nDATE: 2026-01-15", "header lines 2 and 3: 'date' and 'DATE'"),
        ("tanggal: 2026-01-14\ndate: 2026-01-15", "header lines 2 and 3: 'tanggal' and 'date' "
                                                  "both give the date"),
        ("date: 2026-01-14\nTanggal: 2026-01-15", "header lines 2 and 3: 'date' and 'Tanggal' "
                                                  "both give the date"),
        ("id: a\nsummary: x\nid: b", "header lines 2 and 4: 'id' is given twice"),
    ],
    ids=["same-key", "differs-by-case", "date-differs-by-case", "tanggal-then-date",
         "date-then-tanggal", "id-twice"],
)
def test_header_key_given_twice_is_an_error_naming_both_lines(
    rules: Rules, header: str, expected: str
) -> None:
    message = error_of(rules, with_header(header)).message
    assert expected in message
    assert "keep one" in message


@pytest.mark.parametrize(
    ("header", "draft"),
    [
        ("draft: true", True), ("draft: false", False), ("draft:", False),
        ("published: false", True), ("published: no", True), ("published: true", False),
        ("status: draft", True), ("status: Draft", True), ("status: published", False),
        ("status: publish", False),
        ("hidden: true", True), ("hidden: false", False), ("Hidden: yes", True),
        ("private: true", True), ("private: off", False),
        ("hidden:", False), ("status:", False),  # an empty value says nothing
        ("draft: true\npublished: false\nstatus: draft", True),  # agreeing keys are fine
        ("draft: false\nstatus: published", False),
    ],
)
def test_draft_synonyms(rules: Rules, header: str, draft: bool) -> None:
    art, diagnostics = read(rules, with_header(header))
    assert art.draft is draft
    assert diagnostics == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("status: review", "header line 2: status: 'review' is neither draft nor published"),
        ("status: pending", "write status: draft to keep the article out of the feeds"),
        ("private: maybe", "header line 2: private: 'maybe' is not true or false: write "
                           "private: true or private: false"),
        ("hidden: 2", "'2' is not true or false"),
        ("published: 2026-01-14", "published: '2026-01-14' is a date, not true or false: "
                                  "write the publication time as date: 2026-01-14"),
        ("draft: maybe", "draft: 'maybe' is not true or false"),
        ("draft: false\npublished: false", "header lines 2 and 3: 'draft: false' and "
                                           "'published: false' disagree"),
        ("status: draft\nhidden: no", "'status: draft' and 'hidden: no' disagree"),
        ("published: [true]", "published: must be text"),
    ],
    ids=["status-other", "status-other-advice", "private-not-boolean", "hidden-number",
         "published-date", "draft-not-boolean", "draft-keys-disagree", "status-and-hidden",
         "published-list"],
)
def test_unclear_draft_value_is_an_error_that_holds_the_article(
    rules: Rules, header: str, expected: str
) -> None:
    assert expected in error_of(rules, with_header(header)).message


@pytest.mark.parametrize(
    ("key", "meant"),
    [("drfat", "draft"), ("daft", "draft"), ("Drafts", "draft"), ("dtae", "date"),
     ("data", "date"), ("updtaed", "updated"), ("update", "updated"),
     ("publised", "published"), ("pubished", "published"), ("Publshed", "published"),
     # beyond the spec's four: the other draft keys and `tanggal` fail the same way
     ("stauts", "status"), ("hiden", "hidden"), ("privte", "private"), ("tangal", "tanggal")],
)
def test_unknown_key_that_is_a_typo_of_a_guarded_key_holds_the_article(
    rules: Rules, key: str, meant: str
) -> None:
    message = error_of(rules, with_header(f"id: a\n{key}: x")).message
    assert f"header line 3: unknown key {key!r}: did you mean {meant!r}?" in message


@pytest.mark.parametrize(
    ("header", "warning"),
    [
        ("by: Budi", "unknown header key 'by' (ignored)"),  # not a typo of `id`
        ("kategori: x", "unknown header key 'kategori' (ignored)"),
        ("sumary: x", "unknown header key 'sumary' (ignored): did you mean 'summary'?"),
        ("Sources: x", "unknown header key 'Sources' (ignored): did you mean 'source'?"),
        ("dates: [a]", None),  # a typo of `date`: held (below), never a warning
    ],
    ids=["by-is-not-id", "plain-unknown", "near-summary", "near-source", "near-date"],
)
def test_other_unknown_keys_stay_warnings(
    rules: Rules, header: str, warning: str | None
) -> None:
    if warning is None:
        error_of(rules, with_header(header))
        return
    art, diagnostics = read(rules, with_header(header))
    assert diagnostics == [Diagnostic("warning", "berita.txt", warning)]
    assert art.draft is False


# --- YAML errors at the file's own line -----------------------------------------------------

# (header, line inside the header (1 = the line after '---'), words of the message there)
YAML_ERRORS = {
    "unclosed-list": ("id: a\ntags: [a, b\nlang: id", 2,
                      "the list opened with '[' is never closed: end it with ']'"),
    "unclosed-list-last": ("tags: [a, b", 1, "the list opened with '[' is never closed"),
    "list-opened-at-the-end": ("id: a\ntags: [", 2, "the list opened with '[' is never closed"),
    "text-after-closing-bracket": ("tags: [a, b]]", 1, "text follows the closing ']': quote the "
                                                      "whole value"),
    "unclosed-braces": ("id: a\nauthor: {name: b", 2,
                        "the value opened with '{' is never closed: end it with '}'"),
    "unclosed-double-quote": ('id: a\nsummary: "Rektor kampus\nlang: id', 2,
                              "the quote opened with '\"' is never closed"),
    "unclosed-single-quote": ("summary: 'Rektor kampus", 1,
                              "the quote opened with \"'\" is never closed"),
    "colon-in-value": ("id: a\nlang: id\nsummary: Rektor: kampus siap", 3,
                       "a value containing ': ' must be quoted, "
                       'e.g. summary: "Rektor: kampus siap"'),
    "colon-in-value-with-quotes": ('summary: Rektor: "kampus" siap', 1,
                                   "a value containing ': ' must be quoted, "
                                   "e.g. summary: 'Rektor: \"kampus\" siap'"),
    "indented-line": ("id: a\n  lang: id", 2, "this line is indented"),
    "less-indented-block": ("summary: |\n  a\n b", 3, "this line is indented"),
    "not-key-value": ("id: a\nIni bukan kunci\nlang: id", 2,
                      "'Ini bukan kunci' is not a 'key: value' line"),
    "no-space-after-colon": ("id:a", 1, "'id:a' is not a 'key: value' line: put a space "
                                        "after the colon, e.g. id: a"),
    "only-text": ("just some text", 1, "'just some text' is not a 'key: value' line"),
    "a-list": ("- id\n- date", 1, "a list where 'key: value' lines belong"),
    "list-item-without-key": ("id: a\n- b", 2, "a list item needs its key"),
    "tab-indent": ("id: a\n\tlang: id", 2, "a tab character"),
    "text-after-quote": ('summary: "Rektor" kampus', 1,
                         "text follows the closing quote: quote the whole value"),
    "apostrophe-in-single-quotes": ("summary: 'it's'", 1, "text follows the closing quote: "
                                    "quote the whole value, e.g. summary: \"it's\""),
    "value-starts-with-at": ("summary: @budi", 1,
                             "a value cannot start with '@': quote it, e.g. summary: \"@budi\""),
    "value-starts-with-star": ("summary: *Penting* rapat", 1,
                               "a value cannot start with '*': quote it"),
    "bad-escape": ('summary: "C:\\qdata"', 1, "found unknown escape character"),
    "fallback": ("%YAML 1.1\nid: a", 2, "did not find expected <document start> (YAML)"),
}

# How the file around the header is laid out, and the file line of the header's first line.
FRAMINGS = {
    "lf": (b"", b"\n", 2),
    "crlf": (b"", b"\r\n", 2),
    "cr": (b"", b"\r", 2),
    "blank-lines-before": (b"\n\n\n", b"\n", 5),
    "bom": (b"\xef\xbb\xbf", b"\n", 2),
    "bom-blank-lines-crlf": (b"\xef\xbb\xbf\r\n \r\n", b"\r\n", 4),
}


def framed(header: str, framing: str) -> bytes:
    before, eol, _ = FRAMINGS[framing]
    text = "\n".join(["---", *header.split("\n"), "---", "Nasional", *TITLE_AND_LEAD.split("\n")])
    return before + text.encode("utf-8").replace(b"\n", eol)


LOADERS = [name for name in ("CBaseLoader", "BaseLoader") if hasattr(yaml, name)]


@pytest.fixture(params=LOADERS)
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """libyaml's loader (used when PyYAML has it) and the pure-Python one give the same words."""
    monkeypatch.setattr(article_module, "_YAML_LOADER", getattr(yaml, request.param))
    return str(request.param)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("case", YAML_ERRORS)
def test_yaml_error_names_the_files_own_line_in_the_editors_words(
    rules: Rules, yaml_loader: str, case: str, framing: str
) -> None:
    header, line, words = YAML_ERRORS[case]
    if case == "fallback" and yaml_loader == "BaseLoader":  # PyYAML's own words
        words = "expected '<document start>', but found '<scalar>' (YAML)"
    message = error_of(rules, framed(header, framing)).message
    first = FRAMINGS[framing][2]
    assert message.startswith("malformed header: ")
    assert f"line {first + line - 1}: {words}" in message, message


def test_header_value_errors_name_their_line(rules: Rules) -> None:
    message = error_of(rules, b"\n\n" + framed("id: a\ndate: kemarin", "crlf")).message
    assert message == "header line 5: date: 'kemarin' is not an ISO 8601 date"


def test_a_line_separator_inside_a_value_does_not_shift_the_line(rules: Rules) -> None:
    # YAML counts U+2028 as a line break; the file (and an editor here) does not.
    message = error_of(rules, framed('summary: "a\u2028b"\nid: a\ntags: [x', "lf")).message
    assert "line 4: the list opened with '['" in message


def test_unclosed_header_says_how_to_close_it(rules: Rules) -> None:
    message = error_of(rules, "\n---\nid: a\nNasional\nJudul\n").message
    assert message.startswith("malformed header: the '---' on line 2 is never closed: end")
