"""The champion/challenger gate and rollback, on a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from config import Settings
from data.loaders.canonical import load_appointments
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from models.pyfunc import load_registered
from models.registry import alias_version
from tests.helpers import backend_settings, make_settings
from training.promotion import PromotionError, promote, rollback
from training.train import train


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory, backend: str) -> tuple[Settings, Path, Path]:
    """v1: champion trained on little data; v2: trained on shuffled labels; v3: trained on more data."""
    root = tmp_path_factory.mktemp("gate")
    settings = backend_settings(root, backend)
    small = write_table(generate_appointments(1_500, seed=51), root / "small.csv")
    shuffled_frame = generate_appointments(12_000, seed=52)
    shuffled_frame["no_show"] = np.random.default_rng(0).permutation(shuffled_frame["no_show"].to_numpy())
    shuffled = write_table(shuffled_frame, root / "shuffled.csv")
    large = write_table(generate_appointments(20_000, seed=53), root / "large.csv")
    evaluation = write_table(generate_appointments(8_000, seed=54), root / "evaluation.csv")
    for path in (small, shuffled, large):
        train("noshow", path, settings)
    return settings, evaluation, root


def aliases(settings: Settings) -> tuple[str | None, str | None]:
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    return alias_version(client, "noshow", "champion"), alias_version(client, "noshow", "previous")


def test_gate_refuses_shuffled_labels_promotes_better_and_rolls_back(lifecycle) -> None:
    settings, evaluation, _ = lifecycle
    assert aliases(settings) == ("1", None)

    refused = promote("noshow", evaluation, settings, candidate="2")
    assert not refused.promoted and any("ROC-AUC" in r for r in refused.reasons)
    assert refused.candidate_metrics["roc_auc"] < 0.6 < refused.champion_metrics["roc_auc"]
    assert aliases(settings) == ("1", None)

    better = promote("noshow", evaluation, settings, candidate="3")
    assert better.promoted and not better.forced and better.reasons == []
    assert better.candidate_metrics["roc_auc"] > better.champion_metrics["roc_auc"]
    assert aliases(settings) == ("3", "1")

    back = rollback("noshow", settings)
    assert (back.candidate, back.champion) == ("1", "3")
    assert aliases(settings) == ("1", "3")

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.get_experiment_by_name("careops-noshow-promotion")
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {refused.run_id, better.run_id, back.run_id}
    for decision in (refused, better):
        run = runs[decision.run_id]
        assert run.data.tags["careops.decision"] == ("promoted" if decision.promoted else "refused")
        assert run.data.metrics["candidate_roc_auc"] == pytest.approx(decision.candidate_metrics["roc_auc"])
        assert run.data.metrics["champion_roc_auc"] == pytest.approx(decision.champion_metrics["roc_auc"])
        assert {"candidate_brier", "champion_brier", "candidate_ece", "champion_ece"} <= set(run.data.metrics)


def test_force_needs_a_reason_and_logs_it(lifecycle) -> None:
    settings, evaluation, _ = lifecycle
    before = aliases(settings)
    with pytest.raises(PromotionError, match="--force needs --reason"):
        promote("noshow", evaluation, settings, candidate="2", force=True)
    assert aliases(settings) == before
    forced = promote("noshow", evaluation, settings, candidate="2", force=True, reason="incident 42 drill")
    assert forced.promoted and forced.forced
    run = MlflowClient(tracking_uri=settings.tracking_uri).get_run(forced.run_id)
    assert run.data.params["force_reason"] == "incident 42 drill" and run.data.params["forced"] == "True"
    rollback("noshow", settings)


def test_bad_requests_explain_themselves_and_change_nothing(lifecycle, tmp_path: Path) -> None:
    settings, evaluation, _ = lifecycle
    before = aliases(settings)
    with pytest.raises(PromotionError, match="has no version 99; known versions: 1, 2, 3"):
        promote("noshow", evaluation, settings, candidate="99")
    with pytest.raises(PromotionError, match="is already @champion"):
        promote("noshow", evaluation, settings, candidate=before[0])
    unlabelled = generate_appointments(500, seed=55).assign(no_show=None)
    with pytest.raises(PromotionError, match="needs labelled rows of both classes"):
        promote("noshow", write_table(unlabelled, tmp_path / "unlabelled.csv"), settings, candidate="3")
    with pytest.raises(PromotionError, match="'denial' has no @champion"):
        promote("denial", evaluation, settings)
    assert aliases(settings) == before
    empty = make_settings(tmp_path)
    with pytest.raises(PromotionError, match="to roll back"):
        rollback("noshow", empty)


def test_training_twice_gives_bit_identical_predictions(lifecycle, tmp_path: Path) -> None:
    _, evaluation, root = lifecycle
    first = train("noshow", root / "small.csv", make_settings(tmp_path / "a"))
    second = train("noshow", root / "small.csv", make_settings(tmp_path / "b"))
    frame = load_appointments(evaluation).valid
    predictions = []
    for store, result in ((tmp_path / "a", first), (tmp_path / "b", second)):
        mlflow.set_tracking_uri(make_settings(store).tracking_uri)
        model = load_registered(f"models:/noshow/{result.model_version}")
        predictions.append(model.trained.predict_frame(frame))
    assert np.array_equal(predictions[0], predictions[1])
    tags = (
        MlflowClient(tracking_uri=make_settings(tmp_path / "a").tracking_uri).get_run(first.run_id).data.tags
    )
    assert tags["careops.git_commit"] != "" and tags["lib.lightgbm"] and tags["data_sha256"]
