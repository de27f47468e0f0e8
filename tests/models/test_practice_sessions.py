"""Waiting and idle minutes per week and clinic equal the session model run session by session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import load_appointments
from data.stores.appointments import AppointmentStore
from data.synthetic.appointments import generate_appointments
from models.decisions.session import evaluate_session
from services.practice_sessions import session_minutes


def test_session_minutes_match_the_session_model_one_session_at_a_time(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 'careops.db'}")
    table = load_appointments(generate_appointments(3000, seed=91)).valid
    store.seed(table)
    store.record_outcomes({a: "cancelled" for a in table["appointment_id"].iloc[-200::9]})
    ids = list(table["appointment_id"].iloc[-400:])
    predicted = {a: 0.1 + 0.5 * (i % 7) / 7 for i, a in enumerate(ids)}
    figures = session_minutes(
        store.engine, 2, lambda wanted: {a: predicted[a] for a in wanted if a in predicted}
    )

    raw = pd.read_sql_table("careops_appointments", store.engine)
    last = raw.loc[raw["outcome"].isin(["attended", "no_show"]), "start_day"].max()
    raw = raw[(raw["start_day"] > last - 14) & (raw["outcome"] != "cancelled")].copy()
    records = [json.loads(r) for r in raw["record"]]
    raw["provider"] = [r["provider_id"] for r in records]
    raw["starts"] = pd.to_datetime([r["starts_at"] for r in records])
    dates = pd.to_datetime(raw["start_day"], unit="D")
    raw["week"] = (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    known = raw[raw["outcome"].isin(["attended", "no_show"])]
    rate = known.groupby(["week", "clinic_id"])["outcome"].apply(lambda o: (o == "attended").mean())
    raw["show"] = [
        1 - predicted[a] if a in predicted else rate.get((w, c), 0.8)
        for a, w, c in zip(raw["appointment_id"], raw["week"], raw["clinic_id"], strict=True)
    ]
    raw["half"] = raw["starts"].dt.hour >= 13
    expected = []
    for (week, clinic, _, _, _), group in raw.groupby(["week", "clinic_id", "provider", "start_day", "half"]):
        slots = [list(g["show"]) for _, g in group.sort_values("starts").groupby("starts")]
        session = evaluate_session(slots, 15)
        expected.append((week, clinic, len(group), session.waiting_minutes, session.idle_minutes))
    direct = pd.DataFrame(expected, columns=["week", "clinic_id", "visits", "waiting", "idle"])
    grouped = direct.groupby(["week", "clinic_id"])
    merged = figures.set_index(["week", "clinic_id"])
    assert len(merged) == grouped.ngroups > 0
    for key, group in grouped:
        row = merged.loc[key]
        assert row["sessions"] == len(group)
        assert row["waiting_per_visit"] == pytest.approx(
            group["waiting"].sum() / group["visits"].sum(), rel=1e-9
        )
        assert row["idle_per_session"] == pytest.approx(group["idle"].mean(), rel=1e-9)
    assert np.isfinite(merged["waiting_per_visit"]).all()
