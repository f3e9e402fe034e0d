"""Golden output: the reference seed, the samples and two upstream feeds, built at a fixed clock and
compared file by file with tests/golden/, so that every review diff shows what a change does to
what subscribers see. `pytest --update-golden` rewrites the folder after a deliberate change.

The .gz/.br variants are left out: their bytes follow the compressor's version, and
tests/test_output.py checks that they decompress to their file.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, ROOT, SEED_MTIME, UPSTREAM_SOURCES, files, pull_and_build

GOLDEN = Path(__file__).resolve().parent / "golden"


def build_golden_input(project: Path) -> Path:
    """The seed, the samples and two upstream feeds, built at NOW; the output folder."""
    (project / "config").mkdir()
    toml = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    (project / "config" / "feeds.toml").write_text(toml + UPSTREAM_SOURCES, encoding="utf-8")
    seeds = project / "seeds"
    seeds.mkdir()
    articles = [*sorted((ROOT / "seeds").glob("*.txt")),
                *sorted((FIXTURES / "samples").glob("*.txt"))]
    for index, path in enumerate(articles):
        copy = seeds / path.name
        shutil.copy(path, copy)
        stamp = SEED_MTIME + index * 3600  # an hour apart: the order the newsroom wrote them
        os.utime(copy, (stamp, stamp))
    cfg = pull_and_build(project / "config" / "feeds.toml")
    return cfg.paths.output


def plain(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in files(folder).items()
            if not name.endswith((".gz", ".br"))}


def test_the_output_is_the_golden_output(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    built = plain(build_golden_input(tmp_path))
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in built.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
        pytest.skip(f"rewrote {GOLDEN} ({len(built)} files): review `git diff tests/golden`")
    golden = plain(GOLDEN)
    assert sorted(built) == sorted(golden), "files added or gone (pytest --update-golden)"
    for name in sorted(built):
        if built[name] != golden[name]:
            diff = difflib.unified_diff(
                golden[name].decode(errors="replace").splitlines(),
                built[name].decode(errors="replace").splitlines(),
                f"golden/{name}", f"built/{name}", lineterm="", n=2,
            )
            pytest.fail(f"{name} differs from the golden output (pytest --update-golden after "
                        "a deliberate change):\n" + "\n".join(list(diff)[:60]))
