"""Do two versions of the program publish the same bytes and store the same state?

    python bench/compare.py OLD_FEEDS NEW_FEEDS [--articles 2500] [--keep DIR]

OLD_FEEDS and NEW_FEEDS are `feeds` executables (e.g. the `.venv/bin/feeds` of a
worktree at the commit before a change, and of the change). Each runs the same
steps on its own copy of the same input, at the same fixed clock
(SOURCE_DATE_EPOCH), with the same file times:

  1. seed + samples + generated articles, and two upstream feeds pulled from a
     loopback server: `feeds build --pull` (cold: on worker processes above
     2,000 articles)
  2. edits (text, a touch, a broken file, a deletion, a new file): `feeds build`
  3. `feeds build --full`

After every step the output trees are compared file by file (every byte, the
.gz/.br variants included) and the state's tables row by row. Prints one line
per step and exits 1 at the first difference, naming it.
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CLOCK = 1_775_000_000  # 2026-03-31T23:33:20Z
TABLES = {  # table: what to compare (inodes differ between copies by nature), in what order
    "meta": ("*", "key"), "files": ("path, size, mtime_ns, key, diagnostics", "path"),
    "entries": ("*", "key"), "entry_tags": ("*", "tag, key"), "outputs": ("*", "path"),
    "pending_feeds": ("*", "feed"),
    "sources": ("name, url, fetch_url, etag, last_modified, last_attempt, last_success, "
                "failures, last_status, last_error, items_seen, retired, feed", "name"),
}  # a source's next_due has random jitter


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def make_project(root: Path, articles: int, port: int) -> None:
    (root / "config").mkdir(parents=True)
    seeds = root / "seeds"
    seeds.mkdir()
    for source in [ROOT / "seeds", ROOT / "tests" / "fixtures" / "samples"]:
        for path in sorted(source.glob("*.txt")):
            shutil.copy(path, seeds / path.name)
    if articles:
        generate(seeds / "gen", articles)
    for index, path in enumerate(sorted(seeds.rglob("*.txt"))):
        stamp = 1_768_467_600 + index * 60
        os.utime(path, (stamp, stamp))
    toml = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    toml = toml.replace("allow_private_networks = false", "allow_private_networks = true")
    toml += (
        f'\n[[upstream]]\nname = "antara"\noutlet = "Antara"\n'
        f'url = "http://127.0.0.1:{port}/antara.xml"\nsection = "nasional"\n'
        f'\n[[upstream]]\nname = "tempo"\noutlet = "Tempo.co"\n'
        f'url = "http://127.0.0.1:{port}/tempo.xml"\nsection = "nasional"\ncontent = "full"\n'
    )
    (root / "config" / "feeds.toml").write_text(toml, encoding="utf-8")


def edit(root: Path) -> None:
    """The same edits in both copies: text, touch, break, delete, add."""
    seeds = sorted((root / "seeds").rglob("*.txt"))
    later = 1_769_000_000
    for path in seeds[1::7]:
        path.write_text(path.read_text(encoding="utf-8") + "\nTambahan paragraf baru.\n",
                        encoding="utf-8")
        os.utime(path, (later, later))
    for path in seeds[2::11]:
        os.utime(path, (later + 1, later + 1))
    seeds[3].write_text("Kampus\n", encoding="utf-8")
    os.utime(seeds[3], (later, later))
    seeds[4].unlink()
    new = root / "seeds" / "baru.txt"
    new.write_text("Kampus\nArtikel Baru\n\nSemarang (usmnews) – Isi artikel baru.\n",
                   encoding="utf-8")
    os.utime(new, (later, later))


def feeds(program: str, root: Path, *args: str) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(CLOCK)}
    done = subprocess.run([program, *args], cwd=root, env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{program} {' '.join(args)} exited {done.returncode}:\n{done.stderr}")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def state(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()
                for table, (columns, order) in TABLES.items()}


def compare(step: str, old: Path, new: Path) -> bool:
    old_files, new_files = tree(old / "output"), tree(new / "output")
    if old_files != new_files:
        only = sorted(set(old_files) ^ set(new_files))
        differ = sorted(k for k in set(old_files) & set(new_files)
                        if old_files[k] != new_files[k])
        print(f"{step}: OUTPUT DIFFERS: only in one: {only[:10]}; bytes differ: {differ[:10]}")
        return False
    old_state, new_state = state(old / "state/feeds.sqlite"), state(new / "state/feeds.sqlite")
    for table in TABLES:
        if old_state[table] != new_state[table]:
            print(f"{step}: STATE DIFFERS in table {table}")
            return False
    rows = sum(len(rows) for rows in new_state.values())
    print(f"{step}: identical: {len(new_files)} output files, {rows} state rows")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--articles", type=int, default=2500)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    args.old, args.new = str(Path(args.old).absolute()), str(Path(args.new).absolute())
    server, port = _serve(ROOT / "tests" / "fixtures" / "upstream")
    work = args.keep or Path(tempfile.mkdtemp(prefix="feeds-compare-"))
    try:
        roots = {"old": work / "old", "new": work / "new"}
        for root in roots.values():
            make_project(root, args.articles, port)
        steps = [("cold build --pull", ("build", "--pull"), None),
                 ("after edits", ("build",), edit),
                 ("build --full", ("build", "--full"), None)]
        for name, argv, change in steps:
            for which, root in roots.items():
                if change is not None:
                    change(root)
                feeds(getattr(args, which), root, *argv)
            if not compare(name, roots["old"], roots["new"]):
                return 1
        return 0
    finally:
        server.shutdown()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
