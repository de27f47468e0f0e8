"""Run reports: reliability diagram, ROC and PR curves, gain by decile, importance, model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from data.no_show_definition import describe
from features.history import LEAD_BAND_EDGES_DAYS
from models.booster_params import BoosterParams
from models.noshow_model import NoShowModel
from models.tasks import get_task
from training.fit import FitResult, labels

DECILES = 10
MAX_GROUPS_PER_ATTRIBUTE = 15  # e.g. the largest clinics


def gain_by_decile(labels: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """Share of all positives captured by each risk decile, highest risk first."""
    order = np.argsort(-probabilities, kind="stable")
    rows = []
    total = max(labels.sum(), 1)
    for decile, chunk in enumerate(np.array_split(order, DECILES), start=1):
        rows.append(
            {
                "decile": decile,
                "count": len(chunk),
                "observed_rate": float(labels[chunk].mean()),
                "mean_predicted": float(probabilities[chunk].mean()),
                "share_of_positives": float(labels[chunk].sum() / total),
            }
        )
    frame = pd.DataFrame(rows)
    frame["cumulative_share"] = frame["share_of_positives"].cumsum()
    return frame


def feature_importance(result: FitResult) -> dict[str, float]:
    """Total split gain per feature, largest first."""
    names = result.trained.features.get_feature_names_out().tolist()
    booster = result.trained.classifier.booster_
    gains = booster.feature_importance(importance_type="gain")
    return dict(sorted(zip(names, map(float, gains), strict=True), key=lambda kv: -kv[1]))


def write_charts(result: FitResult, labels: np.ndarray, folder: Path) -> list[Path]:
    """Write the PNG charts of a holdout evaluation into `folder`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result.holdout_probability
    paths = []
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    bins = np.array_split(np.argsort(p, kind="stable"), 10)
    axes[0].plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes[0].plot([p[b].mean() for b in bins], [labels[b].mean() for b in bins], marker="o")
    axes[0].set(title="Reliability (10 equal-frequency bins)", xlabel="mean predicted", ylabel="observed")
    fpr, tpr, _ = roc_curve(labels, p)
    axes[1].plot(fpr, tpr)
    axes[1].plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes[1].set(title=f"ROC (AUC {result.metrics['holdout_roc_auc']:.3f})", xlabel="FPR", ylabel="TPR")
    precision, recall, _ = precision_recall_curve(labels, p)
    axes[2].plot(recall, precision)
    axes[2].set(title=f"PR (AP {result.metrics['holdout_pr_auc']:.3f})", xlabel="recall", ylabel="precision")
    figure.tight_layout()
    paths.append(folder / "holdout_curves.png")
    figure.savefig(paths[-1], dpi=90)
    plt.close(figure)

    gains = gain_by_decile(labels, p)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.bar(gains["decile"], gains["share_of_positives"])
    axis.plot(gains["decile"], gains["cumulative_share"], marker="o", color="black")
    axis.set(title="Gain by risk decile", xlabel="decile (1 = highest risk)", ylabel="share of positives")
    figure.tight_layout()
    paths.append(folder / "gain_by_decile.png")
    figure.savefig(paths[-1], dpi=90)
    plt.close(figure)

    subgroups = pd.DataFrame(result.subgroups)
    if not subgroups.empty:
        large = subgroups[subgroups["count"] >= 50]
        many = large.groupby("attribute")["group"].transform("count") > MAX_GROUPS_PER_ATTRIBUTE
        largest = (
            large[many]
            .sort_values("count", ascending=False)
            .groupby("attribute")
            .head(MAX_GROUPS_PER_ATTRIBUTE)
        )
        shown = pd.concat([large[~many], largest]).sort_values(["attribute", "group"], ascending=False)
        figure, axis = plt.subplots(figsize=(8, max(3, 0.3 * len(shown))))
        positions = np.arange(len(shown))
        axis.barh(positions - 0.2, shown["observed_rate"], height=0.4, label="observed")
        axis.barh(positions + 0.2, shown["mean_predicted"], height=0.4, label="mean predicted")
        axis.set_yticks(
            positions, [f"{a}={g}" for a, g in zip(shown["attribute"], shown["group"], strict=True)]
        )
        axis.set(title="Observed vs predicted rate by subgroup", xlabel="rate")
        axis.legend()
        figure.tight_layout()
        paths.append(folder / "subgroups.png")
        figure.savefig(paths[-1], dpi=90)
        plt.close(figure)
    return paths


