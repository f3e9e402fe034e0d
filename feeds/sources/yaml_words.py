"""Pure: a YAML complaint about an article header, in the editor's words, at the file's line.

PyYAML (and libyaml) describe a problem as a context ("while parsing a flow
sequence"), a problem ("expected ',' or ']'") and positions in the header's
text; `sources.article` hands those over as a `YamlFault`, and `explain`
says what went wrong and what to change, counting lines as the editor sees
them in the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_QUOTES = "\"'"
_KEY_LINE = re.compile(r"^(?P<key>\w[^:]*):(?P<value>(?:\s.*)?)$")  # a header line's shape


@dataclass(frozen=True, slots=True)
class YamlFault:
    context: str
    problem: str
    index: int | None  # where in the header the problem is (character offset)
    context_index: int | None  # where what it was reading began (an opened '[' or quote)


@dataclass(frozen=True, slots=True)
class _Place:
    """The fault's line in the file, its text, and what can be said of it."""

    header: str
    first_line: int  # the file's line number of the header's first line
    k: int  # the line within the header
    text: str
    column: int
    opened: int | None  # the header line where what failed began

    @property
    def line(self) -> int:
        return self.first_line + self.k

    @property
    def key_line(self) -> re.Match[str] | None:
        return _KEY_LINE.match(self.text)

    @property
    def in_value(self) -> bool:
        key_line = self.key_line
        return key_line is not None and self.column >= key_line.end("key")

    @property
    def raw_value(self) -> str:
        key_line = self.key_line
        return key_line["value"].strip() if key_line else ""

    @property
    def example(self) -> str:
        """How the line's value looks quoted, for the advice."""
        key_line = self.key_line
        if key_line is None:
            return ""
        value = self.raw_value
        if len(value) > 1 and value[0] == value[-1] and value[0] in _QUOTES:
            value = value[1:-1]
        return f", e.g. {key_line['key'].strip()}: {quoted(value)}"


def explain(header: str, first_line: int, fault: YamlFault) -> str:
    """The problem in the editor's words, starting with `line N:` (the file's own line)."""
    if fault.index is None:  # never raised without one; kept for the type checker
        return f"{fault.problem or fault.context} (YAML)"
    lines = header.split("\n")

    def line_of(index: int) -> int:
        return min(header.count("\n", 0, index), len(lines) - 1)

    k = line_of(fault.index)
    place = _Place(header, first_line, k, lines[k],
                   fault.index - (header.rfind("\n", 0, fault.index) + 1),
                   None if fault.context_index is None else line_of(fault.context_index))
    char = header[fault.index] if fault.index < len(header) else ""
    if "tab" in fault.problem or char == "\t":
        return (f"line {place.line}: a tab character: header lines start at the margin and use "
                "spaces, never tabs (replace the tab with a space)")
    for explainer in (_flow, _quoted_value, _mapping, _value_start):
        found = explainer(place, fault, char, line_of)
        if found is not None:
            return found
    if not place.in_value and not place.text[:1].isspace() and not place.key_line:
        return not_key_value(place.line, place.text.strip())
    return (f"line {place.line}: {fault.problem or fault.context} (YAML): check that line; a "
            f"value holding punctuation can be quoted{place.example}")


def _flow(
    place: _Place, fault: YamlFault, char: str, line_of: Callable[[int], int]
) -> str | None:
    """An unclosed or unreadable `[...]` or `{...}`."""
    if fault.context_index is None or not fault.context.startswith("while parsing a flow"):
        return None
    header, index = place.header, fault.index or 0
    opener_at = max(header.rfind("[", 0, index), header.rfind("{", 0, index))
    where = line_of(opener_at) if opener_at >= 0 else 0
    if opener_at >= 0 and "flow node" in fault.context:  # nothing after the '[' or '{'
        opened_line, opener = place.first_line + where, header[opener_at]
    else:
        opened_line = place.first_line + (place.opened or 0)
        opener = header[fault.context_index : fault.context_index + 1]
    if opener not in ("[", "{"):
        return None
    closer = "]" if opener == "[" else "}"
    kind = "the list opened with '['" if opener == "[" else "the value opened with '{'"
    if closer not in header[fault.context_index :].split("\n", 1)[0]:
        return (f"line {opened_line}: {kind} is never closed: end it with {closer!r} on the "
                f"same line, or quote the value if the {opener!r} is text")
    return (f"line {place.line}: {kind} on line {opened_line} holds something YAML cannot "
            'read: quote its items, e.g. tags: ["a", "b"]')


