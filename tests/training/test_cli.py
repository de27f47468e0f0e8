"""The careops command line: generate and train, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def test_generate_writes_the_same_file_for_the_same_seed(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        result = runner.invoke(
            app, ["generate", "appointments", "--rows", "300", "--seed", "3", "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        assert "wrote 300 synthetic appointments" in result.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_generate_claims_as_parquet_keeps_truth_columns(tmp_path: Path) -> None:
    out = tmp_path / "claims.parquet"
    result = runner.invoke(app, ["generate", "claims", "--rows", "200", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert {"true_denial_probability", "true_denial_category", "denied"} <= set(frame.columns)


def test_train_prints_the_figures_and_skips_when_a_champion_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CAREOPS_ARTIFACT_LOCATION", str(tmp_path / "artifacts"))
    monkeypatch.setenv("CAREOPS_TRAIN_THREADS", "1")
    data = tmp_path / "claims.csv"
    runner.invoke(app, ["generate", "claims", "--rows", "3000", "--out", str(data)])

    trained = runner.invoke(app, ["train", "denial", "--data", str(data)])
    assert trained.exit_code == 0, trained.output
    assert "holdout: ROC-AUC 0." in trained.output
    assert "model/oracle ROC-AUC" in trained.output
    assert "registered denial version 1, now @champion" in trained.output

    skipped = runner.invoke(app, ["train", "denial", "--data", str(data), "--skip-if-champion"])
    assert skipped.exit_code == 0
    assert "denial@champion is version 1; not retraining" in skipped.output


def test_train_explains_unusable_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'cli.db'}")
    data = tmp_path / "bad.csv"
    data.write_text("appointment_id,patient_id\nA1,P1\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "noshow", "--data", str(data)])
    assert result.exit_code == 2
    assert "missing required columns: clinic_id" in result.output


def test_keys_are_created_once_and_private(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = runner.invoke(app, ["keys", "--file", str(keys)])
    assert first.exit_code == 0 and "not shown" in first.output
    assert keys.stat().st_mode & 0o077 == 0
    created = keys.read_text(encoding="utf-8")
    assert all(line.split(":")[0] not in first.output for line in created.split())  # never printed
    assert [line.rsplit(":", 1)[1] for line in created.split()] == ["scheduler", "biller", "admin"]
    second = runner.invoke(app, ["keys", "--file", str(keys)])
    assert "already in" in second.output
    assert keys.read_text(encoding="utf-8") == created
    assert created.split(":")[0] not in second.output
