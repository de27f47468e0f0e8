"""A virtual environment made from a registered version's own requirements.txt and nothing else.

Making one takes about a minute (the wheels come from the package index), so it is kept under the
user's cache folder, named by the requirements' content and this Python's version: the same
requirements get the same environment, and other requirements get their own.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "careops" / "model-envs"
UNUSED_DAYS = 14  # an environment no test asked for in this long is removed (each is about 1 GB)


def model_environment(requirements: Path) -> Path:
    """The folder of an environment with exactly `requirements` installed (made if missing)."""
    digest = hashlib.sha256(requirements.read_bytes() + platform.python_version().encode()).hexdigest()[:16]
    target = CACHE / digest
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{digest}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes may ask at once
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
            installed = subprocess.run(
                [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
            assert installed.returncode == 0, installed.stderr[-3000:]
        (target / ".complete").touch()  # when it was last used
    _remove_unused(keep=target)
    return target


def _remove_unused(keep: Path) -> None:
    cutoff = time.time() - UNUSED_DAYS * 86_400
    for folder in CACHE.iterdir():
        used = folder / ".complete"
        if folder.is_dir() and folder != keep and used.exists() and used.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
