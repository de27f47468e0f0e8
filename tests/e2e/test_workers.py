"""`careops serve --workers 2`: both workers take connections and score, keep the limits, follow the alias."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from tests.bodies import bodies, free_port
from tests.helpers import API_KEYS, SCHEDULER, TrainedStore, make_settings
from tests.processes import wait_until_ready
from training.train import train

pytestmark = pytest.mark.e2e


def test_two_workers_score_and_follow_the_alias(trained_store: TrainedStore, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    for seed in (91, 92):
        train(
            "noshow",
            write_table(generate_appointments(3_000, seed=seed), tmp_path / f"a{seed}.csv"),
            settings,
        )
    train("denial", trained_store.claims, settings)
    process, base, log = _serve_two_workers(
        tmp_path,
        settings.tracking_uri,
        settings.database_url,
        CAREOPS_RELOAD_INTERVAL_SECONDS="0.5",
        CAREOPS_MAX_BATCH="5",
    )
    body = bodies(trained_store, rows=3)["noshow"]
    headers = SCHEDULER
    try:
        wait_until_ready(process, f"{base}/health/ready", 120, log.read_text)
        with httpx.Client(base_url=base, timeout=30) as http:
            versions = {
                http.post("/v1/noshow/score", json=body, headers=headers).json()["model"]["version"]
                for _ in range(20)
            }
            assert versions == {"1"}
            too_many = {"appointments": bodies(trained_store, rows=6)["noshow"]["appointments"]}
            assert {
                http.post("/v1/noshow/score", json=too_many, headers=headers).status_code for _ in range(6)
            } == {413}
            MlflowClient(tracking_uri=settings.tracking_uri).set_registered_model_alias(
                "noshow", "champion", "2"
            )
            time.sleep(5)  # each worker's poller checks every 0.5 s
            answers = [http.post("/v1/noshow/score", json=body, headers=headers) for _ in range(20)]
            assert {r.status_code for r in answers} == {200}
            assert {r.json()["model"]["version"] for r in answers} == {"2"}
            # A pool of eight keep-alive connections opened at once is split evenly, four per worker.
            pool = [httpx.Client(base_url=base, timeout=30) for _ in range(8)]
            try:
                pooled = [connection.get("/health/live").headers["x-request-id"] for connection in pool]
            finally:
                for connection in pool:
                    connection.close()
            # A client with a pool of keep-alive connections reaches both workers, without stalls.
            for _ in range(16):
                with httpx.Client(base_url=base, timeout=30) as connection:
                    for _ in range(2):
                        assert connection.post("/v1/noshow/score", json=body, headers=headers).is_success
            pauses = []
            for _ in range(20):
                started = time.perf_counter()
                http.get("/health/live")
                pauses.append(time.perf_counter() - started)
            assert sorted(pauses)[10] < 0.02  # not the 40 ms of a delayed ACK (no TCP_NODELAY)
    finally:
        process.terminate()
        process.wait(timeout=30)
    pids = {
        line.split("[")[1].split("]")[0]
        for line in log.read_text().splitlines()
        if "Started server process" in line
    }
    assert len(pids) == 2
    requests = _request_lines(log)
    scored_by = {r["worker"] for r in requests if r["route"] == "/v1/noshow/score" and r["status"] == 200}
    assert scored_by == {int(pid) for pid in pids}
    worker_of = {r["request_id"]: r["worker"] for r in requests}
    assert sorted(Counter(worker_of[request_id] for request_id in pooled).values()) == [4, 4]


def test_a_worker_that_dies_is_replaced_and_new_connections_reach_it(
    trained_store: TrainedStore, tmp_path: Path
) -> None:
    tracking_uri, database_url = trained_store.settings.tracking_uri, f"sqlite:///{tmp_path / 'careops.db'}"
    process, base, log = _serve_two_workers(
        tmp_path, tracking_uri, database_url, CAREOPS_RELOAD_INTERVAL_SECONDS="0"
    )
    body = bodies(trained_store, rows=1)["noshow"]
    headers = SCHEDULER

    waits: list[float] = []

    def workers_serving(connections: int) -> set[int]:
        ids = []
        for _ in range(connections):  # a new connection each: they go to the workers in turn
            started = time.perf_counter()
            with httpx.Client(base_url=base, timeout=30) as http:
                answer = http.post("/v1/noshow/score", json=body, headers=headers)
            waits.append(time.perf_counter() - started)
            assert answer.status_code == 200
            ids.append(answer.headers["x-request-id"])
        deadline = time.monotonic() + 10
        while True:  # a worker writes a request's log line just after its answer
            worker_of = {line["request_id"]: line["worker"] for line in _request_lines(log)}
            if all(request_id in worker_of for request_id in ids) or time.monotonic() > deadline:
                return {worker_of[request_id] for request_id in ids}
            time.sleep(0.05)

    try:
        wait_until_ready(process, f"{base}/health/ready", 120, log.read_text)
        deadline = time.monotonic() + 120
        first: set[int] = set()
        while len(first) < 2:  # each worker takes connections once it has said it is ready
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            first |= workers_serving(2)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        while "starting another" not in log.read_text():  # the supervisor has seen it die
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        # While its replacement starts (loading the models takes seconds), new connections go to
        # the worker that is ready, and none waits for the one that is loading.
        waits.clear()
        while True:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            served = workers_serving(1)
            if _replacement_started(log.read_text()):  # it logs that before it says it is ready
                break
            assert served == first - {victim}
        assert waits and max(waits) < 1.5, waits
        after: set[int] = set()
        while len(after) < 2:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            after |= workers_serving(2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0
    assert victim not in after and (first - {victim}) < after


def _serve_two_workers(
    root: Path, tracking_uri: str, database_url: str, **variables: str
) -> tuple[subprocess.Popen, str, Path]:
    """`careops serve --workers 2` on a free port, its output in root/server.log: (process, URL, log)."""
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))},
        "MLFLOW_TRACKING_URI": tracking_uri,
        "CAREOPS_DATABASE_URL": database_url,
        "CAREOPS_API_KEYS": API_KEYS,
        **variables,
    }
    command = [str(Path(sys.executable).parent / "careops"), "serve", "--port", str(port), "--workers", "2"]
    log = root / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=root, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    return process, f"http://127.0.0.1:{port}", log


def _request_lines(log: Path) -> list[dict]:
    """The server's request lines written so far, leaving out one it is still writing."""
    text = log.read_text()
    complete = text[: text.rfind("\n") + 1]  # a read can land in the middle of a worker's write
    return [json.loads(line) for line in complete.splitlines() if line.startswith("{")]


def _replacement_started(log: str) -> bool:
    return "starting another" in log and "Application startup complete" in log.split("starting another", 1)[1]
