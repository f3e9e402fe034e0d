"""One test (or one parametrized case) per rule of the plain article format.

Each test is named after the rule of shared/spec/article-format.md it checks. Inputs
are small articles built inline as bytes, plus the reference seed in seeds/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds import render
from feeds.errors import ArticleError
from feeds.model import (
    Article,
    Attribution,
    Block,
    BulletList,
    Diagnostic,
    Heading,
    ListItem,
    NumberedList,
    Paragraph,
)
from feeds.sources.article import Rules, parse

ROOT = Path(__file__).parent.parent
SEED_PATH = ROOT / "seeds" / "000_4cab66b14d71472d.txt"
SEED_NAME = SEED_PATH.name
JAKARTA = ZoneInfo("Asia/Jakarta")

HEAD = "Nasional\nJudul Berita Hari Ini\n"
LEAD = "Semarang (usmnews) – Pemerintah kota menggelar rapat koordinasi pada Senin pagi.\n"
PLAIN_LEAD = "Pemerintah kota menggelar rapat koordinasi pada Senin pagi.\n"
PARA = "Paragraf berikutnya menjelaskan hasil rapat itu dengan panjang lebar.\n"
CLOSING = "Warga berharap hasil rapat segera terlihat di lapangan.\n"
REFERENCE_HEADINGS = [
    "Penurunan Tensi dan Diplomasi Baru",
    "Motivasi di Balik Langkah Pragmatis",
    "Harapan bagi Kawasan Amerika Latin",
]


def read(
    rules: Rules, text: str | bytes, path: str = "berita.txt"
) -> tuple[Article, list[Diagnostic]]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse(path, data, rules)


def article(rules: Rules, text: str | bytes, path: str = "berita.txt") -> Article:
    return read(rules, text, path)[0]


def body(rules: Rules, *lines: str) -> Article:
    """An article in section Nasional whose body is the given lines."""
    return article(rules, HEAD + "".join(line + "\n" for line in lines))


def kinds(art: Article) -> list[str]:
    return [type(block).__name__ for block in art.blocks]


def headings(art: Article) -> list[str]:
    return [b.text for b in art.blocks if isinstance(b, Heading)]


def kind_of(rules: Rules, line: str) -> str:
    """How `line` is classified between a paragraph before it and a paragraph after it."""
    art = body(rules, PLAIN_LEAD.strip(), line, PARA.strip())
    assert len(art.blocks) == 3
    return type(art.blocks[1]).__name__


def attribution_of(rules: Rules, lead: str, *rest: str) -> Attribution | None:
    return body(rules, lead, PARA.strip(), *rest).attribution


def items_of(block: Block) -> list[ListItem]:
    assert isinstance(block, BulletList | NumberedList)
    return list(block.items)


def seed_text() -> str:
    return SEED_PATH.read_bytes().decode("utf-8")


def error_of(rules: Rules, data: bytes, path: str) -> ArticleError:
    with pytest.raises(ArticleError) as caught:
        parse(path, data, rules)
    return caught.value


def assert_names_the_file(error: ArticleError, path: str) -> None:
    assert error.where == path
    assert path in str(error)
    assert error.message.strip()


# --- layout: blank lines, spaces, line endings, encodings --------------------------


def _seed_variants() -> dict[str, str]:
    lines = [line for line in seed_text().splitlines() if line.strip()]
    return {
        "compact": "\n".join(lines) + "\n",
        "blank-between-every-line": "\n\n".join(lines) + "\n",
        "runs-of-blank-lines-and-trailing": "\n\n\n\n".join(lines) + "\n\n\n\n\n",
        "leading-blank-lines": "\n\n\n" + "\n".join(lines) + "\n",
        "whitespace-only-blank-lines": "\n \t \n".join(lines) + "\n   \n",
    }


@pytest.mark.parametrize("variant", sorted(_seed_variants()))
def test_blank_lines_carry_no_meaning(rules: Rules, variant: str) -> None:
    original = article(rules, seed_text(), SEED_NAME)
    assert article(rules, _seed_variants()[variant], SEED_NAME) == original


def test_spaces_at_either_end_of_a_line_are_ignored(rules: Rules) -> None:
    lines = [line for line in seed_text().splitlines() if line.strip()]
    padded = "\n".join(f"  \t{line}   \u00a0" for line in lines) + "\n"
    assert article(rules, padded, SEED_NAME) == article(rules, seed_text(), SEED_NAME)


@pytest.mark.parametrize("indent", ["  ", "    ", "\t", " \t "])
def test_indented_bullet_is_a_bullet(rules: Rules, indent: str) -> None:
    art = body(rules, PLAIN_LEAD.strip(), f"{indent}- Satu", f"{indent}- Dua")
    assert kinds(art) == ["Paragraph", "BulletList"]
    assert [item.text for item in items_of(art.blocks[1])] == ["Satu", "Dua"]


HEADER_ARTICLE = (
    "---\nid: rapat-2026\ndate: 2026-01-14T09:30:00\ntags: [rapat, kota]\n---\n"
    + HEAD + LEAD + "\nSubjudul Rapat Koordinasi\n" + PARA + "- Satu: item\n- Dua\n"
)


@pytest.mark.parametrize("source", ["reference-seed", "header-article"])
def test_line_endings_lf_crlf_cr_give_the_same_article(rules: Rules, source: str) -> None:
    text = seed_text() if source == "reference-seed" else HEADER_ARTICLE
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    results = {
        ending: read(rules, lf.replace("\n", ending), SEED_NAME)
        for ending in ("\n", "\r\n", "\r")
    }
    assert results["\r\n"] == results["\n"]
    assert results["\r"] == results["\n"]
    assert len(results["\n"][0].blocks) > 2


@pytest.mark.parametrize("source", ["reference-seed", "header-article"])
def test_utf8_bom_is_ignored(rules: Rules, source: str) -> None:
    text = seed_text() if source == "reference-seed" else HEADER_ARTICLE
    data = text.encode("utf-8")
    with_bom = read(rules, b"\xef\xbb\xbf" + data, SEED_NAME)
    assert with_bom == read(rules, data, SEED_NAME)
    assert with_bom[1] == []
    assert with_bom[0].section.slug in ("international", "nasional")


def test_invalid_utf8_is_read_as_windows_1252_with_a_warning_naming_the_file(
    rules: Rules,
) -> None:
    text = "Nasional\nKafe “Kopi” Buka di Semarang – Harga Rp5.000\nWarga menyambut kafe itu.\n"
    data = text.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    art, diagnostics = read(rules, data, "kampus/kafe.txt")
    assert art.title == "Kafe “Kopi” Buka di Semarang – Harga Rp5.000"
    assert art.blocks == (Paragraph("Warga menyambut kafe itu."),)
    warnings = [d for d in diagnostics if d.level == "warning"]
    assert len(warnings) == 1
    assert "kampus/kafe.txt" in str(warnings[0])
    assert "1252" in warnings[0].message


def test_valid_utf8_gives_no_encoding_warning(rules: Rules) -> None:
    _, diagnostics = read(rules, "Nasional\nKafe “Kopi” – Rp5.000\nWarga senang.\n")
    assert diagnostics == []


@pytest.mark.parametrize(
    "data", [b"", b"\n\n  \n\t\n", b"\r\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"],
    ids=["zero-bytes", "blank-lines", "crlf-blank-lines", "bom-only", "bom-and-blank"],
)
def test_empty_file_is_an_error_naming_the_file(rules: Rules, data: bytes) -> None:
    error = error_of(rules, data, "kosong/artikel.txt")
    assert_names_the_file(error, "kosong/artikel.txt")
    assert "empty" in error.message.lower()


@pytest.mark.parametrize(
    "data",
    [
        b"Nasional\nJudul\x00 Berita\nIsi berita.\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "Nasional\nJudul\nIsi berita.\n".encode("utf-16"),
    ],
    ids=["nul-in-text", "png", "utf-16"],
)
def test_binary_file_with_nul_is_an_error(rules: Rules, data: bytes) -> None:
    error = error_of(rules, data, "gambar.txt")
    assert_names_the_file(error, "gambar.txt")
    assert "binary" in error.message.lower() or "nul" in error.message.lower()


@pytest.mark.parametrize(
    "text",
    ["Nasional\n", "\n\nNasional\n\n\n", "---\nid: x\n---\nNasional\n", "---\nid: x\n---\n"],
    ids=["section-only", "section-between-blanks", "header-and-section", "header-only"],
)
def test_missing_title_line_is_an_error(rules: Rules, text: str) -> None:
    error = error_of(rules, text.encode(), "tanpa-judul.txt")
    assert_names_the_file(error, "tanpa-judul.txt")
    assert "title" in error.message.lower()


# --- section and title lines ----------------------------------------------------------


def test_section_line_is_the_first_non_empty_line_after_the_header(rules: Rules) -> None:
    art = article(rules, "---\nid: a\n---\n\n\nKampus\n\nJudul Wisuda\n\nIsi berita.\n")
    assert art.section.slug == "kampus"
    assert art.title == "Judul Wisuda"
    assert art.blocks == (Paragraph("Isi berita."),)


def test_title_is_the_next_non_empty_line(rules: Rules) -> None:
    art = article(rules, "\n\nEkonomi\n\n\n  Harga Cabai Turun di Pasar  \n\nIsi berita.\n")
    assert art.title == "Harga Cabai Turun di Pasar"
    assert art.blocks == (Paragraph("Isi berita."),)


@pytest.mark.parametrize(
    ("line", "slug", "name"),
    [
        ("INTERNATIONAL", "international", "International"),
        ("international", "international", "International"),
        ("Intérnational", "international", "International"),
        ("ÉKONOMI", "ekonomi", "Ekonomi"),
        ("nAsIoNaL", "nasional", "Nasional"),
        ("Olahragá", "olahraga", "Olahraga"),
    ],
)
def test_section_matches_case_and_accent_insensitively(
    rules: Rules, line: str, slug: str, name: str
) -> None:
    art, diagnostics = read(rules, f"{line}\nJudul\nIsi berita.\n")
    assert (art.section.slug, art.section.name) == (slug, name)
    assert diagnostics == []


@pytest.mark.parametrize(
    ("line", "slug"),
    [
        ("Internasional", "international"),
        ("Dunia", "international"),
        ("MANCANEGARA", "international"),
        ("Dalam Negeri", "nasional"),
        ("dalam negeri", "nasional"),
        ("Olah Raga", "olahraga"),
        ("Tékno", "teknologi"),
        ("Ekonomi dan Bisnis", "ekonomi"),
        ("Campus", "kampus"),
    ],
)
def test_section_alias_matches(rules: Rules, line: str, slug: str) -> None:
    art, diagnostics = read(rules, f"{line}\nJudul\nIsi berita.\n")
    assert art.section.slug == slug
    assert diagnostics == []


@pytest.mark.parametrize(
    ("line", "slug"),
    [("Gaya Hidup", "gaya-hidup"), ("Budaya & Séni", "budaya-seni"), ("KULINER", "kuliner")],
)
def test_unknown_section_is_created_with_slug_and_a_notice(
    rules: Rules, line: str, slug: str
) -> None:
    art, diagnostics = read(rules, f"{line}\nJudul\nIsi berita.\n", "baru.txt")
    assert art.section.slug == slug
    assert art.section.name == line
    notices = [d for d in diagnostics if d.level == "notice"]
    assert len(notices) == 1
    assert notices[0].where == "baru.txt"
    assert line in notices[0].message


# --- body blocks: lists ---------------------------------------------------------------


@pytest.mark.parametrize("marker", ["- ", "* ", "• ", "– "])
def test_bullet_item_starts_with_a_marker_and_a_space(rules: Rules, marker: str) -> None:
    art = body(rules, PLAIN_LEAD.strip(), f"{marker}Harga cabai turun tajam pekan ini.")
    assert kinds(art) == ["Paragraph", "BulletList"]
    assert items_of(art.blocks[1])[0].text == "Harga cabai turun tajam pekan ini."


@pytest.mark.parametrize(
    "line",
    ["-5 derajat tercatat di puncak gunung pada malam itu.", "*Catatan redaksi ada di akhir.",
     "— Harga cabai turun tajam pekan ini."],
    ids=["hyphen-without-space", "star-without-space", "em-dash"],
)
def test_other_line_starts_are_not_bullets(rules: Rules, line: str) -> None:
    art = body(rules, PLAIN_LEAD.strip(), line)
    assert kinds(art) == ["Paragraph", "Paragraph"]


def test_consecutive_bullets_form_one_list(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), "- Satu", "", "* Dua", "• Tiga", "", "",
               "– Empat", PARA.strip(), "- Lima")
    assert kinds(art) == ["Paragraph", "BulletList", "Paragraph", "BulletList"]
    first, second = art.blocks[1], art.blocks[3]
    assert isinstance(first, BulletList)
    assert isinstance(second, BulletList)
    assert [i.text for i in first.items] == ["Satu", "Dua", "Tiga", "Empat"]
    assert [i.text for i in second.items] == ["Lima"]


def test_label_text_bullet_keeps_label(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), "- Drainase Jalan: Saluran air akan diperbaiki.",
               "- Harga naik 10 persen pada Januari.")
    items = items_of(art.blocks[1])
    assert (items[0].label, items[0].text) == ("Drainase Jalan", "Saluran air akan diperbaiki.")
    assert (items[1].label, items[1].text) == (None, "Harga naik 10 persen pada Januari.")
    html = render.content_html(art)
    assert "<strong>Drainase Jalan:</strong> Saluran air akan diperbaiki." in html


@pytest.mark.parametrize("separator", [". ", ") "])
def test_numbered_item_with_dot_or_paren(rules: Rules, separator: str) -> None:
    art = body(rules, PLAIN_LEAD.strip(), f"1{separator}Memantau harga harian di pasar.",
               f"2{separator}Menggelar operasi pasar.")
    assert kinds(art) == ["Paragraph", "NumberedList"]
    items = items_of(art.blocks[1])
    assert [i.text for i in items] == ["Memantau harga harian di pasar.",
                                       "Menggelar operasi pasar."]


def test_consecutive_numbered_items_form_one_ordered_list(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), "3. Tiga", "", "4) Empat", "10. Sepuluh",
               "- Butir", "1. Satu")
    assert kinds(art) == ["Paragraph", "NumberedList", "BulletList", "NumberedList"]
    first = art.blocks[1]
    assert isinstance(first, NumberedList)
    assert [i.text for i in first.items] == ["Tiga", "Empat", "Sepuluh"]
    assert first.start == 3
    last = art.blocks[3]
    assert isinstance(last, NumberedList)
    assert [i.text for i in last.items] == ["Satu"]


# --- body blocks: subheadings -----------------------------------------------------------


def test_subheading_candidate_is_at_most_80_characters_not_bytes(rules: Rules) -> None:
    eighty = "Élégie " + "é" * 73
    assert len(eighty) == 80
    assert len(eighty.encode("utf-8")) > 80
    assert kind_of(rules, eighty) == "Heading"
    assert kind_of(rules, eighty + "é") == "Paragraph"


def test_subheading_candidate_is_at_most_12_words(rules: Rules) -> None:
    twelve = " ".join(["Kata"] * 12)
    assert kind_of(rules, twelve) == "Heading"
    assert kind_of(rules, twelve + " Lagi") == "Paragraph"


@pytest.mark.parametrize(
    "ending",
    [".", ",", ";", ":", "!", "?", "…", ".”", "?\"", "!)", ".’", ".]", "?»", ",'"],
)
def test_subheading_candidate_does_not_end_in_sentence_punctuation(
    rules: Rules, ending: str
) -> None:
    assert kind_of(rules, "Harapan bagi Kawasan Amerika Latin") == "Heading"
    assert kind_of(rules, "Harapan bagi Kawasan Amerika Latin" + ending) == "Paragraph"


@pytest.mark.parametrize("line", ["Proyek “Jembatan Harapan”", "Program Kota (Tahap II)"])
def test_closing_quote_or_bracket_without_punctuation_before_it_is_a_candidate(
    rules: Rules, line: str
) -> None:
    assert kind_of(rules, line) == "Heading"


@pytest.mark.parametrize("quote", ['"', "'", "“", "‘", "„", "«", "‹", "”", "»"])
def test_subheading_candidate_does_not_start_with_a_quotation_mark(
    rules: Rules, quote: str
) -> None:
    assert kind_of(rules, "Kami Siap Bekerja Sama") == "Heading"
    assert kind_of(rules, f"{quote}Kami Siap Bekerja Sama") == "Paragraph"


@pytest.mark.parametrize(
    "line",
    ["Baca juga: Harga Cabai Mulai Turun", "Foto: Dokumentasi Humas USM", "Editor: Budi Santoso",
     "Penulis: Ani Wijaya", "Reporter: Tim Redaksi", "Sumber: Humas Pemkot Semarang",
     "Source: Humas Kota", "Read also: Flood Workshop Ends", "BACA JUGA: Wisuda Periode I"],
)
def test_label_line_is_not_a_subheading(rules: Rules, line: str) -> None:
    assert kind_of(rules, line) == "Paragraph"


def test_subheading_is_never_the_first_body_block(rules: Rules) -> None:
    art = body(rules, "Penurunan Tensi dan Diplomasi Baru", PARA.strip())
    assert kinds(art) == ["Paragraph", "Paragraph"]
    assert art.lead == "Penurunan Tensi dan Diplomasi Baru"


@pytest.mark.parametrize(
    ("after", "kind"),
    [(PARA.strip(), "Paragraph"), ("- Butir pertama", "BulletList"),
     ("1. Langkah pertama", "NumberedList"), ("1) Langkah pertama", "NumberedList")],
)
def test_subheading_is_followed_by_a_paragraph_or_a_list(
    rules: Rules, after: str, kind: str
) -> None:
    art = body(rules, PLAIN_LEAD.strip(), "Langkah Memulai", after)
    assert kinds(art) == ["Paragraph", "Heading", kind]


def test_candidate_followed_by_another_candidate_is_not_a_subheading(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), "Satu Baris Pendek", "Dua Baris Pendek", PARA.strip())
    assert kinds(art) == ["Paragraph", "Paragraph", "Heading", "Paragraph"]
    assert headings(art) == ["Dua Baris Pendek"]


def test_candidate_at_the_end_of_the_article_is_not_a_subheading(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), PARA.strip(), "Baris Penutup Tanpa Titik")
    assert kinds(art) == ["Paragraph", "Paragraph", "Paragraph"]


@pytest.mark.parametrize("variant", ["original", *sorted(_seed_variants())])
def test_reference_example_has_three_subheadings_with_or_without_blank_lines(
    rules: Rules, variant: str
) -> None:
    text = seed_text() if variant == "original" else _seed_variants()[variant]
    assert headings(article(rules, text, SEED_NAME)) == REFERENCE_HEADINGS


def test_reference_subheadings_with_blank_lines_added_around_them(rules: Rules) -> None:
    text = seed_text()
    for heading in REFERENCE_HEADINGS:
        text = text.replace(f"\n{heading}\n", f"\n\n\n{heading}\n\n\n")
    assert headings(article(rules, text, SEED_NAME)) == REFERENCE_HEADINGS


# --- paragraphs and the lead ------------------------------------------------------------


def test_everything_else_is_a_paragraph(rules: Rules) -> None:
    lines = ["Kalimat pertama yang panjang.", "Kata kunci: nilai, dan seterusnya.",
             "“Kami siap,” kata wali kota.", "2026 menjadi tahun sibuk, kata wali kota."]
    art = body(rules, *lines)
    assert art.blocks == tuple(Paragraph(line) for line in lines)


def test_lead_is_the_first_paragraph(rules: Rules) -> None:
    art = body(rules, "- Butir sebelum paragraf", "Ini paragraf pertama artikel.",
               "Ini paragraf kedua artikel.")
    assert art.lead == "Ini paragraf pertama artikel."


# --- dateline ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opening",
    ["Semarang (usmnews) – ", "Semarang (usmnews) — ", "Semarang (usmnews) - ",
     "Semarang(usmnews)–", "Semarang (usmnews)—", "Semarang(usmnews) -"],
    ids=["en-dash", "em-dash", "hyphen", "en-dash-no-spaces", "em-dash-no-space-before",
         "hyphen-no-space-after"],
)
def test_dateline_with_en_dash_em_dash_or_hyphen_and_optional_spaces(
    rules: Rules, opening: str
) -> None:
    art = body(rules, opening + "Pemerintah kota menggelar rapat.", PARA.strip())
    assert art.dateline is not None
    assert (art.dateline.city, art.dateline.outlet) == ("Semarang", "usmnews")


def test_dateline_city_can_have_several_words(rules: Rules) -> None:
    art = body(rules, "Kota Baru (Antara) – Pemerintah kota menggelar rapat.", PARA.strip())
    assert art.dateline is not None
    assert (art.dateline.city, art.dateline.outlet) == ("Kota Baru", "Antara")


@pytest.mark.parametrize(
    "lines",
    [("Pemerintah kota (usmnews) menggelar rapat.", PARA.strip()),
     ("Semarang usmnews – Pemerintah kota menggelar rapat.", PARA.strip()),
     (PLAIN_LEAD.strip(), "Semarang (usmnews) – Paragraf kedua, bukan lead.")],
    ids=["no-dash", "no-parentheses", "only-in-second-paragraph"],
)
def test_no_dateline_unless_the_lead_starts_with_one(rules: Rules, lines: tuple[str, ...]) -> None:
    assert body(rules, *lines).dateline is None


def test_lead_keeps_its_dateline(rules: Rules) -> None:
    art = body(rules, LEAD.strip(), PARA.strip())
    assert art.dateline is not None
    assert art.lead == LEAD.strip()
    assert "Semarang (usmnews) – Pemerintah kota" in render.content_html(art)


# --- attribution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lead", "name"),
    [
        ("Dikutip dari detik.com, pemerintah kota menggelar rapat.", "detik.com"),
        ("Dilansir dari Kompas.com, pemerintah kota menggelar rapat.", "Kompas.com"),
        ("Dilansir Reuters, pemerintah kota menggelar rapat.", "Reuters"),
        ("Melansir Tempo.co, pemerintah kota menggelar rapat.", "Tempo.co"),
        ("Mengutip Antara, pemerintah kota menggelar rapat.", "Antara"),
        ("Sumber: CNN Indonesia, pemerintah kota menggelar rapat.", "CNN Indonesia"),
        ("Source: Reuters, the city council met on Monday.", "Reuters"),
        ("Quoted from Reuters, the city council met on Monday.", "Reuters"),
    ],
    ids=["dikutip-dari", "dilansir-dari", "dilansir", "melansir", "mengutip", "sumber",
         "source", "quoted-from"],
)
def test_attribution_phrase_names_the_outlet(rules: Rules, lead: str, name: str) -> None:
    attribution = attribution_of(rules, lead)
    assert attribution is not None
    assert attribution.name == name


@pytest.mark.parametrize(
    "phrase", ["DIKUTIP DARI", "dilansir dari", "MeLaNsIr", "mengutip", "SUMBER:", "source:",
               "QUOTED FROM"],
)
def test_attribution_phrase_is_case_insensitive(rules: Rules, phrase: str) -> None:
    attribution = attribution_of(rules, f"Hal itu, {phrase} Reuters, terjadi pekan lalu.")
    assert attribution is not None
    assert attribution.name == "Reuters"


def test_attribution_phrase_may_stand_anywhere_in_the_lead(rules: Rules) -> None:
    lead = "Semarang (usmnews) – Pemerintah kota menggelar rapat, dilansir dari usm.ac.id, kemarin."
    attribution = attribution_of(rules, lead)
    assert attribution == Attribution("usm.ac.id", "https://usm.ac.id/")


@pytest.mark.parametrize(
    "text",
    ["Narasumber: Reuters menyebut rapat berjalan lancar.",
     "Opensource: Reuters merilis kode rapat itu.", "Resource: Reuters menyediakan data rapat."],
    ids=["narasumber", "opensource", "resource"],
)
def test_attribution_phrase_starts_at_a_word_boundary(rules: Rules, text: str) -> None:
    assert attribution_of(rules, text) is None
    assert attribution_of(rules, PLAIN_LEAD.strip(), "Narasumber: Reuters") is None


@pytest.mark.parametrize(
    ("host", "url"),
    [("detik.com", "https://www.detik.com/"), ("Tempo.co", "https://www.tempo.co/"),
     ("usm.ac.id", "https://usm.ac.id/")],
)
def test_attribution_x_is_a_host_name(rules: Rules, host: str, url: str) -> None:
    attribution = attribution_of(rules, f"Dilansir dari {host}, rapat digelar.")
    assert attribution is not None
    assert (attribution.name, attribution.url) == (host, url)


def test_attribution_host_name_wins_over_a_configured_outlet_name(rules: Rules) -> None:
    # "Kompas" is a configured alias, but what follows the phrase is the host Kompas.id.
    attribution = attribution_of(rules, "Mengutip Kompas.id, rapat digelar kemarin.")
    assert attribution == Attribution("Kompas.id", "https://kompas.id/")


@pytest.mark.parametrize(
    ("lead", "name", "url"),
    [
        ("Melansir detikcom, rapat digelar kemarin.", "detikcom", "https://www.detik.com/"),
        ("Mengutip Kantor Berita Antara Senin lalu, rapat digelar.", "Kantor Berita Antara",
         "https://www.antaranews.com/"),
        ("Dilansir dari BBC Indonesia Jakarta, rapat digelar.", "BBC Indonesia",
         "https://www.bbc.com/indonesia"),
    ],
)
def test_attribution_x_is_a_configured_outlet_name_or_alias(
    rules: Rules, lead: str, name: str, url: str
) -> None:
    attribution = attribution_of(rules, lead)
    assert attribution is not None
    assert (attribution.name, attribution.url) == (name, url)


@pytest.mark.parametrize(
    ("lead", "name"),
    [
        ("Dilansir Reuters, rapat digelar kemarin.", "Reuters"),
        ("Dilansir dari Tribun Jateng, rapat digelar kemarin.", "Tribun Jateng"),
        ("Mengutip The New York Times Magazine Online, rapat digelar.", "The New York Times"),
        ("Mengutip Suara Merdeka edisi cetak, rapat digelar.", "Suara Merdeka"),
    ],
)
def test_attribution_x_is_one_to_four_capitalized_words(
    rules: Rules, lead: str, name: str
) -> None:
    attribution = attribution_of(rules, lead)
    assert attribution is not None
    assert attribution.name == name


@pytest.mark.parametrize(
    "lead",
    ["Mengutip pernyataan menteri, rapat digelar kemarin.",
     "Dilansir laman resmi kementerian, rapat digelar kemarin.",
     "Sumber: warga sekitar menyebut rapat digelar kemarin."],
)
def test_anything_else_after_the_phrase_is_no_attribution(rules: Rules, lead: str) -> None:
    assert attribution_of(rules, lead) is None


@pytest.mark.parametrize(
    ("lead", "last", "name"),
    [
        ("Pemerintah kota menggelar rapat, dilansir Reuters.", None, "Reuters"),
        ("Pemerintah kota menggelar rapat, dikutip dari usm.ac.id.", None, "usm.ac.id"),
        (PLAIN_LEAD.strip(), "Sumber: Tribun Jateng.", "Tribun Jateng"),
        (PLAIN_LEAD.strip(), "Sumber: detik.com.", "detik.com"),
    ],
)
def test_attribution_final_full_stop_is_dropped(
    rules: Rules, lead: str, last: str | None, name: str
) -> None:
    attribution = attribution_of(rules, lead, *([last] if last else []))
    assert attribution is not None
    assert attribution.name == name


@pytest.mark.parametrize(
    ("lead", "name"),
    [("Dilansir Dari Reuters, rapat digelar kemarin.", "Reuters"),
     ("Dilansir dari Kompas.com, rapat digelar kemarin.", "Kompas.com")],
)
def test_longer_attribution_phrase_wins_on_overlap(rules: Rules, lead: str, name: str) -> None:
    attribution = attribution_of(rules, lead)
    assert attribution is not None
    assert attribution.name == name


def test_header_source_wins_over_phrases(rules: Rules) -> None:
    text = ("---\nsource: Reuters\n---\n" + HEAD
            + "Dilansir dari Kompas.com, rapat digelar.\n" + PARA + "Sumber: CNN Indonesia\n")
    assert article(rules, text).attribution == Attribution("Reuters")


def test_attribution_in_the_lead_wins_over_the_last_block(rules: Rules) -> None:
    art = body(rules, "Dilansir dari Kompas.com, rapat digelar.", PARA.strip(),
               "Sumber: CNN Indonesia")
    assert art.attribution is not None
    assert art.attribution.name == "Kompas.com"


@pytest.mark.parametrize(
    ("last", "name"),
    [("Sumber: CNN Indonesia", "CNN Indonesia"), ("Source: Reuters", "Reuters"),
     ("Dilansir dari detik.com", "detik.com"), ("Quoted from Tribun Jateng", "Tribun Jateng")],
)
def test_attribution_as_the_whole_last_block(rules: Rules, last: str, name: str) -> None:
    art = body(rules, PLAIN_LEAD.strip(), PARA.strip(), last)
    assert art.attribution is not None
    assert art.attribution.name == name


@pytest.mark.parametrize(
    "last", ["Sumber: Tribun  Jateng", "Sumber:  CNN  Indonesia"],
    ids=["capitalized-words", "configured-outlet"],
)
def test_attribution_as_the_whole_last_block_with_repeated_spaces(
    rules: Rules, last: str
) -> None:
    # The same X is recognized in the lead; repeated inner spaces must not lose it at the end.
    assert attribution_of(rules, "Mengutip Tribun  Jateng, rapat digelar.") is not None
    art = body(rules, PLAIN_LEAD.strip(), PARA.strip(), last)
    assert art.attribution is not None
    assert art.attribution.name.split() == last.removeprefix("Sumber:").split()


def test_phrase_inside_a_longer_last_block_is_no_attribution(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), PARA.strip(), "Sumber: Reuters dan AP menyebut itu.")
    assert art.attribution is None


def test_phrase_in_a_middle_paragraph_is_no_attribution(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), "Dilansir Reuters, rapat berjalan lancar.",
               CLOSING.strip())
    assert art.attribution is None


def test_closing_sumber_line_stays_a_paragraph(rules: Rules) -> None:
    art = body(rules, PLAIN_LEAD.strip(), PARA.strip(), "Sumber: CNN Indonesia")
    assert art.blocks[-1] == Paragraph("Sumber: CNN Indonesia")
    assert art.attribution_block == len(art.blocks) - 1
    html = render.content_html(art)
    assert "Sumber: " in html
    assert "CNN Indonesia" in html


def test_host_attribution_url_is_https_host(rules: Rules) -> None:
    attribution = attribution_of(rules, "Dikutip dari usm.ac.id, rapat digelar.")
    assert attribution == Attribution("usm.ac.id", "https://usm.ac.id/")


def test_configured_outlet_url_wins_over_the_host_url(rules: Rules) -> None:
    attribution = attribution_of(rules, "Dikutip dari detik.com, rapat digelar.")
    assert attribution is not None
    assert attribution.url == "https://www.detik.com/"
    assert attribution.feed_url == "https://rss.detik.com/index.php/detikcom"


def test_unmapped_name_that_is_not_a_host_has_no_url(rules: Rules) -> None:
    assert attribution_of(rules, "Dilansir Reuters, rapat digelar.") == Attribution("Reuters")


def test_attribution_name_is_kept_verbatim(rules: Rules) -> None:
    attribution = attribution_of(rules, "Dilansir dari DETIK.COM, rapat digelar.")
    assert attribution is not None
    assert attribution.name == "DETIK.COM"
    assert attribution.url == "https://www.detik.com/"


# --- the header ---------------------------------------------------------------------------


def with_header(rules: Rules, header: str, path: str = "berita.txt") -> Article:
    return article(rules, f"---\n{header}\n---\n{HEAD}{PLAIN_LEAD}", path)


def header_error(rules: Rules, header: str) -> ArticleError:
    error = error_of(rules, f"---\n{header}\n---\n{HEAD}{PLAIN_LEAD}".encode(), "kepala.txt")
    assert_names_the_file(error, "kepala.txt")
    return error


def test_header_id_is_the_entry_id(rules: Rules) -> None:
    art = with_header(rules, "id: usmnews-kampus-2026.01_wisuda", "nama-file.txt")
    assert art.key == "usmnews-kampus-2026.01_wisuda"
    assert art.key_from_header is True


@pytest.mark.parametrize("value", ["a/b", "a b", "a:b", "berita#1", "../etc", "id?x=1"])
def test_header_id_may_only_hold_letters_digits_dot_underscore_dash(
    rules: Rules, value: str
) -> None:
    header_error(rules, f"id: '{value}'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-14T09:30:00+07:00", datetime(2026, 1, 14, 2, 30, tzinfo=UTC)),
        ("2026-01-14T02:30:00Z", datetime(2026, 1, 14, 2, 30, tzinfo=UTC)),
        ("2026-01-14T09:30:00+00:00", datetime(2026, 1, 14, 9, 30, tzinfo=UTC)),
    ],
)
def test_header_date_with_a_zone(rules: Rules, value: str, expected: datetime) -> None:
    art = with_header(rules, f"date: {value}")
    assert art.date == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-14T09:30:00", datetime(2026, 1, 14, 9, 30, tzinfo=JAKARTA)),
        ("2026-01-14 09:30", datetime(2026, 1, 14, 9, 30, tzinfo=JAKARTA)),
        ("2026-01-14", datetime(2026, 1, 14, tzinfo=JAKARTA)),
    ],
)
def test_header_date_without_a_zone_is_in_the_site_zone(
    rules: Rules, value: str, expected: datetime
) -> None:
    art = with_header(rules, f"date: {value}")
    assert art.date is not None
    assert art.date == expected
    assert art.date.utcoffset() == timedelta(hours=7)


def test_header_updated(rules: Rules) -> None:
    art = with_header(rules, "date: 2026-01-14T09:30:00\nupdated: 2026-01-15T10:00:00Z")
    assert art.updated == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    art = with_header(rules, "updated: 2026-01-15T10:00:00")
    assert art.updated == datetime(2026, 1, 15, 10, 0, tzinfo=JAKARTA)


@pytest.mark.parametrize(
    ("header", "authors"),
    [
        ("author: Budi Santoso", ("Budi Santoso",)),
        ("author: [Budi Santoso, Ani Wijaya]", ("Budi Santoso", "Ani Wijaya")),
        ("author:\n  - Budi Santoso\n  - Ani Wijaya", ("Budi Santoso", "Ani Wijaya")),
    ],
    ids=["name", "flow-list", "block-list"],
)
def test_header_author_is_a_name_or_a_list_of_names(
    rules: Rules, header: str, authors: tuple[str, ...]
) -> None:
    assert with_header(rules, header).authors == authors


def test_header_author_name_with_a_comma_is_one_name(rules: Rules) -> None:
    # "name, or a list of names": a single value is one name, degrees after a comma included.
    art = with_header(rules, "author: Dr. Budi Santoso, M.Si.")
    assert art.authors == ("Dr. Budi Santoso, M.Si.",)


def test_header_tags_are_a_list_of_words(rules: Rules) -> None:
    art = with_header(rules, "tags:\n  - Kampus USM\n  - wisuda")
    assert [t.name for t in art.tags] == ["Kampus USM", "wisuda"]
    assert [t.slug for t in art.tags] == ["kampus-usm", "wisuda"]


def test_header_summary(rules: Rules) -> None:
    art = with_header(rules, "summary: Ringkasan dari redaksi.")
    assert art.summary == "Ringkasan dari redaksi."


def test_header_image_and_link(rules: Rules) -> None:
    art = with_header(rules, "image: https://usmnews.example/img/a.jpg\n"
                             "link: http://kampus.example/berita/1")
    assert art.image == "https://usmnews.example/img/a.jpg"
    assert art.link == "http://kampus.example/berita/1"


@pytest.mark.parametrize("key", ["link", "image"])
@pytest.mark.parametrize(
    "value",
    ["/img/a.jpg", "img/a.jpg", "www.example.com/a.jpg", "ftp://example.com/a.jpg",
     "javascript:alert(1)", "mailto:redaksi@usm.ac.id", "https://", "https://[oops/",
     "http://:8080/a.jpg", "https://usm news.example/a.jpg"],
)
def test_link_and_image_must_be_absolute_http_urls(rules: Rules, key: str, value: str) -> None:
    header_error(rules, f"{key}: '{value}'")


@pytest.mark.parametrize("value", ["id", "en", "en-GB", "no"])
def test_header_lang_is_the_article_language(rules: Rules, value: str) -> None:
    art = article(rules, f"---\nlang: {value}\n---\nNasional\nJudul\n{ID_TEXT}\n")
    assert art.lang == value


def test_header_source_and_source_url(rules: Rules) -> None:
    art = with_header(rules, "source: Reuters\nsource_url: https://www.reuters.com/world/")
    assert art.attribution == Attribution("Reuters", "https://www.reuters.com/world/")
    art = with_header(rules, "source: Reuters")
    assert art.attribution == Attribution("Reuters")
    art = with_header(rules, "source: detik")
    assert art.attribution is not None
    assert art.attribution.url == "https://www.detik.com/"


@pytest.mark.parametrize(("header", "draft"), [("draft: true", True), ("draft: false", False),
                                               ("summary: x", False)])
def test_header_draft(rules: Rules, header: str, draft: bool) -> None:
    assert with_header(rules, header).draft is draft


def test_unknown_header_key_is_a_warning(rules: Rules) -> None:
    art, diagnostics = read(rules, f"---\nid: a\nkategori: x\n---\n{HEAD}{PLAIN_LEAD}", "k.txt")
    assert art.key == "a"
    assert [d.level for d in diagnostics] == ["warning"]
    assert diagnostics[0].where == "k.txt"
    assert "kategori" in diagnostics[0].message


@pytest.mark.parametrize(
    "header",
    ["id: [unclosed", "- id\n- date", "just some text", "id: a\n  bad: indentation",
     "date: yesterday", "draft: maybe", "id: [a, b]"],
)
def test_malformed_header_is_an_error(rules: Rules, header: str) -> None:
    header_error(rules, header)


def test_unclosed_header_is_an_error(rules: Rules) -> None:
    error = error_of(rules, f"---\nid: a\n{HEAD}{PLAIN_LEAD}".encode(), "terbuka.txt")
    assert_names_the_file(error, "terbuka.txt")


@pytest.mark.parametrize(
    ("header", "field", "value"),
    [("id: 2026-01-14", "key", "2026-01-14"), ("lang: no", "lang", "no"),
     ("id: 0123", "key", "0123"), ("summary: 2026", "summary", "2026"),
     ("summary: yes", "summary", "yes"), ("source: Null", "attribution", Attribution("Null"))],
)
def test_header_values_are_read_as_text(
    rules: Rules, header: str, field: str, value: object
) -> None:
    assert getattr(with_header(rules, header), field) == value


# --- the id -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [("berita.txt", "berita"), ("kampus/2026/000_4cab66b14d71472d.txt", "000_4cab66b14d71472d"),
     ("wisuda.periode-1.txt", "wisuda.periode-1")],
)
def test_id_is_the_file_name_without_txt(rules: Rules, path: str, key: str) -> None:
    art = article(rules, HEAD + PLAIN_LEAD, path)
    assert art.key == key
    assert art.key_from_header is False


def test_id_does_not_change_with_title_text_or_section(rules: Rules) -> None:
    one = article(rules, HEAD + PLAIN_LEAD, "kampus/tetap.txt")
    other = "Ekonomi\nJudul Lain Sama Sekali\nTeks yang berbeda.\n"
    two = article(rules, other, "kampus/tetap.txt")
    assert one.key == two.key == "tetap"


# --- language ------------------------------------------------------------------------------

EN_TEXT = ("The city council said on Monday that the new bridge would be opened to the public "
           "after a final inspection by the engineers, and that the work was on schedule.")
ID_TEXT = ("Pemerintah kota menyatakan bahwa jembatan baru itu akan dibuka untuk umum setelah "
           "pemeriksaan akhir oleh para insinyur, dan pekerjaan tersebut berjalan sesuai jadwal.")


@pytest.mark.parametrize(
    ("title", "text", "lang"),
    [("New Bridge Opens in Semarang", EN_TEXT, "en"),
     ("Jembatan Baru Dibuka di Semarang", ID_TEXT, "id")],
)
def test_language_is_recognized_without_a_header_lang(
    rules: Rules, title: str, text: str, lang: str
) -> None:
    assert article(rules, f"Nasional\n{title}\n{text}\n").lang == lang


def test_language_falls_back_to_the_site_language_for_short_text(rules: Rules) -> None:
    assert rules.default_lang == "id"
    assert article(rules, "Nasional\nBridge Opens\nThe bridge is open.\n").lang == "id"
