"""The monitoring report of a task, from the service store and the model registry."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import mlflow

from config import Settings
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from models.tasks import get_task
from services.monitoring.log_store import PredictionLog
from services.monitoring.pseudonyms import pseudonyms
from services.monitoring.reference import PROFILE_FILE, ReferenceProfile
from services.monitoring.report import EPOCH, Thresholds, build_report


def load_profiles(task: str, versions: list[str]) -> dict[str, ReferenceProfile]:
    """The reference profile of each registered version that has one (current tracking URI)."""
    profiles = {}
    for version in versions:
        uri = f"models:/{task}/{version}/artifacts/{PROFILE_FILE}"
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri)
        except Exception:  # a version registered before monitoring, or deleted: no drift for it
            continue
        profiles[version] = ReferenceProfile.from_json(Path(path).read_text(encoding="utf-8"))
    return profiles


def monitor(
    task_name: str,
    settings: Settings,
    since: date | None = None,
    log: PredictionLog | None = None,
    outcomes: AppointmentStore | ClaimStore | None = None,
) -> dict[str, Any]:
    """The report of `task_name` from the service store and the registry (see `build_report`).

    A running service passes its own open `log` and outcome store; otherwise they are opened here
    for the one report and closed after it."""
    if settings.pseudonym_key is None:
        raise MonitoringError("CAREOPS_PSEUDONYM_KEY is not set: the log cannot be joined to outcomes")
    task = get_task(task_name)
    mlflow.set_tracking_uri(settings.tracking_uri)
    since_day = (since - EPOCH).days if since is not None else None
    opened = []
    if log is None:
        log = PredictionLog(settings.database_url)
        opened.append(log)
    if outcomes is None:
        store_class = AppointmentStore if task.name == "noshow" else ClaimStore
        outcomes = store_class(settings.database_url)
        opened.append(outcomes)
    try:
        rows = log.predictions(task.name, since_day)
        counts = log.bin_counts(task.name, since_day)
        known = (
            outcomes.known_outcomes(settings.late_cancel_hours)
            if task.counts_late_cancellations
            else outcomes.known_outcomes()
        )
    finally:
        for store in opened:
            store.engine.dispose()
    key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    labels = dict(zip(pseudonyms(key, [k for k, _ in known]), [label for _, label in known], strict=True))
    profiles = load_profiles(task.name, sorted(set(rows["model_version"].astype(str))))
    limits = Thresholds(auc_tolerance=settings.gate_auc_tolerance, rate_bound=settings.monitor_rate_bound)
    return build_report(task.name, rows, counts, labels, profiles, list(task.subgroup_columns), limits)


class MonitoringError(RuntimeError):
    """The report cannot be made (said why, for the user to fix)."""
