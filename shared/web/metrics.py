"""Prometheus metrics of one app: request latency by route, and background jobs by status."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("zegel.web.metrics")

UNMATCHED_ROUTE = "<unmatched>"
"""Route label of requests that matched no route (404 and the like): keeps label values bounded."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JobsCollector(Collector):
    """Counts background jobs by status when Prometheus scrapes (one query, no cached state)."""

    def describe(self) -> Iterator[Metric]:
        # what the registry asks at registration: the names only, without touching the database
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "zegel_jobs", "Background jobs in the database by status.", labels=["status"]
            ),
            GaugeMetricFamily(
                "zegel_jobs_scrape_ok", "1 when the job counts could be read from the database."
            ),
        )

    def collect(self) -> Iterator[Metric]:
        gauge, up = self._families()
        try:
            from shared.db import session_scope
            from shared.jobs import count_jobs_by_status

            with session_scope() as session:
                counts = count_jobs_by_status(session)
        except Exception:
            log.warning("could not count jobs for /metrics", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        for status, count in sorted(counts.items()):
            gauge.add_metric([status], count)
        up.add_metric([], 1)
        yield gauge
        yield up


class Metrics:
    """The registry of one app (not the global one: tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_duration = Histogram(
            "zegel_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status.",
            labelnames=("route", "method", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(JobsCollector())

    def observe(self, *, route: str, method: str, status: int, seconds: float) -> None:
        self.request_duration.labels(route=route, method=method, status=str(status)).observe(
            seconds
        )
