"""List the article files under `seeds/` with the stat facts that tell whether one changed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from feeds.errors import SeedsUnreadable


class SeedFile(NamedTuple):
    """A named tuple, not a dataclass: made once per file per build, 100,000 times a no-op."""

    path: str  # relative to the seeds folder, `/`-separated
    size: int
    mtime_ns: int
    inode: int


def is_article_name(name: str) -> bool:
    """`*.txt`, not hidden; editor backups (`x.txt~`, `#x.txt#`, `x.txt.bak`) don't end in .txt."""
    return not name.startswith(".") and name.lower().endswith(".txt") and len(name) > 4


def scan(root: Path, skipped: list[tuple[str, str]] | None = None) -> Iterator[SeedFile]:
    """Every article file in path order, streamed (one folder listing per level in memory).

    Hidden files and folders are skipped, and so are links to folders (loops). A folder
    sorts as its name plus `/`, so the order is exactly that of the sorted relative paths,
    which lets the build merge it with the state's records without holding either. Names
    that are not valid UTF-8 cannot be stored or linked, and links that cannot be followed
    (loops) cannot be read: they go to `skipped` as (name, reason) instead."""
    skipped = [] if skipped is None else skipped
    check_folder(root)
    inside = os.path.realpath(root) + os.sep
    # A stack of open listings rather than recursive generators: every file passed up
    # through one `yield from` per level cost ~0.3 s of a no-op build at 100,000 files.
    stack = [(iter(_listing(str(root), "", skipped)), "")]
    while stack:
        listing, prefix = stack[-1]
        for name, item in listing:
            if name.endswith("/"):
                stack.append((iter(_listing(item.path, prefix + name, skipped)), prefix + name))
                break
            if (problem := _link_problem(item, inside)) is not None:
                skipped.append((prefix + name, problem))
                continue
            try:  # a link loop raises here; a file gone since the listing is not a file
                if not item.is_file():
                    continue
                st = item.stat()
            except OSError as exc:
                skipped.append((prefix + name, f"cannot read: {exc.strerror or exc}: skipped"))
                continue
            yield SeedFile(prefix + name, st.st_size, st.st_mtime_ns, st.st_ino)
        else:
            stack.pop()


def check_folder(root: Path) -> None:
    """Raise SeedsUnreadable unless `root` is a folder this process can list: an empty scan
    of a missing folder (a typo, an unmounted disk) would unpublish every article."""
    try:
        with os.scandir(root):
            pass
    except FileNotFoundError:
        problem = "the seeds folder does not exist"
    except NotADirectoryError:
        problem = "the seeds folder is a file, not a folder"
    except PermissionError:
        problem = "the seeds folder cannot be read (permission denied)"
    except OSError as exc:
        problem = f"the seeds folder cannot be read ({exc.strerror or exc})"
    else:
        return
    raise SeedsUnreadable(str(root), f"{problem}: nothing was built or unpublished (fix "
                                     "[paths] seeds or --seeds)")


def _listing(
    folder: str, prefix: str, skipped: list[tuple[str, str]]
) -> list[tuple[str, os.DirEntry[str]]]:
    """One folder's articles and sub-folders (as `name/`), sorted by those names."""
    try:
        with os.scandir(folder) as listing:
            items = [i for i in listing if not i.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    keyed = []
    for item in items:
        try:
            item.name.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes, kept by the OS as surrogate escapes
            skipped.append((prefix + item.name.encode("utf-8", "backslashreplace").decode(),
                            "file or folder name is not valid UTF-8: skipped (rename it)"))
            continue
        if item.is_dir(follow_symlinks=False):
            keyed.append((item.name + "/", item))
        elif is_article_name(item.name):
            keyed.append((item.name, item))
    keyed.sort(key=lambda pair: pair[0])
    return keyed


def _link_problem(item: os.DirEntry[str], inside: str) -> str | None:
    """Why a link named like an article is not read: whoever can make links in seeds/ must
    not publish any file the publisher can read (the config, a key, /etc/passwd)."""
    if not item.is_symlink():  # from the listing: no system call for plain files
        return None
    target = os.path.realpath(item.path)
    if not target.startswith(inside):
        return "a link to a file outside the seeds folder: skipped"
    if not Path(target).exists():
        return "a link to nothing (dangling, or a loop): skipped"
    return None
