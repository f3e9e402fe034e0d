"""The output as a local folder: atomic, durable, world-readable writes of the files that changed.

Files are staged as temp files in a hidden folder of this build's own under the output
(`.feeds-staging/PID-TOKEN/`, on the same file system, so a rename moves them), by
this process or by worker processes through a `FolderStager`. `commit`
makes them durable (fsync each, or one `os.sync()` for a large batch:
measured in docs/performance.md), renames each into place with
`os.replace`, applies the removals and fsyncs the folders. A reader sees
the old file or the new one, never a part; a crash before `commit` leaves
only its staging folder, which the next build removes once its process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import queue
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from feeds.compress import COMPRESSORS
from feeds.errors import OutputError
from feeds.output import OutputKind, Staged

FILE_MODE = 0o644
DIR_MODE = 0o755
STAGING = ".feeds-staging"
TEMP_SUFFIX = ".feeds-tmp"
# Above this many staged files, one os.sync() is cheaper than an fsync per file.
SYNC_BATCH = 64
BATCH_BYTES = 2 * 1024 * 1024
QUEUED_BATCHES = 8  # at most ~16 MB of rendered pages wait for the writer thread
_TEMP_NUMBERS = itertools.count()  # with the pid, names this process's temp files


@dataclass(frozen=True, slots=True)
class FolderStager:
    """Stages files for a `FolderOutput` from any process (picklable: two strings)."""

    root: str
    staging: str

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> list[Staged]:
        with translated(self.root):
            return [Staged(name, stage_file(self.staging, content))
                    for name, content in changed_files(self.root, relative, data,
                                                       precompress=kind != "page")]


class FolderOutput:
    """Stages changed files under `root`; nothing is visible until `commit()`."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root.resolve()
        self._root = str(self.root)
        self._stagings = os.path.join(self._root, STAGING)  # noqa: PTH118
        # Its own folder: a builder that stalled past its lease and resumes only to discard
        # must not take the files of the builder that took over with it.
        self._staging = os.path.join(  # noqa: PTH118
            self._stagings, f"{os.getpid()}-{secrets.token_hex(4)}")
        self.durable = durable
        self._ready = False
        # (final relative path, temp file): strings, not Paths, at 100,000 pages a build
        self._staged: list[Staged] = []
        self._buffer: list[tuple[str, bytes]] = []  # not yet handed to the thread
        self._buffered = 0
        self._queue: queue.Queue[list[tuple[str, bytes]] | None] = queue.Queue(QUEUED_BATCHES)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._removals: dict[str, None] = {}  # ordered; a later stage of the path cancels it
        self._folders: set[str] = set()  # made (with their modes) or found in this build

    @property
    def location(self) -> str:
        return self._root

    def _prepare(self) -> None:
        """Make this build's staging folder, once, before anything is staged in it, and
        remove what builds whose process is gone left (a crash, a kill)."""
        if self._ready:
            return
        with translated(self._stagings):
            if not os.path.isdir(self._root):  # noqa: PTH112
                self._make_folder(self._root)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self._stagings, DIR_MODE)  # noqa: PTH102
            for name in os.listdir(self._stagings):  # noqa: PTH208
                if _abandoned(name):
                    _remove(os.path.join(self._stagings, name))  # noqa: PTH118
            os.mkdir(self._staging, DIR_MODE)  # noqa: PTH102
        self._ready = True

    def _tidy(self) -> None:
        """Remove the staging folders' parent when no other build stages in it."""
        with contextlib.suppress(OSError):
            os.rmdir(self._stagings)  # noqa: PTH106

    def stager(self) -> FolderStager:
        self._prepare()
        return FolderStager(self._root, self._staging)

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> bool:
        """With a kind other than `page`, `relative.gz` and `relative.br` are staged beside
        it, so that a server sends compressed bytes with their own ETag without compressing
        per request."""
        self._prepare()
        with translated(self._root):
            changes = changed_files(self._root, relative, data, precompress=kind != "page")
        for name, content in changes:
            self._enqueue(name, content)
        return any(name == relative for name, _ in changes)

    def _enqueue(self, relative: str, data: bytes) -> None:
        # Files are created by a writer thread, in batches: measured here, creating a file
        # waits 100-500 µs on the ext4 journal, time the build spends rendering the next
        # pages instead (the thread holds no GIL while it waits).
        self._removals.pop(relative, None)  # removed, then written again in the same build
        self._buffer.append((relative, data))
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
                    for relative, data in batch:
                        self._staged.append(Staged(relative, stage_file(self._staging, data)))
            except BaseException as exc:  # re-raised by _flush in the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _flush(self) -> None:
        """Wait until every staged file exists as a temp file; raise what the thread hit."""
        self._hand_over()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            with translated(self._staging):
                raise error

    def adopt(self, staged: Iterable[Staged]) -> None:
        for item in staged:
            self._removals.pop(item.relative, None)
            self._staged.append(item)

    def drop(self, staged: Iterable[Staged]) -> None:
        for item in staged:
            Path(item.temp).unlink(missing_ok=True)

    def remove(self, relative: str) -> bool:
        found = False
        for name in (relative, *(relative + suffix for suffix in COMPRESSORS)):
            if os.path.exists(target_path(self._root, name)):  # noqa: PTH110
                self._removals[name] = None
                found = True
        return found

    def holds(self, relative: str, data: bytes) -> bool:
        return holds(target_path(self._root, relative), data)

    def exists(self, relative: str) -> bool:
        return os.path.exists(target_path(self._root, relative))  # noqa: PTH110

    def list_files(self) -> Iterator[str]:
        for folder, names, files in os.walk(self._root):
            names[:] = sorted(n for n in names if not n.startswith("."))
            prefix = os.path.relpath(folder, self._root)
            for name in sorted(files):
                if not name.startswith("."):
                    yield name if prefix == "." else f"{prefix}/{name}"

    @property
    def pending(self) -> list[str]:
        return ([item.relative for item in self._staged]
                + [rel for rel, _ in self._buffer] + list(self._removals))

    def commit(self, fence: Callable[[], None] | None = None) -> list[str]:
        """The renames take moments, one host writes a folder: `fence` is asked once."""
        self._flush()
        if fence is not None:
            fence()
        with translated(self._root):
            return self._commit()

    def _commit(self) -> list[str]:
        if self.durable:
            if len(self._staged) > SYNC_BATCH:
                os.sync()  # one flush for the batch instead of thousands of fsyncs
            else:
                for item in self._staged:
                    _fsync_path(item.temp)
        touched: set[str] = set()
        for relative, temp in self._staged:
            final = target_path(self._root, relative)
            folder = os.path.dirname(final)  # noqa: PTH120
            if folder not in self._folders:
                self._make_folder(folder)
            os.replace(temp, final)  # noqa: PTH105
            touched.add(folder)
        for relative in self._removals:
            final = target_path(self._root, relative)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final)  # noqa: PTH108
            touched.add(os.path.dirname(final))  # noqa: PTH120
            _remove_empty_folders(Path(final).parent, self.root)
        if self.durable:
            for name in touched:
                kept = Path(name)
                while not kept.is_dir():  # emptied and removed: its parent recorded that
                    kept = kept.parent
                _fsync_path(str(kept))
        changed = sorted(self.pending)  # the same order whoever staged what, and when
        self._staged.clear()
        self._removals.clear()
        self._folders.clear()
        with contextlib.suppress(OSError):  # empty now, unless a stager left strays
            os.rmdir(self._staging)  # noqa: PTH106
        self._tidy()
        self._ready = False
        return changed

    def discard(self) -> None:
        self._buffer.clear()
        self._buffered = 0
        with contextlib.suppress(BaseException):
            self._flush()  # let the thread finish what it holds, then remove it all
        # Files other processes staged but nobody adopted (results not yet taken when the
        # build failed) are in the staging folder too: their processes are stopped by now.
        shutil.rmtree(self._staging, ignore_errors=True)
        self._tidy()
        self._staged.clear()
        self._removals.clear()
        self._folders.clear()
        self._ready = False

    def _make_folder(self, folder: str) -> None:
        if not os.path.isdir(folder):  # noqa: PTH112
            path = Path(folder)
            for parent in (path, *path.parents):
                if parent.exists() and not parent.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                             str(parent))
            missing = [p for p in (path, *path.parents) if not p.exists()]
            path.mkdir(parents=True, exist_ok=True)
            for created in missing:
                os.chmod(created, DIR_MODE)  # noqa: PTH101 (umask must not narrow it)
        self._folders.add(folder)


