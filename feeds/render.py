"""Pure: article blocks → escaped HTML content with a visible, linked credit line."""

from __future__ import annotations

from html import escape

from feeds.model import Article, Attribution, Block, BulletList, Heading, ListItem, Paragraph

# The credit line in the entry's language; others get English.
_CREDIT_WORD = {"id": "Sumber", "ms": "Sumber", "jv": "Sumber", "en": "Source"}


def credit_word(lang: str) -> str:
    return _CREDIT_WORD.get(lang.split("-")[0].lower(), "Source")


def outlet_html(attribution: Attribution) -> str:
    """The outlet's name, linked when it has a URL (never an invented one)."""
    name = escape(attribution.name)
    if attribution.url:
        return f'<a href="{escape(attribution.url)}">{name}</a>'
    return name


def credit_html(attribution: Attribution, lang: str) -> str:
    return f'<p class="credit">{credit_word(lang)}: {outlet_html(attribution)}</p>'


def content_html(article: Article) -> str:
    """The article body as HTML: every character of the text is escaped, nothing is trusted."""
    parts = []
    for index, block in enumerate(article.blocks):
        if index == article.attribution_block and article.attribution is not None:
            # The closing `Sumber: X` line is the credit line: it stays, with X linked.
            parts.append(_closing_credit(block, article.attribution))
        else:
            parts.append(_block(block))
    if article.attribution is not None and article.attribution_block is None:
        parts.append(credit_html(article.attribution, article.lang))
    return "\n".join(parts)


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h2>{escape(block.text)}</h2>"
    items = "".join(f"<li>{_item(item)}</li>" for item in block.items)
    if isinstance(block, BulletList):
        return f"<ul>{items}</ul>"
    start = f' start="{block.start}"' if block.start != 1 else ""
    return f"<ol{start}>{items}</ol>"


def _item(item: ListItem) -> str:
    if item.label is None:
        return escape(item.text)
    return f"<strong>{escape(item.label)}:</strong> {escape(item.text)}"


def _closing_credit(block: Block, attribution: Attribution) -> str:
    assert isinstance(block, Paragraph)
    text = block.text
    at = text.rfind(attribution.name)
    if at < 0:
        return f'<p class="credit">{escape(text)}</p>'
    before, after = text[:at], text[at + len(attribution.name) :]
    return f'<p class="credit">{escape(before)}{outlet_html(attribution)}{escape(after)}</p>'
