"""The monitoring report of one task: realized and estimated performance by week, drift, and whether
to retrain.

Its inputs are the prediction log (rows and daily bin counts), the outcomes known so far keyed by
the same pseudonyms, and the reference profile of each logged model version. Weeks are weeks of
the predicted event (the appointment's start, the claim's service date), so realized figures,
estimates and drift of one week describe the same appointments or claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from models.evaluation import binary_metrics, subgroup_report
from services.monitoring.drift import ACT, WATCH, level, psi
from services.monitoring.estimation import expected_figures, recalibrated, recent_calibration
from services.monitoring.reference import SCORE, ReferenceProfile

EPOCH = date(1970, 1, 1)
MIN_WEEK_LABELS = 30  # labelled rows (with both classes) before a week gets realized figures
DRIFT_DAYS = 14
RECENT_WEEKS = 2  # labelled weeks whose calibration an estimate applies
MIN_DRIFT_ROWS = 300  # below this many scores in the window, PSI is sampling noise: reported, not acted on


@dataclass(frozen=True)
class Thresholds:
    """When the report recommends retraining."""

    auc_tolerance: float = 0.005  # the promotion gate's
    rate_bound: float = 0.03  # |observed - predicted| rate, calibration in the large
    score_psi: float = ACT


def _week(day: int) -> date:
    start = EPOCH + timedelta(days=int(day))
    return start - timedelta(days=start.weekday())


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's standard error of a ROC-AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / max(positives * negatives, 1)
    return float(np.sqrt(max(variance, 0.0)))


def latest_predictions(log: pd.DataFrame, labels: Mapping[str, int]) -> pd.DataFrame:
    """One row per record: its latest logged prediction, with its label where known (else NaN)."""
    if log.empty:
        return log.assign(label=pd.Series(dtype=float), week=pd.Series(dtype=object))
    latest = log.sort_values("scored_at").drop_duplicates("record_key", keep="last").copy()
    latest["label"] = latest["record_key"].map(labels).astype(float)
    day = latest["event_day"].fillna(latest["scored_day"]).astype(int)
    latest["week"] = [_week(d) for d in day]
    return latest


def weekly_performance(latest: pd.DataFrame) -> list[dict[str, Any]]:
    """Per event week: counts, rates, estimated figures from the scores, realized ones from labels.

    A week's estimate first moves its scores by the calibration the last RECENT_WEEKS labelled
    weeks before it showed (when they hold enough outcomes): a model that drifted out of calibration
    is then estimated as it behaves now, not as it did at training. The estimate uses nothing of
    the week's own outcomes, so weeks with outcomes check it (`estimated` against `realized`)."""
    weeks: list[dict[str, Any]] = []
    earlier: list[tuple[np.ndarray, np.ndarray]] = []  # (scores, outcomes) of each labelled week so far
    for week, rows in latest.groupby("week", sort=True):
        p = rows["probability"].to_numpy()
        labelled = rows["label"].notna().to_numpy()
        y = rows.loc[labelled, "label"].to_numpy()
        recent = earlier[-RECENT_WEEKS:]
        calibration = (
            recent_calibration(np.concatenate([r[0] for r in recent]), np.concatenate([r[1] for r in recent]))
            if recent
            else None
        )
        estimated = expected_figures(recalibrated(p, calibration) if calibration else p)
        estimated["recalibrated"] = calibration is not None
        entry: dict[str, Any] = {
            "week": str(week),
            "predictions": len(rows),
            "labelled": int(labelled.sum()),
            "mean_probability": float(p.mean()),
            "observed_rate": float(y.mean()) if len(y) else None,
            "estimated": estimated,
            "realized": None,
        }
        if len(y) >= MIN_WEEK_LABELS and 0 < y.sum() < len(y):
            entry["realized"] = binary_metrics(y, p[labelled])
            entry["estimate_error"] = estimated["expected_roc_auc"] - entry["realized"]["roc_auc"]
            earlier.append((p[labelled], y))
        weeks.append(entry)
    return weeks


def drift(
    counts: pd.DataFrame, profiles: Mapping[str, ReferenceProfile], version: str, first_day: int
) -> dict[str, Any]:
    """PSI of the score and every feature of `version` from `first_day` on, against its reference."""
    profile = profiles.get(version)
    recent = counts[(counts["model_version"] == version) & (counts["day"] >= first_day)]
    if profile is None or recent.empty:
        return {"version": version, "rows": 0, "score": None, "features": [], "moved": []}
    totals = recent.groupby(["feature", "bin"])["count"].sum()

    def compare(name: str) -> dict[str, Any]:
        bins = profile.bins_of(name)
        current = np.zeros(bins.size)
        if name in totals.index.get_level_values(0):
            series = totals.loc[name]
            current[series.index.to_numpy(dtype=int)] = series.to_numpy()
        value = psi(np.asarray(profile.counts[name]), current)
        entry: dict[str, Any] = {"feature": name, "psi": round(value, 4), "level": level(value)}
        if bins.unseen_bin is not None:
            entry["unseen_rate"] = round(float(current[bins.unseen_bin] / max(current.sum(), 1)), 4)
        return entry

    features = sorted((compare(f.name) for f in profile.features), key=lambda e: -e["psi"])
    score = compare(SCORE)
    return {
        "version": version,
        "rows": int(totals.loc[SCORE].sum()) if SCORE in totals.index.get_level_values(0) else 0,
        "since": str(EPOCH + timedelta(days=int(first_day))),
        "score": score,
        "features": features,
        "moved": [e["feature"] for e in features if e["psi"] >= WATCH],
    }


