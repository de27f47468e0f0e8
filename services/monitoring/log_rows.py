"""What the prediction log holds, built from what was scored: its rows and its per-day bin counts.

Ids become keyed pseudonyms here and inputs are only counted into the reference bins; nothing a
row holds names a patient or a claim.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data.epoch import SECONDS_PER_DAY, as_days, day_number
from models.subgroups import record_group
from services.monitoring.log_store import BinKey
from services.monitoring.pseudonyms import pseudonyms
from services.monitoring.reference import FeatureBins, ReferenceProfile


@dataclass(frozen=True)
class ScoredBatch:
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
    items: Sequence[ScoredBatch], key: bytes, segments: Sequence[str], id_field: str, time_field: str
) -> tuple[list[dict], list[np.ndarray]]:
    """The log rows of hand-overs of one task (ids become keyed pseudonyms here), and per hand-over
    each record's day for the histograms: its event day, or the scoring day when it has none.

    The hand-overs are taken together: most hold one record, and a pass per hand-over would cost
    more than its row."""
    records = [record for item in items for record in item.records]
    keys = pseudonyms(key, [str(getattr(r, id_field)) for r in records])
    event_days = as_days([getattr(r, time_field, None) for r in records]).tolist()
    texts: dict[tuple, str] = {}  # records share a few groups: each is written once
    rows = []
    days = []
    i = 0
    for item in items:
        scored_day = math.floor(item.scored_at / SECONDS_PER_DAY)  # day_number's rule, for one number
        probabilities = np.asarray(item.probability, dtype=np.float64).tolist()
        item_days = []
        for j, record in enumerate(item.records):
            event_day = event_days[i + j]
            item_days.append(scored_day if event_day != event_day else int(event_day))
            probability = probabilities[j]
            if not math.isfinite(probability):
                continue
            groups = tuple(record_group(record, name) for name in segments)
            text = texts.get(groups)
            if text is None:
                text = texts[groups] = json.dumps(dict(zip(segments, groups, strict=True)))
            rows.append(
                prediction_row(
                    item.scored_at,
                    event_day,
                    item.task,
                    item.version,
                    item.source,
                    keys[i + j],
                    probability,
                    text,
                    item.top_reasons[j] if item.top_reasons is not None else None,
                    (
                        json.dumps([round(float(p), 6) for p in item.line_probabilities[j]])
                        if item.line_probabilities is not None
                        else None
                    ),
                    scored_day,
                )
            )
        i += len(item.records)
        days.append(np.asarray(item_days, dtype=np.int64))
    return rows, days


def bin_counts(items: Sequence[ScoredBatch], days: Sequence[np.ndarray]) -> dict[BinKey, int]:
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
