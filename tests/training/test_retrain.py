"""Retraining from the service store: the labelled records it keeps, trained on and gated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app as cli
from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from models.tasks import get_task
from tests.helpers import make_settings
from training.retrain import RetrainError, retrain
from training.train import train


def test_the_store_keeps_each_record_and_exports_exactly_the_labelled_ones(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    table = generate_appointments(400, seed=3)
    table["no_show"] = table["no_show"].astype(object)
    table.loc[table.index[:50], "no_show"] = None  # outcomes not known yet: not exported
    store = AppointmentStore(settings.database_url)
    store.seed(get_task("noshow").load(write_table(table, tmp_path / "a.csv")).valid)
    exported = store.labelled_records().sort_values("appointment_id").reset_index(drop=True)
    expected = table.iloc[50:].sort_values("appointment_id").reset_index(drop=True)
    assert list(exported["appointment_id"]) == list(expected["appointment_id"])
    assert (exported["no_show"].to_numpy() == expected["no_show"].astype(bool).to_numpy()).all()
    assert (pd.to_datetime(exported["starts_at"]) == expected["starts_at"]).all()
    assert (exported["patient_age"] == expected["patient_age"]).all()
    assert "true_no_show_probability" not in exported.columns  # the generator's truth stays out


def test_a_store_from_before_gains_the_record_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE careops_appointments (appointment_id VARCHAR(64) PRIMARY KEY, patient_id "
            "VARCHAR(64) NOT NULL, clinic_id VARCHAR(64) NOT NULL, start_day INTEGER NOT NULL, booked_at "
            "FLOAT NOT NULL, outcome VARCHAR(16), outcome_recorded_at DATETIME)"
        )
        connection.execute(
            "INSERT INTO careops_appointments VALUES ('A1', 'P1', 'C1', 20000, 0.0, 'no_show', NULL)"
        )
    store = AppointmentStore(f"sqlite:///{path}")
    assert store.labelled_records().empty  # kept, but without its record it cannot be trained on
    assert store.known_outcomes() == [("A1", 1)]


def test_retrain_trains_on_the_store_and_gates_against_the_champion(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = train("noshow", write_table(generate_appointments(4_000, seed=11), tmp_path / "a.csv"), settings)
    assert first.champion_set
    result = retrain("noshow", settings, keep_export=tmp_path / "export.csv")
    assert result.labelled_rows == 4_000 and result.trained.model_version == "2"
    decision = result.decision
    assert decision is not None and decision.candidate == "2" and decision.champion == "1"
    # Trained on the same records as the file, the challenger is as good: the gate lets it through.
    assert decision.promoted, decision.reasons

    claims = write_table(claims_for_file(generate_claims(3_000, seed=12)), tmp_path / "c.csv")
    train("denial", claims, settings)
    exported = ClaimStore(settings.database_url).labelled_records()
    assert len(exported) == int(get_task("denial").load(claims).valid["denied"].notna().sum())
    denial = CliRunner().invoke(cli, ["retrain", "denial"], env=_env(settings))
    assert denial.exit_code in (0, 1), denial.output
    assert "trained denial v2" in denial.output and "candidate" in denial.output


def test_retrain_refuses_a_store_without_enough_history(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(RetrainError, match="labelled noshow records"):
        retrain("noshow", settings)
    refused = CliRunner().invoke(cli, ["retrain", "noshow"], env=_env(settings))
    assert refused.exit_code == 2 and "retraining needs at least" in refused.output


def _env(settings) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "CAREOPS_DATABASE_URL": settings.database_url,
        "CAREOPS_ARTIFACT_LOCATION": settings.artifact_location,
        "CAREOPS_TRAIN_THREADS": "1",
    }
