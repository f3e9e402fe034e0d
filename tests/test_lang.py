"""Language recognition from function words: right on news prose, cautious on short text."""

from __future__ import annotations

import pytest

from feeds import lang

ALL = ["id", "ms", "en", "nl", "de", "fr", "es", "pt"]

PROSE = {
    "id": "Rektor mengatakan bahwa kampus akan membuka program beasiswa baru untuk mahasiswa "
          "dari daerah terpencil. Program tersebut sudah dibahas dengan pemerintah kota dan "
          "diharapkan dapat berjalan pada tahun depan, kata dia kepada wartawan di Semarang.",
    "en": "The rector said that the university will open a new scholarship programme for "
          "students from remote areas. The plan has been discussed with the city government "
          "and is expected to start next year, he told reporters in Semarang.",
    "nl": "De rector zei dat de universiteit een nieuw beurzenprogramma opent voor studenten "
          "uit afgelegen gebieden. Het plan is met de gemeente besproken en zal naar "
          "verwachting volgend jaar van start gaan, zei hij tegen verslaggevers.",
    "de": "Der Rektor sagte, dass die Universität ein neues Stipendienprogramm für Studierende "
          "aus abgelegenen Gebieten eröffnen wird. Der Plan wurde mit der Stadt besprochen und "
          "soll im nächsten Jahr beginnen, sagte er den Reportern in Semarang.",
    "fr": "Le recteur a déclaré que l'université ouvrira un nouveau programme de bourses pour "
          "les étudiants des régions isolées. Le projet a été discuté avec la ville et il "
          "devrait commencer l'année prochaine, a-t-il dit aux journalistes.",
    "es": "El rector dijo que la universidad abrirá un nuevo programa de becas para los "
          "estudiantes de las zonas remotas. El plan se ha discutido con el ayuntamiento y "
          "se espera que comience el próximo año, dijo a los periodistas.",
    "pt": "O reitor disse que a universidade vai abrir um novo programa de bolsas para os "
          "estudantes das regiões remotas. O plano foi discutido com a prefeitura e deve "
          "começar no próximo ano, disse ele aos jornalistas em Semarang.",
}


@pytest.mark.parametrize("language", sorted(PROSE))
def test_news_prose_is_recognized_among_all_languages(language: str) -> None:
    # Indonesian and Malay share most function words: a site publishing both would need a
    # header `lang` on short pieces. Each is told from every other language.
    candidates = [c for c in ALL if {c, language} != {"id", "ms"}]
    assert lang.recognize(PROSE[language], candidates, "xx") == language


def test_indonesian_and_malay_are_too_close_to_call_on_one_paragraph() -> None:
    assert lang.recognize(PROSE["id"], ["id", "ms"], "xx") == "xx"


def test_only_the_site_languages_are_candidates_and_their_spelling_is_kept() -> None:
    assert lang.recognize(PROSE["en"], ["id-ID", "en-GB"], "id-ID") == "en-GB"
    assert lang.recognize(PROSE["de"], ["id", "en"], "id") == "id"  # neither: unclear


def test_short_or_unknown_text_falls_back_to_the_default() -> None:
    assert lang.recognize("The bridge is open.", ["id", "en"], "id") == "id"
    assert lang.recognize(PROSE["en"], ["ja", "ko"], "ja") == "ja"
    assert lang.recognize("1 2 3 4 5 6 7 8 9 10 11 12 13 14 — … “”", ["id", "en"], "id") == "id"


def test_words_next_to_quotes_dashes_and_digits_still_count() -> None:
    glued = ("“The,” said—the: (the) ‘the’ 2024the «the» the… the\u00a0the the–the "
             "of and to in that for")
    words = lang._sample_words(glued)
    assert words.count(b"the") == 11
    assert lang.recognize(glued, ["id", "en"], "id") == "en"


def test_mixed_text_without_a_clear_winner_falls_back() -> None:
    mixed = PROSE["en"][:120] + " " + PROSE["id"][:200]
    assert lang.recognize(mixed, ["id", "en"], "fr") == "fr"


@pytest.mark.parametrize("space", ["\u2009", "\u200b", "\u3000", "\u0085", "\u00a0", "\u2003"])
def test_unicode_spaces_separate_words(space: str) -> None:
    spaced = space.join(PROSE["en"].split())
    assert lang.recognize(spaced, ["id", "en"], "id") == "en"


def test_an_apostrophe_inside_a_word_keeps_it_whole() -> None:
    # "Jum'at" and "Qur’an" must not count as the English "at" and "an".
    assert lang._sample_words("Jum'at Qur’an l'homme don't") == [
        b"jum'at", "qur’an".encode(), b"l'homme", b"don't"]
    assert lang._sample_words("'kutip' ‘kutip’ kata’ ¿qué? ¡ya!") == [
        b"kutip", b"kutip", b"kata", "qué".encode(), b"ya"]
