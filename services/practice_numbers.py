"""The numbers a practice is run by, computed from careops's stores, by week and by clinic or payer.

- Visits: booked, cancelled and known outcomes per week (of the visit day) and clinic; the
  cancellation rate, the observed no-show rate and the predicted one (the mean of the latest logged
  score of each visit, when the prediction log is on). Under the practice's no-show definition
  (`data.no_show_definition`) a late cancellation is a known outcome and a no-show.
- Claims: per week (of adjudication) and payer, the denial rate, denials by category, the days from
  submission to remittance (a DSO-like figure) and the share of charges not denied. The store keeps
  no paid amounts (835 payments are read for labels, not kept), so this is the ceiling of the
  collections ratio, not the ratio itself.
- The worklist: of the claims scored on the worklist that have since been adjudicated, the share of
  denied charges that the top tenth by dollars at risk held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data.epoch import day_start
from data.no_show_definition import describe, is_late
from data.stores.appointment_tables import KNOWN, appointments
from data.stores.calls import CallStore
from data.stores.claims import claims_table
from data.stores.overbooks import OverbookStore
from data.stores.slots import visit_slots
from data.stores.worklist import worklist
from models.decisions.risk_bands import RiskBands
from services.access.principal import Principal
from services.call_effect import CallEffect, call_effect
from services.monitoring.log_store import PredictionLog
from services.monitoring.recorder import PredictionRecorder
from services.practice_sessions import session_minutes
from services.refills import refill_numbers

Scope = frozenset[str] | None


@dataclass(frozen=True)
class PracticeNumbers:
    """The tables of the numbers page; weeks are Mondays (ISO date)."""

    visits: pd.DataFrame  # week, clinic_id, visits, cancelled, late_cancelled, known, no_shows, rates
    definition: str  # what a no-show is, in words
    late_cancel_hours: float
    claims: pd.DataFrame  # week, payer_id, claims, denied, denial_rate, days_to_remit, not_denied_share
    categories: pd.DataFrame  # week, category, denied
    top_decile_share: float | None  # of denied charges on adjudicated worklist claims
    worklist_adjudicated: int
    calls: CallEffect | None = None  # what calling did, from the call list's record
    refills: pd.DataFrame | None = None  # freed time refilled and overbooked patients, by week and clinic


def _week(days: pd.Series) -> pd.Series:
    dates = pd.to_datetime(days.astype("int64"), unit="D")
    return (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.date.astype(str)


def last_known_day(engine: Engine) -> int | None:
    """The day number of the latest visit with a known outcome: where the numbers' weeks end."""
    c = appointments.c
    with engine.connect() as connection:
        return connection.execute(select(func.max(c.start_day)).where(c.outcome.in_(KNOWN))).scalar()


def visit_numbers(
    engine: Engine,
    log: PredictionLog | None,
    weeks: int,
    clinics: Scope = None,
    late_cancel_hours: float = 0,
) -> pd.DataFrame:
    """Visits per week and clinic over the last `weeks` weeks with a known outcome (of `clinics` only,
    when given); late cancellations (under `late_cancel_hours`) are known outcomes and no-shows."""
    c = appointments.c
    last = last_known_day(engine)
    if last is None:
        return pd.DataFrame(columns=["week", "clinic_id", "visits"])
    with engine.connect() as connection:
        query = select(c.clinic_id, c.start_day, c.outcome, c.cancel_lead_hours).where(
            c.start_day > last - 7 * weeks
        )
        if clinics is not None:
            query = query.where(c.clinic_id.in_(sorted(clinics)))
        rows = pd.DataFrame(
            connection.execute(query).all(), columns=["clinic_id", "day", "outcome", "cancel_lead_hours"]
        )
    rows["week"] = _week(rows["day"])
    rows["cancelled"] = rows["outcome"] == "cancelled"
    lead = rows["cancel_lead_hours"].to_numpy(dtype=np.float64, na_value=np.nan)
    rows["late_cancelled"] = rows["cancelled"] & is_late(np.nan_to_num(lead, nan=np.inf), late_cancel_hours)
    rows["known"] = rows["outcome"].isin(KNOWN) | rows["late_cancelled"]
    rows["no_shows"] = (rows["outcome"] == "no_show") | rows["late_cancelled"]
    grouped = rows.groupby(["week", "clinic_id"])
    out = grouped[["cancelled", "late_cancelled", "known", "no_shows"]].sum().astype(int)
    out.insert(0, "visits", grouped.size())
    out = out.reset_index()
    out["cancellation_rate"] = out["cancelled"] / out["visits"]
    out["no_show_rate"] = np.where(out["known"] > 0, out["no_shows"] / out["known"].clip(lower=1), np.nan)
    out["predicted_no_show_rate"] = np.nan
    if log is not None:
        logged = log.predictions("noshow")
        if not logged.empty and "segment_clinic_id" in logged.columns:
            logged = logged.dropna(subset=["event_day"]).drop_duplicates("record_key", keep="last")
            logged = logged[logged["event_day"] > last - 7 * weeks]
            logged["week"] = _week(logged["event_day"])
            predicted = logged.groupby(["week", "segment_clinic_id"])["probability"].mean()
            keys = list(zip(out["week"], out["clinic_id"], strict=True))
            out["predicted_no_show_rate"] = [predicted.get(k, np.nan) for k in keys]
    return out.sort_values(["week", "clinic_id"]).reset_index(drop=True)


