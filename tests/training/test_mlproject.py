"""The data scientist's loop through MLflow Projects: `mlflow run . -e train_noshow --env-manager local`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from tests.helpers import make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_mlflow_run_trains_and_registers_a_version(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    data = write_table(generate_appointments(3_000, seed=71), tmp_path / "appointments.csv")
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.create_experiment("mlproject", artifact_location=str(tmp_path / "artifacts"))
    bin_dir = str(Path(sys.executable).parent)
    environment = {
        **os.environ,
        # Run as `.venv/bin/mlflow run` from a shell that never activated the venv: the entry point
        # must still find careops.
        "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != bin_dir),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "CAREOPS_DATABASE_URL": settings.database_url,
    }
    completed = subprocess.run(
        [
            f"{bin_dir}/mlflow",
            "run",
            str(ROOT),
            "-e",
            "train_noshow",
            "--env-manager",
            "local",
            "-P",
            f"data={data}",
            "--experiment-id",
            experiment,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    versions = client.search_model_versions("name='noshow'")
    assert [v.version for v in versions] == [1] or [str(v.version) for v in versions] == ["1"]
    run = client.get_run(versions[0].run_id)
    assert run.info.experiment_id == experiment
    assert run.data.params["data_file"] == "appointments.csv" and "holdout_roc_auc" in run.data.metrics
    assert run.data.tags["mlflow.project.entryPoint"] == "train_noshow"
