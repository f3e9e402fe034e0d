"""Recognize an article's language among the site's languages from its function words.

A measured heuristic rather than a statistical model: news prose in the
languages a newsroom publishes is dominated by a few hundred function words,
which tell Indonesian from English (and from the other languages listed
here) reliably once a text has a few dozen words. Short or mixed texts fall
back to the site's language. Measured in tests/test_lang.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The commonest function words of each language (no proper nouns, no content words).
_STOPWORDS: dict[str, frozenset[str]] = {
    "id": _words(
        "yang dan di ke dari ini itu dengan untuk pada dalam tidak akan juga adalah oleh "
        "karena sebagai atau telah sudah bisa dapat ada lebih para kami kita mereka saat "
        "secara bahwa agar hingga serta namun tetapi masih setelah sebelum menjadi sejumlah "
        "bagi antara tersebut kata ujar menurut beberapa banyak tahun hari sangat harus "
        "nya dia ia pun lagi belum jika kalau maka sehingga yaitu yakni seperti sebuah "
        "satu dua tiga baru kini selama sejak tentang terhadap melalui tanpa bersama"
    ),
    "ms": _words(
        "yang dan di ke dari ini itu dengan untuk pada dalam tidak akan juga adalah oleh "
        "kerana sebagai atau telah sudah boleh dapat ada lebih kami kita mereka ketika "
        "bahawa agar hingga serta namun tetapi masih selepas sebelum menjadi bagi antara "
        "tersebut kata menurut beberapa banyak tahun hari sangat perlu dia ia pun lagi "
        "belum jika kalau maka sehingga iaitu seperti sebuah baharu kini sejak tentang"
    ),
    "en": _words(
        "the of and to in a is that for on with as was by at from it be this are an or "
        "have has had not but which their they his her its were been will would can could "
        "after before more than also who when where while into about over said says "
        "there these those other some such only most many new one two three our we you "
        "he she them then what all during between under because through"
    ),
    "nl": _words(
        "de het een en van in is dat op te zijn voor met niet aan er die als ook door "
        "bij maar om nog wel naar uit tot over dan hij zij wordt werd worden"
    ),
    "de": _words(
        "der die das und ist nicht ein eine zu den mit von dem des im auf sich für es "
        "auch als wird werden wurde bei nach aus oder aber noch wie über nur"
    ),
    "fr": _words(
        "le la les de des du et est un une en dans pour que qui pas sur au aux avec ce "
        "ces il elle sont par plus ont été mais ou son sa ses leur comme"
    ),
    "es": _words(
        "el la los las de del y en que es un una por con para no se su sus al lo como "
        "más pero fue han ha este esta sobre entre también"
    ),
    "pt": _words(
        "o a os as de do da dos das e em que é um uma por com para não se seu sua ao "
        "como mais mas foi são tem está sobre entre também"
    ),
}

MIN_WORDS = 12  # below this, a text is too short to tell: use the site's language
MARGIN = 1.5  # the winner must beat the runner-up by this factor
SAMPLE = 1500  # characters (about 200 words): they decide as well as the whole text

# Words are counted as UTF-8 bytes split at white space, once digits, ASCII punctuation,
# Unicode spaces and punctuation (U+0085, NBSP, ¡, ¿, guillemets, U+2000–U+203F, U+3000)
# are made spaces: ~55 µs per article, where a regular expression over Unicode letter
# classes cost ~100. An apostrophe between two letters stays in its word ("jum'at",
# "l'homme"), as with that expression; anywhere else it is a quotation mark.
_ASCII_SEPARATORS = bytes.maketrans(b"0123456789!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~", b" " * 41)
_OTHER_SEPARATORS = re.compile(
    # Every alternative starts with a literal byte, so the scan for them stays fast.
    rb"\xe2\x80(?:[\x80-\x98\x9a-\xbf]|\x99(?:(?![a-z\xc3-\xc9])|(?<![a-z\x80-\xbf]\xe2\x80\x99)))"
    rb"|\xe3\x80\x80|\xc2[\x85\xa0\xa1\xab\xb7\xbb\xbf]"
    # ' (like ’ above) unless between two letters: ASCII, or a Latin letter's first byte
    # after it and any letter's last byte before it
    rb"|'(?:(?![a-z\xc3-\xc9])|(?<![a-z\x80-\xbf]'))"
)
_STOPWORD_BYTES = {lang: frozenset(w.encode() for w in words) for lang, words in _STOPWORDS.items()}


def _sample_words(text: str) -> list[bytes]:
    data = text[:SAMPLE].lower().encode("utf-8", "replace")
    return _OTHER_SEPARATORS.sub(b" ", data).translate(_ASCII_SEPARATORS).split()


def recognize(text: str, candidates: Iterable[str], default: str) -> str:
    """The candidate language `text` is written in, or `default` when unclear."""
    by_primary = {c.split("-")[0].lower(): c for c in candidates}
    known = [p for p in by_primary if p in _STOPWORDS]
    if not known:
        return default
    words = _sample_words(text)
    if len(words) < MIN_WORDS:
        return default
    counts = Counter(words)
    scores = sorted(
        ((sum(counts[w] for w in _STOPWORD_BYTES[p].intersection(counts)), p) for p in known),
        reverse=True,
    )
    best, best_lang = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0
    if best < 3 or best < runner_up * MARGIN:
        return default
    return by_primary[best_lang]
