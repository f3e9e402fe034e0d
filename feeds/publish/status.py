"""Every article's status as the state holds it: what `feeds status` lists, and `feeds check`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds.codec import from_epoch, to_epoch
from feeds.entries import entry_id
from feeds.publish.report import Status
from feeds.store import FileRow, Store


@dataclass(frozen=True, slots=True)
class ArticleState:
    path: str  # as messages name it: seeds/…
    id: str | None  # the entry id, when the file claims one
    status: Status  # published, held, draft, error or error-kept
    section: str | None
    title: str | None
    published: int | None
    updated: int | None
    held_until: int | None
    message: str  # an error's reason; empty otherwise

    def as_json(self) -> dict[str, Any]:
        def moment(seconds: int | None) -> str | None:
            return None if seconds is None else from_epoch(seconds).isoformat()

        return {"path": self.path, "id": self.id, "status": self.status,
                "section": self.section, "title": self.title,
                "published": moment(self.published), "updated": moment(self.updated),
                "held_until": moment(self.held_until), "message": self.message}


def held(store: Store, now: datetime, label: str) -> list[dict[str, Any]]:
    """What `/healthz` lists: articles in error, and those held until a later time."""
    return [
        {"path": state.path, "status": state.status, "title": state.title,
         "held_until": state.as_json()["held_until"], "message": state.message}
        for state in article_states(store, now, label, "", store.held_files(now))
        if state.status != "published"
    ]


def article_states(store: Store, now: datetime, label: str, id_prefix: str,
                   rows: Iterable[FileRow] | None = None) -> list[ArticleState]:
    """Every seed file the state knows (or these `rows`), in path order, with its status."""
    cutoff = to_epoch(now)
    found = []
    for row in store.iter_files() if rows is None else rows:
        errors = [d.message for d in row.diagnostics if d.level == "error"]
        record = None if row.key is None else store.entry_record(row.key)
        mine = record is not None and record.origin == f"seeds:{row.path}"
        data: dict[str, Any] = {}
        if mine and row.key is not None and (text := store.entry_data(row.key)) is not None:
            data = json.loads(text)
        online = mine and record is not None and record.live and record.published <= cutoff
        status: Status
        if errors:
            status = "error-kept" if online else "error"
        elif not mine or record is None:
            status = "error"
        elif not record.live:
            status = "draft"
        elif record.published > cutoff:
            status = "held"
        else:
            status = "published"
        found.append(ArticleState(
            path=f"{label}/{row.path}",
            id=None if row.key is None else entry_id(id_prefix, row.key),
            status=status, section=(data.get("section") or {}).get("name"),
            title=data.get("title"),
            published=record.published if mine and record is not None else None,
            updated=record.updated if mine and record is not None else None,
            held_until=record.published if status == "held" and record is not None else None,
            message="; ".join(errors) if errors else (
                "" if mine else "its id is published from another file"),
        ))
    return found
