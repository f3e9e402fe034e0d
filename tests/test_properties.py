"""Hypothesis properties of the article reader: no crash; line endings, titles don't matter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from feeds.errors import ArticleError
from feeds.sources.article import Rules, parse
from feeds.text import xml_safe

LINE = st.one_of(
    st.text(max_size=120),
    st.sampled_from(["", "  ", "---", "- butir", "* Label: isi", "1. satu", "2) dua",
                     "Subjudul Pendek", "Dilansir dari detik.com, isi.", "Sumber: Antara",
                     "Semarang (usmnews) – Mengutip CNN Indonesia, isi berita.", "“Kutipan”"]),
)
LINES = st.lists(LINE, min_size=0, max_size=25)


@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_give_an_article_or_an_article_error(rules: Rules, data: bytes) -> None:
    try:
        article, _ = parse("seeds/x.txt", data, rules)
    except ArticleError as exc:
        assert exc.where == "seeds/x.txt" and exc.message
        return
    assert article.title and article.key == "x"


@given(lines=LINES)
def test_arbitrary_lines_give_an_article_or_an_article_error(
    rules: Rules, lines: list[str]
) -> None:
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    try:
        article, _ = parse("seeds/x.txt", data, rules)
    except ArticleError:
        return
    for text in [article.title, *(getattr(b, "text", "") for b in article.blocks)]:
        assert xml_safe(text) == text  # nothing XML 1.0 forbids survives


@given(lines=LINES, ending=st.sampled_from(["\r\n", "\r"]))
def test_line_endings_never_change_the_result(rules: Rules, lines: list[str], ending: str) -> None:
    def outcome(separator: str) -> object:
        data = separator.join(lines).encode("utf-8", "surrogatepass")
        try:
            return parse("seeds/x.txt", data, rules)[0]
        except ArticleError as exc:
            return ("error", exc.message)

    # A line holding a bare CR or LF is split differently by design; compare clean lines only.
    lines = [line.replace("\r", " ").replace("\n", " ") for line in lines]
    assert outcome("\n") == outcome(ending)


@given(title=st.text(min_size=1, max_size=100).filter(lambda t: t.strip() and "\n" not in t
                                                      and "\r" not in t))
def test_editing_the_title_never_changes_the_id(rules: Rules, title: str) -> None:
    base = "Kampus\nJudul Lama\n\nIsi berita.\n"
    edited = base.replace("Judul Lama", title)
    try:
        article, _ = parse("seeds/berita-1.txt", edited.encode("utf-8", "surrogatepass"), rules)
    except ArticleError:
        return
    assert article.key == "berita-1"
