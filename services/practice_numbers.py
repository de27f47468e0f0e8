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
- Denials: what drives them and how they were worked (`services.denial_analytics`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, func, select

from data.epoch import day_start, week_of
from data.no_show_definition import describe
from data.stores.appointment_tables import KNOWN, appointments, last_known_day, late_cancellation
from data.stores.calls import CallStore
from data.stores.claims import claims_table
from data.stores.overbooks import OverbookStore
from data.stores.slots import visit_slots
from data.stores.worklist import worklist
from models.decisions.risk_bands import RiskBands
from services.access.principal import Principal
from services.call_effect import CallEffect, call_effect
from services.denial_analytics import DenialAnalytics, denial_analytics
from services.monitoring.log_store import PredictionLog
from services.monitoring.recorder import PredictionRecorder
from services.practice_sessions import sessions_of
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
    denials: DenialAnalytics | None = None  # what drives denials, and how they were worked


def _week(days: pd.Series) -> pd.Series:
    return week_of(pd.to_datetime(days.astype("int64"), unit="D"))


def last_day(engine: Engine) -> int | None:
    """The day number of the latest visit with a known outcome: where the numbers' weeks end."""
    with engine.connect() as connection:
        return last_known_day(connection)


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
    last = last_day(engine)
    if last is None:
        return pd.DataFrame(columns=["week", "clinic_id", "visits"])
    late = late_cancellation(late_cancel_hours)
    # Counted in the database, by clinic, day and outcome: a few rows a day, whatever the volume.
    query = select(
        c.clinic_id,
        c.start_day,
        func.count(),
        func.sum(case((c.outcome == "cancelled", 1), else_=0)),
        func.sum(case((late, 1), else_=0)),
        func.sum(case((c.outcome.in_(KNOWN), 1), else_=0)),
        func.sum(case((c.outcome == "no_show", 1), else_=0)),
    ).where(c.start_day > last - 7 * weeks)
    if clinics is not None:
        query = query.where(c.clinic_id.in_(sorted(clinics)))
    names = ["clinic_id", "day", "visits", "cancelled", "late_cancelled", "known", "no_shows"]
    with engine.connect() as connection:
        rows = pd.DataFrame(connection.execute(query.group_by(c.clinic_id, c.start_day)).all(), columns=names)
    rows["week"] = _week(rows["day"])
    rows["known"] += rows["late_cancelled"]
    rows["no_shows"] += rows["late_cancelled"]
    out = rows.groupby(["week", "clinic_id"])[names[2:]].sum().astype(int).reset_index()
    out["cancellation_rate"] = out["cancelled"] / out["visits"]
    out["no_show_rate"] = np.where(out["known"] > 0, out["no_shows"] / out["known"].clip(lower=1), np.nan)
    out["predicted_no_show_rate"] = np.nan
    if log is not None:
        logged = log.predictions("noshow", events_from=last - 7 * weeks + 1)
        if not logged.empty and "segment_clinic_id" in logged.columns:
            logged = logged.dropna(subset=["event_day"]).drop_duplicates("record_key", keep="last")
            logged["week"] = _week(logged["event_day"])
            predicted = logged.groupby(["week", "segment_clinic_id"])["probability"].mean()
            keys = list(zip(out["week"], out["clinic_id"], strict=True))
            out["predicted_no_show_rate"] = [predicted.get(k, np.nan) for k in keys]
    return out.sort_values(["week", "clinic_id"]).reset_index(drop=True)


def claim_numbers(engine: Engine, weeks: int, payers: Scope = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Adjudicated claims per week and payer, and denials per week and category (of `payers` only,
    when given), counted in the database by day."""
    c = claims_table.c
    known = c.denied.is_not(None)
    with engine.connect() as connection:
        last = connection.execute(select(func.max(c.adjudicated_day)).where(known)).scalar()
        if last is None:
            return pd.DataFrame(columns=["week", "payer_id", "claims"]), pd.DataFrame(
                columns=["week", "category"]
            )
        window = [known, c.adjudicated_day > last - 7 * weeks]
        if payers is not None:
            window.append(c.payer_id.in_(sorted(payers)))
        by_day = select(
            c.payer_id,
            c.adjudicated_day,
            func.count(),
            func.sum(c.denied),
            func.sum(c.adjudicated_day - c.submitted_day),
            func.sum(c.charged),
            func.sum(c.not_denied_charge),
        ).where(*window)
        names = ["payer_id", "day", "claims", "denied", "days_to_remit", "charged", "not_denied"]
        rows = pd.DataFrame(
            connection.execute(by_day.group_by(c.payer_id, c.adjudicated_day)).all(), columns=names
        )
        by_category = select(c.adjudicated_day, c.category, func.count()).where(*window, c.denied == 1)
        denials = pd.DataFrame(
            connection.execute(by_category.group_by(c.adjudicated_day, c.category)).all(),
            columns=["day", "category", "denied"],
        )
    rows["week"] = _week(rows["day"])
    out = rows.groupby(["week", "payer_id"])[names[2:]].sum().reset_index()
    out["denied"] = out["denied"].astype(int)
    out["days_to_remit"] = out["days_to_remit"] / out["claims"]
    out["denial_rate"] = out["denied"] / out["claims"]
    out["not_denied_share"] = out["not_denied"] / out["charged"].where(out["charged"] > 0)
    denials["week"] = _week(denials["day"])
    categories = denials.groupby(["week", "category"])["denied"].sum().reset_index()
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
        numbers = replace(numbers, denials=denial_analytics(self.engine, weeks, who.payers))
        last = last_day(self.engine)
        if last is None:
            return numbers, pd.DataFrame(columns=["week", "clinic_id", "sessions"])
        first = last - 7 * weeks + 1
        slots = visit_slots(self.engine, first, last, who.clinics)
        if self.calls is not None:
            listings = self.calls.listings(first, who.clinics)
            numbers = replace(numbers, calls=call_effect(listings, self.bands, self.late_cancel_hours))
        if self.overbooks is not None:
            overbooks = self.overbooks.between(day_start(first), day_start(last + 1), who.clinics)
            numbers = replace(numbers, refills=refill_numbers(slots, overbooks))
        recorder = self.recorder
        predicted = (
            (lambda ids: recorder.probabilities_of("noshow", ids, events_from=first))
            if recorder is not None
            else None
        )
        return numbers, sessions_of(slots, predicted)
