"""Prometheus metrics: requests by route and status, command latency, lag, events appended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ledger.projections.runner import ViewRunner
from ledger.runtime.replica import Replica
from ledger.service.application import Ledger


class Metrics:
    def __init__(self, ledger: Ledger, views: ViewRunner, replica: Replica | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledger_http_requests", "HTTP requests by route and status",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.command_seconds = Histogram(
            "ledger_command_seconds", "Ledger command latency", ["command"],
            registry=self.registry,
        )  # fmt: skip
        lag = Gauge(
            "ledger_projection_lag_events", "Events the views do not show yet",
            registry=self.registry,
        )  # fmt: skip
        lag.set_function(lambda: float(views.lag()))
        appended = Gauge(
            "ledger_events_appended", "Events in the store (the log's head position)",
            registry=self.registry,
        )  # fmt: skip
        appended.set_function(lambda: float(ledger.recorder.max_notification_id() or 0))
        if replica is not None:
            self.registry.register(ReplicaCollector(replica, views))

    @contextmanager
    def command(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.command_seconds.labels(name).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ReplicaCollector:
    """The read replica's counts (ledger.runtime.replica) and its lag, read when scraped."""

    def __init__(self, replica: Replica, views: ViewRunner) -> None:
        self.replica = replica
        self.views = views

    def collect(self) -> Iterator[Metric]:
        counts = self.replica.counts
        yield CounterMetricFamily(
            "ledger_replica_reads", "Reads served by the read replica", value=counts.reads
        )
        yield CounterMetricFamily(
            "ledger_replica_waits",
            "Reads that waited for the replica to replay the reader's position",
            value=counts.waits,
        )
        fallbacks = CounterMetricFamily(
            "ledger_replica_fallbacks",
            "Reads served by the primary instead of the replica, by reason",
            labels=["reason"],
        )
        fallbacks.add_metric(["wait"], counts.fallbacks_wait)
        fallbacks.add_metric(["unreachable"], counts.fallbacks_unreachable)
        yield fallbacks
        lag = self.replica.lag(self.views.position())
        yield GaugeMetricFamily(
            "ledger_replica_lag_events",
            "Events the replica's views are behind the primary's (NaN: unreachable)",
            value=float("nan") if lag is None else float(lag),
        )
