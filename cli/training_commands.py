"""Commands that train, evaluate and manage the registered models: train, backtest, promote,
recalibrate, rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    DataOption,
    FileFormat,
    FormatOption,
    TaskName,
    configure_logging,
    exits,
    fail,
    settings,
)
from cli.printing import echo_gate_figures, print_backtest, print_training

app = typer.Typer()


@app.command()
def train(
    task: Annotated[TaskName, typer.Argument(help="Which model to train.")],
    data: DataOption,
    file_format: FormatOption = FileFormat.careops,
    skip_if_champion: Annotated[
        bool, typer.Option(help="Do nothing when the task already has a champion (used by `make run`).")
    ] = False,
    dask: Annotated[
        bool, typer.Option("--dask", help="Load and fit on a Dask cluster (lightgbm.dask).")
    ] = False,
    scheduler: Annotated[str | None, typer.Option(help="With --dask: a scheduler address.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="With --dask and no --scheduler: local workers.")] = 2,
) -> None:
    """Train, evaluate on a temporal holdout, log to MLflow and register a model version."""
    from mlflow import MlflowClient

    from models.registry import alias_version
    from training.batch import SchedulerUnreachableError, dask_client
    from training.fit import TrainingDataError
    from training.train import train as run_training

    configure_logging()
    config = settings()
    if skip_if_champion:
        client = MlflowClient(tracking_uri=config.tracking_uri)
        version = alias_version(client, task.value, config.champion_alias)
        if version is not None:
            typer.echo(f"{task.value}@{config.champion_alias} is version {version}; not retraining")
            return
    with exits(TrainingDataError, ValueError, SchedulerUnreachableError):
        if dask:
            with dask_client(scheduler, workers, config.dask_connect_timeout_seconds) as client:
                result = run_training(task.value, data, config, file_format=file_format.value, client=client)
        else:
            result = run_training(task.value, data, config, file_format=file_format.value)
    print_training(task.value, result, config.champion_alias)


@app.command()
def backtest(
    task: Annotated[TaskName, typer.Argument(help="Which model to backtest.")],
    data: DataOption,
    cutoff: Annotated[str, typer.Option(help="YYYY-MM-DD: train before it, test on and after it.")],
    file_format: FormatOption = FileFormat.careops,
    horizon_days: Annotated[
        int | None, typer.Option(min=1, help="Days ahead predictions are made (no-show; default 1).")
    ] = None,
    predictions_out: Annotated[
        Path | None, typer.Option(help="Write one row per scored record here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    folds: Annotated[
        int, typer.Option(min=1, help="Rolling origin: this many consecutive cut-offs, the last at --cutoff.")
    ] = 1,
    fold_days: Annotated[
        int,
        typer.Option(min=1, help="With --folds above 1: days between cut-offs, each fold scoring so many."),
    ] = 7,
) -> None:
    """Train on what was known before the cut-off, score what came after, and report the figures.

    With --folds K --fold-days D: K folds with cut-offs D days apart, each scoring the D days after
    its cut-off; the report has every fold, the mean and the worst, and subgroups across folds.
    """
    from datetime import date

    from data.loaders.tables import write_table
    from training.backtest import run_backtest, run_rolling_backtest
    from training.fit import TrainingDataError

    configure_logging()
    try:
        when = date.fromisoformat(cutoff)
    except ValueError:
        raise fail(f"--cutoff '{cutoff}' is not a YYYY-MM-DD date") from None
    with exits(TrainingDataError, ValueError):
        if folds > 1:
            result = run_rolling_backtest(
                task.value, data, when, folds, fold_days, settings(), file_format.value, horizon_days
            )
        else:
            result = run_backtest(
                task.value, data, when, settings(), file_format=file_format.value, horizon_days=horizon_days
            )
    if predictions_out is not None:
        write_table(result.predictions, predictions_out, for_people=True)
    summary = result.summary
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    print_backtest(summary)


@app.command()
def promote(
    task: Annotated[TaskName, typer.Argument(help="Which model.")],
    data: DataOption,
    candidate: Annotated[str | None, typer.Option(help="Version to judge (default: the newest).")] = None,
    file_format: FormatOption = FileFormat.careops,
    force: Annotated[bool, typer.Option(help="Promote even if the gate refuses; needs --reason.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why the gate is overridden (logged).")] = None,
) -> None:
    """Judge a candidate against @champion on the most recent holdout of DATA; promote if not worse."""
    from training.promotion import PromotionError
    from training.promotion import promote as run_gate

    configure_logging()
    with exits(PromotionError, then="; nothing changed"):
        decision = run_gate(task.value, data, settings(), candidate or None, file_format.value, force, reason)
    echo_gate_figures(decision)
    if decision.promoted:
        how = (
            f"forced ({'; '.join(decision.reasons)})" if decision.forced else "not worse on any gated metric"
        )
        typer.echo(
            f"promoted {task.value} v{decision.candidate} to @champion, {how}; "
            f"v{decision.champion} is @previous (run {decision.run_id})"
        )
        return
    typer.echo(
        f"refused {task.value} v{decision.candidate}: {'; '.join(decision.reasons)} (run {decision.run_id})"
    )
    raise typer.Exit(code=1)


@app.command()
def recalibrate(
    task: Annotated[TaskName, typer.Argument(help="Which model.")],
    data: DataOption,
    days: Annotated[int, typer.Option(min=1, max=90, help="Labelled days at the end of DATA to use.")] = 7,
    file_format: FormatOption = FileFormat.careops,
) -> None:
    """Register @champion with an intercept update from the last DAYS labelled days of DATA.

    The booster is kept; only the log-odds offset moves, so the ranking (ROC-AUC) is unchanged.
    The new version is a challenger: judge it with `careops promote`.
    """
    from training.recalibrate import RecalibrationError
    from training.recalibrate import recalibrate as run_update

    configure_logging()
    with exits(RecalibrationError, then="; nothing registered"):
        result = run_update(task.value, data, settings(), days, file_format.value)
    typer.echo(
        f"{task.value} v{result.base_version} -> v{result.version}: offset {result.offset:+.4f} log-odds "
        f"from {result.rows} rows ({result.window_start[:10]} to {result.window_end[:10]}, observed rate "
        f"{result.observed_rate:.4f})"
    )
    for label, metrics in (("before", result.before), ("after", result.after)):
        typer.echo(
            f"  {label:<6} ECE {metrics['ece']:.4f}  intercept {metrics['calibration_intercept']:+.3f}  "
            f"slope {metrics['calibration_slope']:.3f}  Brier {metrics['brier']:.4f}  "
            f"ROC-AUC {metrics['roc_auc']:.4f}"
        )
    typer.echo(f"v{result.version} is a challenger: careops promote {task.value} --data <recent file>")


@app.command()
def rollback(task: Annotated[TaskName, typer.Argument(help="Which model.")]) -> None:
    """Restore @previous as @champion."""
    from training.promotion import PromotionError
    from training.promotion import rollback as run_rollback

    configure_logging()
    with exits(PromotionError, then="; nothing changed"):
        decision = run_rollback(task.value, settings())
    typer.echo(
        f"{task.value}@champion is v{decision.candidate} again; v{decision.champion} is @previous "
        f"(run {decision.run_id})"
    )
