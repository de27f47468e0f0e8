"""What a run needs to be reproduced: the code's git commit and the library versions."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

LIBRARIES = ("careops", "lightgbm", "scikit-learn", "numpy", "pandas", "mlflow", "pydantic", "sqlalchemy")


def git_commit(folder: Path | None = None) -> str:
    """The commit checked out where the code lives (with '-dirty' for local changes), or 'unknown'."""
    folder = folder or Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that decide a model's numbers."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions
