"""Prometheus metrics of one service process: requests, latency, records scored, scores, models, drift.

Each app has its own registry. Every series carries the worker's process id, so that with several
workers (each scraped in turn behind one port) every counter stays monotonic within its series;
sum by route or task to see the service. Labels are route templates, tasks and model versions;
never an identifier.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from services.monitoring.reference import SCORE, SCORE_EDGES
from services.monitoring.report import DRIFT_DAYS, drift

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
SCORE_BUCKETS = (*SCORE_EDGES, 1.0)
DRIFT_CACHE_SECONDS = 60.0


class ServiceMetrics:
    """The metrics of one app; `collect_state` reads the loaded models and the drift on each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.worker = str(os.getpid())
        labels = ("worker",)
        self.requests = Counter(
            "careops_requests",
            "HTTP requests answered",
            (*labels, "route", "method", "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "careops_request_errors",
            "HTTP requests answered with a 4xx or 5xx status",
            (*labels, "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "careops_request_latency_seconds",
            "Time from request to response",
            (*labels, "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.records = Counter(
            "careops_records_scored", "Records scored", (*labels, "task", "source"), registry=self.registry
        )
        self.scores = Histogram(
            "careops_score",
            "Predicted probabilities",
            (*labels, "task"),
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self.log_dropped = Gauge(
            "careops_prediction_log_dropped",
            "Scored records the prediction log lost (queue full, failed write, writer process died)",
            labels,
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(self.worker, route, method, str(status)).inc()
        if status >= 400:
            self.errors.labels(self.worker, route, str(status)).inc()
        self.latency.labels(self.worker, route).observe(seconds)

    def observe_scores(self, task: str, source: str, probability: np.ndarray) -> None:
        """Count scored records and add their probabilities to the score histogram."""
        finite = probability[np.isfinite(probability)]
        self.records.labels(self.worker, task, source).inc(len(probability))
        histogram = self.scores.labels(self.worker, task)
        for value in finite.tolist():
            histogram.observe(value)

    def attach(self, state: Callable[[], Iterable[Metric]]) -> None:
        """Add a collector whose metrics are computed at scrape time."""

        class _State:
            def collect(self) -> Iterable[Metric]:
                return state()

            def describe(self) -> Iterable[Metric]:
                return []  # computed only when scraped, not when registered

        self.registry.register(_State())

    def text(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class ModelAndDrift:
    """Scrape-time metrics: the version serving each task, and the PSI of its score and inputs over
    the latest DRIFT_DAYS event days in the prediction log, as the monitoring report computes it
    (at most once a minute)."""

    def __init__(self, worker: str, models, log) -> None:
        self.worker, self.models, self.log = worker, models, log
        self._cache: tuple[float, list[tuple[str, str, float]]] = (0.0, [])
        self._lock = threading.Lock()

    def __call__(self) -> Iterable[Metric]:
        info = InfoMetricFamily(
            "careops_model", "The model version serving each task", labels=["worker", "task"]
        )
        for task, model in list(self.models.models.items()):
            info.add_metric([self.worker, task], {"version": model.version, "alias": model.alias})
        yield info
        drift = GaugeMetricFamily(
            "careops_drift_psi",
            "PSI against the serving version's reference, latest 14 event days",
            labels=["task", "feature"],
        )
        for task, feature, value in self._drift():
            drift.add_metric([task, feature], value)
        yield drift

    def _drift(self) -> list[tuple[str, str, float]]:
        with self._lock:
            stamp, values = self._cache
            if self.log is None or (stamp and time.monotonic() - stamp < DRIFT_CACHE_SECONDS):
                return values
            values = []
            for task, model in list(self.models.models.items()):
                if model.profile is None:
                    continue
                counts = self.log.bin_counts(task)
                counts = counts[counts["model_version"] == model.version]
                if counts.empty:
                    continue
                first_day = int(counts["day"].max()) - DRIFT_DAYS + 1
                report = drift(counts, {model.version: model.profile}, model.version, first_day)
                values += [(task, SCORE, report["score"]["psi"])]
                values += [(task, entry["feature"], entry["psi"]) for entry in report["features"]]
            self._cache = (time.monotonic(), values)
            return values
