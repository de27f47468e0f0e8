"""`careops train ... --dask`: lightgbm.dask on a distributed.LocalCluster, logged and registered."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from typer.testing import CliRunner

from cli import app
from data.loaders.canonical import claims_for_file, load_appointments, load_claims
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from models.pyfunc import load_registered
from models.tasks import caller_records, get_task
from serving.app import create_app
from tests.helpers import ADMIN, make_settings
from training.train import train


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A temporary MLflow store (its URI), artifact folder and service database for the CLI."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("CAREOPS_ARTIFACT_LOCATION", str(tmp_path / "artifacts"))
    monkeypatch.setenv("CAREOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    return uri


def test_train_on_a_local_cluster(tmp_path: Path, tracking: str) -> None:
    data = write_table(generate_appointments(8_000, seed=101), tmp_path / "appointments.csv")
    result = CliRunner().invoke(app, ["train", "noshow", "--data", str(data), "--dask", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "registered noshow version 1, now @champion" in result.output

    client = MlflowClient(tracking_uri=tracking)
    version = client.get_model_version_by_alias("noshow", "champion")
    run = client.get_run(version.run_id)
    assert run.data.params["distributed"] == "True"
    metrics = run.data.metrics
    assert metrics["holdout_roc_auc"] >= 0.95 * metrics["oracle_roc_auc"]
    assert metrics["holdout_ece"] < 0.05

    mlflow.set_tracking_uri(tracking)
    model = load_registered("models:/noshow@champion")
    probabilities = model.trained.predict_frame(load_appointments(data).valid)
    assert len(probabilities) == 8_000 and ((probabilities > 0) & (probabilities < 1)).all()


def test_train_with_an_unreachable_scheduler_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_table(generate_appointments(200, seed=102), tmp_path / "appointments.csv")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    monkeypatch.setenv("CAREOPS_DASK_CONNECT_TIMEOUT_SECONDS", "2")
    result = CliRunner().invoke(
        app, ["train", "noshow", "--data", str(data), "--dask", "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert result.exit_code == 2 and "no Dask scheduler answered" in result.output


def test_train_denials_on_a_local_cluster(tmp_path: Path, tracking: str) -> None:
    data = write_table(claims_for_file(generate_claims(8_000, seed=102)), tmp_path / "claims.csv")
    result = CliRunner().invoke(app, ["train", "denial", "--data", str(data), "--dask", "--workers", "2"])
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=tracking)
    metrics = client.get_run(client.get_model_version_by_alias("denial", "champion").run_id).data.metrics
    assert metrics["holdout_roc_auc"] >= 0.95 * metrics["oracle_roc_auc"]
    assert (
        client.get_run(client.get_model_version_by_alias("denial", "champion").run_id).data.params[
            "distributed"
        ]
        == "True"
    )
    mlflow.set_tracking_uri(tracking)
    trained = load_registered("models:/denial@champion").trained
    assert trained.claim_history is not None and trained.claim_history.prior_denial_rate > 0
    assert trained.reasons is not None and trained.lines is not None

    # The same file trained in-process: the two champions answer the API with the same capabilities.
    local = make_settings(tmp_path / "in-process")
    train("denial", data, local)
    body = {"claims": caller_records(get_task("denial"), load_claims(data).valid.tail(20))}
    answers = []
    for settings in (make_settings(tmp_path, tracking_uri=tracking), local):
        with TestClient(create_app(settings)) as api:
            response = api.post("/v1/denial/score", json=body, headers=ADMIN)
            assert response.status_code == 200, response.text
            answers.append(response.json()["predictions"])
    distributed, in_process = answers
    for mine, theirs in zip(distributed, in_process, strict=True):
        assert mine.keys() == theirs.keys() and mine["claim_id"] == theirs["claim_id"]
        assert len(mine["reasons"]) == len(theirs["reasons"]) == 3
        assert [r.keys() for r in mine["reasons"]] == [r.keys() for r in theirs["reasons"]]
        assert len(mine["lines"]) == len(theirs["lines"]) > 0
        for line, other in zip(mine["lines"], theirs["lines"], strict=True):
            assert line.keys() == other.keys()
            assert (line["rules_broken"], line["recommended_fixes"]) == (
                other["rules_broken"],
                other["recommended_fixes"],
            )
            assert 0 <= line["denial_probability"] <= 1
        assert mine["denial_probability"] <= min(line["denial_probability"] for line in mine["lines"]) + 1e-12
