"""Atomic, durable, world-readable writes of the output files whose bytes changed.

Files are staged as hidden temp files in their own folder, made durable
(fsync each, or one `os.sync()` for a large batch: measured in
docs/performance.md), then renamed into place with `os.replace`, and the
folders are fsynced. A reader sees the old file or the new one, never a
part; a crash before `commit` leaves only temp files, swept next time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import tempfile
import threading
from pathlib import Path

from feeds.compress import COMPRESSORS

FILE_MODE = 0o644
DIR_MODE = 0o755
TEMP_SUFFIX = ".feeds-tmp"
# Above this many staged files, one os.sync() is cheaper than an fsync per file.
SYNC_BATCH = 64
BATCH_BYTES = 2 * 1024 * 1024
QUEUED_BATCHES = 8  # at most ~16 MB of rendered pages wait for the writer thread
_TEMP_NUMBERS = itertools.count()  # with the pid, names this process's temp files


class Output:
    """Stages changed files under `root`; nothing is visible until `commit()`."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root.resolve()
        self._root = str(self.root)
        self.durable = durable
        # (final relative path, temp file): strings, not Paths, at 100,000 pages a build
        self._staged: list[tuple[str, str]] = []
        self._buffer: list[tuple[str, Path, bytes]] = []  # not yet handed to the thread
        self._buffered = 0
        self._queue: queue.Queue[list[tuple[str, Path, bytes]] | None] = queue.Queue(
            QUEUED_BATCHES
        )
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._removals: dict[str, None] = {}  # ordered; a later put of the path cancels it
        self._swept: set[Path] = set()
        self._opened: set[Path] = set()  # where other processes may have staged files

    def target(self, relative: str) -> Path:
        return Path(target_path(self._root, relative))

    def put(self, relative: str, data: bytes, *, precompress: bool = False) -> bool:
        """Stage `data` for `relative`; False (nothing staged) when the file already holds it.

        With `precompress`, `relative.gz` and `relative.br` are staged beside it, so that a
        server can send compressed bytes with their own ETag without compressing per request.
        """
        changes = changed_files(self._root, relative, data, precompress=precompress)
        for name, content in changes:
            self._enqueue(name, self.target(name), content)
        return any(name == relative for name, _ in changes)

    def _enqueue(self, relative: str, path: Path, data: bytes) -> None:
        # Files are created by a writer thread, in batches: measured here, creating a file
        # waits 100-500 µs on the ext4 journal, time the build spends rendering the next
        # pages instead (the thread holds no GIL while it waits).
        self._removals.pop(relative, None)  # removed, then written again in the same build
        self._buffer.append((relative, path, data))
        self._buffered += len(data)
        if self._buffered >= BATCH_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        if not self._buffer:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_batches, name="writer",
                                            daemon=True)
            self._thread.start()
        self._queue.put(self._buffer)  # blocks when QUEUED_BATCHES are waiting: bounded memory
        self._buffer = []
        self._buffered = 0

    def _write_batches(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                if self._error is None:
                    self._create(batch)
            except BaseException as exc:  # re-raised by _flush in the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _create(self, batch: list[tuple[str, Path, bytes]]) -> None:
        for relative, path, data in batch:
            self._make_folder(path.parent)
            self._staged.append((relative, stage_file(str(path), data)))

    def open_folder(self, relative: str) -> str:
        """Make `relative` exist and sweep it now, before other processes stage files in it
        with `stage_file` (a later first sweep would remove theirs); its absolute path."""
        folder = self.target(relative) if relative.strip("/.") else self.root
        self._make_folder(folder)
        self._opened.add(folder)
        return str(folder)

    def adopt(self, relative: str, temp: str) -> None:
        """Take over a temp file another process staged with `stage_file` for `relative`."""
        self._removals.pop(relative, None)
        self._staged.append((relative, temp))

    def _flush(self) -> None:
        """Wait until every staged file exists as a temp file; raise what the thread hit."""
        self._hand_over()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def remove(self, relative: str) -> bool:
        """Stage the removal of `relative` and of its precompressed variants."""
        found = False
        for name in (relative, *(relative + suffix for suffix in COMPRESSORS)):
            if self.target(name).exists():
                self._removals[name] = None
                found = True
        return found

    @property
    def pending(self) -> list[str]:
        return ([rel for rel, _ in self._staged] + [rel for rel, _, _ in self._buffer]
                + list(self._removals))

    def commit(self) -> list[str]:
        """Make every staged file visible, durably; returns the paths changed."""
        self._flush()
        if self.durable:
            if len(self._staged) > SYNC_BATCH:
                os.sync()  # one flush for the batch instead of thousands of fsyncs
            else:
                for _, temp in self._staged:
                    _fsync_path(Path(temp), os.O_RDONLY)
        folders: set[str] = set()
        for relative, temp in self._staged:
            final = target_path(self._root, relative)
            os.replace(temp, final)  # noqa: PTH105
            folders.add(os.path.dirname(final))  # noqa: PTH120
        for relative in self._removals:
            final_path = self.target(relative)
            with contextlib.suppress(FileNotFoundError):
                final_path.unlink()
            folders.add(str(final_path.parent))
            _remove_empty_folders(final_path.parent, self.root)
        if self.durable:
            for name in folders:
                folder = Path(name)
                while not folder.is_dir():  # emptied and removed: its parent recorded that
                    folder = folder.parent
                _fsync_folder(folder)
        changed = sorted(self.pending)  # the same order whoever staged what, and when
        self._staged.clear()
        self._removals.clear()
        self._opened.clear()
        return changed

    def discard(self) -> None:
        self._buffer.clear()
        self._buffered = 0
        with contextlib.suppress(BaseException):
            self._flush()  # let the thread finish what it holds, then remove it all
        for _, temp in self._staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)  # noqa: PTH108
        # Files other processes staged but nobody adopted (results not yet taken when the
        # build failed): their processes are stopped by now.
        for folder in self._opened:
            with contextlib.suppress(FileNotFoundError):
                _sweep(folder)
        self._staged.clear()
        self._removals.clear()
        self._opened.clear()

    def _make_folder(self, folder: Path) -> None:
        if folder not in self._swept:
            if not folder.is_dir():
                missing = [p for p in (folder, *folder.parents) if not p.exists()]
                folder.mkdir(parents=True, exist_ok=True)
                for created in missing:
                    os.chmod(created, DIR_MODE)  # noqa: PTH101 (umask must not narrow it)
            else:
                _sweep(folder)
            self._swept.add(folder)


