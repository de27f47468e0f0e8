"""`mlflow models serve` takes canonical records and gives the same probabilities as our API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from models.tasks import caller_form, get_task
from serving.app import create_app
from tests.bodies import bodies, free_port
from tests.helpers import ADMIN, TrainedStore
from tests.processes import wait_until_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["noshow", "denial"])
def served(request: pytest.FixtureRequest, trained_store: TrainedStore) -> Iterator[tuple[str, str]]:
    task_name = request.param
    port = free_port()
    bin_dir = os.path.dirname(sys.executable)
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # the server starts `uvicorn`
    }
    mlflow = f"{bin_dir}/mlflow"
    process = subprocess.Popen(
        [
            mlflow,
            "models",
            "serve",
            "-m",
            f"models:/{task_name}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base}/ping", 120)
        yield task_name, base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_mlflow_serve_matches_the_api(served, trained_store: TrainedStore, tmp_path: Path) -> None:
    task_name, base = served
    task = get_task(task_name)
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    table = task.load(path).valid
    # The served pyfunc reads history from the rows it is given (batch mode): send the whole table.
    records = json.loads(
        caller_form(task, table, with_labels=True).to_json(orient="records", date_format="iso")
    )
    response = httpx.post(f"{base}/invocations", json={"dataframe_records": records}, timeout=300)
    assert response.status_code == 200, response.text[:2000]
    served_rows = response.json()["predictions"][-50:]

    # The API reads history from its store: one as training left it, as the served pyfunc's rows are.
    with TestClient(create_app(trained_store.store_as_trained(tmp_path))) as client:
        api = client.post(
            f"/v1/{task_name}/score", json=bodies(trained_store, rows=50)[task_name], headers=ADMIN
        )
    for mine, theirs in zip(api.json()["predictions"], served_rows, strict=True):
        assert mine[task.id_column] == theirs[task.id_column]
        assert abs(mine[task.probability_field] - theirs[task.probability_field]) <= 1e-9