CALIBRATION_CHOICE = (
    "Calibrated on the latest 25% of the training window (CAREOPS_VALIDATION_FRACTION), chosen on "
    "three rolling weekly folds of the public Brazil no-show data against 10/15/35/50% windows and "
    "recency-weighted training (half-lives 14 and 30 days): mean ECE 0.0110 against 0.0139 for 15%, "
    "same mean ROC-AUC. Between retrains, `careops recalibrate` registers an intercept update from "
    "the last 7 labelled days as a challenger (docs/models.md)."
)


def reliability_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """The holdout's reliability diagram: per decile of predicted probability, the mean predicted,
    the observed rate and the count."""
    order = np.argsort(p, kind="stable")
    return [
        {"mean_predicted": round(float(p[part].mean()), 6), "observed": round(float(y[part].mean()), 6),
         "count": len(part)}
        for part in np.array_split(order, bins)
        if len(part)
    ]  # fmt: skip


def model_card(
    result: FitResult, task_name: str, data_name: str, data_sha256: str, params: BoosterParams
) -> dict[str, Any]:
    """A model card with the model-card-toolkit's sections, filled from the run and its booster's
    hyper-parameters."""
    metrics = {k: round(v, 6) for k, v in result.metrics.items()}
    history = result.trained.history if isinstance(result.trained, NoShowModel) else None
    return {
        "model_details": {
            "name": task_name,
            "overview": "LightGBM on canonical records, calibrated on the most recent slice of the "
            "training window.",
            "calibration_log_loss_by_method": result.calibration_scores,
            "calibration_choice": CALIBRATION_CHOICE,
            "history_horizon_days": history.horizon_days if history else None,
            # What the label counted: a late cancellation is a no-show only when the practice says so.
            "no_show_definition": {
                "late_cancel_hours": result.late_cancel_hours,
                "text": describe(result.late_cancel_hours),
            }
            if result.late_cancel_hours is not None
            else None,
            # What a known visit is expected to cost in no-shows, by how far ahead it was booked.
            "history_lead_bands": {
                "edges_days": list(LEAD_BAND_EDGES_DAYS),
                "no_show_rates": [round(r, 6) for r in history.band_rates()],
            }
            if history
            else None,
        },
        "model_parameters": {
            "data": {"file": data_name, "sha256": data_sha256, **result.rows},
            "input_features": result.trained.features.get_feature_names_out().tolist(),
            "booster": params.as_params(),
        },
        "quantitative_analysis": {
            "holdout_metrics": metrics,
            "metrics_by_slice": result.subgroups,
            "reliability": reliability_bins(
                labels(result.holdout, get_task(task_name)), result.holdout_probability
            ),
        },
        "considerations": {
            "limitations": [
                "Evaluated on a temporal holdout of the training file only; performance drifts with "
                "practice, season and payer mix, so re-run the backtest on recent data before promoting.",
                "Categories never seen in training (new clinics, payers) are scored from the other "
                "inputs and flagged in the response.",
                "Probabilities describe the population the model was trained on; check calibration by "
                "subgroup before using them for a different clinic network.",
            ],
            "ethical_considerations": [
                {
                    "name": "Unequal burden of overbooking or extra scrutiny",
                    "mitigation_strategy": "Review calibration intercept/slope and AUC per subgroup (above); "
                    "published audits found vendor no-show models under-predicting risk for some groups.",
                },
                {
                    "name": "Protected health information",
                    "mitigation_strategy": "The model stores no patient identifiers; logs never carry them.",
                },
            ],
        },
    }


def dump_json(value: Any, path: Path) -> Path:
    """Write JSON with stable formatting."""
    path.write_text(json.dumps(value, indent=2, default=str), encoding="utf-8")
    return path