def target_path(root: str, relative: str) -> str:
    """`relative` under `root`, refusing any path that leaves it."""
    # Lexical, not resolve(): a realpath per file cost seconds at 100,000 files, and the
    # writer itself never creates links.
    joined = os.path.normpath(os.path.join(root, relative))  # noqa: PTH118
    if not joined.startswith(root.rstrip(os.sep) + os.sep):
        raise ValueError(f"refusing to write outside the output folder: {relative!r}")
    return joined


def changed_files(
    root: str, relative: str, data: bytes, *, precompress: bool
) -> list[tuple[str, bytes]]:
    """What writing `data` to `relative` must stage: (relative path, bytes), nothing for a
    file that already holds them; with `precompress`, its .gz and .br variants too."""
    path = target_path(root, relative)
    if not precompress:
        return [] if holds(path, data) else [(relative, data)]
    changed = not holds(path, data)
    changes = []
    # The variants are staged, hence renamed, before the file itself: a build killed
    # between the renames leaves the old file, which the next build sees as changed and
    # writes again with its variants. The other order left a stale .gz behind a current
    # file for good (tests/test_writer.py cuts a commit after each rename).
    for suffix, compress in COMPRESSORS.items():
        if changed or not os.path.exists(path + suffix):  # noqa: PTH110
            variant = compress(data)
            if not holds(path + suffix, variant):
                changes.append((relative + suffix, variant))
    if changed:
        changes.append((relative, data))
    return changes


def stage_changes(
    root: str, relative: str, data: bytes, *, precompress: bool
) -> list[tuple[str, str]]:
    """`Output.put` for another process: stage what changed now, in folders the Output
    opened (`open_folder`); (relative path, temp file) pairs, in order, for `Output.adopt`."""
    return [(name, stage_file(target_path(root, name), content))
            for name, content in changed_files(root, relative, data, precompress=precompress)]


def stage_file(path: str, data: bytes) -> str:
    """Write `data` to a new temp file beside `path` (in a folder `Output.open_folder` made
    and swept); the temp file's path, for `Output.adopt`. Safe in any process."""
    folder, name = os.path.split(path)
    # Named by process and counter rather than by mkstemp's random letters: half the
    # CPU per file (~20 µs against ~47), 100,000 times in a cold build.
    unique = f"{os.getpid()}-{next(_TEMP_NUMBERS)}"
    temp = os.path.join(folder, f".{name}.{unique}{TEMP_SUFFIX}")  # noqa: PTH118
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:  # left by an earlier process with this pid and not swept
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=TEMP_SUFFIX)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, FILE_MODE)  # the umask (or mkstemp's 0600) must not narrow it
    except BaseException:
        os.close(fd)
        Path(temp).unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def holds(path: str | Path, data: bytes) -> bool:
    """Whether the file at `path` already has exactly these bytes."""
    try:
        if os.stat(path).st_size != len(data):  # noqa: PTH116 (no Path per file)
            return False
        with open(path, "rb") as handle:  # noqa: PTH123
            return handle.read() == data
    except FileNotFoundError:
        return False


def _sweep(folder: Path) -> None:
    """Remove temp files a crashed build left behind (the writer lock makes them ours)."""
    with os.scandir(folder) as items:
        for item in items:
            if item.name.startswith(".") and item.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.path)  # noqa: PTH108


def _fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    _fsync_path(folder)


def _remove_empty_folders(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
