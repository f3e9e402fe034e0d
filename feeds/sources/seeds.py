"""List the article files under `seeds/` with the stat facts that tell whether one changed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SeedFile:
    path: str  # relative to the seeds folder, `/`-separated
    size: int
    mtime_ns: int
    inode: int


def is_article_name(name: str) -> bool:
    """`*.txt`, not hidden; editor backups (`x.txt~`, `#x.txt#`, `x.txt.bak`) don't end in .txt."""
    return not name.startswith(".") and name.lower().endswith(".txt") and len(name) > 4


def scan(root: Path) -> list[SeedFile]:
    """Every article file, sorted by path; hidden folders are skipped, links to folders too."""
    found: list[SeedFile] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for item in entries:
            if item.name.startswith("."):
                continue
            if item.is_dir(follow_symlinks=False):
                pending.append(Path(item.path))
            elif is_article_name(item.name) and item.is_file():
                st = item.stat()
                rel = Path(item.path).relative_to(root).as_posix()
                found.append(SeedFile(rel, st.st_size, st.st_mtime_ns, st.st_ino))
    found.sort(key=lambda f: f.path)
    return found