@contextlib.contextmanager
def translated(where: str) -> Iterator[None]:
    """The one place where this output's `OSError`s become `OutputError`, naming the file."""
    try:
        yield
    except OSError as exc:
        path = exc.filename if isinstance(exc.filename, str) else where
        if os.path.basename(str(path)).endswith(TEMP_SUFFIX):  # noqa: PTH119
            path = where  # a temp name means nothing to the operator
        raise OutputError(str(path), _describe(exc)) from exc


def _describe(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    hints = {
        "ENOSPC": "the disk is full",
        "EROFS": "the file system is read-only",
        "EACCES": "no permission to write here",
        "EPERM": "no permission to write here",
        "ENOTDIR": "a file stands where a folder must be",
        "EISDIR": "a folder stands where a file must be",
        "EDQUOT": "the disk quota is used up",
    }
    hint = hints.get(errno.errorcode.get(exc.errno or 0, ""))
    return f"{reason} ({hint})" if hint and hint.lower() != reason.lower() else reason


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


def stage_file(staging: str, data: bytes) -> str:
    """Write `data` to a new temp file in the staging folder; its path. Safe in any process."""
    # Named by process and counter rather than by mkstemp's random letters: half the
    # CPU per file (~20 µs against ~47), 100,000 times in a cold build.
    temp = os.path.join(  # noqa: PTH118
        staging, f"{os.getpid()}-{next(_TEMP_NUMBERS)}{TEMP_SUFFIX}"
    )
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:  # left by an earlier process with this pid and not swept
        fd, temp = tempfile.mkstemp(dir=staging, suffix=TEMP_SUFFIX)
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


def holds(path: str, data: bytes) -> bool:
    """Whether the file at `path` already has exactly these bytes."""
    try:
        if os.stat(path).st_size != len(data):  # noqa: PTH116 (no Path per file)
            return False
        with open(path, "rb") as handle:  # noqa: PTH123
            return handle.read() == data
    except (FileNotFoundError, NotADirectoryError):
        return False


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_empty_folders(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _abandoned(name: str) -> bool:
    """Whether an entry of the staging folders is left by a build whose process is gone (or
    by this process's own earlier build: one process builds one at a time), or is a stray
    temp file of the layout before per-build folders."""
    pid, _, token = name.partition("-")
    if not (pid.isdigit() and token) or name.endswith(TEMP_SUFFIX):
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):  # noqa: PTH112, PTH114
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # noqa: PTH108
