"""Faults injected into worker processes: tests pass these as the pool's initializer (by
module name, so the workers import them), and they wrap what the worker would run."""

from __future__ import annotations

import errno
import multiprocessing
import os
from typing import Any

from feeds import publish

_init_worker = publish._init_worker  # the real one: tests replace the module's with these


def disk_full_for_pages(renderer: Any, output_root: str | None = None) -> None:
    _init_worker(renderer, output_root)
    if multiprocessing.parent_process() is None:
        return  # the main process's own reading (builds below PARALLEL_FROM) stays healthy
    real = publish.stage_file

    def full(path: str, data: bytes) -> str:
        if f"{os.sep}articles{os.sep}" in path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    publish.stage_file = full  # type: ignore[assignment]


def broken_tag_feed(renderer: Any, output_root: str | None = None) -> None:
    _init_worker(renderer, output_root)
    if multiprocessing.parent_process() is None:
        return
    real = publish._render_feed

    def render(job: tuple[str, str, list[str]]) -> publish.FeedDone:
        if job[0] == "tag:rusak":
            raise RuntimeError("rendering the feed failed")
        return real(job)

    publish._render_feed = render  # type: ignore[assignment]


def healthy(renderer: Any, output_root: str | None = None) -> None:
    _init_worker(renderer, output_root)
