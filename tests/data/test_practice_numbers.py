"""The practice numbers equal a direct computation from the stores' own tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data.epoch import as_days
from data.loaders.canonical import load_appointments, load_claims
from data.schemas import Claim
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from data.stores.worklist import WorklistStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from data.worklist_items import ItemScore
from models.tasks import caller_records, get_task
from services.monitoring.log_store import LogBatch, PredictionLog
from services.practice_numbers import practice_numbers

WEEKS = 4


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('numbers') / 'careops.db'}"
    visits = load_appointments(generate_appointments(4000, seed=71)).valid
    store = AppointmentStore(url)
    store.seed(visits)
    store.record_outcomes({a: "cancelled" for a in visits["appointment_id"].iloc[-300::7]})
    claims = load_claims(generate_claims(3000, seed=72).pipe(_for_file)).valid
    ClaimStore(url).record(claims)
    # Some of the claims were on the worklist before they went out, with a score.
    listed = [Claim.model_validate(r) for r in caller_records(get_task("denial"), claims.tail(400))]
    rng = np.random.default_rng(3)
    scores = [
        ItemScore(float(p), 100.0, float(p) * c.total_charge, None)
        for p, c in zip(rng.random(400), listed, strict=True)
    ]
    WorklistStore(url).add(listed, scores, "1")
    # A few logged no-show scores with their clinic and visit day.
    last_week = visits[visits["starts_at"] >= visits["starts_at"].max() - pd.Timedelta(days=6)]
    base = {"scored_at": 0.0, "scored_day": 0, "task": "noshow", "model_version": "1", "source": "api"}
    base |= {"top_reason": None, "line_probabilities": None}
    days = as_days(last_week["starts_at"].to_numpy())
    probabilities = np.linspace(0.1, 0.3, len(last_week))
    rows = [
        base | {"event_day": int(d), "record_key": f"k{i}", "probability": float(p),
                "segments": json.dumps({"clinic_id": clinic})}
        for i, (d, clinic, p) in enumerate(zip(days, last_week["clinic_id"], probabilities, strict=True))
    ]  # fmt: skip
    PredictionLog(url).write([LogBatch(rows, {})])
    return url


def _for_file(frame: pd.DataFrame) -> pd.DataFrame:
    from data.loaders.canonical import claims_for_file

    return claims_for_file(frame)


def test_visit_numbers_match_the_appointment_table(url: str) -> None:
    store = AppointmentStore(url)
    numbers = practice_numbers(store.engine, PredictionLog(url), WEEKS)
    raw = pd.read_sql_table("careops_appointments", store.engine)
    last = raw.loc[raw["outcome"].isin(["attended", "no_show"]), "start_day"].max()
    raw = raw[raw["start_day"] > last - 7 * WEEKS]
    dates = pd.to_datetime(raw["start_day"], unit="D")
    raw["week"] = (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    for (week, clinic), group in raw.groupby(["week", "clinic_id"]):
        row = numbers.visits[(numbers.visits["week"] == week) & (numbers.visits["clinic_id"] == clinic)].iloc[
            0
        ]
        known = group["outcome"].isin(["attended", "no_show"])
        assert row["visits"] == len(group)
        assert row["cancellation_rate"] == pytest.approx((group["outcome"] == "cancelled").mean())
        if known.any():
            assert row["no_show_rate"] == pytest.approx((group.loc[known, "outcome"] == "no_show").mean())
    assert len(numbers.visits) == raw.groupby(["week", "clinic_id"]).ngroups
    assert numbers.visits["cancellation_rate"].max() > 0
    logged = numbers.visits.dropna(subset=["predicted_no_show_rate"])
    assert not logged.empty and logged["predicted_no_show_rate"].between(0.1, 0.3).all()


def test_claim_numbers_match_the_claim_table(url: str) -> None:
    engine = ClaimStore(url).engine
    numbers = practice_numbers(engine, None, WEEKS)
    raw = pd.read_sql_table("careops_claims", engine).dropna(subset=["adjudicated_day", "denied"])
    raw = raw[raw["adjudicated_day"] > raw["adjudicated_day"].max() - 7 * WEEKS]
    dates = pd.to_datetime(raw["adjudicated_day"].astype(int), unit="D")
    raw["week"] = (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    for (week, payer), group in raw.groupby(["week", "payer_id"]):
        row = numbers.claims[(numbers.claims["week"] == week) & (numbers.claims["payer_id"] == payer)].iloc[0]
        assert row["claims"] == len(group)
        assert row["denial_rate"] == pytest.approx(group["denied"].mean())
        assert row["days_to_remit"] == pytest.approx(
            (group["adjudicated_day"] - group["submitted_day"]).mean()
        )
    denied = raw[raw["denied"] == 1]
    assert numbers.categories["denied"].sum() == len(denied)


def test_the_worklist_top_decile_share_matches_a_direct_ranking(url: str) -> None:
    engine = WorklistStore(url).engine
    numbers = practice_numbers(engine, None, WEEKS)
    listed = pd.read_sql_table("careops_worklist", engine)
    claims = pd.read_sql_table("careops_claims", engine).dropna(subset=["denied"])
    joined = listed.merge(claims[["claim_id", "denied", "record"]], on="claim_id", suffixes=("_w", ""))
    charge = [json.loads(r)["total_charge"] for r in joined["record"]]
    joined["denied_charge"] = np.where(joined["denied"] == 1, charge, 0.0)
    top = joined.sort_values("dollars_at_risk", ascending=False, kind="stable").head(
        int(np.ceil(len(joined) / 10))
    )
    assert numbers.worklist_adjudicated == len(joined) == 400
    assert numbers.top_decile_share == pytest.approx(
        top["denied_charge"].sum() / joined["denied_charge"].sum()
    )


def test_a_scoped_reader_counts_only_their_clinics_and_payers(url: str) -> None:
    engine = ClaimStore(url).engine
    every = practice_numbers(engine, PredictionLog(url), WEEKS)
    clinic = sorted(every.visits["clinic_id"].unique())[0]
    payers = frozenset(sorted(every.claims["payer_id"].unique())[:2])
    scoped = practice_numbers(engine, PredictionLog(url), WEEKS, frozenset({clinic}), payers)
    assert set(scoped.visits["clinic_id"]) == {clinic}
    expected = every.visits[every.visits["clinic_id"] == clinic].reset_index(drop=True)
    pd.testing.assert_frame_equal(scoped.visits, expected)
    assert set(scoped.claims["payer_id"]) == payers
    mine = every.claims[every.claims["payer_id"].isin(payers)].reset_index(drop=True)
    pd.testing.assert_frame_equal(scoped.claims, mine)
    assert scoped.categories["denied"].sum() == mine["denied"].sum() < every.categories["denied"].sum()
    assert 0 < scoped.worklist_adjudicated < every.worklist_adjudicated
    nothing = practice_numbers(engine, None, WEEKS, frozenset(), frozenset())
    assert nothing.visits.empty and nothing.claims.empty and nothing.worklist_adjudicated == 0
