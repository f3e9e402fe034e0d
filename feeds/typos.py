"""Pure: when does one name look like a typo of another (section names, header keys).

The rule (spec "Section line"; docs/decisions.md, "Article format"): both names are
folded (case, accents, punctuation: `fold_name`); equal names are the same name, not a
typo. Otherwise `a` is a typo of `b` when

- both hold the same digits in the same order ("Nasional2" is not "Nasional"),
- the edits allowed for the longer of the two folded names are 0 for 3 characters or
  fewer, 1 for 4–7, 2 for 8 or more (`allowed_edits`), and
- the optimal-string-alignment distance (insertions, deletions, substitutions, and a
  swap of two neighbouring letters, each one edit) is within that, counted with the two
  first letters aligned: they match, or one is substituted (one edit), or they are the
  first two letters swapped (one edit); nothing is inserted or deleted in front of them.
  A letter added in front then costs two edits: "Esports" (7 characters) is not a typo
  of "Sports", as the spec requires, because a prefix makes another word (e-sports).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from feeds.text import fold

_APOSTROPHES = "'’‘ʼ`´"
_SPACE = re.compile(r"\s+")


def fold_name(text: str) -> str:
    """`fold` that ignores punctuation too: 'Nasional!' → 'nasional', 'Olah-Raga' → 'olah raga'.

    Punctuation separates words (a space), except apostrophes, which join them ("Jum'at"
    → "jumat"); spaces are then collapsed and trimmed.
    """
    folded = fold(text)
    if folded.isalnum():  # the common case: one plain word
        return folded
    chars = []
    for c in folded:
        if c in _APOSTROPHES:
            continue
        chars.append(" " if unicodedata.category(c).startswith("P") else c)
    return _SPACE.sub(" ", "".join(chars)).strip()


def allowed_edits(length: int) -> int:
    """How many edits a typo of a name of `length` characters may have."""
    if length <= 3:
        return 0
    return 1 if length <= 7 else 2


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance of `a` and `b` with their first letters aligned."""
    from rapidfuzz.distance import OSA  # imported when a name is unknown, not by every command

    if not a or not b:
        return max(len(a), len(b))
    best = (a[0] != b[0]) + OSA.distance(a[1:], b[1:])
    if len(a) > 1 and len(b) > 1 and a[0] == b[1] and a[1] == b[0] and a[0] != b[0]:
        best = min(best, 1 + OSA.distance(a[2:], b[2:]))
    return best


def is_typo(a: str, b: str) -> bool:
    """Whether the folded names `a` and `b` differ, but only as a typo would."""
    if a == b:
        return False
    limit = allowed_edits(max(len(a), len(b)))
    if limit == 0 or abs(len(a) - len(b)) > limit or _digits(a) != _digits(b):
        return False
    return distance(a, b) <= limit


def closest(name: str, known: Iterable[str]) -> str | None:
    """The folded name in `known` that the folded `name` is a typo of, closest (then first).

    None when `name` is one of `known` itself or a typo of none.
    """
    choices = list(known)
    if name in choices:
        return None
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    # Plain OSA never exceeds the first-letter-aligned distance: a C-speed prefilter.
    near = process.extract(name, choices, scorer=OSA.distance, score_cutoff=2, limit=None)
    found = [(distance(name, c), i, c) for c, _, i in near if is_typo(name, c)]
    return min(found)[2] if found else None


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdecimal())
