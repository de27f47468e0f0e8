"""What the prediction log costs the request path: single-record /v1/noshow/score with it on and off.

Two servers (one worker each) run side by side on the make-run-sized store and take turns under
the same load, so a busy moment on the shared machine hits both alike.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from models.tasks import caller_records, get_task
from tests.benchmarks.load import load
from tests.benchmarks.servers import BIN, start
from tests.helpers import ADMIN

pytestmark = pytest.mark.bench
ROUNDS, SECONDS, CONCURRENCY = 4, 5.0, 8


def test_prediction_log_costs_under_ten_percent_of_throughput(store: tuple[Path, dict]) -> None:
    workdir, environment = store
    task = get_task("noshow")
    body = {"appointments": caller_records(task, task.load(workdir / "a.csv").valid.tail(1))}
    key = ADMIN
    command = [str(BIN / "careops"), "serve", "--host", "127.0.0.1", "--workers", "1"]
    logged = environment | {"CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'logged.db'}"}
    plain = environment | {
        "CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'plain.db'}",
        "CAREOPS_PREDICTION_LOG": "false",
    }
    on_rates, off_rates = [], []
    for on_port in start(command, workdir, logged, "/health/ready"):
        for off_port in start(command, workdir, plain, "/health/ready"):
            for _ in range(ROUNDS):
                on_rates.append(load(on_port, "/v1/noshow/score", body, key, CONCURRENCY, SECONDS).rps)
                off_rates.append(load(off_port, "/v1/noshow/score", body, key, CONCURRENCY, SECONDS).rps)
            time.sleep(1.0)  # the log's writer flushes twice a second
    on, off = sum(on_rates), sum(off_rates)
    engine = create_engine(f"sqlite:///{workdir / 'logged.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM careops_predictions")).scalar_one()
    engine.dispose()
    print(f"\nsingle record, c={CONCURRENCY}, {ROUNDS} alternating rounds of {SECONDS:.0f} s")
    print(f"  log on : {on / ROUNDS:8.1f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in on_rates)})")
    print(f"  log off: {off / ROUNDS:8.1f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in off_rates)})")
    print(f"  ratio on/off {on / off:.3f} (target >= 0.90); {rows} predictions logged")
    assert rows >= 0.95 * on * SECONDS  # every answered score was logged (a few may be in flight)
    assert on / off >= 0.90
