"""Settings come from CAREOPS_* variables; API keys parse strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, api_key_roles, parse_api_keys


def test_api_keys_parse_into_roles() -> None:
    assert parse_api_keys("a:scheduler, b:biller\nc:admin") == {"a": "scheduler", "b": "biller", "c": "admin"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("s3cr3t-value", "entry 1 is not of the form key:role"), ("s3cr3t-value:root", "unknown role 'root'")],
)
def test_bad_api_key_entries_are_refused_without_echoing_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_api_keys(text)
    assert "s3cr3t" not in str(raised.value)


def test_environment_configures_and_mlflow_uri_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREOPS_MAX_BATCH", "7")
    monkeypatch.setenv("CAREOPS_SCORE_THREADS", "2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    settings = Settings(_env_file=None)
    assert (settings.max_batch, settings.score_threads) == (7, 2)
    assert settings.tracking_uri == "sqlite:///elsewhere.db"


def test_default_tracking_store_is_sqlite_in_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CAREOPS_TRACKING_URI", raising=False)
    assert Settings(_env_file=None).tracking_uri == "sqlite:///mlflow.db"


def test_keys_file_is_used_when_no_keys_variable(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("x1:biller\n", encoding="utf-8")
    assert api_key_roles(Settings(_env_file=None, api_keys=None, api_keys_file=keys)) == {"x1": "biller"}
    assert api_key_roles(Settings(_env_file=None, api_keys=None, api_keys_file=None)) == {}
