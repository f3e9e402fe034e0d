"""The site's identity, set once and kept in the state: when it was created, and the id prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from feeds.codec import from_epoch, to_epoch
from feeds.config import Config
from feeds.model import Diagnostic
from feeds.store import Store


@dataclass(frozen=True, slots=True)
class Identity:
    created: datetime  # when the state was first written: the date of `tag:` id prefixes
    id_prefix: str  # every entry id is this plus the entry's key
    notes: tuple[Diagnostic, ...] = ()


def identity(config: Config, store: Store, now: datetime) -> Identity:
    """Read once, stored, never derived again: a new base URL or year must not change ids."""
    notes: list[Diagnostic] = []
    stored_created = store.get_meta("created")
    if stored_created is None:
        created = from_epoch(to_epoch(now))
        store.set_meta("created", str(to_epoch(created)))
    else:
        created = from_epoch(int(stored_created))
    stored = store.get_meta("id_prefix")
    configured = config.site.id_prefix
    if configured is not None:
        if stored is not None and stored != configured:
            notes.append(Diagnostic(
                "warning", str(config.path),
                f"site.id_prefix changed from {stored!r} to {configured!r}: every entry id "
                "changes and subscribers will see every entry again",
            ))
        prefix = configured
    elif stored is not None:
        prefix = stored
    else:
        host = urlsplit(config.site.base_url).hostname or "localhost"
        prefix = f"tag:{host},{created.year}:"
    if stored != prefix:
        store.set_meta("id_prefix", prefix)
    return Identity(created, prefix, tuple(notes))