def _quoted_value(
    place: _Place, fault: YamlFault, char: str, line_of: Callable[[int], int]
) -> str | None:
    """An unclosed quote, or a bad escape in double quotes."""
    if fault.context_index is None or "quoted scalar" not in fault.context:
        return None
    quote = place.header[fault.context_index]
    if "end of stream" in fault.problem:
        return (f"line {place.first_line + (place.opened or 0)}: the quote opened with "
                f"{quote!r} is never closed: end the value with {quote!r} on the same line")
    if "escape" in fault.problem:
        return (f"line {place.line}: {fault.problem} in a double-quoted value: write a "
                f"backslash as '\\\\', or use single quotes{place.example}")
    return None


def _mapping(
    place: _Place, fault: YamlFault, char: str, line_of: Callable[[int], int]
) -> str | None:
    """A line that is not `key: value`: a colon in a value, an indent, a stray list item."""
    line, text = place.line, place.text
    if "mapping values are not allowed" in fault.problem:
        if text[:1].isspace():
            return _indented(line)
        if place.in_value:
            return f"line {line}: a value containing ': ' must be quoted{place.example}"
        return not_key_value(line, text.strip())
    if fault.context.startswith("while scanning a simple key") and place.opened is not None:
        opened = place.opened
        return not_key_value(place.first_line + opened, place.header.split("\n")[opened].strip())
    if not fault.context.startswith("while parsing a block mapping"):
        return None
    if text[:1].isspace():
        return _indented(line)
    if text.lstrip().startswith("-"):
        return (f"line {line}: a list item needs its key on the line above with nothing after "
                "the colon (tags:), or write the list as tags: [a, b]")
    raw_value = place.raw_value
    if place.in_value and raw_value[:1] in ('"', "'", "[", "{"):
        closing = {"[": "']'", "{": "'}'"}.get(raw_value[0], "quote")
        return (f"line {line}: text follows the closing {closing}: quote the whole "
                f"value{place.example}")
    return not_key_value(line, text.strip())


def _value_start(
    place: _Place, fault: YamlFault, char: str, line_of: Callable[[int], int]
) -> str | None:
    """A value starting with a character YAML reserves (`@`, `` ` ``, `*`, `&`, `%`)."""
    if place.in_value and (
        "cannot start any token" in fault.problem
        or "undefined alias" in fault.problem
        or "not allowed in this context" in fault.problem
        or fault.context.startswith(("while scanning an alias", "while scanning an anchor"))
    ):
        shown = place.raw_value[:1] or char
        return f"line {place.line}: a value cannot start with {shown!r}: quote it{place.example}"
    return None


def not_key_value(line: int, text: str) -> str:
    key, colon, value = text.partition(":")
    if colon and value and not value[0].isspace() and re.fullmatch(r"\w[\w-]*", key):
        return (f"line {line}: {text!r} is not a 'key: value' line: put a space after the "
                f"colon, e.g. {key.strip()}: {value.strip()}")
    return (f"line {line}: {text!r} is not a 'key: value' line: write it as key: value, "
            "or move it below the closing '---'")


def _indented(line: int) -> str:
    return (f"line {line}: this line is indented: a header line starts at the margin with "
            "key: value (remove the leading spaces; only '- item' lines of a list under "
            "its key are indented)")


def quoted(value: str) -> str:
    """`value` as a YAML quoted scalar the writer can paste."""
    if '"' not in value and "\\" not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "''") + "'"
