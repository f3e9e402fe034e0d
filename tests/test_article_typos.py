"""Typos fail safe: the section-typo rule, header keys, draft synonyms, YAML error lines.

Each case is named after the rule of shared/spec/article-format.md (or the decision in
docs/decisions.md, "Article format") it checks. Inputs are small articles built inline,
read with the rules of the real config (config/feeds.toml).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds import config, typos
from feeds.errors import ArticleError
from feeds.model import Article, Diagnostic, Section
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
