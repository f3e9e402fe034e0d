"""Text rules shared by every stage: slugs, accent folding, XML-safe characters, word cuts,
URIs."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from urllib.parse import quote, urlsplit

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
    slug = name_slug(name, "section")
    return "all-1" if slug == "all" else slug


def name_slug(name: str, fallback: str) -> str:
    """The slug of a section or tag name. A name with Latin letters or digits keeps the slug it
    has always had (`slugify`). One without (Arabic, Hebrew, Cyrillic, CJK) used to slug to
    nothing, so that every such name shared one feed: it gets its transliteration (anyascii)
    and a short hash of the name, which tells apart names that transliterate alike; the
    `fallback` word and the hash when nothing transliterates (emoji, symbols)."""
    slug = slugify(name, fallback="")
    if slug:
        return slug
    from anyascii import anyascii  # here: a rare name, and every command imports this module

    digest = name_hash(name)
    spelled = slugify(anyascii(name), fallback="")[:60].strip("-")
    return f"{spelled or fallback}-{digest}"


def name_hash(name: str) -> str:
    """Six hex digits of the name, folded: a stable way to tell two names apart in a slug."""
    return hashlib.sha256(fold(name).encode("utf-8", "surrogatepass")).hexdigest()[:6]


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


# --- URIs ----------------------------------------------------------------------------------

# RFC 3986, appendix B: scheme, authority, path, query, fragment; an empty query ("?") or
# fragment ("#") is told apart from a missing one, so a valid URI comes back byte for byte.
_URI_PARTS = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$",
                        re.DOTALL)
_EDGE_SPACE = re.compile(r"^[\x00-\x20\s]+|[\x00-\x20\s]+$")  # C0 controls, space, Unicode space
_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_REG_NAME = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")
_SUB_DELIMS = "!$&'()*+,;="
# What `quote` may leave as it is, beyond the unreserved characters it always keeps; "%" is
# kept because stray ones are encoded first, so every "%" left starts a valid %XX.
_USERINFO_SAFE = _SUB_DELIMS + ":%"
_PATH_SAFE = _SUB_DELIMS + ":@/%"
_QUERY_SAFE = _PATH_SAFE + "?"  # query and fragment
_TRACKING_FRAGMENT = ("utm_", "tk.")


def uri(text: str) -> str | None:
    """An http(s) IRI or URL as found in feeds, as a valid RFC 3986 URI; None if it cannot be.

    Spaces, non-ASCII characters (as UTF-8) and every other character a URI forbids are
    percent-encoded in the user info, path, query and fragment; valid %XX escapes are kept
    and a stray "%" becomes %25; a non-ASCII host is IDNA-encoded (UTS #46, as browsers do;
    IDNA 2003 for the symbols IDNA 2008 refuses). Tabs and newlines are removed and the ends
    trimmed, as browsers do. None when it is not absolute http(s) with a host, or when the
    host or port cannot be made valid (a space in an ASCII host, port 99999, an IP literal
    that is not IPv6). Parts that are already valid are never rewritten: a valid URI comes
    back unchanged, scheme and host case included, so `uri(uri(x)) == uri(x)`.
    """
    parts = _URI_PARTS.match(_EDGE_SPACE.sub("", text.translate(_TAB_AND_NEWLINES)))
    if parts is None:
        return None
    scheme, authority, path, query, fragment = parts.groups()
    if scheme is None or scheme.lower() not in ("http", "https") or authority is None:
        return None
    userinfo, at, host_port = authority.rpartition("@")
    address = _host_and_port(host_port)
    if address is None:
        return None
    try:
        return "".join((
            scheme, "://",
            _encoded(userinfo, _USERINFO_SAFE) + "@" if at else "",
            address,
            _encoded(path, _PATH_SAFE),
            "" if query is None else "?" + _encoded(query, _QUERY_SAFE),
            "" if fragment is None else "#" + _encoded(fragment, _QUERY_SAFE),
        ))
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8: not text a feed can hold
        return None


def strip_tracking_fragment(url: str) -> str:
    """`url` without its fragment when that is tracking (`#utm_…`, `#tk.…`); other fragments
    name a part of the page (`#post-2`) and are kept."""
    head, hash_sign, fragment = url.partition("#")
    if hash_sign and fragment.lower().startswith(_TRACKING_FRAGMENT):
        return head
    return url


def _encoded(part: str, safe: str) -> str:
    return quote(_STRAY_PERCENT.sub("%25", part), safe=safe)


def _host_and_port(text: str) -> str | None:
    """`host[:port]` made valid, or None: IPv6 literals, reg-names, IDNA for non-ASCII."""
    if text.startswith("["):
        literal, bracket, port = text[1:].partition("]")
        if not bracket or "%" in literal:  # a zone id needs RFC 6874's %25: never in a feed
            return None
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return None
        host = f"[{literal}]"
    else:
        host, colon, port = text.partition(":")
        port = colon + port
        if not host.isascii():
            host = _idna(host) or ""
        if not _REG_NAME.match(host):
            return None
    if port and port != ":":
        digits = port.removeprefix(":")
        if not (port.startswith(":") and digits.isascii() and digits.isdigit()
                and int(digits) <= 65535):
            return None
    return host + port


def _idna(host: str) -> str | None:
    import idna  # here: only a host that is not ASCII needs it, and every command loads this

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
