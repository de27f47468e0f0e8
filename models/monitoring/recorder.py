"""Records scores in the prediction log from a thread of its own, so requests never wait for it.

A request hands over what it scored (ids, probabilities, the feature matrix, its records) and
goes on. The writer thread turns a burst of such hand-overs into one transaction: pseudonyms,
segments and bin counts are computed there, and the ids and inputs are dropped once counted.
When the queue is full a hand-over is dropped and counted, never waited for.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from data.epoch import as_days, day_number
from data.pseudonyms import pseudonyms
from data.stores.predictions import BinKey, LogBatch, PredictionLog
from models.monitoring.reference import SCORE, ReferenceProfile
from models.subgroups import record_group

logger = logging.getLogger("careops.monitoring")
_STOP = object()


@dataclass(frozen=True)
class Scored:
    """One hand-over: what a model version scored, as the scorer saw it."""

    task: str
    version: str
    source: str
    records: Sequence[Any]
    probability: np.ndarray
    matrix: np.ndarray | None = None
    unseen: Sequence[Sequence[str]] | None = None
    profile: ReferenceProfile | None = None
    top_reasons: Sequence[str | None] | None = None
    line_probabilities: Sequence[Sequence[float]] | None = None
    scored_at: float = 0.0


def log_batch(
    scored: Scored, key: bytes, segments: Sequence[str], id_field: str, time_field: str
) -> LogBatch:
    """The log rows and bin counts of one hand-over (ids become keyed pseudonyms here)."""
    records = scored.records
    keys = pseudonyms(key, [str(getattr(r, id_field)) for r in records])
    event_days = as_days([getattr(r, time_field, None) for r in records])
    scored_day = int(day_number(scored.scored_at))
    rows = []
    for i, record in enumerate(records):
        probability = float(scored.probability[i])
        if not np.isfinite(probability):
            continue
        rows.append(
            {
                "scored_at": scored.scored_at,
                "scored_day": scored_day,
                "event_day": None if np.isnan(event_days[i]) else int(event_days[i]),
                "task": scored.task,
                "model_version": scored.version,
                "source": scored.source,
                "record_key": keys[i],
                "probability": probability,
                "top_reason": scored.top_reasons[i] if scored.top_reasons is not None else None,
                "line_probabilities": (
                    json.dumps([round(float(p), 6) for p in scored.line_probabilities[i]])
                    if scored.line_probabilities is not None
                    else None
                ),
                "segments": json.dumps({name: record_group(record, name) for name in segments}),
            }
        )
    days = np.where(np.isnan(event_days), scored_day, event_days)
    return LogBatch(rows, bin_counts(scored, days))


def bin_counts(scored: Scored, days: np.ndarray) -> dict[BinKey, int]:
    """Counts of the hand-over's inputs and scores in its version's reference bins, per event day."""
    profile = scored.profile
    if profile is None or scored.matrix is None or len(scored.matrix) == 0:
        return {}
    counts: dict[BinKey, int] = {}
    keep = np.isfinite(scored.probability)
    days = days.astype(np.int64)

    def add(name: str, values: np.ndarray, unseen: np.ndarray | None = None) -> None:
        bins = profile.bins_of(name).assign(values, unseen)
        pairs, tally = np.unique(np.stack([days[keep], bins[keep]]), axis=1, return_counts=True)
        for (day, index), count in zip(pairs.T, tally, strict=True):
            counts[(scored.task, scored.version, int(day), name, int(index))] = int(count)

    add(SCORE, np.where(keep, scored.probability, 0.0))
    width = scored.matrix.shape[1]
    for j, bins in enumerate(profile.features):
        unseen = None
        if bins.categories is not None and scored.unseen is not None:
            unseen = np.array([bins.name in names for names in scored.unseen], dtype=bool)
        if j < width:
            add(bins.name, scored.matrix[:, j], unseen)
        elif unseen is not None:  # a watched input: only whether its value was seen in training
            add(bins.name, np.full(len(unseen), np.nan), unseen)
    return counts


class PredictionRecorder:
    """Queues hand-overs and writes them to the log in batches; `dropped` counts any it had to drop."""

    def __init__(
        self,
        log: PredictionLog,
        key: bytes,
        fields: dict[str, tuple[str, str, Sequence[str]]],
        retention_days: int | None = None,
        max_pending: int = 10_000,
        flush_seconds: float = 0.5,
    ) -> None:
        """`fields` gives, per task, its id field, time field and segment names. Once a day the
        thread purges what is older than `retention_days`."""
        self.log, self._key, self.fields = log, key, fields
        self.retention_days, self._purged_day = retention_days, None
        self.flush_seconds = flush_seconds
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="careops-prediction-log", daemon=True)
        self._thread.start()

    def record(self, scored: Scored) -> None:
        """Hand a scored batch over; returns at once."""
        if scored.scored_at == 0.0:
            scored = Scored(**{**vars(scored), "scored_at": time.time()})
        try:
            self._queue.put_nowait(scored)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything handed over so far is written (for tests and shutdown)."""
        done = threading.Event()
        self._queue.put(done, timeout=timeout)
        done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self.log.engine.dispose()

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            deadline = time.monotonic() + self.flush_seconds
            while items[-1] is not _STOP and not isinstance(items[-1], threading.Event):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    items.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            self._write([item for item in items if isinstance(item, Scored)])
            self._purge()
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
            if items[-1] is _STOP:
                return

    def _write(self, items: list[Scored]) -> None:
        if not items:
            return
        try:
            batches = [log_batch(item, self._key, *self._fields(item.task)) for item in items]
            self.log.write(batches)
            self.written += sum(len(b.rows) for b in batches)
        except Exception as error:  # the log must never take the service down; no values in the message
            self.dropped += len(items)
            logger.error("prediction log write failed: %s", type(error).__name__)

    def _purge(self) -> None:
        today = int(day_number(time.time()))
        if self.retention_days is None or self._purged_day == today:
            return
        self._purged_day = today
        try:
            self.log.purge(today - self.retention_days)
        except Exception as error:
            logger.error("prediction log purge failed: %s", type(error).__name__)

    def _fields(self, task: str) -> tuple[Sequence[str], str, str]:
        id_field, time_field, segments = self.fields[task]
        return segments, id_field, time_field
