"""Point-in-time payer history for claims: only what the practice knew on the day it submits a claim.

A claim submitted on day S may use remittances adjudicated before S (the payer's denial rates
overall, by category and by procedure code) and the submissions made before S (an earlier claim
for the same patient, service date and codes makes this one a likely duplicate). Rates are
smoothed toward priors learned from the training rows. `claim_history` is the one definition:
offline the events come from the table itself, online from the claim store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from data.claim_events import HISTORY_CATEGORIES, ClaimEvents, service_key
from data.epoch import as_days, is_missing
from data.schemas import Claim, line_field, service_lines

CLAIM_HISTORY_FEATURES = (
    "payer_claims_adjudicated",
    "payer_denial_rate",
    *(f"payer_{c}_rate" for c in HISTORY_CATEGORIES),
    "max_payer_code_denial_rate",
    "earlier_submissions_same_service",
)
# What the models read: the smoothed rates (their smoothing already weighs how much history there is)
# and earlier submissions. Raw counts only grow with time, so a model would read them as a clock.
CLAIM_HISTORY_MODEL_FEATURES = tuple(
    name for name in CLAIM_HISTORY_FEATURES if name != "payer_claims_adjudicated"
)
# Per claim, an array with one row per service line: (lines adjudicated, smoothed denial rate) of
# the line's (payer, procedure code).
LINE_HISTORY_COLUMN = "line_payer_code_history"
CLAIM_HISTORY_COLUMNS = (*CLAIM_HISTORY_FEATURES, LINE_HISTORY_COLUMN)


@dataclass(frozen=True)
class ClaimHistoryParams:
    """Priors (from the training rows) that smooth the payer rates, and their weights in claims."""

    prior_denial_rate: float = 0.14
    prior_line_denial_rate: float = 0.17
    prior_category_rates: dict[str, float] = field(default_factory=dict)
    payer_weight: float = 50.0
    code_weight: float = 20.0

    @classmethod
    def learn(cls, frame: pd.DataFrame) -> ClaimHistoryParams:
        """Priors from a labelled claims table: overall claim, line and per-category denial rates."""
        return cls.from_events(claim_events(frame))

    @classmethod
    def from_events(cls, events: ClaimEvents) -> ClaimHistoryParams:
        """Priors from the adjudicated claims and lines of a training window."""
        claims, lines = events.claims, events.lines
        n, line_n = claims["n"].sum(), lines["n"].sum()
        return cls(
            prior_denial_rate=float(claims["denied"].sum() / n) if n else 0.14,
            prior_line_denial_rate=float(lines["denied"].sum() / line_n) if line_n else 0.17,
            prior_category_rates={
                c: float(claims[f"category:{c}"].sum() / n) if n else 0.0 for c in HISTORY_CATEGORIES
            },
        )


def claim_events(frame: pd.DataFrame) -> ClaimEvents:
    """The events a canonical claims table holds: its adjudicated claims and lines, its submissions."""
    submissions = pd.DataFrame(
        {
            "service_key": [
                service_key(p, d, s)
                for p, d, s in zip(
                    frame["patient_id"], frame["service_date"], frame["service_lines"], strict=True
                )
            ],
            "day": as_days(frame["submitted_at"]),
            "n": 1.0,
        }
    )
    adjudicated = np.zeros(len(frame), dtype=bool)
    if "adjudicated_at" in frame.columns and "denied" in frame.columns:
        adjudicated = frame["adjudicated_at"].notna().to_numpy() & frame["denied"].notna().to_numpy()
    done = frame[adjudicated]
    days = as_days(done["adjudicated_at"]) if len(done) else np.empty(0)
    categories = (
        done["denial_category"].to_numpy(dtype=object)
        if "denial_category" in done.columns
        else np.full(len(done), None, dtype=object)
    )
    claims = pd.DataFrame(
        {
            "payer_id": done["payer_id"].astype(str).to_numpy(dtype=object),
            "day": days,
            "n": np.ones(len(done)),
            "denied": done["denied"].astype(float).to_numpy() if len(done) else np.empty(0),
        }
        | {f"category:{c}": (categories == c).astype(float) for c in HISTORY_CATEGORIES}
    )
    rows = []
    for payer_id, day, lines in zip(claims["payer_id"], days, done["service_lines"], strict=True):
        for line in service_lines(lines):
            denied = line_field(line, "denied")
            if not is_missing(denied):
                rows.append((payer_id, str(line_field(line, "procedure_code")), day, 1.0, float(denied)))
    line_frame = pd.DataFrame(rows, columns=["payer_id", "procedure_code", "day", "n", "denied"])
    return ClaimEvents(claims=claims, lines=line_frame, submissions=submissions)


def counts_before(
    event_keys: np.ndarray,
    event_days: np.ndarray,
    event_values: np.ndarray,
    query_keys: np.ndarray,
    query_days: np.ndarray,
) -> np.ndarray:
    """For each query, the sums of each value column over events with its key on earlier days."""
    values = np.asarray(event_values, dtype=np.float64)
    width = values.shape[1] if values.ndim == 2 else 1
    out = np.zeros((len(query_keys), width))
    if len(event_keys) == 0 or len(query_keys) == 0:
        return out
    values = values.reshape(len(event_keys), width)
    names = [f"v{k}" for k in range(width)]
    events = pd.DataFrame({"key": np.asarray(event_keys, dtype=object), "day": event_days})
    events[names] = values
    daily = (
        events.groupby(["key", "day"], sort=True)
        .sum()
        .groupby(level="key")
        .cumsum()
        .reset_index()
        .sort_values("day", kind="stable")
    )
    queries = pd.DataFrame(
        {
            "key": np.asarray(query_keys, dtype=object),
            "day": np.asarray(query_days, dtype=np.float64),
            "row": np.arange(len(query_keys)),
        }
    ).sort_values("day", kind="stable")
    matched = pd.merge_asof(
        queries, daily, on="day", by="key", direction="backward", allow_exact_matches=False
    ).sort_values("row")
    return matched[names].fillna(0.0).to_numpy()


@dataclass(frozen=True)
class HistoryQueries:
    """What payer history asks of a batch of claims: each claim's payer, service key and submission
    day, and each line's (payer, procedure code) key, in claim then line order."""

    payer: np.ndarray
    service_key: np.ndarray
    day: np.ndarray
    line_key: np.ndarray
    line_owner: np.ndarray
    line_starts: np.ndarray

    @classmethod
    def of(
        cls,
        payers: Sequence[Any],
        patients: Sequence[Any],
        service_dates: Sequence[Any],
        submitted: Any,
        lines: Sequence[Any],
    ) -> HistoryQueries:
        """Queries from the claims' fields (a table's columns or records' attributes)."""
        line_lists = [service_lines(value) for value in lines]
        payer = np.array([str(p) for p in payers], dtype=object)
        owner = np.repeat(np.arange(len(payer)), [len(items) for items in line_lists]).astype(np.int64)
        line_key = np.array(
            [
                f"{payer[row]}|{line_field(line, 'procedure_code')}"
                for row, items in enumerate(line_lists)
                for line in items
            ],
            dtype=object,
        )
        keys = [
            service_key(p, d, items) for p, d, items in zip(patients, service_dates, line_lists, strict=True)
        ]
        return cls(
            payer=payer,
            service_key=np.array(keys, dtype=object),
            day=as_days(submitted),
            line_key=line_key,
            line_owner=owner,
            line_starts=np.concatenate([[0], np.cumsum([len(items) for items in line_lists])]).astype(
                np.int64
            ),
        )

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> HistoryQueries:
        """Queries for the claims of a canonical table."""
        return cls.of(
            frame["payer_id"].tolist(),
            frame["patient_id"].tolist(),
            frame["service_date"].tolist(),
            frame["submitted_at"].to_numpy(),
            frame["service_lines"].tolist(),
        )


