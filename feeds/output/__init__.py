"""The output's contract: stage files, then make them all visible at once, or none.

Backends implement `Output` (a local folder in `feeds.output.folder`). A
build stages every file whose bytes changed, stages the removals, and
calls `commit()` once, after which readers see every new file; until then
they see the old ones. `discard()` throws the staged work away. Worker
processes stage through a `Stager`, a picklable handle that writes where
the output will pick the files up; the build then hands what they staged
to `adopt`. A backend translates its own errors (`OSError` for a folder)
into `OutputError` naming the path, so callers never see them raw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from feeds.config import S3URL, S3Config

if TYPE_CHECKING:
    from feeds.store import Store

# What a file is, which decides how it is stored and served: feeds and listings are polled
# all day (precompressed, short cache), pages are read once each (plain, longer cache).
OutputKind = Literal["feed", "listing", "site", "page"]


class Staged(NamedTuple):
    """One file staged for `relative`: its bytes wait at `temp` until commit."""

    relative: str
    temp: str


class Stager(Protocol):
    """Stages files from any process; pickled into worker processes."""

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> list[Staged]:
        """Stage `data` for `relative` (and its variants); [] when it already holds them."""


class Output(Protocol):
    """Where the published files go."""

    @property
    def location(self) -> str:
        """Where the output is, for messages."""

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> bool:
        """Stage `data` for `relative`; False (nothing staged) when it already holds it."""

    def stager(self) -> Stager:
        """A handle for other processes; call before they stage anything."""

    def adopt(self, staged: Iterable[Staged]) -> None:
        """Take over files a stager staged, in order."""

    def drop(self, staged: Iterable[Staged]) -> None:
        """Forget files a stager staged that the build does not want after all."""

    def remove(self, relative: str) -> bool:
        """Stage the removal of `relative` and its variants; False when it does not exist."""

    def holds(self, relative: str, data: bytes) -> bool:
        """Whether `relative` exists with exactly these bytes."""

    def exists(self, relative: str) -> bool: ...

    def list_files(self) -> Iterator[str]:
        """Every published file, as a relative path."""

    def commit(self, fence: Callable[[], None] | None = None) -> list[str]:
        """Make everything staged visible, durably; the paths changed, sorted. `fence`, when
        given, is asked as the commit goes on (between batches of uploads): it raises once
        this process may no longer write."""

    def discard(self) -> None:
        """Throw away everything staged since the last commit."""


def open_output(location: Path | S3URL, *, store: Store | None = None,
                s3: S3Config | None = None, full: bool = False) -> Output:
    """The output at `location`: a local folder, or an S3-compatible bucket (whose manifest of
    what it holds lives in the state, `store`). `full` (`feeds build --full`): a bucket is
    listed once, and what is missing from it is uploaded again even if the manifest lists it
    (a folder is its own listing: nothing to do)."""
    if isinstance(location, S3URL):
        from feeds.output.s3 import S3Output

        if store is None:
            raise ValueError("an s3:// output keeps its manifest in the state: pass the store")
        return S3Output(location, store, s3 or S3Config(), full=full)
    from feeds.output.folder import FolderOutput

    return FolderOutput(location)
