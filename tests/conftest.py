"""Shared fixtures: synthetic files, a real temporary MLflow store with both models, the app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient

from config import Settings
from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from serving.app import create_app
from training.train import TrainResult, train

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
POSTGRES_ENV = (
    "CAREOPS_TEST_POSTGRES_URL"  # e.g. postgresql+psycopg://postgres@127.0.0.1:55432 (.ci/run sets it)
)
API_KEYS = "sched-key:scheduler,bill-key:biller,admin-key:admin"
SCHEDULER = {"X-API-Key": "sched-key"}
BILLER = {"X-API-Key": "bill-key"}
ADMIN = {"X-API-Key": "admin-key"}


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a store under `root`, ignoring any .env file and ambient variables."""
    values: dict[str, object] = {
        "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
        "artifact_location": str(root / "artifacts"),
        "database_url": f"sqlite:///{root / 'careops.db'}",
        "api_keys": API_KEYS,
        "train_threads": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def fresh_postgres_database() -> str:
    """A new, empty database on the test PostgreSQL server; returns its SQLAlchemy URL."""
    from sqlalchemy import create_engine, text

    base = os.environ[POSTGRES_ENV].rstrip("/")
    name = f"careops_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{base}/{name}"


def backend_settings(root: Path, backend: str, **overrides: object) -> Settings:
    """Settings whose MLflow store and appointment store live on `backend` (sqlite or postgresql)."""
    if backend == "postgresql":
        overrides = {
            "tracking_uri": fresh_postgres_database(),
            "database_url": fresh_postgres_database(),
        } | overrides
    return make_settings(root, **overrides)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The store backends lifecycle tests run on; PostgreSQL needs a server (.ci/run starts one)."""
    if request.param == "postgresql" and not os.environ.get(POSTGRES_ENV):
        reason = f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; .ci/run must start one")
        pytest.skip(reason)
    return request.param


@dataclass(frozen=True)
class TrainedStore:
    """A temporary MLflow store in which both tasks have a champion."""

    root: Path
    settings: Settings
    appointments: Path
    claims: Path
    results: dict[str, TrainResult]


@pytest.fixture(autouse=True)
def keep_tracking_uri() -> Iterator[None]:
    """A test that points MLflow at a store of its own leaves the next test's ambient store alone."""
    before = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(before)


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> TrainedStore:
    """Train both models once per session on seeded synthetic data."""
    root = tmp_path_factory.mktemp("store")
    appointments = write_table(generate_appointments(20_000, seed=7), root / "appointments.csv")
    claims = write_table(claims_for_file(generate_claims(20_000, seed=7)), root / "claims.csv")
    settings = make_settings(root)
    results = {
        "noshow": train("noshow", appointments, settings),
        "denial": train("denial", claims, settings),
    }
    return TrainedStore(root, settings, appointments, claims, results)


@pytest.fixture(scope="session")
def client(trained_store: TrainedStore) -> Iterator[TestClient]:
    """The app, started (models loaded) against the trained store."""
    with TestClient(create_app(trained_store.settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; skipped when absent on a user's clone, a failure in CI."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    reason = f"real data not found at {SHARED_DATA} (a fresh clone has no ../shared)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must provide it")
    pytest.skip(reason)