def widest_gap(rows: pd.DataFrame, min_rows: int = 50) -> str:
    """Where observed and predicted rates part most, as text: the group whose gap is largest in
    standard errors (so a small group needs a larger gap), or '' when no group stands out."""
    best, text = 3.0, ""  # below three standard errors a gap is not worth naming
    for column in (c for c in rows.columns if c.startswith("segment_")):
        for value, group in rows.groupby(column):
            if len(group) < min_rows:
                continue
            p, y = group["probability"].to_numpy(), group["label"].to_numpy()
            error = np.sqrt(max(float(np.mean(p * (1 - p))), 1e-6) / len(group))
            score = abs(y.mean() - p.mean()) / error
            if score > best:
                best = score
                name = column.removeprefix("segment_")
                text = (
                    f"; widest in {name}={value}: {y.mean():.3f} observed against {p.mean():.3f} "
                    f"({len(group)} rows)"
                )
    return text


def retrain_reasons(
    reference: Mapping[str, float],
    weeks: list[dict[str, Any]],
    latest: pd.DataFrame,
    drifted: dict,
    limits: Thresholds,
) -> list[str]:
    """Why retraining is recommended (empty: it is not)."""
    reasons = []
    card_auc = reference.get("roc_auc")
    labelled = latest[latest["label"].notna()]
    recent_weeks = [w for w in weeks if w["realized"] is not None][-2:]
    if card_auc is not None and recent_weeks:
        rows = labelled[labelled["week"].astype(str).isin([w["week"] for w in recent_weeks])]
        y, p = rows["label"].to_numpy(), rows["probability"].to_numpy()
        if 0 < y.sum() < len(y):
            realized = binary_metrics(y, p)
            drop = card_auc - realized["roc_auc"]
            error = auc_standard_error(realized["roc_auc"], int(y.sum()), int(len(y) - y.sum()))
            if drop > limits.auc_tolerance and drop > 2 * error:
                reasons.append(
                    f"realized ROC-AUC {realized['roc_auc']:.3f} over the last labelled weeks is "
                    f"{drop:.3f} below the model card's {card_auc:.3f}"
                )
            gap = realized["observed_rate"] - realized["mean_probability"]
            if abs(gap) > limits.rate_bound:
                reasons.append(
                    f"calibration in the large: observed rate {realized['observed_rate']:.3f} against "
                    f"{realized['mean_probability']:.3f} predicted{widest_gap(rows)}"
                )
    unlabelled = [w for w in weeks if w["realized"] is None and w["predictions"] >= MIN_WEEK_LABELS]
    if card_auc is not None and unlabelled:
        estimated = unlabelled[-1]["estimated"]["expected_roc_auc"]
        if estimated == estimated and card_auc - estimated > limits.auc_tolerance + 0.01:
            reasons.append(
                f"estimated ROC-AUC {estimated:.3f} for the week of {unlabelled[-1]['week']} (no labels "
                f"yet) is below the model card's {card_auc:.3f}"
            )
    score = drifted.get("score")
    if score is not None and drifted["rows"] >= MIN_DRIFT_ROWS and score["psi"] > limits.score_psi:
        moved = ", ".join(drifted["moved"][:5]) or "none above 0.1"
        reasons.append(f"score PSI {score['psi']:.2f} exceeds {limits.score_psi}; inputs that moved: {moved}")
    return reasons


def build_report(
    task: str,
    log: pd.DataFrame,
    counts: pd.DataFrame,
    labels: Mapping[str, int],
    profiles: Mapping[str, ReferenceProfile],
    subgroups: list[str],
    limits: Thresholds | None = None,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    limits = limits or Thresholds()
    latest = latest_predictions(log, labels)
    if latest.empty:
        return {"task": task, "predictions": 0, "weeks": [], "message": "no predictions logged yet"}
    version = str(latest.sort_values("scored_at")["model_version"].iloc[-1])
    profile = profiles.get(version)
    reference = profile.metrics if profile is not None else {}
    reference = {k.removeprefix("holdout_"): v for k, v in reference.items()}
    weeks = weekly_performance(latest)
    last_day = int(latest["event_day"].fillna(latest["scored_day"]).max())
    drifted = drift(counts, profiles, version, last_day - DRIFT_DAYS + 1)
    labelled = latest[latest["label"].notna()]
    groups = {
        name: labelled[f"segment_{name}"] for name in subgroups if f"segment_{name}" in labelled.columns
    }
    if labelled["top_reason"].notna().any():  # denials: by the category the model thought likeliest
        groups["top_reason"] = labelled["top_reason"]
    by_group = (
        subgroup_report(labelled["label"].to_numpy(), labelled["probability"].to_numpy(), groups)
        if len(labelled) and labelled["label"].nunique() == 2
        else []
    )
    reasons = retrain_reasons(reference, weeks, latest, drifted, limits)
    return {
        "task": task,
        "model_version": version,
        "reference": {k: reference[k] for k in ("roc_auc", "brier", "ece") if k in reference},
        "predictions": len(latest),
        "labelled": len(labelled),
        "weeks": weeks,
        "subgroups": by_group,
        "drift": drifted,
        "retrain": {"recommended": bool(reasons), "reasons": reasons},
    }
