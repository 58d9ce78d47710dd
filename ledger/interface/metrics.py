"""Prometheus metrics: requests by route and status, command latency, lag, events appended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ledger.projections.runner import ViewRunner
from ledger.service.application import Ledger


class Metrics:
    def __init__(self, ledger: Ledger, views: ViewRunner) -> None:
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

    @contextmanager
    def command(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.command_seconds.labels(name).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
