"""Prometheus metrics: requests by route and status, command latency, lag, events appended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ledger.projections.runner import ViewRunner
from ledger.runtime.heartbeat import WorkersWatch
from ledger.service.application import Ledger


class Metrics:
    def __init__(
        self, ledger: Ledger, views: ViewRunner, watch: WorkersWatch | None = None
    ) -> None:
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
        if watch is not None and watch.watched:
            self.registry.register(WorkersCollector(watch))

    @contextmanager
    def command(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.command_seconds.labels(name).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class WorkersCollector:
    """The workers' liveness, read once a scrape: running or not, and (a workers process
    beside the API) its heartbeat's age and how many times ``ledger serve`` restarted it."""

    def __init__(self, watch: WorkersWatch) -> None:
        self.watch = watch

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration

    def collect(self) -> Iterator[Metric]:
        try:
            seen = self.watch.seen()
        except Exception:  # the store is down: /readyz says so; the other metrics go on
            return
        yield GaugeMetricFamily(
            "ledger_workers_running", "1 while the projections and policies run, else 0",
            value=float(seen.running),
        )  # fmt: skip
        if not self.watch.process:
            return
        yield CounterMetricFamily(
            "ledger_workers_restarts", "Times ledger serve restarted its workers process",
            value=float(seen.restarts),
        )  # fmt: skip
        if seen.age_seconds is not None:
            yield GaugeMetricFamily(
                "ledger_workers_heartbeat_age_seconds",
                "Seconds since the workers process was last heard from",
                value=seen.age_seconds,
            )
