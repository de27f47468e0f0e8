"""Commands that score and watch the champions: batch scoring, the weekly monitoring report, and
retraining from the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    QUARANTINED_EXIT_CODE,
    FileFormat,
    FormatOption,
    TaskName,
    configure_logging,
    exits,
    fail,
    operator,
    settings,
)
from cli.printing import echo_gate_figures

app = typer.Typer()
RESOURCE = {"noshow": "appointment", "denial": "claim"}  # what each task's records are


@app.command()
def score(
    task: Annotated[TaskName, typer.Argument(help="Which model.")],
    data: Annotated[
        list[Path], typer.Option(exists=True, dir_okay=False, help="CSV/Parquet files (repeat).")
    ],
    out: Annotated[Path, typer.Option(help="Output file (.csv or .parquet): id and probability per row.")],
    file_format: FormatOption = FileFormat.careops,
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler address, e.g. tcp://host:8786.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Local Dask workers when no --scheduler.")] = 2,
    model_uri: Annotated[str | None, typer.Option(help="Default: models:/<task>@champion.")] = None,
) -> None:
    """Score files with dask.dataframe; bad rows go to <out>.quarantine.csv (exit code 3)."""
    import mlflow

    from models.pyfunc import load_registered
    from models.tasks import get_task
    from services.access.audit import command_trail
    from services.monitoring.score_log import record_table
    from training.batch import SchedulerUnreachableError, dask_client, score_files

    configure_logging()
    config = settings()
    mlflow.set_tracking_uri(config.tracking_uri)
    uri = model_uri or f"models:/{task.value}@{config.champion_alias}"
    with exits(Exception, prefix=f"cannot load {uri}: "):  # any load failure is the user's to fix
        trained = load_registered(uri).trained
    with (
        exits(SchedulerUnreachableError),
        dask_client(scheduler, workers, config.dask_connect_timeout_seconds) as client,
    ):
        result = score_files(trained, data, out, file_format.value, client)
    if result.scored is not None:
        trail = command_trail(config)
        ids = result.scored[get_task(task.value).id_column].astype(str)
        trail.record(operator(), "score", RESOURCE[task.value], ids, door="cli batch", model=uri)
    typer.echo(f"scored {result.rows_scored} rows with {uri} into {result.out}")
    logged = record_table(config, task.value, uri, result.scored)
    if logged is not None:
        typer.echo(f"logged {logged} scores in the prediction log")
    if result.quarantine is not None:
        typer.echo(f"quarantined {result.rows_quarantined} rows, with reasons, in {result.quarantine}")
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


@app.command()
def monitor(
    task: Annotated[TaskName, typer.Argument(help="Which model.")],
    since: Annotated[
        str | None, typer.Option(help="Only predictions scored on or after this day (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Realized and estimated performance by week, drift and whether to retrain; logged to MLflow."""
    from datetime import date

    from services.monitoring.weekly import MonitoringError
    from services.monitoring.weekly import monitor as make_report
    from training.monitoring import log_report, monitor_report_text

    configure_logging()
    config = settings()
    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        raise fail("--since must be a date such as 2026-11-01") from None
    with exits(MonitoringError):
        report = make_report(task.value, config, day)
    run_id = log_report(report, config)
    typer.echo(json.dumps(report, indent=2, default=str) if as_json else monitor_report_text(report))
    typer.echo(f"logged as MLflow run {run_id} in careops-{task.value}-monitoring", err=True)


@app.command()
def retrain(
    task: Annotated[TaskName, typer.Argument(help="Which model.")],
    export: Annotated[
        Path | None, typer.Option(help="Also keep the exported labelled table here (.csv or .parquet).")
    ] = None,
) -> None:
    """Train a challenger on the service store's labelled history, then gate it against @champion.

    Exit code 0 when it was promoted, 1 when the gate refused it, 2 when there was too little history."""
    from training.retrain import RetrainError
    from training.retrain import retrain as run_retrain

    configure_logging()
    with exits(RetrainError):
        result = run_retrain(task.value, settings(), export)
    trained, decision = result.trained, result.decision
    typer.echo(
        f"trained {task.value} v{trained.model_version} on {result.labelled_rows} labelled records from the "
        f"store: holdout ROC-AUC {trained.metrics['holdout_roc_auc']:.4f}"
    )
    if decision is None:
        typer.echo(f"v{trained.model_version} is @champion (there was none)")
        return
    echo_gate_figures(decision)
    if decision.promoted:
        typer.echo(f"promoted v{decision.candidate} to @champion; v{decision.champion} is @previous")
        return
    typer.echo(f"refused v{decision.candidate}: {'; '.join(decision.reasons)}")
    raise typer.Exit(code=1)
