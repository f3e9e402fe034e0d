"""The exception tree; every error names the file, key, URL or source that failed.

    FeedsError                                                        exit
    ├── ArticleError     one article file cannot be published         1  (the rest publishes)
    ├── UpstreamError    one upstream source failed this time         1  (the rest publishes)
    ├── UsageError       bad usage or configuration, nothing written  2
    │   ├── ConfigError  config keys have a wrong type or value (all of them listed)
    │   ├── SeedsUnreadable  the seeds folder is missing, not a folder, or unreadable
    │   └── UnknownFeed  `feeds export --feed` names no feed
    ├── LockHeld         another writer holds the lock                3  (nothing written)
    │   ├── StateBusy    another process holds the state locked
    │   └── LeaseLost    another daemon took the build over
    ├── SafetyStop       the build would unpublish too much           4  (nothing written)
    └── ResourceError    the state or the output cannot be used       5  (nothing written)
        ├── StoreError   the state database: unreadable, unwritable, from a newer version
        │   └── CorruptState  not a database, or malformed: the one a writer may move aside
        └── OutputError  the output: disk full, read-only, a file where a folder must be

Each class carries its exit status (`exit_status`), so the CLI maps an
error to a status without knowing the classes. Foreign exceptions
(`sqlite3.Error`, `OSError` of the output) are translated at one boundary
each: the store and the output. Recoverable problems are not exceptions:
they are `model.Diagnostic` values returned next to the result (reader's
and feedparser's way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

EXIT_OK = 0
EXIT_FAILED = 1  # some articles or sources failed; the rest was published
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_SAFETY = 4
EXIT_RESOURCE = 5


class FeedsError(Exception):
    """Base of every error this package raises on purpose."""

    exit_status: ClassVar[int] = EXIT_FAILED

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message

    def __reduce__(self) -> tuple[type[FeedsError], tuple[Any, ...]]:
        """Pickled as (where, message): errors raised in worker processes cross back whole."""
        return type(self), (self.where, self.message)

    @property
    def problems(self) -> tuple[str, ...]:
        """What went wrong, one line each (the CLI prints an `error:` line per problem); most
        errors have one: their message."""
        return (self.message,)


class ArticleError(FeedsError):
    """An article file cannot be published; `where` is its path."""


class UpstreamError(FeedsError):
    """An upstream source failed; `where` is the source name or URL."""


class UsageError(FeedsError):
    """The command cannot run as asked; nothing was written."""

    exit_status = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration cannot be used; `where` is the file, `message` names the key.

    A file with several mistakes is one error listing them all: `problems` holds each as
    "KEY: what is wrong", and `message` is them joined with "; " (for callers that print
    one line)."""

    def __init__(self, where: str, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(where, message)
        self._problems = problems or (message,)

    @classmethod
    def listing(cls, where: str, problems: Sequence[str]) -> ConfigError:
        """One error for every problem found in the file at `where` (at least one)."""
        return cls(where, "; ".join(problems), tuple(problems))

    @property
    def problems(self) -> tuple[str, ...]:
        return self._problems

    def __reduce__(self) -> tuple[type[FeedsError], tuple[Any, ...]]:
        return type(self), (self.where, self.message, self._problems)


class SeedsUnreadable(UsageError):
    """The seeds folder cannot be listed: a build from it would unpublish everything."""


class UnknownFeed(UsageError):
    """No feed of that name exists; `where` is the option that named it."""


class LockHeld(FeedsError):
    """Another build holds the writer lock and did not release it in time."""

    exit_status = EXIT_LOCKED


class StateBusy(LockHeld):
    """Another process holds the state database locked past the wait."""


class LeaseLost(LockHeld):
    """A daemon lost its build lease mid-build (it stalled past it): it writes nothing more."""


class BindError(FeedsError):
    """The address to serve on cannot be bound (in use, not ours)."""

    exit_status = EXIT_RESOURCE


class SafetyStop(FeedsError):
    """The build would unpublish more than `[safety] max_unpublish`; nothing was written."""

    exit_status = EXIT_SAFETY


class ResourceError(FeedsError):
    """The state or the output could not be read or written; nothing was published."""

    exit_status = EXIT_RESOURCE


class StoreError(ResourceError):
    """The state database is unreadable, unwritable, corrupt or from an unknown version."""


class CorruptState(StoreError):
    """The state file is not a database, or is malformed: the only state a writer may move
    aside (and rebuild from seeds/); a busy or newer one never is."""


class OutputError(ResourceError):
    """An output file or folder could not be written; `where` is its path."""
