"""The exception tree; every error names the file, key, URL or source that failed.

    FeedsError                                                        exit
    ├── ArticleError     one article file cannot be published         1  (the rest publishes)
    ├── UpstreamError    one upstream source failed this time         1  (the rest publishes)
    ├── UsageError       bad usage or configuration, nothing written  2
    │   ├── ConfigError  a config key has a wrong type or value
    │   └── UnknownFeed  `feeds export --feed` names no feed
    ├── LockHeld         another writer holds the lock                3  (nothing written)
    └── ResourceError    the state or the output cannot be used       5  (nothing written)
        ├── StoreError   the state database: unreadable, unwritable, from a newer version
        └── OutputError  the output: disk full, read-only, a file where a folder must be

Each class carries its exit status (`exit_status`), so the CLI maps an
error to a status without knowing the classes. Foreign exceptions
(`sqlite3.Error`, `OSError` of the output) are translated at one boundary
each: the store and the output. Recoverable problems are not exceptions:
they are `model.Diagnostic` values returned next to the result (reader's
and feedparser's way).
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1  # some articles or sources failed; the rest was published
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_RESOURCE = 5


class FeedsError(Exception):
    """Base of every error this package raises on purpose."""

    exit_status: ClassVar[int] = EXIT_FAILED

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class ArticleError(FeedsError):
    """An article file cannot be published; `where` is its path."""


class UpstreamError(FeedsError):
    """An upstream source failed; `where` is the source name or URL."""


class UsageError(FeedsError):
    """The command cannot run as asked; nothing was written."""

    exit_status = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration cannot be used; `where` is the file, `message` names the key."""


class UnknownFeed(UsageError):
    """No feed of that name exists; `where` is the option that named it."""


class LockHeld(FeedsError):
    """Another build holds the writer lock and did not release it in time."""

    exit_status = EXIT_LOCKED


class ResourceError(FeedsError):
    """The state or the output could not be read or written; nothing was published."""

    exit_status = EXIT_RESOURCE


class StoreError(ResourceError):
    """The state database is unreadable, unwritable, corrupt or from an unknown version."""


class OutputError(ResourceError):
    """An output file or folder could not be written; `where` is its path."""
