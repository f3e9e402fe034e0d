"""A state the previous release wrote (tests/fixtures/state-v1, made by its make_state.py with
that release's code) is migrated, keeps every entry id, and builds the same bytes."""

from __future__ import annotations

import contextlib
import importlib.util
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from feeds import config, publish, pull
from feeds.output.folder import FolderOutput
from feeds.sources import fetch
from feeds.store import open_store, schema_version
from feeds.store.sqlite import SCHEMA_VERSION
from tests.helpers import FIXTURES, NOW, ROOT, files

V1 = FIXTURES / "state-v1"
FEEDS = Path(sys.executable).parent / "feeds"


def _maker() -> object:
    spec = importlib.util.spec_from_file_location("make_state", V1 / "make_state.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _maker()


def v1_project(tmp_path: Path) -> Path:
    """The fixture's input, with its state (as the release before left it) and output."""
    root = MAKER.project(tmp_path / "site", ROOT)  # type: ignore[attr-defined]
    (root / "state").mkdir()
    shutil.copy(V1 / "feeds.sqlite", root / "state" / "feeds.sqlite")
    shutil.copytree(V1 / "output", root / "output")
    return root


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FEEDS), *args], cwd=root, capture_output=True, text=True,
                          timeout=120, check=False)


def test_read_only_commands_refuse_an_old_schema_and_touch_nothing(tmp_path: Path) -> None:
    root = v1_project(tmp_path)
    state = root / "state" / "feeds.sqlite"
    before = state.read_bytes()
    for command in (("check",), ("sources",), ("export", "--feed", "all", "--format", "rss")):
        done = run(root, *command)
        assert done.returncode == 5, (command, done.stderr)
        assert f"this program needs {SCHEMA_VERSION}: run `feeds migrate`" in done.stderr
        assert "Traceback" not in done.stderr
    assert state.read_bytes() == before
    assert not state.with_name("feeds.sqlite.v1").exists()


def test_migrate_keeps_a_copy_of_the_v1_state_and_says_so(tmp_path: Path) -> None:
    root = v1_project(tmp_path)
    state = root / "state" / "feeds.sqlite"
    everything = "SELECT * FROM entries ORDER BY key"
    original = rows(state, everything)
    done = run(root, "migrate")
    assert done.returncode == 0, done.stderr
    assert f"migrated from schema version 1 to {SCHEMA_VERSION}" in done.stdout
    copy = state.with_name("feeds.sqlite.v1")  # the way back, as docs/operations.md says
    assert schema_version(copy) == 1 and rows(copy, everything) == original
    assert schema_version(state) == SCHEMA_VERSION
    again = run(root, "migrate")
    assert f"schema version {SCHEMA_VERSION}, up to date" in again.stdout


def test_a_v1_state_migrates_and_builds_the_same_bytes(tmp_path: Path) -> None:
    root = v1_project(tmp_path)
    published = files(root / "output")
    env_clock = {"SOURCE_DATE_EPOCH": str(int(NOW.timestamp()))}
    for args in (("build",), ("build", "--full")):  # the fixture keeps no .gz/.br variants
        done = subprocess.run([str(FEEDS), *args], cwd=root, capture_output=True, text=True,
                              timeout=120, check=False, env={**_env(), **env_clock})
        assert done.returncode == 0, done.stderr
        rebuilt = {k: _as_v1_rendered(k, v) for k, v in files(root / "output").items()
                   if not k.endswith((".gz", ".br")) and k != "about.html"}
        assert rebuilt == published, args
    assert schema_version(root / "state" / "feeds.sqlite") == SCHEMA_VERSION


# What this release changes on purpose in what it renders (docs/decisions.md, "What readers
# see"), undone: everything else must be byte for byte what the v1 release published.
_V1_NOTE = (
    '<h2 id="json-source">JSON Feed: <code>_source</code></h2>\n<p>Items that reproduce another '
    'outlet\'s reporting carry <code>"_source": {"about", "name", "url", "feed_url"}</code>: the '
    "outlet credited, its site and, when known, its feed. <code>url</code> is null when the "
    'outlet has no known address. <a href="feeds.opml">All feeds as OPML</a>.</p>'
)
_SINCE_V1 = (
    (re.compile(r'<span class="outlet">[^<]*</span> '), ""),
    (re.compile(r'<p class="feeds"><a href="feeds\.opml">All feeds as OPML</a> · '
                r'<a href="about\.html">About these feeds</a></p>\n'), ""),
    (re.compile(r'<p class="meta" id="json-source">.*</p>'), _V1_NOTE),
    (re.compile(r'<entry xml:lang="[^"]*">'), "<entry>"),
    (re.compile(r'"about": "https://usmnews\.example/about\.html#json-source"'),
     '"about": "https://usmnews.example/#json-source"'),
)


def _as_v1_rendered(name: str, data: bytes) -> bytes:
    if name.startswith("articles/"):
        return data
    text = data.decode("utf-8")
    for pattern, v1 in _SINCE_V1:
        text = pattern.sub(v1, text)  # no backslash in v1: taken as written
    return text.encode("utf-8")


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_a_pull_after_the_upgrade_keeps_every_entry_id_and_adds_what_was_merged(
    tmp_path: Path,
) -> None:
    root = v1_project(tmp_path)
    state = root / "state" / "feeds.sqlite"
    old = dict(rows(state, "SELECT key, published FROM entries"))
    cfg, _ = config.load(root / "config" / "feeds.toml")
    store = open_store(cfg.paths.state, migrate=True)
    client = fetch.make_client(user_agent="t", allow_private_networks=False,
                               transport=httpx.MockTransport(MAKER.answer))  # type: ignore[attr-defined]
    later = NOW.replace(hour=12)
    try:
        with client:
            result = pull.pull(cfg, store, client, later, force=True, rng=random.Random(1))
        assert result.failed == [], result.diagnostics
        publish.build(cfg, store, later, output=FolderOutput(cfg.paths.output))
    finally:
        store.close()
    new = dict(rows(state, "SELECT key, published FROM entries"))
    assert {key: new.get(key) for key in old} == old  # every id, with its publication time
    counts = dict(rows(state, "SELECT origin, COUNT(*) FROM entries GROUP BY origin"))
    assert counts["upstream:siniar"] == 131  # 1 before: its episodes shared one link
    assert counts["upstream:catatan"] == 7  # 4 before: posts told apart by #post-N
    assert counts["upstream:antara-terkini"] == 2 and counts["upstream:tempo-nasional"] == 1
