"""What `/healthz` answers: 200, or 503 with the problems, in one JSON shape whatever the cause.

    {"healthy": false,
     "problems": [{"kind": "build"|"state"|"config"|"sources"|"safety",
                   "message": "…", "since": "2026-12-07T10:00:00+00:00"}],
     "last_build": "…", "age_seconds": 12, "sources": {name: {…}},
     "held": [{"path": "seeds/…", "status": "held"|"error"|"error-kept"|"draft", …}]}

The daemon knows its own problems (a failed or stopped build, an unreachable
state, an invalid config) and keeps them in memory (`Problems`), so that a
report does not depend on the state being writable. `feeds serve` beside a
cron job knows only the state: there, the site is unhealthy when its last
good build is older than three rebuild intervals. Failing sources and held
articles are listed but never make the answer 503 on their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from feeds.codec import from_epoch, to_epoch
from feeds.publish import status
from feeds.store import Store

STALE_AFTER = 3  # rebuild intervals without a good build before the site counts as stale
Kind = Literal["build", "state", "config", "sources", "safety"]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: Kind
    message: str
    since: datetime  # when it began (it lasts until the thing that failed succeeds again)

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "since": self.since.isoformat()}


class Problems:
    """The daemon's own problems, one per kind, kept in memory (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[Kind, Problem] = {}

    def report(self, kind: Kind, message: str, now: datetime) -> None:
        """A problem of this kind, now; `since` stays where the streak began."""
        with self._lock:
            earlier = self._found.get(kind)
            since = earlier.since if earlier is not None else now
            self._found[kind] = Problem(kind, message, since)

    def clear(self, *kinds: Kind) -> None:
        with self._lock:
            for kind in kinds:
                self._found.pop(kind, None)

    def current(self) -> list[Problem]:
        with self._lock:
            return sorted(self._found.values(), key=lambda p: (p.since, p.kind))


def report(
    store: Store | None,
    *,
    rebuild_every: int,
    now: datetime,
    problems: list[Problem] | None = None,
    label: str = "seeds",
) -> dict[str, Any]:
    """The report from the state (`store`; None when there is none yet) and the problems the
    caller knows of."""
    found = list(problems or ())
    result: dict[str, Any] = {"healthy": False, "problems": [], "last_build": None,
                              "age_seconds": None, "sources": {}, "held": []}
    if store is None:
        found.append(Problem("build", "no build yet", now))
    else:
        with store.snapshot():
            last = store.get_meta("last_success")
            sources = store.sources()
            result["held"] = status.held(store, now, label)
        result["sources"] = {
            state.name: {
                "status": state.last_status, "failures": state.failures,
                "last_success": None if state.last_success is None
                else from_epoch(state.last_success).isoformat(),
                "next_due": from_epoch(state.next_due).isoformat(), "retired": state.retired,
                "error": state.last_error or None,
                "skipped": [{"reason": why, "items": count} for why, count in state.skipped],
            }
            for state in sources
        }
        if last is None:
            found.append(Problem("build", "no build yet", now))
        else:
            built = from_epoch(int(last))
            age = to_epoch(now) - int(last)
            result["last_build"], result["age_seconds"] = built.isoformat(), age
            limit = STALE_AFTER * rebuild_every
            if age > limit and not any(p.kind == "build" for p in found):
                found.append(Problem(
                    "build", f"the last good build is {age}s old, more than {STALE_AFTER} × "
                    f"the rebuild interval ({rebuild_every}s)",
                    built + timedelta(seconds=limit)))
    result["problems"] = [problem.as_json() for problem in found]
    result["healthy"] = not found
    return result
