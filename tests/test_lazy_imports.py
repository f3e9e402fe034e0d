"""A no-op `feeds build` loads no library it does not use (~0.3 s of a no-op build at 100,000
articles is importing them): httpx and feedparser load only to fetch, feedgen and lxml only to
render a feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("httpx", "feedparser", "feedgen", "lxml")
PROBE = """
import json, sys
from feeds import cli
status = cli.main(sys.argv[1:])
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
sys.exit(status)
"""


def loaded(project: Path, *args: str) -> list[str]:
    """The heavy libraries a `feeds` command imported, run as its own process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=project, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_no_op_build_imports_no_fetching_or_rendering_library(project: Path) -> None:
    assert "feedgen" in loaded(project, "build")  # the first build renders: the probe sees it
    assert loaded(project, "build") == []


def test_only_commands_that_fetch_import_httpx(project: Path) -> None:
    assert loaded(project, "check") == []
    assert "httpx" in loaded(project, "pull")
