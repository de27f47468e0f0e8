"""The model page (admin): for each task the champion, @previous and the newest version with their
holdout figures, the promotion decisions, and the champion's reliability and subgroup tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from mlflow import MlflowClient
from starlette.concurrency import run_in_threadpool

from config import Settings
from models.registry import alias_version
from models.tasks import TASKS
from services.model_set import ModelUnavailableError
from serving.dependencies import app_state
from serving.pages.numbers import bars
from serving.pages.rendering import AdminPage, page

router = APIRouter(prefix="/app", include_in_schema=False)
SHOWN_METRICS = ("holdout_roc_auc", "holdout_brier", "holdout_ece", "holdout_calibration_slope")
DECISIONS_SHOWN = 10


@dataclass
class VersionRow:
    """One registered version: its aliases, run and holdout figures."""

    version: str
    aliases: list[str]
    run_id: str | None
    link: str | None
    metrics: dict[str, float]


@dataclass
class TaskModels:
    """What the page shows for one task."""

    task: str
    versions: list[VersionRow] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    card: dict | None = None
    error: str | None = None


def _link(settings: Settings, experiment_id: str | None, run_id: str | None) -> str | None:
    if not settings.mlflow_ui_url or not run_id or experiment_id is None:
        return None
    return f"{settings.mlflow_ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def task_models(settings: Settings, task: str) -> TaskModels:
    """The registry's versions of a task that matter (champion, previous, newest) and its gate runs."""
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    out = TaskModels(task)
    versions = sorted(client.search_model_versions(f"name='{task}'"), key=lambda v: -int(v.version))
    aliases: dict[str, list[str]] = {}
    for alias in (settings.champion_alias, settings.previous_alias):
        version = alias_version(client, task, alias)  # search results do not carry aliases
        if version is not None:
            aliases.setdefault(version, []).append(alias)
    chosen = [v for v in versions if str(v.version) in aliases or v is versions[0]]
    for version in chosen:
        run = client.get_run(version.run_id) if version.run_id else None
        metrics = {k: run.data.metrics[k] for k in SHOWN_METRICS if run and k in run.data.metrics}
        link = _link(settings, run.info.experiment_id if run else None, version.run_id)
        number = str(version.version)
        out.versions.append(VersionRow(number, aliases.get(number, []), version.run_id, link, metrics))
    experiment = client.get_experiment_by_name(f"careops-{task}-promotion")
    if experiment is not None:
        runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"],
                                  max_results=DECISIONS_SHOWN)  # fmt: skip
        out.decisions = [
            {
                "candidate": r.data.params.get("candidate_version"),
                "champion": r.data.params.get("champion_version"),
                "decision": r.data.tags.get("careops.decision"),
                "reasons": r.data.tags.get("careops.reasons", ""),
                "link": _link(settings, experiment.experiment_id, r.info.run_id),
                "run_id": r.info.run_id,
            }
            for r in runs
        ]
    return out


@router.get("/models", response_class=HTMLResponse)
async def models(request: Request, session: AdminPage) -> HTMLResponse:
    """The model page."""
    settings = app_state(request).settings
    tasks = []
    for name in TASKS:
        found = await run_in_threadpool(task_models, settings, name)
        try:
            found.card = app_state(request).models.get(name).card
        except ModelUnavailableError as error:
            found.error = str(error)
        tasks.append(found)
    charts = {}
    for found in tasks:
        bins = (found.card or {}).get("quantitative_analysis", {}).get("reliability")
        if bins:
            labels = [f"     {b['mean_predicted']:.2f}" for b in bins]
            charts[found.task] = bars(
                {"predicted": [b["mean_predicted"] for b in bins], "observed": [b["observed"] for b in bins]},
                labels,
            )
    return page(request, "models.html", {"title": "Models", "tasks": tasks, "charts": charts}, session)
