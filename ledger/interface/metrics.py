"""Prometheus metrics: requests by route and status, command latency, lag, events appended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledger.projections.runner import ViewRunner
from ledger.runtime.heartbeat import WorkersWatch
from ledger.runtime.replica import Replica
from ledger.service.application import Ledger
from ledger.service.group_commit import GroupStats


class Metrics:
    def __init__(
        self,
        ledger: Ledger,
        views: ViewRunner,
        watch: WorkersWatch | None = None,
        replica: Replica | None = None,
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
        self.registry.register(StoppedFollowers(views))
        if replica is not None:
            self.registry.register(ReplicaCollector(replica, views))
        if ledger.committer is not None:
            self.registry.register(GroupCommitCollector(ledger.committer.stats))

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


class StoppedFollowers(Collector):
    """The views and policies stopped at an event (docs/dead-letters.md): one series each,
    labelled with its kind, its name and the event's type, of the event's log position;
    and how many attempts failed on it."""

    LABELS = ("kind", "name", "event_type")

    def __init__(self, views: ViewRunner) -> None:
        self.views = views

    def describe(self) -> list[Metric]:
        return []  # registered without reading the store (it is read at each scrape)

    def collect(self) -> Iterator[Metric]:
        try:
            stuck = self.views.stuck()
        except Exception:  # the store is down: /readyz says so; the other metrics go on
            return
        stopped = GaugeMetricFamily(
            "ledger_stopped_followers", "Views and policies stopped at an event they fail on",
            value=float(len(stuck)),
        )  # fmt: skip
        position = GaugeMetricFamily(
            "ledger_stopped_at_position", "The log position of the event a view or policy "
            "is stopped at", labels=self.LABELS,
        )  # fmt: skip
        attempts = GaugeMetricFamily(
            "ledger_stopped_attempts", "The failed attempts at that event", labels=self.LABELS
        )
        for letter in stuck:
            labels = [letter.kind, letter.name, letter.event_type]
            position.add_metric(labels, float(letter.position))
            attempts.add_metric(labels, float(letter.attempts))
        yield from (stopped, position, attempts)


class GroupCommitCollector:
    """How this process's commands were saved with group commit (``LEDGER_GROUP_COMMIT``)."""

    def __init__(self, stats: GroupStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "ledger_command_saves", "Commands' saves written (with group commit)",
            value=float(self.stats.saves),
        )  # fmt: skip
        yield CounterMetricFamily(
            "ledger_command_save_transactions",
            "Transactions those saves took (fewer than the saves: they were grouped)",
            value=float(self.stats.transactions),
        )
        yield CounterMetricFamily(
            "ledger_command_save_groups_refused",
            "Groups the store refused, written again one save at a time (a save lost a race)",
            value=float(self.stats.groups_refused),
        )


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