@dataclass(frozen=True)
class HistoryCounts:
    """Sums of the events known before each claim's submission day.

    payer: per claim, adjudicated claims of its payer (n, denied, then one count per category);
    code: per line, adjudicated lines of its (payer, code) (n, denied); earlier: per claim, earlier
    submissions of its service key.
    """

    payer: np.ndarray
    code: np.ndarray
    earlier: np.ndarray


def counts_from_events(queries: HistoryQueries, events: ClaimEvents) -> HistoryCounts:
    """HistoryCounts from a table's events (offline)."""
    claims, lines, submissions = events.claims, events.lines, events.submissions
    sums = ["n", "denied", *(f"category:{c}" for c in HISTORY_CATEGORIES)]
    line_keys = (lines["payer_id"].astype(str) + "|" + lines["procedure_code"].astype(str)).to_numpy(
        dtype=object
    )
    return HistoryCounts(
        payer=counts_before(
            claims["payer_id"].to_numpy(dtype=object),
            claims["day"].to_numpy(),
            claims[sums].to_numpy(),
            queries.payer,
            queries.day,
        ),
        code=counts_before(
            line_keys,
            lines["day"].to_numpy(),
            lines[["n", "denied"]].to_numpy(),
            queries.line_key,
            queries.day[queries.line_owner],
        ),
        earlier=counts_before(
            submissions["service_key"].to_numpy(dtype=object),
            submissions["day"].to_numpy(),
            submissions[["n"]].to_numpy(),
            queries.service_key,
            queries.day,
        )[:, 0],
    )


