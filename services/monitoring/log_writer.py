"""The prediction log's writer: a process of its own that turns hand-overs into rows and writes them.

Building a row (pseudonyms, segments, bin counts) and inserting it is pure CPU that would hold the
serving process's interpreter lock, about 13 µs a record (20 before a write took its hand-overs
together, 30 before that); in a thread beside the requests it kept
them waiting. In its own process it runs on the other core, and the serving process only pickles
each hand-over (about 3 µs a record). See `services.monitoring.recorder` for the serving side.

Messages from the recorder, in order, are tuples:
- `("profile", (task, version), profile)`: the reference profile that version's hand-overs use;
- `("scored", [ScoredBatch, ...])`: hand-overs, without their profiles;
- `("flush", token)`: write what came before, then answer `("done", token, written, dropped,
  handled)`: rows written, records of failed writes, records taken in;
- `("stop", token)`: the same, then exit.
The writer also answers `("done", None, ...)` after writing, at most every
`REPORT_SECONDS`, so that the recorder's counts stay current. It exits when the recorder's end of
the pipe closes, after writing what it holds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection

import pandas as pd

from data.epoch import day_number
from services.monitoring.log_rows import ScoredBatch, bin_counts, frame_log_rows, log_rows
from services.monitoring.log_store import BinKey, LogBatch, PredictionLog
from services.monitoring.reference import ReferenceProfile

logger = logging.getLogger("careops.monitoring")

# Rows per write transaction. SQLite has one write lock per file, and the bookings of the serving
# process wait on it, so a flush written at once would hold a booking for tens of milliseconds.
WRITE_CHUNK_ROWS = 64
REPORT_SECONDS = 0.5
MAX_ITEMS_PER_WRITE = 2_000
WRITE_DELAY_SECONDS = 0.25  # the recorder sends every few ms; rows are written in fewer, larger writes
NICENESS = 10  # added to the serving process's


class LogWriter:
    """Writes hand-overs to the log in short transactions; purges old days once a day."""

    def __init__(
        self, log: PredictionLog, key: bytes, fields: dict[str, tuple[str, str, Sequence[str]]],
        retention_days: int | None = None,
    ) -> None:  # fmt: skip
        """`fields` gives, per task, its id field, time field and segment names."""
        self.log, self._key, self.fields = log, key, fields
        self.retention_days, self._purged_day = retention_days, None
        self.written = 0  # rows
        self.dropped = 0  # records of failed writes
        self.handled = 0  # records taken in, written or not

    def write(self, items: Sequence[ScoredBatch]) -> None:
        """Write the hand-overs' rows and add their bin counts; a failure drops them, counted."""
        if not items:
            return
        self.handled += sum(len(item.records) for item in items)
        try:
            # Hand-overs of one model version share their fields and their reference bins: their
            # rows are built in one pass and their inputs counted in another.
            groups: dict[tuple[str, str], list[ScoredBatch]] = {}
            for item in items:
                groups.setdefault((item.task, item.version), []).append(item)
            rows: list[dict] = []
            counts: dict[BinKey, int] = {}
            for (task, _), group in groups.items():
                id_field, time_field, segments = self.fields[task]
                group_rows, days = log_rows(group, self._key, segments, id_field, time_field)
                rows += group_rows
                counts.update(bin_counts(group, days))
            # Rows in short transactions, the bin counts with the last: a crash between them loses
            # at most what this write held, as a crash before it would.
            for start in range(0, max(len(rows), 1), WRITE_CHUNK_ROWS):
                last = start + WRITE_CHUNK_ROWS >= len(rows)
                chunk = rows[start : start + WRITE_CHUNK_ROWS]
                self.log.write([LogBatch(chunk, counts if last else {})])
                self.written += len(chunk)
        except Exception as error:  # the log must never take the service down; no values in the message
            self.dropped += sum(len(item.records) for item in items)
            logger.error("prediction log write failed: %s", type(error).__name__)

    def write_table(self, task: str, version: str, scored: pd.DataFrame, probability_field: str) -> None:
        """Write a batch run's scores (see `frame_log_rows`) in one transaction; a failure raises."""
        rows = frame_log_rows(task, version, self._key, scored, self.fields[task][0], probability_field)
        self.log.write([LogBatch(rows, {})])
        self.written += len(rows)

    def purge(self) -> None:
        """Once a day, delete what is older than the retention."""
        today = int(day_number(time.time()))
        if self.retention_days is None or self._purged_day == today:
            return
        self._purged_day = today
        try:
            self.log.purge(today - self.retention_days)
        except Exception as error:
            logger.error("prediction log purge failed: %s", type(error).__name__)


def _answer(channel: Connection, token: int | None, writer: LogWriter) -> bool:
    """Tell the recorder the counts so far; False when it is gone."""
    try:
        channel.send(("done", token, writer.written, writer.dropped, writer.handled))
    except OSError:
        return False
    return True


def run(
    channel: Connection, url: str, key: bytes, fields: dict[str, tuple[str, str, Sequence[str]]],
    retention_days: int | None,
) -> None:  # fmt: skip
    """The writer process: write what the recorder sends until it says stop or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the service, which then stops this
    with contextlib.suppress(OSError):
        # Requests come first: on a busy machine the log's writing waits for an idle moment, and
        # the queue in front of it absorbs the difference.
        os.nice(NICENESS)
    log = PredictionLog(url)
    writer = LogWriter(log, key, fields, retention_days)
    profiles: dict[tuple[str, str], ReferenceProfile] = {}
    items: list[ScoredBatch] = []
    since = 0.0  # when the oldest of `items` came
    reported = 0.0
    try:
        while True:
            stopping = False
            try:
                # What has come is written once it is WRITE_DELAY_SECONDS old: one write for a burst.
                wait = None if not items else max(0.0, since + WRITE_DELAY_SECONDS - time.monotonic())
                while len(items) < MAX_ITEMS_PER_WRITE and channel.poll(wait):
                    wait = 0
                    kind, *body = channel.recv()
                    if kind == "profile":
                        profiles[body[0]] = body[1]
                    elif kind == "scored":
                        since = since if items else time.monotonic()
                        items += [replace(i, profile=profiles.get((i.task, i.version))) for i in body[0]]
                    else:  # flush or stop: what came before is written before the answer
                        writer.write(items)
                        writer.purge()
                        items = []
                        stopping = not _answer(channel, body[0], writer) or kind == "stop"
                        if stopping:
                            break
            except (EOFError, OSError):  # the recorder is gone: write what came, then exit
                stopping = True
            young = items and time.monotonic() - since < WRITE_DELAY_SECONDS
            if young and not stopping and len(items) < MAX_ITEMS_PER_WRITE:
                continue
            writer.write(items)
            wrote, items = bool(items), []
            if stopping:
                return
            writer.purge()
            if wrote and time.monotonic() - reported >= REPORT_SECONDS:
                reported = time.monotonic()
                if not _answer(channel, None, writer):
                    return
    finally:
        log.engine.dispose()
