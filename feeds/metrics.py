"""What a daemon counts, for `/metrics` in Prometheus' text format; the only module that imports
prometheus_client.

Counters and histograms are kept as the daemon works (pull latency, builds,
uploads); the gauges of the sources (due, claimed, failing) are read from
the state at each scrape, so that every daemon of a cluster reports the
same shared truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """The sources as the state says now."""

    configured: int
    due: int
    claimed: int
    failing: int


class _Sources(Collector):
    def __init__(self, read: Callable[[], SourceCounts | None]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.read()
        if counts is None:  # the state cannot be read: /healthz says why
            return
        for name, value, text in (
            ("feeds_sources", counts.configured, "Upstream sources configured."),
            ("feeds_sources_due", counts.due, "Sources due for a pull now."),
            ("feeds_sources_claimed", counts.claimed, "Sources some daemon is pulling now."),
            ("feeds_sources_failing", counts.failing, "Sources whose last pull failed."),
        ):
            yield GaugeMetricFamily(name, text, value=value)


class Metrics:
    """One daemon's metrics."""

    def __init__(self, sources: Callable[[], SourceCounts | None]) -> None:
        self.registry = CollectorRegistry()
        self.pull_latency = Histogram(
            "feeds_pull_seconds", "Time to fetch and read one source, by result.", ["result"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=self.registry)
        self.builds = Counter("feeds_builds", "Builds, by result.", ["result"],
                              registry=self.registry)
        self.last_build = Gauge("feeds_last_build_timestamp_seconds",
                                "When this daemon's last good build finished.",
                                registry=self.registry)
        self.build_seconds = Gauge("feeds_last_build_duration_seconds",
                                   "How long this daemon's last good build took.",
                                   registry=self.registry)
        self.files = Counter("feeds_output_files_changed", "Output files written or removed.",
                             registry=self.registry)
        self.uploads = Counter("feeds_uploads", "Objects uploaded to or deleted from a bucket.",
                               registry=self.registry)
        self.registry.register(_Sources(sources))

    def fetched(self, source: str, seconds: float, result: str) -> None:
        self.pull_latency.labels(result).observe(seconds)

    def built(self, result: str, *, at: float = 0.0, seconds: float = 0.0,
              changed: int = 0, uploads: int = 0) -> None:
        self.builds.labels(result).inc()
        if result == "ok":
            self.last_build.set(at)
            self.build_seconds.set(seconds)
            self.files.inc(changed)
            self.uploads.inc(uploads)

    def exposition(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
