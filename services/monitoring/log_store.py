"""The prediction log: what each model version predicted, and per-day histograms of its inputs.

A row holds the time, task, model version, probability (for denials also the line probabilities
and the top reason), the day of the predicted event, coarse segments (clinic, payer, age band,
sex) and a keyed pseudonym of the record id. No patient id and no input value is stored; inputs
are counted into the reference profile's bins per day instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from data.stores.engine import create_tables, store_engine, with_retries, write_transaction
from data.stores.prepared import PreparedRows, writing

metadata = MetaData()
predictions = Table(
    "careops_predictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scored_at", Float, nullable=False),
    Column("scored_day", Integer, nullable=False),
    Column("event_day", Integer, nullable=True),
    Column("task", String(16), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("source", String(16), nullable=False),
    Column("record_key", String(64), nullable=False),
    Column("probability", Float, nullable=False),
    Column("top_reason", String(32), nullable=True),
    Column("line_probabilities", Text, nullable=True),
    Column("segments", Text, nullable=True),
    Index("ix_careops_predictions_task_day", "task", "scored_day"),
    Index("ix_careops_predictions_key", "record_key"),
    # The numbers page reads the scores of a few weeks' visits, whatever the log's length.
    Index("ix_careops_predictions_task_event", "task", "event_day"),
)
# Per day and model version, how many scored inputs fell into each bin of the reference profile.
feature_bins = Table(
    "careops_feature_bins",
    metadata,
    Column("task", String(16), primary_key=True),
    Column("model_version", String(32), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("feature", String(64), primary_key=True),
    Column("bin", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
)
BinKey = tuple[str, str, int, str, int]


@dataclass(frozen=True)
class LogBatch:
    """Prediction rows (dicts of `predictions`' columns, without id) and bin counts to add."""

    rows: list[dict]
    bins: Mapping[BinKey, int]


def _add_counts(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(feature_bins)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in feature_bins.primary_key.columns],
        set_={"count": feature_bins.c["count"] + statement.excluded["count"]},
    )


def _bound_rows(names: Sequence[str], count: int) -> list[dict]:
    """`count` rows of bind parameters, as `PreparedRows` binds them (`name_i`)."""
    return [{name: bindparam(f"{name}_{i}") for name in names} for i in range(count)]


class PredictionLog:
    """The log's tables in the service store; creating one creates them if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)
        # Many rows to a statement: a batch of scores is a few statements, not one per row.
        row_names = [c.name for c in predictions.columns if c.name != "id"]
        self._insert = PreparedRows(
            self.engine, lambda count: insert(predictions).values(_bound_rows(row_names, count))
        )
        bin_names = [c.name for c in feature_bins.columns]
        dialect = self.engine.dialect.name
        self._add = PreparedRows(
            self.engine, lambda count: _add_counts(dialect).values(_bound_rows(bin_names, count))
        )

    def write(self, batches: Sequence[LogBatch]) -> None:
        """Append the batches' rows and add their bin counts, in one transaction."""
        rows = [row for batch in batches for row in batch.rows]
        counts: dict[BinKey, int] = {}
        for batch in batches:
            for key, count in batch.bins.items():
                counts[key] = counts.get(key, 0) + count
        if not rows and not counts:
            return
        names = [c.name for c in feature_bins.columns]
        bin_rows = [dict(zip(names, (*key, count), strict=True)) for key, count in sorted(counts.items())]

        def write() -> None:
            with writing(self.engine) as cursor:  # compiled once; rows go straight to the driver
                self._insert.write(cursor, rows)
                self._add.write(cursor, bin_rows)

        with_retries(write)

    def purge(self, before_day: int) -> int:
        """Delete predictions and bin counts of days before `before_day`; returns predictions deleted."""

        def write() -> int:
            with write_transaction(self.engine) as connection:
                deleted = connection.execute(delete(predictions).where(predictions.c.scored_day < before_day))
                connection.execute(delete(feature_bins).where(feature_bins.c.day < before_day))
                return deleted.rowcount or 0

        return with_retries(write)

    def predictions(
        self, task: str, since_day: int | None = None, events_from: int | None = None
    ) -> pd.DataFrame:
        """The task's logged predictions (segments parsed into columns `segment_<name>`), scored from
        `since_day` on and of records whose day (a visit's, a claim's service) is `events_from` or
        later, when given."""
        c = predictions.c
        query = select(predictions).where(c.task == task).order_by(c.id)
        if since_day is not None:
            query = query.where(c.scored_day >= since_day)
        if events_from is not None:
            query = query.where(c.event_day >= events_from)
        with self.engine.connect() as connection:
            frame = pd.DataFrame(
                connection.execute(query).mappings().all(), columns=[c.name for c in predictions.columns]
            )
        segments = pd.DataFrame([json.loads(s) if s else {} for s in frame["segments"]], index=frame.index)
        return frame.drop(columns=["segments"]).join(segments.add_prefix("segment_"))

    def bin_counts(self, task: str, since_day: int | None = None) -> pd.DataFrame:
        """Counts per (model_version, day, feature, bin) for the task."""
        c = feature_bins.c
        query = select(c.model_version, c.day, c.feature, c.bin, c["count"]).where(c.task == task)
        if since_day is not None:
            query = query.where(c.day >= since_day)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return pd.DataFrame(rows, columns=["model_version", "day", "feature", "bin", "count"])
