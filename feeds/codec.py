"""Pure: epoch seconds, and an Entry as compact JSON (the state's form and the workers' wire).

Every state backend stores an entry as this JSON, so that a rebuild needs
neither the article files nor the network, and worker processes send
entries back as strings instead of pickled dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from feeds.model import Attribution, Dateline, Enclosure, Entry, Section, Tag, UpstreamFeed


def to_epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _flat(value: Any) -> Any:
    """A one-level dataclass as a dict (asdict deep-copies: too slow at 100,000 entries)."""
    if value is None:
        return None
    return {f.name: getattr(value, f.name) for f in fields(value)}


def entry_to_json(entry: Entry) -> str:
    data = {f.name: getattr(entry, f.name) for f in fields(entry)}
    data["published"] = to_epoch(entry.published)
    data["updated"] = to_epoch(entry.updated)
    data["section"] = _flat(entry.section)
    data["tags"] = [_flat(t) for t in entry.tags]
    data["attribution"] = _flat(entry.attribution)
    data["dateline"] = _flat(entry.dateline)
    upstream = _flat(entry.upstream)
    if upstream is not None and upstream["updated"] is not None:
        upstream["updated"] = to_epoch(upstream["updated"])
    data["upstream"] = upstream
    # Written only when there are some, so that entries stored before enclosures existed and
    # entries without any encode to the same bytes.
    if entry.enclosures:
        data["enclosures"] = [_flat(e) for e in entry.enclosures]
    else:
        del data["enclosures"]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def entry_from_json(text: str) -> Entry:
    data = json.loads(text)
    upstream = data.pop("upstream")
    attribution = data["attribution"]
    if upstream is not None and upstream["updated"] is not None:
        upstream["updated"] = from_epoch(upstream["updated"])
    return Entry(
        **{
            **data,
            "section": Section(**data["section"]),
            "published": from_epoch(data["published"]),
            "updated": from_epoch(data["updated"]),
            "authors": tuple(data["authors"]),
            "tags": tuple(Tag(**t) for t in data["tags"]),
            "attribution": None if attribution is None else Attribution(**attribution),
            "dateline": None if data["dateline"] is None else Dateline(**data["dateline"]),
            "upstream": None if upstream is None else UpstreamFeed(**upstream),
            "enclosures": tuple(Enclosure(**e) for e in data.get("enclosures", ())),
        }
    )
