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
from typing import Any

import numpy as np
import pandas as pd

from data.epoch import as_days, is_missing
from data.schemas import Claim, line_field, service_lines
from data.stores.claims import HISTORY_CATEGORIES, ClaimEvents, ClaimStore, service_key

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


def claim_history(frame: pd.DataFrame, events: ClaimEvents, params: ClaimHistoryParams) -> pd.DataFrame:
    """CLAIM_HISTORY_COLUMNS for the claims in `frame`, from the events known before each submission."""
    submitted = as_days(frame["submitted_at"])
    payer = frame["payer_id"].astype(str).to_numpy(dtype=object)
    claims = events.claims
    sums = ["n", "denied", *(f"category:{c}" for c in HISTORY_CATEGORIES)]
    payer_counts = counts_before(
        claims["payer_id"].to_numpy(dtype=object),
        claims["day"].to_numpy(),
        claims[sums].to_numpy(),
        payer,
        submitted,
    )
    n = payer_counts[:, 0]
    out: dict[str, Any] = {
        "payer_claims_adjudicated": n,
        "payer_denial_rate": (payer_counts[:, 1] + params.payer_weight * params.prior_denial_rate)
        / (n + params.payer_weight),
    }
    for k, c in enumerate(HISTORY_CATEGORIES):
        prior = params.prior_category_rates.get(c, 0.0)
        out[f"payer_{c}_rate"] = (payer_counts[:, 2 + k] + params.payer_weight * prior) / (
            n + params.payer_weight
        )

    line_lists = [service_lines(lines) for lines in frame["service_lines"]]
    owner = np.repeat(np.arange(len(frame)), [len(lines) for lines in line_lists])
    line_keys = np.array(
        [
            f"{payer[row]}|{line_field(line, 'procedure_code')}"
            for row, lines in enumerate(line_lists)
            for line in lines
        ],
        dtype=object,
    )
    lines = events.lines
    event_keys = (lines["payer_id"].astype(str) + "|" + lines["procedure_code"].astype(str)).to_numpy(
        dtype=object
    )
    code_counts = counts_before(
        event_keys, lines["day"].to_numpy(), lines[["n", "denied"]].to_numpy(), line_keys, submitted[owner]
    )
    code_rate = (code_counts[:, 1] + params.code_weight * params.prior_line_denial_rate) / (
        code_counts[:, 0] + params.code_weight
    )
    per_line = np.column_stack([code_counts[:, 0], code_rate])
    starts = np.concatenate([[0], np.cumsum([len(lines) for lines in line_lists])])
    out[LINE_HISTORY_COLUMN] = [per_line[starts[i] : starts[i + 1]] for i in range(len(frame))]
    out["max_payer_code_denial_rate"] = np.array(
        [
            code_rate[starts[i] : starts[i + 1]].max() if starts[i + 1] > starts[i] else np.nan
            for i in range(len(frame))
        ]
    )
    keys = np.array(
        [
            service_key(p, d, s)
            for p, d, s in zip(frame["patient_id"], frame["service_date"], line_lists, strict=True)
        ],
        dtype=object,
    )
    earlier = counts_before(
        events.submissions["service_key"].to_numpy(dtype=object),
        events.submissions["day"].to_numpy(),
        events.submissions[["n"]].to_numpy(),
        keys,
        submitted,
    )
    out["earlier_submissions_same_service"] = earlier[:, 0]
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


def online_claim_history(
    store: ClaimStore, records: Sequence[Claim], params: ClaimHistoryParams
) -> dict[str, np.ndarray]:
    """CLAIM_HISTORY_COLUMNS of claims about to be submitted, from the store, by `claim_history`."""
    frame = pd.DataFrame(
        {
            "patient_id": [r.patient_id for r in records],
            "payer_id": [r.payer_id for r in records],
            "service_date": [r.service_date for r in records],
            "submitted_at": [r.submitted_at for r in records],
            "service_lines": [list(r.service_lines) for r in records],
        }
    )
    keys = [service_key(r.patient_id, r.service_date, r.service_lines) for r in records]
    last_day = float(as_days(frame["submitted_at"]).max()) if records else 0.0
    events = store.events(frame["payer_id"].tolist(), keys, before_day=last_day)
    history = claim_history(frame, events, params)
    out = {}
    for name in CLAIM_HISTORY_COLUMNS:
        values = np.empty(len(records), dtype=object) if name == LINE_HISTORY_COLUMN else None
        if values is not None:
            values[:] = list(history[name])
            out[name] = values
        else:
            out[name] = history[name].to_numpy(dtype=np.float64)
    return out
