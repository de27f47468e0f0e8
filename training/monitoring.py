"""The monitoring report as a person reads it, and as an MLflow run with its charts."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from config import Settings
from services.monitoring.drift import ACT, WATCH
from training.reports import dump_json
from training.train import experiment_for


def report_charts(report: dict[str, Any], folder: Path) -> list[Path]:
    """PNG charts of a report: weekly realized vs estimated ROC-AUC and rates, and PSI per feature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    weeks = report["weeks"]
    if weeks:
        labels = [w["week"] for w in weeks]
        figure, axes = plt.subplots(1, 2, figsize=(13, 4.5))
        realized = [w["realized"]["roc_auc"] if w["realized"] else np.nan for w in weeks]
        axes[0].plot(
            labels, [w["estimated"]["expected_roc_auc"] for w in weeks], marker="o", label="estimated"
        )
        axes[0].plot(labels, realized, marker="s", label="realized")
        if "roc_auc" in report.get("reference", {}):
            axes[0].axhline(report["reference"]["roc_auc"], color="grey", linestyle="--", label="model card")
        axes[0].set(title="ROC-AUC by week of the event", ylabel="ROC-AUC")
        axes[1].plot(labels, [w["mean_probability"] for w in weeks], marker="o", label="mean predicted")
        observed = [w["observed_rate"] if w["observed_rate"] is not None else np.nan for w in weeks]
        axes[1].plot(labels, observed, marker="s", label="observed")
        axes[1].set(title="Calibration in the large", ylabel="rate")
        for axis in axes:
            axis.legend()
            axis.tick_params(axis="x", rotation=60)
        figure.tight_layout()
        paths.append(folder / "weekly_performance.png")
        figure.savefig(paths[-1], dpi=90)
        plt.close(figure)
    features = report.get("drift", {}).get("features", [])
    if features:
        figure, axis = plt.subplots(figsize=(8, max(3, 0.28 * len(features))))
        names = [e["feature"] for e in features][::-1]
        axis.barh(names, [e["psi"] for e in features][::-1])
        axis.axvline(WATCH, color="orange", linestyle="--")
        axis.axvline(ACT, color="red", linestyle="--")
        axis.set(title="PSI per feature, latest 14 event days", xlabel="PSI")
        figure.tight_layout()
        paths.append(folder / "feature_psi.png")
        figure.savefig(paths[-1], dpi=90)
        plt.close(figure)
    return paths


def log_report(report: dict[str, Any], settings: Settings) -> str:
    """Log the report as a run of `careops-<task>-monitoring`, with its charts; returns the run id."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = experiment_for(mlflow.MlflowClient(), f"careops-{report['task']}-monitoring", settings)
    with mlflow.start_run(experiment_id=experiment) as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.set_tags({"task": report["task"], "model_version": str(report.get("model_version"))})
        mlflow.log_metrics(
            {
                "predictions": report.get("predictions", 0),
                "labelled": report.get("labelled", 0),
                "retrain_recommended": float(report.get("retrain", {}).get("recommended", False)),
            }
        )
        score = report.get("drift", {}).get("score")
        if score is not None:
            mlflow.log_metric("score_psi", score["psi"])
        for step, week in enumerate(report["weeks"]):
            mlflow.log_metric("estimated_roc_auc", week["estimated"]["expected_roc_auc"], step=step)
            if week["realized"] is not None:
                mlflow.log_metric("realized_roc_auc", week["realized"]["roc_auc"], step=step)
                mlflow.log_metric("realized_ece", week["realized"]["ece"], step=step)
        mlflow.log_artifact(str(dump_json(report, folder / "monitoring_report.json")))
        for chart in report_charts(report, folder):
            mlflow.log_artifact(str(chart))
        return run.info.run_id


def monitor_report_text(report: dict[str, Any]) -> str:
    """The report as a few lines a person reads."""

    def number(value: float | None) -> str:
        return "    -" if value is None or value != value else f"{value:.3f}"

    if not report.get("weeks"):
        return f"{report['task']}: {report.get('message', 'nothing to report')}"
    reference = report.get("reference", {})
    lines = [
        f"{report['task']} model version {report['model_version']}: {report['predictions']} records scored, "
        f"{report['labelled']} with outcomes; model card ROC-AUC {number(reference.get('roc_auc'))}",
        "",
        f"{'week of':<12} {'scored':>7} {'labels':>7} {'predicted':>9} {'observed':>8} "
        f"{'est. AUC':>8} {'AUC':>6} {'ECE':>6}",
    ]
    for week in report["weeks"]:
        realized = week["realized"] or {}
        lines.append(
            f"{week['week']:<12} {week['predictions']:>7} {week['labelled']:>7} "
            f"{number(week['mean_probability']):>9} {number(week['observed_rate']):>8} "
            f"{number(week['estimated']['expected_roc_auc']):>8} {number(realized.get('roc_auc')):>6} "
            f"{number(realized.get('ece')):>6}"
        )
    drifted = report.get("drift", {})
    if drifted.get("score") is not None:
        lines += [
            "",
            f"drift since {drifted['since']} ({drifted['rows']} records): "
            f"score PSI {drifted['score']['psi']:.3f}",
        ]
        for entry in drifted["features"]:
            if entry["level"] != "ok":
                unseen = f", unseen {entry['unseen_rate']:.1%}" if entry.get("unseen_rate") else ""
                lines.append(f"  {entry['feature']:<28} PSI {entry['psi']:.3f} ({entry['level']}{unseen})")
    retrain = report["retrain"]
    lines += ["", "retrain recommended:" if retrain["recommended"] else "retrain: not needed"]
    lines += [f"  - {reason}" for reason in retrain["reasons"]]
    return "\n".join(lines)
