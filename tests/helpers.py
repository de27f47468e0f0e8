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
# Configured keys act as clients "configured-<role>"; they must hold 128 bits or more.
SCHED_KEY, BILL_KEY, ADMIN_KEY = (f"{role}-key-{'Q7c1Zx9' * 5}" for role in ("sched", "bill", "admin"))
API_KEYS = f"{SCHED_KEY}:scheduler,{BILL_KEY}:biller,{ADMIN_KEY}:admin"
SCHEDULER = {"X-API-Key": SCHED_KEY}
BILLER = {"X-API-Key": BILL_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
# Page users, one per role (the admin with a TOTP second factor), made by `ensure_users`.
USERS = {"scheduler": "sam", "biller": "bea", "admin": "ada"}
PASSWORD = "correct horse battery staple"
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


def require_postgres() -> None:
    """Skip without a test PostgreSQL server; in CI, where .ci/run starts one, fail instead."""
    import pytest

    if not os.environ.get(POSTGRES_ENV):
        reason = f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; .ci/run must start one")
        pytest.skip(reason)


_CREATED: list[tuple[str, str]] = []  # (server URL, database) made by this test process


def fresh_postgres_database() -> str:
    """A new, empty database on the test PostgreSQL server; returns its SQLAlchemy URL. It is
    dropped when the test session ends (`drop_test_databases`)."""
    from sqlalchemy import create_engine, text

    base = os.environ[POSTGRES_ENV].rstrip("/")
    name = f"careops_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    _CREATED.append((base, name))
    return f"{base}/{name}"


def drop_test_databases() -> None:
    """Drop the databases this process made, closing what still holds them (a server left running
    between local runs would otherwise keep every test's database). A server that is gone, as the
    balanced benchmark's throwaway one is by then, took its databases with it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    while _CREATED:
        base, name = _CREATED.pop()
        engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except OperationalError:
            continue
        finally:
            engine.dispose()


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
    as_trained: Path | None = None  # a copy of the service's store as training left it

    def store_as_trained(self, folder: Path) -> Settings:
        """Settings whose service store is a fresh copy of the one training left: no other test's
        bookings in it, whatever ran before (the suite runs on several processes, in any order)."""
        assert self.as_trained is not None, "this store kept no copy as trained"
        target = folder / "careops.db"
        copy_sqlite(self.as_trained, target)
        return self.settings.model_copy(update={"database_url": f"sqlite:///{target}"})


def copy_sqlite(source: str | Path, target: str | Path) -> None:
    """Copy a SQLite database, WAL and all, with SQLite's own backup."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


# A prediction log task with one segment, and hand-overs of bare records for it (see
# tests/monitoring/test_recorder.py, which also runs them in a process of their own).
LOG_FIELDS = {"noshow": ("appointment_id", "starts_at", ("clinic_id",))}
LOG_KEY = b"recorder-test-key"


def hand_over(*ids: str) -> ScoredBatch:
    """One no-show hand-over of records with these ids, each scored 0.25."""
    records = [SimpleNamespace(appointment_id=i, starts_at=None, clinic_id="C01") for i in ids]
    return ScoredBatch("noshow", "1", "api", records, np.full(len(ids), 0.25))


def ensure_users(settings: Settings, users: dict[str, str] = USERS, **scopes: dict) -> None:
    """The page users in `settings`'s store, each with PASSWORD (made once; `scopes` gives a user's
    clinics and payers, e.g. sam={"clinics": ["C01"]})."""
    from services.access.principal import system
    from services.container import Services

    services = Services.open(settings, log_scores=False, audit_now=True)
    try:
        known = {user.username for user in services.accounts.users()}
        for role, name in users.items():
            if name not in known:
                scope = scopes.get(name, {})
                clinics, payers = scope.get("clinics"), scope.get("payers")
                services.accounts.add_user(system("tests"), name, role, clinics, payers)
                services.accounts.set_password(system("tests"), name, PASSWORD)
    finally:
        services.close()


def totp_now(settings: Settings, username: str) -> str:
    """The user's current TOTP code ("" when they have no second factor), as if from a new time step:
    a code works once, and tests sign in more often than every 30 seconds, so the step the user
    last used is forgotten first."""
    import pyotp

    from data.stores.identity import IdentityStore

    store = IdentityStore(settings.database_url)
    user = store.user(username)
    if user is None or not user.totp_secret:
        return ""
    store.update_user(username, totp_step=None)
    return pyotp.TOTP(user.totp_secret).now()
