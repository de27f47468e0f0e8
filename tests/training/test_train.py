"""Training logs honest figures to a real MLflow store and registers versions safely."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from data.loaders.tables import file_sha256, write_table
from data.synthetic.appointments import generate_appointments
from models.pyfunc import load_registered
from models.registry import alias_version
from models.tasks import get_task
from models.trained import TrainedModel
from tests.helpers import TrainedStore, make_settings
from training.train import TrainingDataError, train


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_holdout_auc_is_at_least_95_percent_of_the_oracle(
    trained_store: TrainedStore, task_name: str
) -> None:
    metrics = trained_store.results[task_name].metrics
    assert metrics["holdout_roc_auc"] >= 0.95 * metrics["oracle_roc_auc"], metrics


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_the_run_holds_metrics_params_and_data_hash(trained_store: TrainedStore, task_name: str) -> None:
    result = trained_store.results[task_name]
    run = MlflowClient(tracking_uri=trained_store.settings.tracking_uri).get_run(result.run_id)
    for name in (
        "holdout_roc_auc",
        "holdout_pr_auc",
        "holdout_brier",
        "oracle_roc_auc",
        "roc_auc_ratio_to_oracle",
    ):
        assert run.data.metrics[name] == pytest.approx(result.metrics[name])
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    assert run.data.tags["data_sha256"] == file_sha256(path)
    assert run.data.params["rows_read"] == str(result.rows["rows_read"])
    assert int(run.data.params["rows_holdout"]) == result.rows["rows_holdout"] > 0
    artifacts = {
        a.path
        for a in MlflowClient(tracking_uri=trained_store.settings.tracking_uri).list_artifacts(result.run_id)
    }
    assert {"model_card.json", "subgroup_report.json", "feature_importance_gain.json", "charts"} <= artifacts
    assert run.data.params["train_threads"] == "1"
    assert run.data.params["distributed"] == "False"


def _card_and_model(trained_store: TrainedStore, task_name: str, tmp_path: Path) -> tuple[dict, TrainedModel]:
    """The model card of the task's registered version, and that version as loaded from the registry."""
    result = trained_store.results[task_name]
    client = MlflowClient(tracking_uri=trained_store.settings.tracking_uri)
    card = json.loads(
        Path(client.download_artifacts(result.run_id, "model_card.json", str(tmp_path))).read_text()
    )
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    model = load_registered(f"models:/{task_name}/{result.model_version}")
    return card, model.trained


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_the_model_card_states_the_hyper_parameters_the_booster_was_trained_with(
    trained_store: TrainedStore, task_name: str, tmp_path: Path
) -> None:
    card, trained = _card_and_model(trained_store, task_name, tmp_path)
    stated = card["model_parameters"]["booster"]
    assert stated == get_task(task_name).booster.as_params()
    run = MlflowClient(tracking_uri=trained_store.settings.tracking_uri).get_run(
        trained_store.results[task_name].run_id
    )
    assert run.data.params["num_leaves"] == str(stated["num_leaves"])
    trees = trained.classifier.booster_.dump_model()["tree_info"]
    assert max(tree["num_leaves"] for tree in trees) == stated["num_leaves"]
    # Rows bagged per tree (the no-show model's own setting) show in the booster's saved parameters.
    saved = trained.classifier.booster_.model_to_string()
    assert f"[bagging_fraction: {stated['subsample']:g}]" in saved
    assert f"[bagging_freq: {int(stated['subsample'] < 1)}]" in saved


def test_the_noshow_model_card_states_the_lead_bands_its_history_expects(
    trained_store: TrainedStore, tmp_path: Path
) -> None:
    card, trained = _card_and_model(trained_store, "noshow", tmp_path)
    bands = card["model_details"]["history_lead_bands"]
    history = trained.history
    assert bands["edges_days"] == [1.0, 4.0, 15.0, 30.0]
    assert bands["no_show_rates"] == pytest.approx(list(history.lead_band_rates), abs=1e-6)
    assert len(set(bands["no_show_rates"])) == 5 and all(0 < r < 1 for r in bands["no_show_rates"])


def test_holdout_is_the_most_recent_part(trained_store: TrainedStore) -> None:
    result = trained_store.results["noshow"]
    run = MlflowClient(tracking_uri=trained_store.settings.tracking_uri).get_run(result.run_id)
    frame = pd.read_csv(trained_store.appointments, parse_dates=["starts_at"])
    holdout_start = pd.Timestamp(run.data.params["holdout_starts"])
    assert (frame["starts_at"] >= holdout_start).sum() == result.rows["rows_holdout"]


def test_bad_rows_are_skipped_counted_and_logged(tmp_path: Path) -> None:
    frame = generate_appointments(3_000, seed=21)
    frame["patient_age"] = frame["patient_age"].astype(object)
    frame.loc[[5, 50, 500], "patient_age"] = -4
    frame.loc[[7, 70], "patient_sex"] = "?"
    path = write_table(frame, tmp_path / "appointments.csv")
    settings = make_settings(tmp_path)

    result = train("noshow", path, settings)

    assert result.rows["rows_quarantined"] == 5
    assert result.rows["rows_valid"] == 2_995
    assert result.quarantine_reasons == {
        "patient_age: greater_than_equal": 3,
        "patient_sex: literal_error": 2,
    }
    mlflow.set_tracking_uri(settings.tracking_uri)
    logged = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/quarantine_reasons.json")
    assert logged == result.quarantine_reasons
    run = MlflowClient(tracking_uri=settings.tracking_uri).get_run(result.run_id)
    assert run.data.params["rows_quarantined"] == "5"


def test_champion_is_set_once_and_later_versions_wait(tmp_path: Path) -> None:
    path = write_table(generate_appointments(2_000, seed=22), tmp_path / "appointments.csv")
    settings = make_settings(tmp_path)
    first = train("noshow", path, settings)
    second = train("noshow", path, settings)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    assert (first.model_version, first.champion_set) == ("1", True)
    assert (second.model_version, second.champion_set) == ("2", False)
    assert alias_version(client, "noshow", "champion") == "1"


def test_a_single_class_cannot_train(tmp_path: Path) -> None:
    frame = generate_appointments(500, seed=23)
    frame["no_show"] = False
    path = write_table(frame, tmp_path / "appointments.csv")
    with pytest.raises(TrainingDataError, match="only one class"):
        train("noshow", path, make_settings(tmp_path))
