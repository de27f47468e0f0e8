"""One JSON line per request, with no identifier or submitted value in any log line, on every path."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from serving.app import create_app
from tests.bodies import APPOINTMENT, CLAIM
from tests.helpers import ADMIN, TrainedStore

MARKER = "ZQ8MARK"


class Everything(logging.Handler):
    """Every record any logger emits, fully formatted, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def request_lines(handler: Everything) -> list[dict]:
    prefix = "careops.requests "
    return [json.loads(line.split(" ", 2)[2]) for line in handler.lines if line.startswith(prefix)]


def marked_appointments(count: int, tag: str) -> list[dict]:
    return [
        {**APPOINTMENT, "appointment_id": f"{MARKER}-{tag}-{k}", "patient_id": f"{MARKER}-P{tag}"}
        for k in range(count)
    ]


def test_no_identifier_reaches_a_log_on_any_path(
    trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory, logs: Everything
) -> None:
    database = f"sqlite:///{tmp_path_factory.mktemp('request-log') / 'careops.db'}"
    settings = trained_store.settings.model_copy(update={"database_url": database})
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        # Success.
        ok = api.post("/v1/noshow/score", json={"appointments": marked_appointments(3, "ok")}, headers=ADMIN)
        assert ok.status_code == 200
        claim = {**CLAIM, "claim_id": f"{MARKER}-C1", "patient_id": f"{MARKER}-Q1"}
        assert api.post("/v1/denial/history", json={"claims": [claim]}, headers=ADMIN).status_code == 200
        # Validation errors, with the marker in the bad values themselves.
        bad = marked_appointments(2, "bad")
        bad[0]["patient_sex"] = MARKER
        bad[1]["starts_at"] = MARKER
        assert api.post("/v1/noshow/score", json={"appointments": bad}, headers=ADMIN).status_code == 422
        unknown = {"outcomes": [{"appointment_id": f"{MARKER}-never", "outcome": "attended"}]}
        assert api.post("/v1/noshow/outcomes", json=unknown, headers=ADMIN).status_code == 404
        # Contention: many writers at once.
        statuses: list[int] = []

        def write(worker: int) -> None:
            for round_ in range(3):
                body = {"appointments": marked_appointments(50, f"w{worker}-{round_}")}
                statuses.append(api.post("/v1/noshow/score", json=body, headers=ADMIN).status_code)

        workers = [threading.Thread(target=write, args=(k,)) for k in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert statuses == [200] * 18
        # A crash: the store's table is gone, so the write fails inside the database.
        engine = create_engine(database)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE careops_appointments"))
        engine.dispose()
        crash = api.post(
            "/v1/noshow/score", json={"appointments": marked_appointments(2, "crash")}, headers=ADMIN
        )
        assert crash.status_code == 500 and MARKER not in crash.text
        assert crash.json()["message"].startswith("internal error (request ")

    lines = request_lines(logs)
    assert [line for line in logs.lines if MARKER in line] == []
    statuses_logged = [line["status"] for line in lines]
    assert statuses_logged.count(200) >= 20 and {422, 404, 500} <= set(statuses_logged)
    first = lines[0]
    assert set(first) >= {"time", "request_id", "method", "route", "status", "latency_ms", "records", "model"}
    assert first["route"] == "/v1/noshow/score" and first["records"] == 3 and first["model"] == "noshow/1"
    assert ok.headers["X-Request-ID"] == first["request_id"]
    crashed = [line for line in lines if line["status"] == 500]
    assert crashed[0]["error"] == "OperationalError" and crashed[0]["request_id"] in crash.text