def history_from_counts(
    queries: HistoryQueries, counts: HistoryCounts, params: ClaimHistoryParams
) -> dict[str, Any]:
    """CLAIM_HISTORY_COLUMNS from the counts: the one definition of the features, offline and online."""
    n = counts.payer[:, 0]
    out: dict[str, Any] = {
        "payer_claims_adjudicated": n,
        "payer_denial_rate": (counts.payer[:, 1] + params.payer_weight * params.prior_denial_rate)
        / (n + params.payer_weight),
    }
    for k, c in enumerate(HISTORY_CATEGORIES):
        prior = params.prior_category_rates.get(c, 0.0)
        out[f"payer_{c}_rate"] = (counts.payer[:, 2 + k] + params.payer_weight * prior) / (
            n + params.payer_weight
        )
    code_rate = (counts.code[:, 1] + params.code_weight * params.prior_line_denial_rate) / (
        counts.code[:, 0] + params.code_weight
    )
    per_line = np.column_stack([counts.code[:, 0], code_rate])
    starts = queries.line_starts
    claims = len(starts) - 1
    out[LINE_HISTORY_COLUMN] = [per_line[starts[i] : starts[i + 1]] for i in range(claims)]
    out["max_payer_code_denial_rate"] = np.array(
        [
            code_rate[starts[i] : starts[i + 1]].max() if starts[i + 1] > starts[i] else np.nan
            for i in range(claims)
        ]
    )
    out["earlier_submissions_same_service"] = counts.earlier
    return out


def claim_history(frame: pd.DataFrame, events: ClaimEvents, params: ClaimHistoryParams) -> pd.DataFrame:
    """CLAIM_HISTORY_COLUMNS for the claims in `frame`, from the events known before each submission."""
    queries = HistoryQueries.of_frame(frame)
    out = history_from_counts(queries, counts_from_events(queries, events), params)
    return pd.DataFrame({name: out[name] for name in CLAIM_HISTORY_COLUMNS}, index=frame.index)


def add_claim_history(
    frame: pd.DataFrame, params: ClaimHistoryParams, events: ClaimEvents | None = None
) -> pd.DataFrame:
    """The table with CLAIM_HISTORY_COLUMNS; events default to those of the table itself."""
    history = claim_history(frame, events if events is not None else claim_events(frame), params)
    out = frame.copy()
    for name in CLAIM_HISTORY_COLUMNS:
        out[name] = history[name]
    return out


class ClaimHistorySource(Protocol):
    """Where online payer history comes from (the claim store implements it)."""

    def counts_before(
        self,
        payers: Sequence[tuple[str, float]],
        codes: Sequence[tuple[str, float]],
        services: Sequence[tuple[str, float]],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums of the daily counts before each query's day, per payer, (payer, code) and service key."""
        ...


def online_claim_history(
    store: ClaimHistorySource, records: Sequence[Claim], params: ClaimHistoryParams
) -> dict[str, np.ndarray]:
    """CLAIM_HISTORY_COLUMNS of claims about to be submitted, from the store's daily counts.

    The store answers each key's sums before a day with indexed look-ups, so the cost does not grow
    with the history it holds; `history_from_counts` turns them into features as offline.
    """
    queries = HistoryQueries.of(
        [r.payer_id for r in records],
        [r.patient_id for r in records],
        [r.service_date for r in records],
        [r.submitted_at for r in records],
        [list(r.service_lines) for r in records],
    )
    payer, code, earlier = store.counts_before(
        list(zip(queries.payer, queries.day, strict=True)),
        list(zip(queries.line_key, queries.day[queries.line_owner], strict=True)),
        list(zip(queries.service_key, queries.day, strict=True)),
    )
    history = history_from_counts(queries, HistoryCounts(payer, code, earlier), params)
    out: dict[str, np.ndarray] = {}
    for name in CLAIM_HISTORY_COLUMNS:
        if name == LINE_HISTORY_COLUMN:
            values = np.empty(len(records), dtype=object)
            values[:] = list(history[name])
            out[name] = values
        else:
            out[name] = np.asarray(history[name], dtype=np.float64)
    return out
