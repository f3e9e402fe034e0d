"""Text rules shared by every stage: slugs, accent folding, XML-safe characters, word cuts."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# XML 1.0 allows TAB, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF;
# everything else (C0 controls, lone surrogates, U+FFFE/U+FFFF) is removed.
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# C1 controls are legal XML but never meant in prose; they come from mis-decoding.
_C1_CONTROLS = re.compile("[\u0080-\u009f]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")

# Names Windows cannot create and the ones a web server treats specially.
_RESERVED_SLUGS = frozenset(
    {"con", "prn", "aux", "nul", "articles", "tags"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)


def is_http_url(text: str) -> bool:
    """An absolute http(s) URL with a real host: no spaces, a valid port, nothing odd."""
    if not text or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_quotation_mark(char: str) -> bool:
    """ASCII quotes and every Unicode initial/final quote (“ ” ‘ ’ « » ‹ › „ …)."""
    return char in "\"'„‚「」『』〝〞＂" or unicodedata.category(char) in ("Pi", "Pf")


def collapse_spaces(text: str) -> str:
    return " ".join(text.split())


def xml_safe(text: str) -> str:
    """Remove the characters XML 1.0 forbids (and stray C1 controls)."""
    return _C1_CONTROLS.sub("", _XML_FORBIDDEN.sub("", text))


def fold(text: str) -> str:
    """Case- and accent-insensitive key: 'Ékonomi ' and 'ekonomi' fold alike."""
    if text.isascii():
        return _SPACE.sub(" ", text.strip().lower())
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", stripped)


def section_slug(name: str) -> str:
    """A section's slug: `all` names the all-sections feed (its id ends in feed/all)."""
    slug = slugify(name, fallback="section")
    return "all-1" if slug == "all" else slug


def slugify(name: str, *, fallback: str = "untitled") -> str:
    """Lower-case ASCII words joined by `-`; never empty, `.`/`..`, a path or a reserved name."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")[:80].strip("-")
    if not slug:
        return fallback
    if slug in _RESERVED_SLUGS:
        return f"{slug}-1"
    return slug


def cut_at_word(text: str, limit: int = 300) -> str:
    """`text` whole if short, else cut at the last word boundary before `limit`, plus '…'."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:–—-") + "…"
