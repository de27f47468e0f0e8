"""Hot reload: the API follows the champion alias without failing requests, and refuses broken versions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from serving.app import create_app
from tests.bodies import session_body
from tests.helpers import ADMIN, SCHEDULER, backend_settings
from training.train import train


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, backend: str):
    """A store with noshow v1 (champion), v2 (trained on other data) and v3 (its artifact corrupted)."""
    root = tmp_path_factory.mktemp("reload")
    settings = backend_settings(root, backend, reload_interval_seconds=0)
    for seed in (61, 62, 63):
        train("noshow", write_table(generate_appointments(3_000, seed=seed), root / f"a{seed}.csv"), settings)
    train("denial", write_table(claims_for_file(generate_claims(2_000, seed=61)), root / "c.csv"), settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    source = MlflowClient().get_model_version("noshow", "3").source
    model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=source))
    (model_dir / "artifacts" / "trained_model" / "booster.txt").write_text("not a model")
    return settings


def move_champion(settings, version: str) -> None:
    MlflowClient(tracking_uri=settings.tracking_uri).set_registered_model_alias("noshow", "champion", version)


def test_swap_under_load_then_refuse_a_corrupted_version(versions) -> None:
    settings = versions
    move_champion(settings, "1")
    body = {"appointments": [s["appointments"][0] for s in session_body(5, prefix="HR")["slots"]]}
    with TestClient(create_app(settings)) as client:
        before = client.post("/v1/noshow/score", json=body, headers=SCHEDULER).json()
        assert before["model"]["version"] == "1"
        failures, seen, stop = [], [], threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                response = client.post("/v1/noshow/score", json=body, headers=SCHEDULER)
                if response.status_code != 200:
                    failures.append(response.status_code)
                else:
                    seen.append(response.json()["model"]["version"])

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        move_champion(settings, "2")
        reloaded = client.post("/admin/reload", headers=ADMIN).json()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()

        assert failures == []
        assert reloaded["noshow"] == {"action": "loaded", "version": "2", "reason": None}
        assert reloaded["denial"]["action"] == "unchanged"
        assert {"1", "2"} <= set(seen) and seen[-1] == "2"
        after = client.post("/v1/noshow/score", json=body, headers=SCHEDULER).json()
        assert after["model"]["version"] == "2"
        assert [p["no_show_probability"] for p in after["predictions"]] != [
            p["no_show_probability"] for p in before["predictions"]
        ]

        move_champion(settings, "3")
        refused = client.post("/admin/reload", headers=ADMIN).json()["noshow"]
        assert refused["action"] == "refused" and refused["version"] == "3" and refused["reason"]
        still = client.post("/v1/noshow/score", json=body, headers=SCHEDULER)
        assert still.status_code == 200 and still.json()["model"]["version"] == "2"
        ready = client.get("/health/ready")
        assert ready.status_code == 200
        noshow = ready.json()["models"]["noshow"]
        assert noshow["version"] == "2" and noshow["refused_version"] == "3" and noshow["refused_reason"]
        assert client.post("/admin/reload", headers=SCHEDULER).status_code == 403


def test_the_poller_follows_the_alias(versions) -> None:
    settings = versions.model_copy(update={"reload_interval_seconds": 0.2})
    move_champion(settings, "1")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").json()["models"]["noshow"]["version"] == "1"
        move_champion(settings, "2")
        deadline = time.monotonic() + 30
        while client.get("/health/ready").json()["models"]["noshow"]["version"] != "2":
            assert time.monotonic() < deadline, "the poller did not pick up the new champion"
            time.sleep(0.1)


def test_a_refused_version_at_start_up_leaves_the_service_not_ready(versions) -> None:
    move_champion(versions, "3")
    with TestClient(create_app(versions)) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "version 3 refused" in ready.json()["models"]["noshow"]["error"]
    move_champion(versions, "1")
