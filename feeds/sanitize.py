"""Upstream HTML → safe HTML on a tight allow-list (nh3); the only module that imports nh3.

No script, style, iframe, form, object or event handler survives; URLs are
made absolute against the entry's base and only http(s) and mailto remain,
so `javascript:` and `data:` links lose their href.
"""

from __future__ import annotations

import html
from urllib.parse import urljoin, urlsplit

import nh3

from feeds.text import xml_safe

TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
     "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
     "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "table",
     "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul"}
)
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start"},
}
# Removed with everything inside them, not just their tags.
DROP_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object",
                               "embed", "svg", "math", "select", "textarea", "button"})
SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})


def clean_html(html: str, base_url: str) -> str:
    """Sanitize `html`, resolving relative URLs against `base_url`."""

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        resolved = urljoin(base_url, value.strip())
        return resolved if urlsplit(resolved).scheme in SCHEMES else None

    cleaned = nh3.clean(
        xml_safe(html),
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=absolute,
        url_schemes=set(SCHEMES),
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )
    return xml_safe(cleaned).strip()  # references such as &#x1; decode to forbidden characters


def text_only(html: str) -> str:
    """All markup removed, text kept (for titles and plain summaries)."""
    return xml_safe(
        nh3.clean(xml_safe(html), tags=set(), clean_content_tags=set(DROP_WITH_CONTENT))
    ).strip()


def plain_text(markup: str) -> str:
    """Markup or entities → the plain text a reader shows. Unescaping comes before the XML
    check: `&amp;#x1;` unescapes to a character XML forbids."""
    return xml_safe(html.unescape(text_only(markup))).strip()
