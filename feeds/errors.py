"""The exception tree; every error names the file, key, URL or source that failed.

    FeedsError
    ├── ConfigError        a config key has a wrong type or value   (exit 2)
    ├── ArticleError       one article file cannot be published     (exit 1, the rest publishes)
    ├── UpstreamError      one upstream source failed this time     (exit 1, the rest publishes)
    ├── StoreError         the state database is unusable
    └── LockHeld           another writer holds the lock            (exit 3)

Recoverable problems are not exceptions: they are `model.Diagnostic` values
returned next to the result (reader's and feedparser's way).
"""

from __future__ import annotations


class FeedsError(Exception):
    """Base of every error this package raises on purpose."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class ConfigError(FeedsError):
    """The configuration cannot be used; `where` is the file, `message` names the key."""


class ArticleError(FeedsError):
    """An article file cannot be published; `where` is its path."""


class UpstreamError(FeedsError):
    """An upstream source failed; `where` is the source name."""


class StoreError(FeedsError):
    """The state database is missing, corrupt or from an unknown version."""


class LockHeld(FeedsError):
    """Another build holds the writer lock and did not release it in time."""
