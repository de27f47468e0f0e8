"""The champion/challenger gate, and rollback: how a model version reaches production and leaves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from config import Settings
from models.evaluation import binary_metrics
from models.pyfunc import load_registered
from models.registry import alias_version
from models.tasks import caller_form, get_task
from training.fit import recent_holdout_start
from training.train import experiment_for

GATED = ("roc_auc", "brier", "ece")


class PromotionError(ValueError):
    """The gate cannot decide: no champion, an unknown version, an empty holdout. Nothing changed."""


@dataclass
class GateDecision:
    """What the gate decided and the figures both versions scored on the same holdout."""

    task: str
    candidate: str
    champion: str
    promoted: bool
    reasons: list[str]
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)
    forced: bool = False
    run_id: str | None = None


def _versions(client: MlflowClient, name: str) -> list[str]:
    try:
        return sorted((str(v.version) for v in client.search_model_versions(f"name='{name}'")), key=int)
    except MlflowException:
        return []


def holdout_scores(
    model_uri: str, frame: pd.DataFrame, task_name: str, start: pd.Timestamp
) -> dict[str, float]:
    """A registered version's metrics on the rows from `start` on, scored in batch mode with their history."""
    task = get_task(task_name)
    model = load_registered(model_uri)
    predictions = model.predict(None, caller_form(task, frame, with_labels=True))
    holdout = frame[task.time_column].to_numpy() >= np.datetime64(start)
    labels = frame.loc[holdout, task.label_column].to_numpy(dtype=int)
    probabilities = predictions[task.probability_field].to_numpy()[holdout]
    metrics = binary_metrics(labels, probabilities)
    return {name: metrics[name] for name in (*GATED, "pr_auc", "log_loss")}


def judge(candidate: dict[str, float], champion: dict[str, float], settings: Settings) -> list[str]:
    """Reasons the candidate is worse than the champion beyond the tolerances (empty: it passes)."""
    reasons = []
    if candidate["roc_auc"] < champion["roc_auc"] - settings.gate_auc_tolerance:
        reasons.append(
            f"ROC-AUC {candidate['roc_auc']:.4f} < champion {champion['roc_auc']:.4f} - "
            f"{settings.gate_auc_tolerance}"
        )
    if candidate["brier"] > champion["brier"] + settings.gate_brier_tolerance:
        reasons.append(
            f"Brier {candidate['brier']:.4f} > champion {champion['brier']:.4f} + "
            f"{settings.gate_brier_tolerance}"
        )
    if candidate["ece"] > champion["ece"] + settings.gate_ece_tolerance:
        reasons.append(
            f"ECE {candidate['ece']:.4f} > champion {champion['ece']:.4f} + {settings.gate_ece_tolerance}"
        )
    return reasons


def promote(
    task_name: str,
    data: str | Path,
    settings: Settings,
    candidate: str | None = None,
    file_format: str = "careops",
    force: bool = False,
    reason: str | None = None,
) -> GateDecision:
    """Score the candidate (default: the newest version) and the champion on the most recent holdout
    of `data`; move @champion (keeping the old one as @previous) only if the candidate is not worse.
    Every decision is logged as an MLflow run."""
    task = get_task(task_name)
    if force and not (reason and reason.strip()):
        raise PromotionError("--force needs --reason: say why the gate is overridden")
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient()
    champion = alias_version(client, task.name, settings.champion_alias)
    if champion is None:
        raise PromotionError(
            f"'{task.name}' has no @{settings.champion_alias}; train one first "
            "(the first version becomes champion)"
        )
    versions = _versions(client, task.name)
    candidate = candidate or versions[-1]
    if candidate not in versions:
        raise PromotionError(
            f"'{task.name}' has no version {candidate}; known versions: {', '.join(versions)}"
        )
    if candidate == champion:
        raise PromotionError(f"version {candidate} is already @{settings.champion_alias}; nothing to do")
    frame = task.load(Path(data), file_format).valid
    labelled = frame[frame[task.label_column].notna()]
    if labelled.empty or labelled[task.label_column].nunique() < 2:
        raise PromotionError(f"{data}: the holdout needs labelled rows of both classes")
    start = recent_holdout_start(task, labelled, settings.holdout_fraction)
    scored = {
        version: holdout_scores(f"models:/{task.name}/{version}", frame, task.name, start)
        for version in (candidate, champion)
    }
    reasons = judge(scored[candidate], scored[champion], settings)
    promoted = force or not reasons
    decision = GateDecision(
        task=task.name,
        candidate=candidate,
        champion=champion,
        promoted=promoted,
        reasons=reasons,
        candidate_metrics=scored[candidate],
        champion_metrics=scored[champion],
        forced=force and bool(reasons),
    )
    decision.run_id = _log(
        decision,
        settings,
        {"data_file": Path(data).name, "holdout_starts": str(start), "force_reason": reason or ""},
    )
    if promoted:
        client.set_registered_model_alias(task.name, settings.previous_alias, champion)
        client.set_registered_model_alias(task.name, settings.champion_alias, candidate)
    return decision


def rollback(task_name: str, settings: Settings) -> GateDecision:
    """Point @champion back at @previous (and @previous at the version it replaces); logged as a run."""
    task = get_task(task_name)
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient()
    champion = alias_version(client, task.name, settings.champion_alias)
    previous = alias_version(client, task.name, settings.previous_alias)
    if champion is None or previous is None:
        aliases = f"@{settings.champion_alias} and @{settings.previous_alias}"
        raise PromotionError(f"'{task.name}' needs both {aliases} to roll back")
    decision = GateDecision(
        task=task.name,
        candidate=previous,
        champion=champion,
        promoted=True,
        reasons=["rollback"],
        forced=True,
    )
    decision.run_id = _log(decision, settings, {"action": "rollback"})
    client.set_registered_model_alias(task.name, settings.champion_alias, previous)
    client.set_registered_model_alias(task.name, settings.previous_alias, champion)
    return decision


def _log(decision: GateDecision, settings: Settings, params: dict[str, Any]) -> str:
    experiment_id = experiment_for(MlflowClient(), f"careops-{decision.task}-promotion", settings)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"gate-{decision.task}-v{decision.candidate}"
    ) as run:
        mlflow.log_params(
            {
                "candidate_version": decision.candidate,
                "champion_version": decision.champion,
                "auc_tolerance": settings.gate_auc_tolerance,
                "brier_tolerance": settings.gate_brier_tolerance,
                "ece_tolerance": settings.gate_ece_tolerance,
                "forced": decision.forced,
                **params,
            }
        )
        mlflow.log_metrics({f"candidate_{k}": v for k, v in decision.candidate_metrics.items()})
        mlflow.log_metrics({f"champion_{k}": v for k, v in decision.champion_metrics.items()})
        mlflow.set_tags(
            {
                "careops.decision": "promoted" if decision.promoted else "refused",
                "careops.reasons": "; ".join(decision.reasons) or "not worse on any gated metric",
            }
        )
    return run.info.run_id
