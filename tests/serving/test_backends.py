"""Train, score and record outcomes with MLflow and the appointment store on each backend."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow
import pytest
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from models.pyfunc import load_registered
from models.tasks import caller_form, get_task
from serving.app import create_app
from tests.bodies import bodies
from tests.helpers import ADMIN, backend_settings
from training.train import train


def test_score_and_outcomes_on_each_backend(tmp_path_factory: pytest.TempPathFactory, backend: str) -> None:
    root = tmp_path_factory.mktemp(f"scoring-{backend}")
    settings = backend_settings(root, backend)
    appointments = write_table(generate_appointments(4_000, seed=81), root / "appointments.csv")
    claims = write_table(claims_for_file(generate_claims(3_000, seed=81)), root / "claims.csv")
    train("noshow", appointments, settings)
    train("denial", claims, settings)
    store = SimpleNamespace(appointments=appointments, claims=claims)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").status_code == 200
        for task_name in ("noshow", "denial"):
            task = get_task(task_name)
            table = task.load(appointments if task_name == "noshow" else claims).valid
            response = client.post(
                f"/v1/{task_name}/score", json=bodies(store, rows=30)[task_name], headers=ADMIN
            )
            assert response.status_code == 200
            mlflow.set_tracking_uri(settings.tracking_uri)
            model = load_registered(f"models:/{task_name}@champion")
            expected = model.predict(None, caller_form(task, table, with_labels=True)).tail(30)
            for mine, theirs in zip(
                response.json()["predictions"], expected[task.probability_field], strict=True
            ):
                assert abs(mine[task.probability_field] - theirs) <= 1e-9
        last = bodies(store, rows=1)["noshow"]["appointments"][0]["appointment_id"]
        outcome = {"outcomes": [{"appointment_id": last, "outcome": "cancelled"}]}
        assert client.post("/v1/noshow/outcomes", json=outcome, headers=ADMIN).json() == {
            "recorded": 1,
            "unchanged": 0,
        }
        assert client.post("/v1/noshow/outcomes", json=outcome, headers=ADMIN).json() == {
            "recorded": 0,
            "unchanged": 1,
        }
