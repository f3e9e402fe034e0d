"""Shared fixtures: the real config's rules, a project copy to build in, Hypothesis profiles."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from feeds import config
from feeds.sources.article import Rules
from tests.helpers import ROOT, SEED_MTIME

pytest_plugins = ["tests.services"]

# CI runs more examples, derandomized so that a failure reproduces on the next run.
settings.register_profile(
    "ci", max_examples=400, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "stress", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from this build (then review its git diff)")


@pytest.fixture(scope="session")
def real_config() -> config.Config:
    cfg, _ = config.load(ROOT / "config" / "feeds.toml")
    return cfg


@pytest.fixture(scope="session")
def rules(real_config: config.Config) -> Rules:
    return Rules.from_config(real_config)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway copy of the project's config and seeds, to build into."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "feeds.toml", tmp_path / "config" / "feeds.toml")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    for seed in (tmp_path / "seeds").rglob("*.txt"):
        os.utime(seed, (SEED_MTIME, SEED_MTIME))  # a checkout's mtimes are whenever it was made
    return tmp_path
