"""Expected patient waiting and clinic idle minutes per week and clinic, from the session model.

Each provider's half-day is a session whose slots are the distinct start times of its visits
(cancelled ones left out). A visit shows with its predicted probability where the prediction log
holds one for it, else with the clinic's observed show rate that week. The session model
(models/decisions/session.py) gives each session's exact expected waiting and idle minutes; all the
sessions of the window are evaluated in one batched dynamic program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from data.epoch import week_of
from data.stores.appointment_tables import KNOWN, last_known_day
from data.stores.slots import visit_slots
from models.decisions.session import arrival_pmfs, backlog_dynamics

AFTERNOON_FROM_HOUR = 13


def session_minutes(
    engine: Engine,
    weeks: int,
    predicted: Callable[[list[str]], Mapping[str, float]] | None = None,
    slot_minutes: float = 15.0,
    clinics: frozenset[str] | None = None,
) -> pd.DataFrame:
    """Per week and clinic: sessions, expected waiting minutes per visit and idle minutes per session,
    over the last `weeks` weeks up to the last day with an outcome.

    `predicted` gives P(no-show) by appointment id where the prediction log holds one (the caller
    holds the log's pseudonym key); `clinics`: those clinics' sessions only (None: all)."""
    with engine.connect() as connection:
        last = last_known_day(connection)
    if last is None:
        return pd.DataFrame(columns=["week", "clinic_id", "sessions"])
    return sessions_of(visit_slots(engine, last - 7 * weeks + 1, last, clinics), predicted, slot_minutes)


def sessions_of(
    slots: pd.DataFrame,
    predicted: Callable[[list[str]], Mapping[str, float]] | None = None,
    slot_minutes: float = 15.0,
) -> pd.DataFrame:
    """`session_minutes` of the visits in `slots` (`data.stores.slots.visit_slots`)."""
    frame = slots[slots["outcome"] != "cancelled"].copy()
    frame["week"] = week_of(pd.to_datetime(frame["day"].astype("int64"), unit="D"))
    observed = (
        frame[frame["outcome"].isin(KNOWN)]
        .groupby(["week", "clinic_id"])["outcome"]
        .apply(lambda o: float((o == "attended").mean()))
    )
    rates = observed.rename("rate").reset_index()
    shows = frame[["week", "clinic_id"]].merge(rates, on=["week", "clinic_id"], how="left")["rate"].to_numpy()
    if predicted is not None:
        model = frame["appointment_id"].map(predicted(list(frame["appointment_id"])))
        shows = np.where(model.notna(), 1 - model.to_numpy(dtype=float, na_value=np.nan), shows)
    frame["show"] = np.nan_to_num(shows, nan=0.8)
    sessions = _sessions(frame)
    if not sessions:
        return pd.DataFrame(columns=["week", "clinic_id", "sessions"])
    table = _session_figures(sessions, slot_minutes)
    grouped = table.groupby(["week", "clinic_id"])
    result = pd.DataFrame(
        {
            "sessions": grouped.size(),
            "waiting_per_visit": grouped["waiting"].sum() / grouped["visits"].sum(),
            "idle_per_session": grouped["idle"].mean(),
        }
    )
    return result.reset_index()


def _sessions(frame: pd.DataFrame) -> list[tuple[str, str, list[list[float]]]]:
    """(week, clinic, show probabilities by slot) of each provider's half-day."""
    frame["half"] = np.where(frame["starts_at"].dt.hour < AFTERNOON_FROM_HOUR, 0, 1)
    frame = frame.sort_values(["week", "clinic_id", "provider_id", "day", "half", "starts_at"], kind="stable")
    sessions: list[tuple[str, str, list[list[float]]]] = []
    previous_session, previous_start = None, None
    # Plain Python values: comparing pandas Timestamps row by row costs most of the loop.
    columns = [frame[name].tolist() for name in ("week", "clinic_id", "provider_id", "day", "half", "show")]
    starts_ns = frame["starts_at"].to_numpy(dtype="datetime64[ns]").astype("int64").tolist()
    for week, clinic, provider, day, half, show, starts in zip(*columns, starts_ns, strict=True):
        key = (week, clinic, provider, day, half)
        if key != previous_session:
            sessions.append((week, clinic, []))
            previous_session, previous_start = key, None
        slots = sessions[-1][2]
        if starts != previous_start:
            slots.append([])
            previous_start = starts
        slots[-1].append(float(show))
    return sessions


def _session_figures(sessions: list[tuple[str, str, list[list[float]]]], slot_minutes: float) -> pd.DataFrame:
    """Each session's visits, expected waiting minutes and idle minutes."""
    # One batched dynamic program: sessions padded at the front with empty slots, which are idle
    # (their idle is taken off) and leave the backlog at zero.
    longest = max(len(slots) for _, _, slots in sessions)
    width = max(len(s) for _, _, slots in sessions for s in slots) + 1
    pmfs = np.zeros((len(sessions), longest, width))
    pmfs[:, :, 0] = 1.0
    for i, (_, _, slots) in enumerate(sessions):
        pmfs[i, longest - len(slots) :, :] = 0.0
        pmfs[i, longest - len(slots) :, :width] = _pad(arrival_pmfs(slots), width)
    mean_backlog, idle, _, _ = backlog_dynamics(pmfs)
    out = []
    for i, (week, clinic, slots) in enumerate(sessions):
        pad = longest - len(slots)
        waiting = sum(
            p * slot_minutes * (mean_backlog[i, pad + t] + (sum(s) - p) / 2.0)
            for t, s in enumerate(slots)
            for p in s
        )
        visits = sum(len(s) for s in slots)
        out.append((week, clinic, visits, waiting, float(idle[i, pad:].sum()) * slot_minutes))
    return pd.DataFrame(out, columns=["week", "clinic_id", "visits", "waiting", "idle"])


def _pad(matrix: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(matrix), width))
    out[:, : matrix.shape[1]] = matrix
    return out
