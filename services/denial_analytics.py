"""What drives denials, from the claim store: by week of adjudication, the denial rate by payer, by
reason, by procedure (of lines) and by rendering provider, the ten with the most denials of each;
the share of denied dollars whose reason a fix before submission addresses; and from the worklist's
events, how the denials were worked: appealed, corrected, overturned (paid after the denial) or
written off, and the days to resolve them.

Counts are made in the database by day and folded into weeks here, as the other claim numbers are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data.epoch import epoch_day, week_of
from data.stores.claims import claims_table, lines_table
from data.stores.worklist import worklist
from data.stores.worklist_events import events

FIXABLE = frozenset({"eligibility", "missing_information", "coding", "prior_authorization", "timely_filing"})
TOP = 10
Scope = frozenset[str] | None


@dataclass(frozen=True)
class Breakdown:
    """The denial rate by one dimension: over the window (the ten with the most denials) and by week."""

    name: str  # payer, reason, procedure, rendering provider
    overall: pd.DataFrame  # key, claims, denied, denial_rate; most denials first
    weekly: pd.DataFrame  # rows: the keys of `overall`, in its order; columns: weeks; cells: denial rate


@dataclass(frozen=True)
class DenialAnalytics:
    """The denial analytics of the numbers page."""

    breakdowns: list[Breakdown]
    fixable: pd.DataFrame  # week, denied_dollars, fixable_dollars, fixable_share
    fixable_share: float | None  # over the window
    worked: pd.DataFrame  # week of denial: denied, appealed, corrected, overturned, written_off, open, days


def _weeks(days: pd.Series) -> pd.Series:
    return week_of(pd.to_datetime(days.astype("int64"), unit="D"))


def _breakdown(name: str, rows: pd.DataFrame, totals: pd.Series | None = None) -> Breakdown:
    """rows: key, day, claims, denied; `totals` (claims per week) is the denominator when given (a
    reason's rate is of every claim, not of the claims with that reason)."""
    rows = rows.assign(week=_weeks(rows["day"])) if len(rows) else rows.assign(week=[])
    weekly = rows.groupby(["key", "week"])[["claims", "denied"]].sum().reset_index()
    if totals is not None:
        weekly["claims"] = weekly["week"].map(totals).fillna(0)
    overall = weekly.groupby("key")[["claims", "denied"]].sum()
    if totals is not None:
        overall["claims"] = float(totals.sum())
    overall = (
        overall[overall["denied"] > 0].sort_values(["denied", "claims"], ascending=[False, True]).head(TOP)
    )
    overall["denial_rate"] = overall["denied"] / overall["claims"].where(overall["claims"] > 0)
    weekly["denial_rate"] = weekly["denied"] / weekly["claims"].where(weekly["claims"] > 0)
    table = weekly[weekly["key"].isin(overall.index)].pivot(index="key", columns="week", values="denial_rate")
    return Breakdown(name, overall.reset_index(), table.reindex(overall.index))


def denial_analytics(engine: Engine, weeks: int, payers: Scope = None) -> DenialAnalytics:
    """The analytics over the last `weeks` weeks of adjudications (of `payers` only, when given)."""
    c, line = claims_table.c, lines_table.c
    with engine.connect() as connection:
        last = connection.execute(select(func.max(c.adjudicated_day)).where(c.denied.is_not(None))).scalar()
        if last is None:
            return DenialAnalytics([], pd.DataFrame(), None, worked_denials(engine, payers))
        window = [c.denied.is_not(None), c.adjudicated_day > last - 7 * weeks]
        line_window = [line.denied.is_not(None), line.adjudicated_day > last - 7 * weeks]
        if payers is not None:
            window.append(c.payer_id.in_(sorted(payers)))
            line_window.append(line.payer_id.in_(sorted(payers)))
        by_payer = _by_day(connection, c.payer_id, c.adjudicated_day, c.denied, window)
        by_provider = _by_day(connection, c.rendering_provider_id, c.adjudicated_day, c.denied, window)
        by_procedure = _by_day(
            connection, line.procedure_code, line.adjudicated_day, line.denied, line_window
        )
        by_reason = _by_day(connection, c.category, c.adjudicated_day, c.denied, [*window, c.denied == 1])
        dollars = select(c.category, c.adjudicated_day, func.sum(c.charged - c.not_denied_charge)).where(
            *window, c.denied == 1
        )
        denied_dollars = pd.DataFrame(
            connection.execute(dollars.group_by(c.category, c.adjudicated_day)).all(),
            columns=["category", "day", "dollars"],
        )
    totals = by_payer.assign(week=_weeks(by_payer["day"])).groupby("week")["claims"].sum()
    breakdowns = [
        _breakdown("payer", by_payer),
        _breakdown("reason", by_reason.fillna({"key": "unknown"}), totals),
        _breakdown("procedure", by_procedure),
        _breakdown("rendering provider", by_provider.fillna({"key": "none on the claim"})),
    ]
    fixable, share = _fixable(denied_dollars)
    return DenialAnalytics(breakdowns, fixable, share, worked_denials(engine, payers))


def _by_day(connection, key, day, denied, where: list) -> pd.DataFrame:
    """Rows (key, day, claims, denied) counted in the database."""
    query = select(key, day, func.count(), func.sum(denied)).where(*where).group_by(key, day)
    return pd.DataFrame(connection.execute(query).all(), columns=["key", "day", "claims", "denied"])


def _fixable(frame: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    if frame.empty:
        return pd.DataFrame(columns=["week", "denied_dollars", "fixable_dollars", "fixable_share"]), None
    frame = frame.assign(
        week=_weeks(frame["day"]), fixable=frame["dollars"].where(frame["category"].isin(FIXABLE), 0.0)
    )
    weekly = frame.groupby("week")[["dollars", "fixable"]].sum().reset_index()
    weekly.columns = ["week", "denied_dollars", "fixable_dollars"]
    weekly["fixable_share"] = weekly["fixable_dollars"] / weekly["denied_dollars"].where(
        weekly["denied_dollars"] > 0
    )
    total = weekly["denied_dollars"].sum()
    return weekly, (float(weekly["fixable_dollars"].sum() / total) if total > 0 else None)


def worked_denials(engine: Engine, payers: Scope = None) -> pd.DataFrame:
    """By week of the denial (the 835's day), the listed claims denied and what became of them: appealed
    or corrected, then overturned (paid) or written off, or still open; the median days from the
    denial to its resolution."""
    e, w = events.c, worklist.c
    query = select(e.handle, e.status, e.day, e.at).join(worklist, w.id == e.handle).order_by(e.handle, e.id)
    if payers is not None:
        query = query.where(w.payer_id.in_(sorted(payers)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    columns = ["week", "denied", "appealed", "corrected", "overturned", "written_off", "open", "median_days"]
    cases: dict[int, dict] = {}
    for handle, status, day, at in rows:
        when = day if day is not None else epoch_day(at)
        case_ = cases.get(handle)
        if status == "denied" and (case_ is None or case_.get("resolved") is not None):
            cases[handle] = {
                "denied": when,
                "appealed": False,
                "corrected": False,
                "resolved": None,
                "how": None,
            }
        elif case_ is not None and case_["resolved"] is None and status in ("appealed", "corrected"):
            case_[status] = True
        elif case_ is not None and case_["resolved"] is None and status in ("paid", "written_off"):
            case_["resolved"], case_["how"] = when, status
    if not cases:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(cases.values())
    frame["week"] = _weeks(frame["denied"])
    frame["days"] = frame["resolved"] - frame["denied"]
    out = frame.groupby("week").agg(
        denied=("denied", "size"),
        appealed=("appealed", "sum"),
        corrected=("corrected", "sum"),
        overturned=("how", lambda h: int((h == "paid").sum())),
        written_off=("how", lambda h: int((h == "written_off").sum())),
        open=("resolved", lambda r: int(r.isna().sum())),
        median_days=("days", lambda d: float(np.nanmedian(d)) if d.notna().any() else np.nan),
    )
    return out.reset_index()[columns]
