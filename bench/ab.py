"""Is a change slower? The archive benchmark for two versions, alternated, medians compared.

    python bench/ab.py OLD_PYTHON NEW_PYTHON [--articles 100000] [--rounds 3]

OLD_PYTHON and NEW_PYTHON are the interpreters of two virtual environments with two versions
of feeds installed (e.g. worktrees of the commit before a change and of the change); each
round runs bench/run.py once with each, so that whatever else the machine does falls on
both: old first in odd rounds, new first in even ones. Every run's work folder (~3 GB at
100,000 articles) is kept until the end: removing 300,000 files slows every file creation
of the next few minutes on ext4 (recently freed inodes are skipped), which would fall on
whichever version runs next. Prints every run's figures, then the median wall time of each
phase for both and the ratio new / old (the issues ask for at most 1.10).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = Path(__file__).resolve().parent / "run.py"
PHASES = ("floor", "cold", "no-op", "one", "add100")
ROW = re.compile(r"^\| (floor|cold|no-op|one|add100) \| ([0-9.]+) \|")


def one_run(python: str, articles: int, work: Path) -> dict[str, float]:
    done = subprocess.run([python, str(RUN), "--articles", str(articles), "--keep", str(work)],
                          capture_output=True, text=True, check=True)
    print(done.stdout, flush=True)
    figures = {}
    for line in done.stdout.splitlines():
        match = ROW.match(line)
        if match:
            figures[match[1]] = float(match[2])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    work = Path(tempfile.mkdtemp(prefix="feeds-ab-"))
    try:
        for number in range(1, args.rounds + 1):
            for which in ("old", "new") if number % 2 else ("new", "old"):
                print(f"# round {number}, {which}: {getattr(args, which)}", flush=True)
                runs[which].append(one_run(getattr(args, which), args.articles,
                                           work / f"{number}-{which}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| phase ({args.articles:,} articles) | old median s | new median s | new / old |")
    print("| --- | ---: | ---: | ---: |")
    for phase in PHASES:
        old = statistics.median(r[phase] for r in runs["old"])
        new = statistics.median(r[phase] for r in runs["new"])
        print(f"| {phase} | {old:.2f} | {new:.2f} | {new / old:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
