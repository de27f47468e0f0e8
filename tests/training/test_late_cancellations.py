"""The practice's no-show definition at 24 hours, on a synthetic world with late cancellations: the
training labels, the backtest, the store's outcomes, monitoring and the numbers all count them,
and a model trained that way comes within 0.01 ROC-AUC of the oracle for the same definition."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from data import no_show_definition
from data.loaders.canonical import load_appointments
from data.loaders.tables import write_table
from data.stores.appointments import AppointmentStore
from data.synthetic.appointments import Cancellations, generate_appointments
from services.practice_numbers import visit_numbers
from tests.helpers import make_settings
from training.backtest import run_rolling_backtest
from training.retrain import export_labelled
from training.train import train

HOURS = 24


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return generate_appointments(30_000, seed=17, cancellations=Cancellations())


@pytest.fixture(scope="module")
def world_file(world: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_table(world, tmp_path_factory.mktemp("late") / "appointments.csv")


def late_ids(world: pd.DataFrame) -> set[str]:
    before = no_show_definition.hours_before_start(world["starts_at"], world["cancelled_at"])
    return set(world.loc[before < HOURS, "appointment_id"])


def test_the_world_has_cancellations_at_realistic_lead_times(world: pd.DataFrame) -> None:
    cancelled = world["cancelled_at"].notna()
    late = late_ids(world)
    assert 0.08 < cancelled.mean() < 0.20
    assert 0.2 < len(late) / cancelled.sum() < 0.6  # many, not all, within a day of the start
    assert world.loc[cancelled, "no_show"].isna().all()  # a cancelled visit has no attendance
    assert (world.loc[cancelled, "cancelled_at"] >= world.loc[cancelled, "booked_at"]).all()
    # The recorded truth is the label's rate under each definition.
    for hours in (0, HOURS):
        label = no_show_definition.labels(world, hours)
        truth = no_show_definition.true_probability(world, hours)
        kept = label.notna().to_numpy()
        assert abs(label[kept].mean() - truth[kept].mean()) < 0.01


def test_the_definition_is_off_by_default_and_counts_late_cancellations_at_24_hours(
    world: pd.DataFrame,
) -> None:
    late = late_ids(world)
    off, on = no_show_definition.labels(world, 0), no_show_definition.labels(world, HOURS)
    ids = world["appointment_id"]
    assert off[ids.isin(late)].isna().all()
    assert (on[ids.isin(late)] == 1.0).all()
    cancelled_early = world["cancelled_at"].notna() & ~ids.isin(late)
    assert on[cancelled_early].isna().all() and cancelled_early.sum() > 100
    kept = world["cancelled_at"].isna()
    assert on[kept].equals(off[kept])


def test_a_backtest_counts_them_and_comes_within_001_of_the_oracle(
    world_file: Path, world: pd.DataFrame
) -> None:
    settings = make_settings(world_file.parent, late_cancel_hours=HOURS, train_threads=2)
    result = run_rolling_backtest(
        "noshow", world_file, date(2026, 5, 18), folds=3, fold_days=21, settings=settings, log_run=False
    )
    predictions = result.predictions
    late = predictions["appointment_id"].isin(late_ids(world))
    assert late.sum() > 300 and (predictions.loc[late, "no_show"] == 1).all()
    for fold in result.summary["folds"]:
        assert fold["oracle"]["roc_auc_gap_to_oracle"] <= 0.01, fold["oracle"]
    # The same folds without the definition never see them.
    off = run_rolling_backtest(
        "noshow",
        world_file,
        date(2026, 5, 18),
        folds=1,
        fold_days=21,
        settings=make_settings(world_file.parent, train_threads=2),
        log_run=False,
    )
    assert not off.predictions["appointment_id"].isin(late_ids(world)).any()


def test_training_states_the_definition_and_the_store_and_numbers_count_them(
    world_file: Path, world: pd.DataFrame, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, late_cancel_hours=HOURS, train_threads=2)
    result = train("noshow", world_file, settings)

    mlflow.set_tracking_uri(settings.tracking_uri)
    card = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/model_card.json")
    definition = card["model_details"]["no_show_definition"]
    assert definition["late_cancel_hours"] == HOURS and "24 hours" in definition["text"]
    run = MlflowClient(tracking_uri=settings.tracking_uri).get_run(result.run_id)
    assert float(run.data.params["late_cancel_hours"]) == HOURS

    # The store the training seeded keeps each cancellation's lead time: its outcomes (which
    # monitoring joins to the prediction log) count the late ones.
    store = AppointmentStore(settings.database_url)
    known = dict(store.known_outcomes(HOURS))
    late = late_ids(world)
    assert all(known[a] == 1 for a in late) and len(known) == world["no_show"].notna().sum() + len(late)
    assert not late & dict(store.known_outcomes()).keys()

    # Retraining from the store reads the same labels as training from the file.
    exported = tmp_path / "export.csv"
    export_labelled("noshow", settings, exported)
    again = pd.read_csv(exported, parse_dates=["starts_at", "cancelled_at"])
    relabelled = no_show_definition.labels(again, HOURS)
    assert set(again.loc[relabelled == 1, "appointment_id"]) >= late

    # The numbers page's counts are a direct count of the world's late cancellations.
    visits = visit_numbers(store.engine, None, weeks=8, late_cancel_hours=HOURS)
    days = pd.to_datetime(world["starts_at"]).dt.normalize()
    first = pd.Timestamp(visits["week"].min())
    in_window = world[days >= first]
    window_late = in_window["appointment_id"].isin(late).sum()
    assert visits["late_cancelled"].sum() == window_late > 50
    attended_no_shows = (in_window["no_show"] == 1).sum()
    assert visits["no_shows"].sum() == attended_no_shows + window_late
    plain = visit_numbers(store.engine, None, weeks=8)
    assert plain["late_cancelled"].sum() == 0 and plain["no_shows"].sum() == attended_no_shows
    store.engine.dispose()


def test_an_api_cancellation_keeps_its_time_and_counts_only_when_late(tmp_path: Path) -> None:
    frame = generate_appointments(200, seed=3)
    store = AppointmentStore(f"sqlite:///{tmp_path / 'a.db'}")
    store.seed(frame.assign(no_show=np.nan))
    early, late, unknown_time = frame["appointment_id"].iloc[:3]
    starts = pd.to_datetime(frame["starts_at"].iloc[:3]).dt.to_pydatetime()
    store.record_outcomes(
        {early: "cancelled", late: "cancelled"},
        {early: starts[0] - pd.Timedelta(hours=72), late: starts[1] - pd.Timedelta(hours=2)},
    )
    assert dict(store.known_outcomes(HOURS)) == {late: 1}
    assert store.known_outcomes(0) == []
    # Attended after all: the cancellation's time goes with it.
    store.record_outcomes({late: "attended"})
    assert dict(store.known_outcomes(HOURS)) == {late: 0}
    store.record_outcomes({unknown_time: "cancelled"})  # recorded now: far after its 2026 start
    records = load_appointments(store.labelled_records()).valid
    assert set(records["appointment_id"]) == {early, late, unknown_time}
    labels = no_show_definition.labels(records, HOURS).fillna(-1).set_axis(records["appointment_id"])
    # Cancelled in time (no label), attended, and cancelled after its start (a no-show).
    assert labels.to_dict() == {early: -1.0, late: 0.0, unknown_time: 1.0}


def test_cancellations_leave_the_visits_as_they_were(world: pd.DataFrame) -> None:
    plain = generate_appointments(30_000, seed=17)
    same = ["appointment_id", "patient_id", "clinic_id", "booked_at", "starts_at", "reminder_sent"]
    assert world[same].equals(plain[same])
    assert "cancelled_at" not in plain.columns and plain["no_show"].notna().all()
