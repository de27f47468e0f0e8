"""The careops command line for data and training: generate, train."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="careops", help="No-show and claim-denial risk: data, training and serving.", no_args_is_help=True
)


class TableName(StrEnum):
    """Tables the synthetic generators make."""

    appointments = "appointments"
    claims = "claims"


class TaskName(StrEnum):
    """Prediction tasks."""

    noshow = "noshow"
    denial = "denial"


def configure_logging() -> None:
    """Plain, PHI-free log lines on stderr; MLflow's chatter kept to warnings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


@app.command()
def generate(
    table: Annotated[TableName, typer.Argument(help="Which table to generate.")],
    out: Annotated[Path, typer.Option(help="Output file; .csv, .csv.gz or .parquet.")],
    rows: Annotated[int, typer.Option(min=1, help="Number of rows.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 42,
) -> None:
    """Generate a synthetic canonical table, with each row's true probability in extra columns."""
    from data.loaders import claims_for_file
    from data.synthetic_appointments import generate_appointments
    from data.synthetic_claims import generate_claims
    from data.tables import write_table

    if table is TableName.appointments:
        frame = generate_appointments(rows, seed=seed)
    else:
        frame = claims_for_file(generate_claims(rows, seed=seed))
    write_table(frame, out)
    typer.echo(f"wrote {len(frame)} synthetic {table.value} to {out}")


@app.command()
def train(
    task: Annotated[TaskName, typer.Argument(help="Which model to train.")],
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Canonical CSV or Parquet file.")],
    skip_if_champion: Annotated[
        bool, typer.Option(help="Do nothing when the task already has a champion (used by `make run`).")
    ] = False,
) -> None:
    """Train, evaluate on a temporal holdout, log to MLflow and register a model version."""
    from mlflow import MlflowClient

    from training.registry import alias_version
    from training.settings import Settings
    from training.train import TrainingDataError
    from training.train import train as run_training

    configure_logging()
    settings = Settings()
    if skip_if_champion:
        client = MlflowClient(tracking_uri=settings.tracking_uri)
        version = alias_version(client, task.value, settings.champion_alias)
        if version is not None:
            typer.echo(f"{task.value}@{settings.champion_alias} is version {version}; not retraining")
            return
    try:
        result = run_training(task.value, data, settings)
    except (TrainingDataError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    rows = result.rows
    typer.echo(
        f"{task.value}: {rows['rows_read']} rows read, {rows['rows_quarantined']} quarantined, "
        f"{rows['rows_train']} train / {rows['rows_validation']} validation / {rows['rows_holdout']} holdout"
    )
    for reason, count in result.quarantine_reasons.items():
        typer.echo(f"  quarantined {count}: {reason}")
    metrics = result.metrics
    typer.echo(
        "  holdout: ROC-AUC {holdout_roc_auc:.4f}  PR-AUC {holdout_pr_auc:.4f}  Brier {holdout_brier:.4f}  "
        "ECE {holdout_ece:.4f}".format(**metrics)
    )
    if "oracle_roc_auc" in metrics:
        typer.echo(
            "  oracle:  ROC-AUC {oracle_roc_auc:.4f}  Brier {oracle_brier:.4f}  "
            "model/oracle ROC-AUC {roc_auc_ratio_to_oracle:.4f}".format(**metrics)
        )
    champion = f", now @{settings.champion_alias}" if result.champion_set else ""
    typer.echo(f"  registered {task.value} version {result.model_version}{champion} (run {result.run_id})")
