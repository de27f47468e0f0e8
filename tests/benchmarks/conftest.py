"""The benchmarks' shared store: make run's size, trained once per `make bench`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.benchmarks.servers import BIN, careops
from tests.helpers import ADMIN_KEY


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A working directory with 100k appointments and 50k claims, both models trained; its env."""
    workdir = tmp_path_factory.mktemp("serving")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))}
    environment |= {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'careops.db'}",
        "CAREOPS_ARTIFACT_LOCATION": str(workdir / "artifacts"),
        "CAREOPS_API_KEYS": f"{ADMIN_KEY}:admin",
        "CAREOPS_PSEUDONYM_KEY": "bench-pseudonym-key",  # the prediction log is on, as in service
        "CAREOPS_RELOAD_INTERVAL_SECONDS": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    careops(
        workdir, environment, "generate", "appointments", "--rows", "100000", "--seed", "42", "--out", "a.csv"
    )
    careops(workdir, environment, "generate", "claims", "--rows", "50000", "--seed", "42", "--out", "c.csv")
    careops(workdir, environment, "train", "noshow", "--data", "a.csv")
    careops(workdir, environment, "train", "denial", "--data", "c.csv")
    return workdir, environment
