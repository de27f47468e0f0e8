"""Records scores in the prediction log from a thread of its own, so requests never wait for it.

A request hands over what it scored (ids, probabilities, the feature matrix, its records) and
goes on. The writer thread turns a burst of such hand-overs into one transaction: pseudonyms,
segments and bin counts are computed there, and the ids and inputs are dropped once counted.
When too many are pending a hand-over is dropped and counted, never waited for.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from data.epoch import as_days, day_number
from data.pseudonyms import pseudonyms
from data.stores.predictions import BinKey, LogBatch, PredictionLog
from models.monitoring.reference import FeatureBins, ReferenceProfile
from models.subgroups import record_group

logger = logging.getLogger("careops.monitoring")


# The writer turns hand-overs into rows holding the GIL, about 15 µs a record. Left alone it would
# hold it for the whole burst (over 10 ms at a few hundred requests a second), and every request
# in flight would wait that long; so it lets the request path run every few dozen records.
PAUSE_EVERY_RECORDS = 32
PAUSE_SECONDS = 0.0002
# Rows per write transaction. The store's writers queue on one lock (see data/stores/engine.py),
# so a flush written at once would hold a request's booking behind it for tens of milliseconds.
WRITE_CHUNK_ROWS = 64


def _let_requests_run() -> None:
    """Release the GIL long enough for a waiting request thread to take it."""
    time.sleep(PAUSE_SECONDS)


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


def prediction_row(
    scored_at: float,
    event_day: float,
    task: str,
    version: str,
    source: str,
    record_key: str,
    probability: float,
    segments: str,
    top_reason: str | None = None,
    line_probabilities: str | None = None,
    scored_day: int | None = None,
) -> dict:
    """One row of `careops_predictions` (`event_day` NaN when the record has none; `scored_day`
    is worked out from `scored_at` when not given)."""
    return {
        "scored_at": scored_at,
        "scored_day": int(day_number(scored_at)) if scored_day is None else scored_day,
        "event_day": None if event_day != event_day else int(event_day),
        "task": task,
        "model_version": version,
        "source": source,
        "record_key": record_key,
        "probability": probability,
        "top_reason": top_reason,
        "line_probabilities": line_probabilities,
        "segments": segments,
    }


def log_rows(
    scored: Scored, key: bytes, segments: Sequence[str], id_field: str, time_field: str
) -> tuple[list[dict], np.ndarray]:
    """The log rows of one hand-over (ids become keyed pseudonyms here), and each record's day for
    the histograms: its event day, or the scoring day when it has none."""
    records = scored.records
    keys = pseudonyms(key, [str(getattr(r, id_field)) for r in records])
    event_days = as_days([getattr(r, time_field, None) for r in records])
    scored_day = int(day_number(scored.scored_at))
    probabilities = np.asarray(scored.probability, dtype=np.float64).tolist()
    texts: dict[tuple, str] = {}  # a batch's records share a few groups: each is written once
    rows = []
    for i, record in enumerate(records):
        probability = probabilities[i]
        if not math.isfinite(probability):
            continue
        groups = tuple(record_group(record, name) for name in segments)
        text = texts.get(groups)
        if text is None:
            text = texts[groups] = json.dumps(dict(zip(segments, groups, strict=True)))
        rows.append(
            prediction_row(
                scored.scored_at,
                event_days[i],
                scored.task,
                scored.version,
                scored.source,
                keys[i],
                probability,
                text,
                scored.top_reasons[i] if scored.top_reasons is not None else None,
                (
                    json.dumps([round(float(p), 6) for p in scored.line_probabilities[i]])
                    if scored.line_probabilities is not None
                    else None
                ),
                scored_day,
            )
        )
    return rows, np.where(np.isnan(event_days), scored_day, event_days).astype(np.int64)


def bin_counts(items: Sequence[Scored], days: Sequence[np.ndarray]) -> dict[BinKey, int]:
    """Counts, per event day, of the hand-overs' inputs and scores in their version's reference bins.

    All `items` are of one task and version; they are counted together, one pass per feature."""
    kept = [
        (item, d) for item, d in zip(items, days, strict=True) if item.matrix is not None and len(item.matrix)
    ]
    profile = items[0].profile if items else None
    if profile is None or not kept:
        return {}
    task, version = items[0].task, items[0].version
    probability = np.concatenate([item.probability for item, _ in kept])
    matrix = np.vstack([item.matrix for item, _ in kept])
    unseen = [names for item, _ in kept for names in (item.unseen or [[]] * len(item.matrix))]
    finite = np.isfinite(probability)
    day = np.concatenate([d for _, d in kept])[finite]
    first = int(day.min()) if len(day) else 0
    span = int(day.max()) - first + 1 if len(day) else 1
    counts: dict[BinKey, int] = {}

    def add(bins: FeatureBins, values: np.ndarray, flags: np.ndarray | None = None) -> None:
        index = bins.assign(values, flags)[finite]
        tally = np.bincount((day - first) * bins.size + index, minlength=span * bins.size)
        for cell in np.flatnonzero(tally):
            counts[(task, version, first + int(cell) // bins.size, bins.name, int(cell) % bins.size)] = int(
                tally[cell]
            )

    add(profile.score_bins, np.where(finite, probability, 0.0))
    for j, bins in enumerate(profile.features):
        flags = None
        if bins.categories is not None:
            flags = np.array([bins.name in names for names in unseen], dtype=bool)
        if j < matrix.shape[1]:
            add(bins, matrix[:, j], flags)
        elif flags is not None:  # a watched input: only whether its value was seen in training
            add(bins, np.full(len(flags), np.nan), flags)
    return counts


def frame_log_rows(
    task: str, version: str, key: bytes, scored: pd.DataFrame, id_column: str, probability_column: str
) -> list[dict]:
    """Log rows of a batch run's scores: `scored` holds ids, probabilities, `_event_day` and
    `_group_<name>` columns (see training/batch.py). Batch rows carry no bin counts."""
    now = time.time()
    scored = scored[np.isfinite(scored[probability_column].to_numpy(dtype=float))]
    groups = [c for c in scored.columns if c.startswith("_group_")]
    segments = [
        json.dumps(dict(zip((g.removeprefix("_group_") for g in groups), values, strict=True)))
        for values in scored[groups].itertuples(index=False, name=None)
    ]
    days = scored["_event_day"].to_numpy(dtype=float)
    return [
        prediction_row(now, day, task, version, "batch", record_key, float(probability), segment)
        for record_key, probability, day, segment in zip(
            pseudonyms(key, scored[id_column].astype(str)),
            scored[probability_column].to_numpy(dtype=float),
            days,
            segments,
            strict=True,
        )
    ]


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
        self.max_pending = max_pending
        # A deque, not a queue: appending wakes nobody. The thread wakes every `flush_seconds` (or
        # when `flush` or `close` asks) and takes all that piled up, so requests never pay for a
        # thread switch.
        self._pending: deque[Scored | threading.Event] = deque()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="careops-prediction-log", daemon=True)
        self._thread.start()

    def probabilities_of(self, task: str, record_ids: list[str]) -> dict[str, float]:
        """The latest logged probability of each of these records (by id) that the log holds."""
        logged = self.log.predictions(task)
        if logged.empty:
            return {}
        latest = logged.drop_duplicates("record_key", keep="last").set_index("record_key")["probability"]
        keys = pseudonyms(self._key, record_ids)
        return {i: float(latest[k]) for i, k in zip(record_ids, keys, strict=True) if k in latest.index}

    def record(self, scored: Scored) -> None:
        """Hand a scored batch over; returns at once."""
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        if scored.scored_at == 0.0:
            scored = replace(scored, scored_at=time.time())
        self._pending.append(scored)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything handed over so far is written (for tests and shutdown)."""
        done = threading.Event()
        self._pending.append(done)
        self._wake.set()
        done.wait(timeout)

    def close(self) -> None:
        """Write what is pending, then stop the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.log.engine.dispose()

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            items, waiting = [], []
            while self._pending:
                item = self._pending.popleft()
                (waiting if isinstance(item, threading.Event) else items).append(item)
            self._write(items)
            self._purge()
            for done in waiting:
                done.set()
            if stopping and not self._pending:
                return

    def _write(self, items: list[Scored]) -> None:
        if not items:
            return
        try:
            rows: list[dict] = []
            groups: dict[tuple[str, str], tuple[list[Scored], list[np.ndarray]]] = {}
            since_pause = 0
            for item in items:
                item_rows, days = log_rows(item, self._key, *self._fields(item.task))
                rows += item_rows
                group = groups.setdefault((item.task, item.version), ([], []))
                group[0].append(item)
                group[1].append(days)
                since_pause += len(item.records)
                if since_pause >= PAUSE_EVERY_RECORDS:
                    since_pause = 0
                    _let_requests_run()
            counts: dict[BinKey, int] = {}
            for group_items, group_days in groups.values():
                counts.update(bin_counts(group_items, group_days))
            # Rows in short transactions, the bin counts with the last: a crash between them loses
            # at most what this flush held, as a crash before it would.
            for start in range(0, max(len(rows), 1), WRITE_CHUNK_ROWS):
                _let_requests_run()
                last = start + WRITE_CHUNK_ROWS >= len(rows)
                self.log.write([LogBatch(rows[start : start + WRITE_CHUNK_ROWS], counts if last else {})])
                self.written += len(rows[start : start + WRITE_CHUNK_ROWS])
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
