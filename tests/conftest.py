"""Shared fixtures: synthetic files, a real temporary MLflow store with both models, the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from serving.app import create_app
from tests.helpers import (
    TrainedStore,
    copy_sqlite,
    drop_test_databases,
    ensure_users,
    make_settings,
    require_postgres,
)
from training.train import train

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL databases this test process made (each xdist worker drops its own)."""
    drop_test_databases()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The store backends lifecycle tests run on; PostgreSQL needs a server (.ci/run starts one)."""
    if request.param == "postgresql":
        require_postgres()
    return request.param


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
    ensure_users(settings)
    as_trained = root / "careops-as-trained.db"  # for tests that need the store before any test wrote
    copy_sqlite(settings.database_url.removeprefix("sqlite:///"), as_trained)
    return TrainedStore(root, settings, appointments, claims, results, as_trained)


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
