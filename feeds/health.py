"""Pure: what `/healthz` answers, from the state's facts and the clock it is given."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feeds.codec import from_epoch, to_epoch
from feeds.store import Store

STALE_AFTER = 3  # rebuild intervals without a good build before the site counts as stale


def report(store: Store | None, *, rebuild_every: int, now: datetime) -> dict[str, Any]:
    """Age of the last successful build, the last failure, each source; `store` is None when
    no state exists yet."""
    result: dict[str, Any] = {"healthy": False, "last_build": None, "age_seconds": None,
                              "last_failure": None, "sources": {}}
    if store is None:
        result["problem"] = "no build yet"
        return result
    with store.snapshot():
        last = store.get_meta("last_success")
        failure = store.get_meta("last_failure")
        for state in store.sources():
            result["sources"][state.name] = {
                "status": state.last_status, "failures": state.failures,
                "last_success": None if state.last_success is None
                else from_epoch(state.last_success).isoformat(),
                "next_due": from_epoch(state.next_due).isoformat(), "retired": state.retired,
                "error": state.last_error or None,
            }
    if failure is not None:
        result["last_failure"] = json.loads(failure)
    if last is not None:
        age = to_epoch(now) - int(last)
        result["last_build"] = from_epoch(int(last)).isoformat()
        result["age_seconds"] = age
        result["healthy"] = failure is None and age <= STALE_AFTER * rebuild_every
        if age > STALE_AFTER * rebuild_every:
            result["problem"] = (f"last successful build is older than {STALE_AFTER} × "
                                 f"{rebuild_every}s")
    if failure is not None:
        result["problem"] = "the last build failed"
    return result