def claim_numbers(engine: Engine, weeks: int, payers: Scope = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Adjudicated claims per week and payer, and denials per week and category (of `payers` only,
    when given)."""
    c = claims_table.c
    query = select(c.payer_id, c.submitted_day, c.adjudicated_day, c.denied, c.category, c.record).where(
        c.adjudicated_day.is_not(None), c.denied.is_not(None)
    )
    if payers is not None:
        query = query.where(c.payer_id.in_(sorted(payers)))
    with engine.connect() as connection:
        last = connection.execute(select(func.max(c.adjudicated_day)).where(c.denied.is_not(None))).scalar()
        if last is None:
            return pd.DataFrame(columns=["week", "payer_id", "claims"]), pd.DataFrame(
                columns=["week", "category"]
            )
        rows = pd.DataFrame(
            connection.execute(query.where(c.adjudicated_day > last - 7 * weeks)).all(),
            columns=["payer_id", "submitted", "adjudicated", "denied", "category", "record"],
        )
    rows["week"] = _week(rows["adjudicated"])
    charged, kept = [], []
    for text in rows["record"]:
        lines = json.loads(text)["service_lines"] if text else []
        charged.append(sum(line["charge"] for line in lines))
        kept.append(sum(line["charge"] for line in lines if not line.get("denied")))
    rows["charged"], rows["not_denied"] = charged, kept
    rows.loc[rows["denied"] == 1, "not_denied"] = 0.0  # a claim denied whole pays nothing
    rows["days_to_remit"] = rows["adjudicated"] - rows["submitted"]
    grouped = rows.groupby(["week", "payer_id"])
    out = pd.DataFrame(
        {
            "claims": grouped.size(),
            "denied": grouped["denied"].sum().astype(int),
            "days_to_remit": grouped["days_to_remit"].mean(),
            "charged": grouped["charged"].sum(),
            "not_denied": grouped["not_denied"].sum(),
        }
    ).reset_index()
    out["denial_rate"] = out["denied"] / out["claims"]
    out["not_denied_share"] = out["not_denied"] / out["charged"].where(out["charged"] > 0)
    denied = rows[rows["denied"] == 1]
    categories = denied.groupby(["week", "category"]).size().rename("denied").reset_index()
    return out.sort_values(["week", "payer_id"]).reset_index(drop=True), categories


def worklist_top_decile(engine: Engine, payers: Scope = None) -> tuple[float | None, int]:
    """Share of denied charges among adjudicated worklist claims held by the top tenth by dollars at
    risk (when scored), and how many worklist claims have been adjudicated (of `payers` only)."""
    w, c = worklist.c, claims_table.c
    query = (
        select(w.dollars_at_risk, c.denied, c.record)
        .join(claims_table, c.claim_id == w.claim_id)
        .where(c.denied.is_not(None), w.dollars_at_risk.is_not(None))
    )
    if payers is not None:
        query = query.where(w.payer_id.in_(sorted(payers)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return None, 0
    at_risk = np.array([r[0] for r in rows])
    denied_charge = np.array([json.loads(r[2])["total_charge"] if r[1] == 1 else 0.0 for r in rows])
    if denied_charge.sum() == 0:
        return None, len(rows)
    top = np.argsort(-at_risk, kind="stable")[: max(1, int(np.ceil(len(rows) / 10)))]
    return float(denied_charge[top].sum() / denied_charge.sum()), len(rows)


def practice_numbers(
    engine: Engine,
    log: PredictionLog | None = None,
    weeks: int = 8,
    clinics: Scope = None,
    payers: Scope = None,
    late_cancel_hours: float = 0,
) -> PracticeNumbers:
    """Every table of the numbers page, over the last `weeks` weeks of each store, counting only the
    given clinics' visits and payers' claims (None: all)."""
    claims, categories = claim_numbers(engine, weeks, payers)
    share, adjudicated = worklist_top_decile(engine, payers)
    visits = visit_numbers(engine, log, weeks, clinics, late_cancel_hours)
    definition = describe(late_cancel_hours)
    return PracticeNumbers(visits, definition, late_cancel_hours, claims, categories, share, adjudicated)


class PracticeNumbersService:
    """The numbers page's figures for a principal: their clinics' visits, sessions and calls, their
    payers' claims. Only counts and rates leave it, so nothing is added to the audit trail."""

    def __init__(
        self,
        engine: Engine,
        recorder: PredictionRecorder | None,
        bands: RiskBands,
        late_cancel_hours: float = 0,
        calls: CallStore | None = None,
        overbooks: OverbookStore | None = None,
    ) -> None:
        self.engine, self.recorder, self.bands = engine, recorder, bands
        self.late_cancel_hours, self.calls, self.overbooks = late_cancel_hours, calls, overbooks

    def figures(self, who: Principal, weeks: int) -> tuple[PracticeNumbers, pd.DataFrame]:
        """The tables (`practice_numbers`) and the sessions' minutes (`session_minutes`) in scope."""
        log = self.recorder.log if self.recorder is not None else None
        numbers = practice_numbers(
            self.engine, log, weeks, who.clinics, who.payers, late_cancel_hours=self.late_cancel_hours
        )
        last = last_known_day(self.engine)
        if last is not None:
            first = last - 7 * weeks + 1
            if self.calls is not None:
                listings = self.calls.listings(first, who.clinics)
                numbers = replace(numbers, calls=call_effect(listings, self.bands, self.late_cancel_hours))
            if self.overbooks is not None:
                slots = visit_slots(self.engine, first, last, who.clinics)
                span = day_start(first), day_start(last + 1)
                refills = refill_numbers(slots, self.overbooks.between(*span, who.clinics))
                numbers = replace(numbers, refills=refills)
        recorder = self.recorder
        predicted = (lambda ids: recorder.probabilities_of("noshow", ids)) if recorder is not None else None
        return numbers, session_minutes(self.engine, weeks, predicted, clinics=who.clinics)
