"""The whole system: `careops serve` as a real uvicorn process, called over HTTP on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bodies import bodies, free_port
from tests.helpers import API_KEYS, BILLER, SCHEDULER, TrainedStore
from tests.processes import wait_until_ready

pytestmark = pytest.mark.e2e
START_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def server(
    trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("serve")
    log_path = workdir / "server.log"
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri,
        "CAREOPS_API_KEYS": API_KEYS,
    }
    careops = Path(sys.executable).parent / "careops"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(careops), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base}/health/ready", START_TIMEOUT_SECONDS, log_path.read_text)
        yield base, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert not (workdir / "mlflow.db").exists(), (
        "the server must use MLFLOW_TRACKING_URI, not a default store"
    )


def test_scores_both_tasks_and_enforces_auth_and_validation(
    server: tuple[str, Path], trained_store: TrainedStore
) -> None:
    base, log_path = server
    body = bodies(trained_store, rows=3)
    with httpx.Client(base_url=base, timeout=30) as http:
        noshow = http.post("/v1/noshow/score", json=body["noshow"], headers=SCHEDULER)
        denial = http.post("/v1/denial/score", json=body["denial"], headers=BILLER)
        assert noshow.status_code == 200 and denial.status_code == 200
        assert [p["appointment_id"] for p in noshow.json()["predictions"]] == [
            a["appointment_id"] for a in body["noshow"]["appointments"]
        ]
        for prediction in noshow.json()["predictions"]:
            assert 0 < prediction["no_show_probability"] < 1 and prediction["model_version"] == "1"
        for prediction in denial.json()["predictions"]:
            assert 0 < prediction["denial_probability"] < 1 and prediction["model_version"] == "1"

        sent = {c["claim_id"]: c for c in body["denial"]["claims"]}
        for prediction in denial.json()["predictions"]:
            assert len(prediction["reasons"]) == 3 and prediction["reasons"][0]["recommended_fix"]
            lines = prediction["lines"]
            assert [line["procedure_code"] for line in lines] == [
                line["procedure_code"] for line in sent[prediction["claim_id"]]["service_lines"]
            ]
            assert all(0 < line["denial_probability"] < 1 for line in lines)
        worklist = http.post("/v1/denial/worklist", json=body["denial"] | {"limit": 2}, headers=BILLER)
        assert worklist.status_code == 200 and len(worklist.json()["items"]) == 2
        ranked = [item["dollars_at_risk"] for item in worklist.json()["items"]]
        assert ranked == sorted(ranked, reverse=True)

        assert http.post("/v1/noshow/score", json=body["noshow"]).status_code == 401
        assert http.post("/v1/denial/score", json=body["denial"], headers=SCHEDULER).status_code == 403
        body["noshow"]["appointments"][0]["duration_minutes"] = -5
        invalid = http.post("/v1/noshow/score", json=body["noshow"], headers=SCHEDULER)
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["field"] == "appointments[0].duration_minutes"
        assert http.get("/docs").status_code == 200

    server_log = log_path.read_text()
    assert "loaded model noshow version 1" in server_log
    patient_ids = [a["patient_id"] for a in body["noshow"]["appointments"]]
    patient_ids += [c["patient_id"] for c in body["denial"]["claims"]]
    assert not [pid for pid in patient_ids if pid in server_log]
