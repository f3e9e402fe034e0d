"""The floor of a build: read every article, split it into lines, write one same-size file each.

    python bench/floor.py SEEDS_DIR OUT_DIR
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(seeds: Path, out: Path) -> None:
    out.mkdir(parents=True)
    count = 0
    for folder, _, names in os.walk(seeds):
        for name in names:
            if not name.endswith(".txt"):
                continue
            data = (Path(folder) / name).read_bytes()
            lines = data.decode("utf-8").splitlines()
            target = out / f"{count}.html"
            target.write_bytes(b"x" * len(data) if lines else b"")
            count += 1
    print(f"{count} files", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
