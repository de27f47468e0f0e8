"""A registered version loads and scores where careops is not installed: in an environment made
from the version's own requirements.txt alone, beside another project's `models` and `data`, and
under `mlflow models serve`, with the probabilities careops's own pyfunc gives."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path

import httpx
import mlflow
import mlflow.artifacts
import numpy as np
import pandas as pd
import pytest

from models.pyfunc import load_registered
from models.tasks import caller_records, get_task
from tests.bodies import free_port
from tests.helpers import TrainedStore
from tests.model_env import model_environment
from tests.processes import running

pytestmark = pytest.mark.e2e
ROWS = 1_000
TASKS = ("noshow", "denial")

# Run with `python -I` (no PYTHONPATH, no current folder on the path) in the version's environment.
STANDALONE = """
import importlib.util, json, sys
from importlib import metadata
decoy, jobs, out = sys.argv[1:]
ours = ["models", "data", "features", "serving", "services", "careops_model"]
assert [name for name in ours if importlib.util.find_spec(name)] == [], "careops is on the path"
assert "careops" not in {d.metadata["Name"] for d in metadata.distributions()}, "careops is installed"
sys.path.insert(0, decoy)
import data, models  # another project's packages of these common names, imported first
import mlflow
from mlflow.utils.proto_json_utils import dataframe_from_parsed_json
result = {"decoys": [models.OWNER, data.OWNER]}
for name, path, rows in json.loads(jobs):
    model = mlflow.pyfunc.load_model(path)
    frame = dataframe_from_parsed_json(json.load(open(rows)), "records", model.metadata.get_input_schema())
    result[name] = model.predict(frame).to_dict(orient="list")
json.dump(result, open(out, "w"))
"""


def _with_flags(records: list[dict]) -> list[dict]:
    """The synthetic rows leave the optional flags unknown: give them known values too."""
    flags, counts = cycle([True, False, None]), cycle([0, 1, None])
    for record in records:
        for flag in ("welfare_enrolled", "hypertension", "diabetes", "alcoholism"):
            if flag in record:
                record[flag] = next(flags)
        if "handicap_count" in record:
            record["handicap_count"] = next(counts)
    return records


@pytest.fixture(scope="module")
def versions(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each champion's artifacts, as a registry hands them to another platform."""
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    root = tmp_path_factory.mktemp("versions")
    return {
        name: Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion", dst_path=str(root / name)))
        for name in TASKS
    }


@pytest.fixture(scope="module")
def environment(versions: dict[str, Path]) -> Path:
    requirements = {(folder / "requirements.txt").read_text(encoding="utf-8") for folder in versions.values()}
    assert len(requirements) == 1, requirements
    return model_environment(versions["noshow"] / "requirements.txt")


@pytest.fixture(scope="module")
def rows(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """ROWS records per task as JSON bodies carry them (no labels)."""
    out = {}
    for name, path in (("noshow", trained_store.appointments), ("denial", trained_store.claims)):
        task = get_task(name)
        out[name] = _with_flags(caller_records(task, task.load(path).valid.tail(ROWS)))
    return out


def _careops_probabilities(task_name: str, records: list[dict]) -> np.ndarray:
    """careops's own pyfunc (its installed code over the version's data files) on the same records."""
    predicted = load_registered(f"models:/{task_name}@champion").predict(None, pd.DataFrame(records))
    return predicted[get_task(task_name).probability_field].to_numpy()


def test_each_champion_scores_from_its_own_requirements_beside_other_models_and_data_packages(
    versions: dict[str, Path], environment: Path, rows: dict[str, list[dict]], tmp_path: Path
) -> None:
    decoy = tmp_path / "elsewhere"
    for package in ("models", "data"):
        (decoy / package).mkdir(parents=True)
        (decoy / package / "__init__.py").write_text(f'OWNER = "another project\'s {package}"\n')
    jobs = []
    for name in TASKS:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(rows[name]), encoding="utf-8")
        jobs.append((name, str(versions[name]), str(path)))
    script, out = tmp_path / "standalone.py", tmp_path / "out.json"
    script.write_text(STANDALONE, encoding="utf-8")
    completed = subprocess.run(
        [str(environment / "bin" / "python"), "-I", str(script), str(decoy), json.dumps(jobs), str(out)],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["decoys"] == ["another project's models", "another project's data"]
    for name in TASKS:
        task = get_task(name)
        assert result[name][task.id_column] == [r[task.id_column] for r in rows[name]]
        theirs = np.array(result[name][task.probability_field])
        ours = _careops_probabilities(name, rows[name])
        assert len(theirs) == ROWS and np.isfinite(theirs).all()
        assert np.abs(theirs - ours).max() <= 1e-9


@pytest.fixture(scope="module", params=TASKS)
def served(
    request: pytest.FixtureRequest, versions: dict[str, Path], environment: Path, tmp_path_factory
) -> Iterator[tuple[str, str]]:
    """`mlflow models serve --env-manager local` from the version's environment, on a free port."""
    name, port = request.param, free_port()
    folder = tmp_path_factory.mktemp("serve")
    serve = ["models", "serve", "-m", str(versions[name]), "--env-manager", "local"]
    command = [str(environment / "bin" / "mlflow"), *serve, "-h", "127.0.0.1", "-p", str(port)]
    base = f"http://127.0.0.1:{port}"
    path = f"{environment / 'bin'}{os.pathsep}{os.environ['PATH']}"
    with running(
        command,
        f"{base}/ping",
        180,
        folder / "serve.log",
        cwd=folder,
        env={"PATH": path, "HOME": str(folder)},
    ):
        yield name, base


def test_mlflow_serve_from_that_environment_gives_the_same_probabilities(
    served: tuple[str, str], rows: dict[str, list[dict]]
) -> None:
    name, base = served
    task = get_task(name)
    response = httpx.post(f"{base}/invocations", json={"dataframe_records": rows[name]}, timeout=300)
    assert response.status_code == 200, response.text[:2000]
    predictions = response.json()["predictions"]
    assert [p[task.id_column] for p in predictions] == [r[task.id_column] for r in rows[name]]
    theirs = np.array([p[task.probability_field] for p in predictions])
    assert np.abs(theirs - _careops_probabilities(name, rows[name])).max() <= 1e-9


def test_a_body_that_breaks_the_signature_gets_mlflows_schema_error(
    served: tuple[str, str], rows: dict[str, list[dict]]
) -> None:
    name, base = served
    record = rows[name][0]
    number, required = ("patient_age", "starts_at") if name == "noshow" else ("total_charge", "service_date")
    cases = {
        "a string where a number belongs": [{**record, number: "forty"}],
        "a missing required column": [{k: v for k, v in record.items() if k != required}],
    }
    for case, body in cases.items():
        response = httpx.post(f"{base}/invocations", json={"dataframe_records": body}, timeout=60)
        assert response.status_code == 400, (case, response.text[:2000])
        message = response.json()["message"]
        assert number in message if "string" in case else f"missing inputs ['{required}']" in message
        assert "careops_model" not in response.text, (case, "the model's own code ran")
