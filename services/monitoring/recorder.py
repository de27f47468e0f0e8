"""The serving side of the prediction log: requests hand their scores over and never wait for it.

A request appends what it scored to a queue and goes on. A thread wakes every `flush_seconds` and
passes the queue to the log's writer process (`services.monitoring.log_writer`), up to
`SEND_BATCH` hand-overs a pickled message. Rows, bin counts and the database writes all happen in
that process. The thread wakes often so that each wake's work is short: half a second's hand-overs
sent a message each made the thread take the interpreter lock back from the busy event loop after
every send (forced after `sys.getswitchinterval()`), and the requests in flight waited each time.
When too many hand-overs are pending one is dropped and counted, never waited for; if the writer
process dies, what it held is lost and counted, and another is started.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from services.monitoring import log_writer
from services.monitoring.log_rows import ScoredBatch
from services.monitoring.log_store import PredictionLog
from services.monitoring.pseudonyms import pseudonyms
from services.processes import fork_server

logger = logging.getLogger("careops.monitoring")

ANSWER_TIMEOUT_SECONDS = 30.0
SEND_BATCH = 64  # hand-overs a message: one pickling of them holds the lock well under a millisecond
_open: weakref.WeakSet[PredictionRecorder] = weakref.WeakSet()
_closing_at_exit: list[bool] = []  # holds True once the exit hook is registered


def _close_open_recorders() -> None:
    """At interpreter exit, before multiprocessing stops the writer processes: a recorder nobody
    closed writes what it holds and stops its writer, rather than lose it and start another."""
    for recorder in list(_open):
        recorder.close()


class PredictionRecorder:
    """Queues hand-overs for the log's writer process; `dropped` counts any that were lost."""

    def __init__(
        self,
        log: PredictionLog,
        key: bytes,
        fields: dict[str, tuple[str, str, Sequence[str]]],
        retention_days: int | None = None,
        max_pending: int = 10_000,
        flush_seconds: float = 0.02,
    ) -> None:
        """`log` is read here and written by the writer process; `fields` gives, per task, its id
        field, time field and segment names. The writer purges what is older than `retention_days`."""
        self.log, self._key = log, key
        url = log.engine.url.render_as_string(hide_password=False)  # the writer opens its own engine
        self._writer_args = (url, key, fields, retention_days)
        self.flush_seconds, self.max_pending = flush_seconds, max_pending
        self._lost = 0  # records dropped here, and those lost with a writer that died
        self._sent = 0  # records sent to the running writer
        self._reported = (0, 0, 0)  # that writer's own counts: rows written, records dropped, taken in
        self._before = (0, 0)  # rows written and records dropped by the writers before it
        self._tokens = itertools.count()
        self._answers: dict[int, threading.Event] = {}
        self._pending: deque[ScoredBatch | threading.Event] = deque()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._process, self._channel = self._start_writer()
        self._profiles: set[tuple[str, str]] = set()  # versions whose profile the writer holds
        self._thread = threading.Thread(target=self._run, name="careops-prediction-log", daemon=True)
        self._thread.start()
        _open.add(self)
        if not _closing_at_exit:
            atexit.register(_close_open_recorders)
            _closing_at_exit.append(True)

    @property
    def written(self) -> int:
        """Rows written to the log so far (as the writer last reported)."""
        return self._before[0] + self._reported[0]

    @property
    def dropped(self) -> int:
        """Records that never reached the log: dropped when too many were pending, lost with a
        writer process, or in a failed write."""
        return self._lost + self._before[1] + self._reported[1]

    @property
    def writer_pid(self) -> int | None:
        """The process id of the log's writer process."""
        return self._process.pid

    def probabilities_of(
        self, task: str, record_ids: list[str], events_from: int | None = None
    ) -> dict[str, float]:
        """The latest logged probability of each of these records (by id) that the log holds (of
        those whose day is `events_from` or later, when given)."""
        logged = self.log.predictions(task, events_from=events_from)
        if logged.empty:
            return {}
        latest = logged.drop_duplicates("record_key", keep="last").set_index("record_key")["probability"]
        keys = pseudonyms(self._key, record_ids)
        return {i: float(latest[k]) for i, k in zip(record_ids, keys, strict=True) if k in latest.index}

    def record(self, scored: ScoredBatch) -> None:
        """Hand a scored batch over; returns at once."""
        if len(self._pending) >= self.max_pending:
            self._lost += len(scored.records)
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
        """Write what is pending, then stop the thread and the writer process."""
        _open.discard(self)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=ANSWER_TIMEOUT_SECONDS + 5)
        self.log.engine.dispose()

    def _start_writer(self) -> tuple[BaseProcess, Connection]:
        context = fork_server()
        ours, theirs = context.Pipe()
        process = context.Process(
            target=log_writer.run,
            args=(theirs, *self._writer_args),
            name="careops-prediction-log",
            daemon=True,
        )
        process.start()
        theirs.close()  # the writer holds its own end; when ours closes it sees the end of input
        return process, ours

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            stopping = self._stop.is_set()  # read before the queue is taken: nothing comes after it
            asked = False
            batch: list[ScoredBatch] = []
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, threading.Event):
                    self._pass(batch)
                    batch = []
                    asked = self._ask("flush", item) or asked
                    continue
                batch.append(item)
                if len(batch) == SEND_BATCH:
                    self._pass(batch)
                    batch = []
            self._pass(batch)
            self._read_answers(wait=asked)
            if stopping and not self._pending:
                self._ask("stop", threading.Event())
                self._read_answers(wait=True)
                self._process.join(timeout=5)
                if self._process.is_alive():
                    self._process.terminate()
                self._channel.close()
                return

    def _pass(self, batch: list[ScoredBatch]) -> None:
        """Send hand-overs in one message (and each version's profile, the first time)."""
        if not batch:
            return
        records = sum(len(item.records) for item in batch)
        try:
            for item in batch:
                version = (item.task, item.version)
                if version not in self._profiles:
                    self._channel.send(("profile", version, item.profile))
                    self._profiles.add(version)
            self._channel.send(("scored", [replace(item, profile=None) for item in batch]))
            self._sent += records
        except OSError:
            self._lost += records
            self._writer_lost()

    def _ask(self, kind: str, done: threading.Event) -> bool:
        """Send a flush or stop; `done` is set when the writer has answered it. False if it could not."""
        token = next(self._tokens)
        try:
            self._channel.send((kind, token))
        except OSError:
            self._writer_lost()
            done.set()
            return False
        self._answers[token] = done
        return True

    def _read_answers(self, wait: bool) -> None:
        """Take in the writer's answers; with `wait`, until every flush asked for is answered."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        try:
            while self._channel.poll(max(0.0, deadline - time.monotonic()) if wait and self._answers else 0):
                _, token, *counts = self._channel.recv()
                self._reported = tuple(counts)
                if token is not None and token in self._answers:
                    self._answers.pop(token).set()
                if time.monotonic() >= deadline:
                    break
        except (EOFError, OSError):
            self._writer_lost()

    def _writer_lost(self) -> None:
        """The writer process died: count what it had not taken in as lost, release the waiting, and
        start another."""
        self._process.join(timeout=1)
        logger.error("prediction log writer exited (code %s); starting another", self._process.exitcode)
        written, dropped, handled = self._reported
        self._lost += max(0, self._sent - handled)
        self._before = (self._before[0] + written, self._before[1] + dropped)
        self._reported, self._sent = (0, 0, 0), 0
        for done in self._answers.values():
            done.set()
        self._answers.clear()
        self._channel.close()
        self._profiles.clear()
        if not self._stop.is_set():
            self._process, self._channel = self._start_writer()
