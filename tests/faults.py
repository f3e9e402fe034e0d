"""Faults injected through the seams the product offers: a worker setup (`Parallelism.setup`,
run in each worker process; by module name, so the workers import them) and wrappers of the
store and output contracts."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from feeds.output import OutputKind, Staged, Stager
from feeds.publish.feedset import FeedStyle
from feeds.publish.workers import WorkerContext


class _FullDisk:
    """A stager whose disk is full for article pages."""

    def __init__(self, inner: Stager) -> None:
        self.inner = inner

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> list[Staged]:
        if kind == "page":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.inner.stage(relative, data, kind)


def disk_full_for_pages(context: WorkerContext) -> None:
    assert context.stager is not None
    context.stager = _FullDisk(context.stager)


class _BrokenTag(FeedStyle):
    def files(self, info: Any, items: Any) -> Any:
        if info.key.kind == "tag" and info.key.slug == "rusak":
            raise RuntimeError("rendering the feed failed")
        return super().files(info, items)


def broken_tag_feed(context: WorkerContext) -> None:
    style = context.renderer.style
    broken = _BrokenTag(*(getattr(style, name) for name in FeedStyle.__slots__))
    context.renderer = type(context.renderer)(
        rules=context.renderer.rules, entry_site=context.renderer.entry_site, style=broken,
        now=context.renderer.now, pages=context.renderer.pages)


class FailingAfter:
    """Wraps a store or an output: the `count`-th call of `method` raises `error`."""

    def __init__(self, inner: Any, method: str, count: int, error: Exception) -> None:
        self._inner = inner
        self._method = method
        self._left = count
        self._error = error

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name != self._method:
            return value

        def counted(*args: object, **kwargs: object) -> object:
            self._left -= 1
            if self._left == 0:
                raise self._error
            return value(*args, **kwargs)

        return counted


def failing(method: str, count: int, error: Exception) -> Callable[[Any], Any]:
    """A wrapper for `helpers.build(wrap_store=…)` or `wrap_output=…`."""
    return lambda inner: FailingAfter(inner, method, count, error)
