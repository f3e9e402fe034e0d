"""The house rules, read from the source with `ast`, so that docs/architecture.md stays true.

1. Each foreign library is imported (at run time) by the one module allowed to.
2. No clock is read outside the shells (the CLI, the daemon, the scheduler).
3. The pure modules import no module that does I/O.
4. No class is over 250 lines and no function over 60.

Each checker takes a source tree, so the tests below also show it catching a
deliberate breakage in a copy of the package.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "feeds"

# library (top-level import name) → the one module that may import it at run time
FOREIGN = {
    "feedgen": "feeds/builder.py",
    "lxml": "feeds/builder.py",
    "feedparser": "feeds/sources/upstream.py",
    "httpx": "feeds/sources/fetch.py",
    "httpcore": "feeds/sources/fetch.py",
    "apscheduler": "feeds/scheduler.py",
    "yaml": "feeds/sources/article.py",
    "nh3": "feeds/sanitize.py",
    "brotli": "feeds/compress.py",
    "starlette": "feeds/server.py",
    "uvicorn": "feeds/server.py",
    "watchdog": "feeds/watch.py",
    "sqlite3": "feeds/store/sqlite.py",
    "idna": "feeds/text.py",
    "anyascii": "feeds/text.py",
    "prometheus_client": "feeds/metrics.py",
    "psycopg": "feeds/store/postgres.py",
    "psycopg_pool": "feeds/store/postgres.py",
    "boto3": "feeds/output/s3.py",
    "botocore": "feeds/output/s3.py",
    "rapidfuzz": "feeds/typos.py",
}
SHELLS = {"feeds/cli.py", "feeds/daemon.py", "feeds/jobs.py", "feeds/scheduler.py"}
CLOCKS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
          ("date", "today"), ("time", "time"), ("time", "time_ns"), ("time", "monotonic"),
          ("time", "monotonic_ns"), ("time", "perf_counter"), ("time", "localtime"),
          ("time", "gmtime")}
PURE = {"feeds.model", "feeds.codec", "feeds.entries", "feeds.render", "feeds.text",
        "feeds.lang", "feeds.sanitize", "feeds.compress", "feeds.builder", "feeds.jsonfeed",
        "feeds.pages", "feeds.publish.decide", "feeds.sources.article",
        "feeds.sources.upstream", "feeds.sources.yaml_words", "feeds.typos",
        "feeds.republish", "feeds.polling", "feeds.publish.report"}
# What pure modules may lean on besides each other: values and contracts, no I/O of their own.
CONTRACTS = {"feeds", "feeds.errors", "feeds.config", "feeds.store", "feeds.output"}
IO_STDLIB = {"os", "socket", "subprocess", "sqlite3", "shutil", "multiprocessing", "threading",
             "tempfile", "http", "urllib.request", "fcntl", "signal", "asyncio"}
MAX_CLASS, MAX_FUNCTION = 250, 60


def modules(root: Path) -> Iterator[tuple[str, str, ast.Module]]:
    """(dotted name, path relative to the project, tree) of every module under `root`."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        name = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        yield name, relative, ast.parse(path.read_text(encoding="utf-8"))


def runtime_imports(module: str, tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Every module imported at run time (not under `if TYPE_CHECKING:`), absolute."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for child in ast.walk(node))
    package = module if module == "feeds" or _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            yield base, node.lineno
            for alias in node.names:  # `from feeds import publish` imports feeds.publish
                yield f"{base}.{alias.name}", node.lineno


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()


def foreign_violations(root: Path) -> list[str]:
    found = []
    for module, relative, tree in modules(root):
        for name, line in runtime_imports(module, tree):
            top = name.split(".")[0]
            if top == "feeds" or (top in sys.stdlib_module_names and top != "sqlite3"):
                continue
            allowed = FOREIGN.get(top)
            if allowed is None and top not in sys.stdlib_module_names:
                found.append(f"{relative}:{line}: imports {top}, which no module is allowed "
                             "to (add it to FOREIGN with the one module that wraps it)")
            elif allowed is not None and allowed != relative:
                found.append(f"{relative}:{line}: imports {top}, which only {allowed} may")
    return sorted(set(found))


def clock_violations(root: Path) -> list[str]:
    found = []
    for _, relative, tree in modules(root):
        if relative in SHELLS:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (name, node.func.attr) in CLOCKS and not (
                node.func.attr in ("localtime", "gmtime") and node.args
            ):
                found.append(f"{relative}:{node.lineno}: reads the clock "
                             f"({name}.{node.func.attr}()); take `now` or a clock instead")
    return found


def purity_violations(root: Path) -> list[str]:
    trees = {name: (relative, tree) for name, relative, tree in modules(root)}
    found = []
    for module in sorted(PURE):
        relative, tree = trees[module]
        for name, line in runtime_imports(module, tree):
            if name in trees and name not in PURE | CONTRACTS:
                found.append(f"{relative}:{line}: pure module imports {name}, which does I/O")
            elif name.split(".")[0] in IO_STDLIB or name in IO_STDLIB:
                found.append(f"{relative}:{line}: pure module imports {name}")
    return found


def size_violations(root: Path) -> list[str]:
    found = []
    for _, relative, tree in modules(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
            if length > limit:
                found.append(f"{relative}: {node.name} is {length} lines (at most {limit})")
    return found


CHECKS = [foreign_violations, clock_violations, purity_violations, size_violations]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_package_keeps_the_house_rules(check: object) -> None:
    assert check(PACKAGE) == []  # type: ignore[operator]


BREAKAGES = {
    "foreign_violations": ("feeds/pull.py", "\nimport httpx\n"),
    "clock_violations": ("feeds/entries.py", "\nfrom datetime import datetime\n"
                                             "_NOW = datetime.now()\n"),
    "purity_violations": ("feeds/render.py", "\nfrom feeds.store import sqlite\n"),
    "size_violations": ("feeds/text.py", "\ndef long() -> None:\n" + "    pass\n" * 61),
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_each_rule_catches_a_deliberate_breakage(check: object, tmp_path: Path) -> None:
    copy = tmp_path / "feeds"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    relative, addition = BREAKAGES[check.__name__]  # type: ignore[attr-defined]
    target = tmp_path / relative
    target.write_text(target.read_text(encoding="utf-8") + addition, encoding="utf-8")
    found = check(copy)  # type: ignore[operator]
    assert len(found) == 1 and found[0].startswith(relative), found
