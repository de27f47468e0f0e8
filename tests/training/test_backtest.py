"""Backtests: the command's JSON contract, no outcome from after the cut-off, and the Brazil figures."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from data.loaders.canonical import claims_for_file, load_appointments, load_claims
from data.loaders.tables import read_table, write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from tests.helpers import make_settings
from training.backtest import BacktestResult, run_backtest

CUTOFF = date(2026, 5, 11)


@pytest.fixture
def tracking_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's MLflow runs go to a temporary sqlite store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'bt.db'}")
    monkeypatch.setenv("CAREOPS_ARTIFACT_LOCATION", str(tmp_path / "artifacts"))


@pytest.fixture(scope="module")
def appointments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_table(generate_appointments(12_000, seed=41), tmp_path_factory.mktemp("bt") / "a.csv")


def test_cli_prints_one_json_object_and_writes_predictions(
    appointments: Path, tmp_path: Path, tracking_store: None
) -> None:
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "noshow",
            "--data",
            str(appointments),
            "--cutoff",
            CUTOFF.isoformat(),
            "--horizon-days",
            "2",
            "--predictions-out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["cutoff"] == "2026-05-11" and summary["horizon_days"] == 2
    for name in (
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "calibration_intercept",
        "calibration_slope",
    ):
        assert 0 <= abs(summary["metrics"][name]) < 10, name
    assert summary["rows"]["test"] > 0 and summary["rows"]["train"] > 0
    assert 0 < summary["train_positive_rate"] < 1 and 0 < summary["test_positive_rate"] < 1
    assert {row["attribute"] for row in summary["subgroups"]} >= {
        "patient_sex",
        "age_band",
        "payer_type",
        "clinic_id",
    }
    predictions = read_table(out)
    assert list(predictions.columns) == ["appointment_id", "no_show_probability", "no_show"]
    assert len(predictions) == summary["rows"]["test"]
    starts = load_appointments(appointments).valid.set_index("appointment_id")["starts_at"]
    assert (starts.loc[predictions["appointment_id"]] >= pd.Timestamp(CUTOFF)).all()


def test_a_bad_cutoff_is_explained(appointments: Path) -> None:
    result = CliRunner().invoke(
        app, ["backtest", "noshow", "--data", str(appointments), "--cutoff", "May 11"]
    )
    assert result.exit_code == 2 and "not a YYYY-MM-DD date" in result.output
    late = CliRunner().invoke(
        app, ["backtest", "noshow", "--data", str(appointments), "--cutoff", "2031-01-01"]
    )
    assert late.exit_code == 2 and "both need rows" in late.output


def test_outcomes_on_or_after_the_cutoff_never_reach_training(appointments: Path, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    frame = load_appointments(appointments).valid
    flipped = frame.copy()
    after = flipped["starts_at"] >= pd.Timestamp(CUTOFF)
    flipped.loc[after, "no_show"] = 1.0 - flipped.loc[after, "no_show"]
    changed = write_table(flipped, tmp_path / "flipped.csv")

    original = run_backtest("noshow", appointments, CUTOFF, settings, log_run=False)
    leaked_labels = run_backtest("noshow", changed, CUTOFF, settings, log_run=False)
    training_rows = original.fit.trained.prepare(frame)
    training_rows = training_rows[training_rows["starts_at"] < pd.Timestamp(CUTOFF)]
    np.testing.assert_array_equal(
        original.fit.trained.pipeline.predict_proba(training_rows),
        leaked_labels.fit.trained.pipeline.predict_proba(training_rows),
    )


@pytest.mark.shared_data
def test_brazil_2016_backtest_reaches_the_target_without_leaking(shared_data: Path, tmp_path: Path) -> None:
    result = run_backtest(
        "noshow",
        shared_data / "noshow" / "noshow_brazil_2016_dev.csv.gz",
        date(2016, 5, 16),
        make_settings(tmp_path, train_threads=2),
        file_format="kaggle-noshow",
        horizon_days=1,
        log_run=False,
    )
    metrics = result.summary["metrics"]
    print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
    assert metrics["roc_auc"] < 0.85, "leakage canary: honest models score about 0.73-0.76 on this split"
    assert metrics["roc_auc"] >= 0.745
    assert metrics["ece"] <= 0.02


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = claims_for_file(generate_claims(8_000, seed=44))
    return write_table(frame, tmp_path_factory.mktemp("bt") / "claims.csv")


CLAIM_CUTOFF = date(2026, 5, 18)


def test_denial_backtest_reports_reasons_lines_and_writes_predictions(
    claims: Path, tmp_path: Path, tracking_store: None
) -> None:
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "denial",
            "--data",
            str(claims),
            "--cutoff",
            CLAIM_CUTOFF.isoformat(),
            "--predictions-out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert 0.5 < summary["metrics"]["roc_auc"] <= summary["oracle"]["oracle_roc_auc"] + 0.02
    assert (
        0 < summary["reasons"]["reason_top1_accuracy"] <= 1 and 0 < summary["reasons"]["reason_macro_f1"] <= 1
    )
    assert 0.5 < summary["lines"]["roc_auc"] < 1 and summary["lines"]["rows"] > summary["rows"]["test"]
    # Claims sent before the cut-off but still with the payer on it do not train the model.
    assert summary["rows"]["label_after_cutoff"] > 100
    predictions = read_table(out)
    assert list(predictions.columns) == [
        "claim_id",
        "denial_probability",
        "denial_category_predicted",
        "denied",
    ]
    assert len(predictions) == summary["rows"]["test"]


def flipped(line: dict) -> dict:
    """The line with the opposite outcome (a coding denial where it was paid)."""
    return {**line, "denied": not line["denied"], "denial_category": None if line["denied"] else "coding"}


def test_remittances_after_the_cutoff_never_reach_training(claims: Path, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    table = load_claims(read_table(claims)).valid
    cutoff = pd.Timestamp(CLAIM_CUTOFF)
    baseline = run_backtest("denial", claims, CLAIM_CUTOFF, settings, log_run=False)
    # Rewrite every outcome the practice learns on or after the cut-off, for claims sent before it.
    late = (table["submitted_at"] < cutoff) & (table["adjudicated_at"] >= cutoff)
    changed = table.copy()
    changed.loc[late, "denied"] = 1 - changed.loc[late, "denied"]
    changed.loc[late, "denial_category"] = None
    changed["service_lines"] = [
        [flipped(line) for line in lines] if flip else lines
        for lines, flip in zip(changed["service_lines"], late, strict=True)
    ]
    changed.loc[late & (changed["denied"] == 1), "denial_category"] = "coding"
    path = write_table(claims_for_file(changed), tmp_path / "changed.csv")
    assert load_claims(path).quarantined.empty
    rerun = run_backtest("denial", path, CLAIM_CUTOFF, settings, log_run=False)
    assert late.sum() > 100

    def models(result: BacktestResult) -> list[str]:
        trained = result.fit.trained
        boosters = [trained.classifier.booster_, trained.lines.model.booster_, trained.reasons.booster]
        return [b.model_to_string() for b in boosters] + [repr(trained.claim_history)]

    assert models(baseline) == models(rerun)
    # Scoring after the cut-off may use what was learned by each claim's own submission day.
    assert not np.array_equal(
        baseline.predictions["denial_probability"], rerun.predictions["denial_probability"]
    )


def test_rolling_backtest_trains_each_fold_only_on_its_past(appointments: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from training.backtest import run_rolling_backtest

    settings = make_settings(tmp_path)
    last = date(2026, 5, 25)
    result = run_rolling_backtest("noshow", appointments, last, 3, 7, settings)
    summary = result.summary
    assert summary["cutoffs"] == ["2026-05-11", "2026-05-18", "2026-05-25"]
    table = load_appointments(appointments).valid
    starts = table["starts_at"]
    for fold in summary["folds"]:
        cutoff = pd.Timestamp(fold["cutoff"])
        before = int((starts < cutoff).sum())
        window = int(((starts >= cutoff) & (starts < cutoff + pd.Timedelta(days=7))).sum())
        assert fold["rows"]["train"] + fold["rows"]["calibration"] == before
        assert fold["rows"]["test"] == window > 0
    rocs = [fold["metrics"]["roc_auc"] for fold in summary["folds"]]
    assert summary["mean"]["roc_auc"] == pytest.approx(np.mean(rocs))
    assert summary["worst"]["roc_auc"] == min(rocs) and summary["worst"]["ece"] == max(
        fold["metrics"]["ece"] for fold in summary["folds"]
    )
    # Synthetic rows carry their true probability: each fold, and the mean, has the ceiling beside it.
    ceilings = [fold["oracle"]["oracle_roc_auc"] for fold in summary["folds"]]
    assert summary["oracle_mean"]["oracle_roc_auc"] == pytest.approx(np.mean(ceilings))
    assert all(roc < ceiling for roc, ceiling in zip(rocs, ceilings, strict=True))
    ages = {row["group"]: row for row in summary["subgroups"] if row["attribute"] == "age_band"}
    assert ages and all(row["folds_with_calibration_slope"] <= 3 for row in ages.values())
    scored = result.predictions.groupby("fold_cutoff").size().to_dict()
    assert scored == {fold["cutoff"]: fold["rows"]["test"] for fold in summary["folds"]}

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    parent = client.get_run(result.run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert sorted(child.data.params["cutoff"] for child in children) == summary["cutoffs"]
    assert parent.data.metrics["mean_roc_auc"] == pytest.approx(summary["mean"]["roc_auc"])
