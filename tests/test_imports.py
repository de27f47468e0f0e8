"""Importing any careops module has no side effects: no files, no store, no tracking URI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGES = ("data", "features", "models", "training", "serving")

IMPORT_ALL = """
import importlib, pkgutil, sys
import mlflow
before = mlflow.get_tracking_uri()
for package in {packages}:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
assert mlflow.get_tracking_uri() == before, mlflow.get_tracking_uri()
print("imported")
"""

# Each package imports only from those to its left (architecture.md).
ALLOWED = {
    "data": set(),
    "features": {"data"},
    "models": {"data", "features"},
    "training": {"data", "features", "models"},
    "serving": {"data", "features", "models", "training"},
}


def test_importing_everything_creates_nothing(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))}
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL.format(packages=PACKAGES)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_packages_import_only_from_their_left() -> None:
    root = Path(__file__).resolve().parents[1]
    offences = []
    for package, allowed in ALLOWED.items():
        for path in (root / package).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.strip().split()
                if len(words) >= 2 and words[0] in ("from", "import"):
                    top = words[1].split(".")[0]
                    if top in ALLOWED and top != package and top not in allowed:
                        offences.append(f"{path.relative_to(root)}: {line.strip()}")
    assert offences == []
