"""Archive-scale benchmark: generates a corpus, runs each build phase as a whole process, prints
wall time and peak RSS against the floor and the targets of issue 5.

    python bench/run.py --articles 100000 [--compare 10000] [--upstream 1000] [--keep DIR]

Phases (each a fresh `feeds` process, timed from spawn to exit):
  floor      read every article, split it into lines, write one file of the same size per
             article into a fresh folder (bench/floor.py): the least a build that publishes a
             page per article must do
  cold       `feeds build` with no state and no output
  no-op      `feeds build` again, nothing changed
  one        `feeds build` after changing one article
  add100     `feeds build` after adding 100 articles
Peak RSS is VmHWM sampled from /proc every 10 ms for the process and all its children: the
largest, and the sum of their peaks (an upper bound of the total). getrusage's ru_maxrss is not
used: it keeps the high-water mark of the fork of this (large) benchmark process from before exec.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate

ROOT = Path(__file__).resolve().parent.parent
FEEDS = Path(sys.executable).parent / "feeds"


@dataclass
class Figure:
    phase: str
    wall: float
    peak_one: int  # KB, the largest single process
    peak_all: int  # KB, all processes of the run together
    files_written: int | None = None


def _rss_kb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM: reset by exec, unlike getrusage's ru_maxrss,
    which keeps the high-water mark of the forked copy of this benchmark process)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    for child in handle.read().split():
                        found.append(int(child))
                        pending.append(int(child))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def measure(phase: str, argv: list[str], cwd: Path) -> Figure:
    # Files, not pipes: a chatty build would fill a pipe and block until we read it.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        return _measure(phase, argv, cwd, out_file, err_file)


def _measure(phase: str, argv: list[str], cwd: Path, out_file: Any, err_file: Any) -> Figure:
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=out_file, stderr=err_file)
    peaks = {"one": 0, "all": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = [process.pid, *_descendants(process.pid)]
            sizes = [_rss_kb(p) for p in pids]
            peaks["one"] = max(peaks["one"], *sizes)
            peaks["all"] = max(peaks["all"], sum(sizes))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status = os.waitpid(process.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    out_file.seek(0)
    err_file.seek(0)
    out = out_file.read().decode()
    err = err_file.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{phase}: exit {code}\n{out}\n{err[-2000:]}")
    peak_one = peaks["one"]
    written = None
    for line in out.splitlines():
        if "file(s) changed" in line:
            written = int(line.split("; ")[1].split()[0])
    return Figure(phase, wall, peak_one, max(peaks["all"], peak_one), written)


def touch_one(seeds: Path) -> None:
    """Edit the newest article (a realistic edit: it is in every feed it belongs to)."""
    path = max(seeds.rglob("*.txt"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "Paragraf tambahan setelah penyuntingan.\n", encoding="utf-8")


def run_size(count: int, work: Path) -> list[Figure]:
    project = work / f"n{count}"
    (project / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "feeds.toml", project / "config" / "feeds.toml")
    seeds = project / "seeds"
    print(f"# generating {count} articles …", file=sys.stderr)
    generate(seeds, count)
    subprocess.run(["sync"], check=True)
    figures = [measure("floor", [sys.executable, str(ROOT / "bench" / "floor.py"), str(seeds),
                                 str(project / "floor-out")], project)]
    build = [str(FEEDS), "build"]
    figures.append(measure("cold", build, project))
    figures.append(measure("no-op", build, project))
    touch_one(seeds)
    figures.append(measure("one", build, project))
    generate(seeds / "baru", 100, seed=7, start=count)
    figures.append(measure("add100", build, project))
    return figures


def table(count: int, figures: list[Figure], noop_small: Figure | None) -> str:
    floor = figures[0].wall
    by = {f.phase: f for f in figures}
    targets = {
        "cold": (f"≤ 2× floor ({2 * floor:.1f}s); RSS ≤ 300 MB/process, ≤ 500 MB all",
                 by["cold"].wall <= 2 * floor and by["cold"].peak_one <= 300_000
                 and by["cold"].peak_all <= 500_000),
        "no-op": ("≤ 1.5 s, writes no file" + (", peak within 20% of the small run's"
                                               if noop_small else ""),
                  by["no-op"].wall <= 1.5 and by["no-op"].files_written == 0
                  and (noop_small is None or by["no-op"].peak_one <= 1.2 * noop_small.peak_one)),
        "one": ("≤ 2 s", by["one"].wall <= 2.0),
        "add100": ("≤ 3 s", by["add100"].wall <= 3.0),
    }
    lines = [f"## {count:,} articles", "",
             "| phase | wall s | × floor | peak RSS MB (one / all) | files written | target | |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for f in figures:
        target, ok = targets.get(f.phase, ("(the floor)", None))
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        written = "-" if f.files_written is None else str(f.files_written)
        lines.append(f"| {f.phase} | {f.wall:.2f} | {f.wall / floor:.2f} | "
                     f"{f.peak_one / 1024:.0f} / {f.peak_all / 1024:.0f} | {written} | "
                     f"{target} | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument("--compare", type=int, default=None,
                        help="also run this smaller size, for the no-op peak comparison")
    parser.add_argument("--upstream", type=int, default=0,
                        help="also measure a pull round of this many sources (bench/upstream.py)")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# feeds benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, work folder {work}")
    small = None
    if args.compare:
        small_figures = run_size(args.compare, work)
        print(table(args.compare, small_figures, None), "\n", flush=True)
        small = next(f for f in small_figures if f.phase == "no-op")
    figures = run_size(args.articles, work)
    print(table(args.articles, figures, small), flush=True)
    if args.upstream:
        subprocess.run([sys.executable, str(ROOT / "bench" / "upstream.py"),
                        "--sources", str(args.upstream)], check=True)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
