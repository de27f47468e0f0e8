"""Helpers shared by the tests: API keys per role, settings for a temporary store, the trained store."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from config import Settings
from services.monitoring.log_rows import ScoredBatch
from training.train import TrainResult

POSTGRES_ENV = (
    "CAREOPS_TEST_POSTGRES_URL"  # e.g. postgresql+psycopg://postgres@127.0.0.1:55432 (.ci/run sets it)
)
API_KEYS = "sched-key:scheduler,bill-key:biller,admin-key:admin"
SCHEDULER = {"X-API-Key": "sched-key"}
BILLER = {"X-API-Key": "bill-key"}
ADMIN = {"X-API-Key": "admin-key"}
PSEUDONYM_KEY = "test-pseudonym-key"


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a store under `root`, ignoring any .env file and ambient variables."""
    values: dict[str, object] = {
        "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
        "artifact_location": str(root / "artifacts"),
        "database_url": f"sqlite:///{root / 'careops.db'}",
        "api_keys": API_KEYS,
        "pseudonym_key": PSEUDONYM_KEY,
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


@dataclass(frozen=True)
class TrainedStore:
    """A temporary MLflow store in which both tasks have a champion."""

    root: Path
    settings: Settings
    appointments: Path
    claims: Path
    results: dict[str, TrainResult]


# A prediction log task with one segment, and hand-overs of bare records for it (see
# tests/monitoring/test_recorder.py, which also runs them in a process of their own).
LOG_FIELDS = {"noshow": ("appointment_id", "starts_at", ("clinic_id",))}
LOG_KEY = b"recorder-test-key"


def hand_over(*ids: str) -> ScoredBatch:
    """One no-show hand-over of records with these ids, each scored 0.25."""
    records = [SimpleNamespace(appointment_id=i, starts_at=None, clinic_id="C01") for i in ids]
    return ScoredBatch("noshow", "1", "api", records, np.full(len(ids), 0.25))
