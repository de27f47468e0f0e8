"""The recorder and the log's writer process: nothing handed over is lost silently."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.monitoring.log_store import PredictionLog
from services.monitoring.log_writer import WRITE_DELAY_SECONDS
from services.monitoring.pseudonyms import pseudonym
from services.monitoring.recorder import SEND_BATCH, PredictionRecorder
from tests.helpers import LOG_FIELDS, LOG_KEY, hand_over


def _logged(log: PredictionLog) -> set[str]:
    return set(log.predictions("noshow")["record_key"])


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def test_close_writes_what_was_handed_over(tmp_path: Path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    recorder = PredictionRecorder(log, LOG_KEY, LOG_FIELDS, flush_seconds=5.0)  # no timed write comes first
    recorder.record(hand_over("A1", "A2"))
    recorder.record(hand_over("A3"))
    recorder.close()
    assert recorder.written == 3 and recorder.dropped == 0
    reader = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    assert _logged(reader) == {pseudonym(LOG_KEY, i) for i in ("A1", "A2", "A3")}
    reader.engine.dispose()


def test_a_stream_of_hand_overs_is_all_written_without_a_flush(tmp_path: Path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    recorder = PredictionRecorder(log, LOG_KEY, LOG_FIELDS)
    ids = [f"S{i}" for i in range(3 * SEND_BATCH + 5)]  # more than one message's worth
    for i in ids:
        recorder.record(hand_over(i))
    deadline = time.monotonic() + 10 * WRITE_DELAY_SECONDS + 5
    while len(_logged(log)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _logged(log) == {pseudonym(LOG_KEY, i) for i in ids}
    recorder.close()
    assert recorder.written == len(ids) and recorder.dropped == 0


def test_a_writer_process_that_dies_is_replaced_and_its_loss_counted(tmp_path: Path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    recorder = PredictionRecorder(log, LOG_KEY, LOG_FIELDS, flush_seconds=0.05)
    recorder.record(hand_over("B1"))
    recorder.flush()
    assert recorder.written == 1
    first = recorder.writer_pid
    os.kill(first, signal.SIGKILL)
    assert _gone(first)
    recorder.record(hand_over("B2", "B3"))  # sent to the dead writer: lost, and counted
    recorder.flush()
    recorder.record(hand_over("B4"))
    recorder.flush()
    assert recorder.writer_pid != first
    assert _logged(log) == {pseudonym(LOG_KEY, "B1"), pseudonym(LOG_KEY, "B4")}
    assert recorder.written == 2 and recorder.dropped == 2
    recorder.close()


def test_hand_overs_beyond_the_bound_are_dropped_and_counted(tmp_path: Path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    recorder = PredictionRecorder(log, LOG_KEY, LOG_FIELDS, max_pending=2, flush_seconds=5.0)
    for i in range(5):
        recorder.record(hand_over(f"C{i}", f"C{i}x"))
    recorder.flush()
    assert recorder.written == 4 and recorder.dropped == 6
    recorder.close()


EXIT_WITHOUT_CLOSE = """
import sys
from tests.helpers import LOG_FIELDS, LOG_KEY, hand_over
from services.monitoring.log_store import PredictionLog
from services.monitoring.recorder import PredictionRecorder
recorder = PredictionRecorder(PredictionLog(sys.argv[1]), LOG_KEY, LOG_FIELDS, flush_seconds=5.0)
recorder.record(hand_over("D1", "D2"))
"""


def test_a_recorder_nobody_closed_writes_what_it_holds_at_exit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    done = subprocess.run(
        [sys.executable, "-c", EXIT_WITHOUT_CLOSE, url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "starting another" not in done.stderr
    log = PredictionLog(url)
    assert _logged(log) == {pseudonym(LOG_KEY, "D1"), pseudonym(LOG_KEY, "D2")}
    log.engine.dispose()
