"""Files careops creates that hold patient data, keys or credentials are readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from data.stores.appointments import AppointmentStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stores_and_secrets_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "new" / "careops.db"
    AppointmentStore(f"sqlite:///{database}")
    assert _mode(database) == 0o600 and _mode(database.parent) == 0o700
    monkeypatch.setenv("CAREOPS_DATABASE_URL", f"sqlite:///{database}")
    runner = CliRunner()
    keys = runner.invoke(app, ["keys", "--file", str(tmp_path / "state" / "api-keys")])
    assert keys.exit_code == 0 and _mode(tmp_path / "state" / "api-keys") == 0o600
    key = (tmp_path / "state" / "api-keys").read_text().split(":")[0]
    assert key not in keys.output
    monkeypatch.setenv("CAREOPS_API_KEYS_FILE", str(tmp_path / "state" / "api-keys"))
    users = tmp_path / "state" / "demo-users"
    added = runner.invoke(app, ["users", "add", "ada", "--role", "admin", "--to", str(users)])
    assert added.exit_code == 0, added.output
    password = users.read_text().split()[2]
    assert _mode(users) == 0o600 and password not in added.output and "totp otpauth://" in users.read_text()
    out = tmp_path / "audit.csv"
    exported = runner.invoke(app, ["audit", "export", "--out", str(out)])
    assert exported.exit_code == 0 and _mode(out) == 0o600 and "user_add" in out.read_text()
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    assert _mode(database.with_name("careops-audit.db")) == 0o600  # the trail's own file, beside
