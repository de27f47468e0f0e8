"""The one careops command line: data, training, scoring and serving commands, above every package."""

from __future__ import annotations

import json
import logging
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from config import ROLES, Settings

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
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)


@app.command()
def generate(
    table: Annotated[TableName, typer.Argument(help="Which table to generate.")],
    out: Annotated[Path, typer.Option(help="Output file; .csv, .csv.gz or .parquet.")],
    rows: Annotated[int, typer.Option(min=1, help="Number of rows.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 42,
    clinic_opens: Annotated[
        str | None,
        typer.Option(
            help="Appointments only: from this day (YYYY-MM-DD) a new clinic C09 takes 35% of the "
            "bookings, with more no-shows and reminders that do not work (a drift scenario)."
        ),
    ] = None,
    payer_tightens: Annotated[
        str | None,
        typer.Option(
            help="Claims only: for services from this day (YYYY-MM-DD) payer COM-BCBS rejects half "
            "its claims for missing information (a drift scenario)."
        ),
    ] = None,
) -> None:
    """Generate a synthetic canonical table, with each row's true probability in extra columns."""
    from datetime import date

    from data.loaders.canonical import claims_for_file
    from data.loaders.tables import write_table
    from data.synthetic.appointments import ClinicOpens, generate_appointments
    from data.synthetic.claims import PayerTightens, generate_claims

    wanted = TableName.appointments if clinic_opens else TableName.claims if payer_tightens else table
    if wanted is not table:
        typer.echo(f"error: that shift applies to {wanted.value} only", err=True)
        raise typer.Exit(code=2)
    try:
        day = date.fromisoformat(clinic_opens or payer_tightens) if clinic_opens or payer_tightens else None
    except ValueError:
        typer.echo("error: a shift's start must be a date such as 2026-05-04", err=True)
        raise typer.Exit(code=2) from None
    if table is TableName.appointments:
        frame = generate_appointments(rows, seed=seed, shift=ClinicOpens(day) if day else None)
    else:
        frame = claims_for_file(generate_claims(rows, seed=seed, shift=PayerTightens(day) if day else None))
    write_table(frame, out)
    typer.echo(f"wrote {len(frame)} synthetic {table.value} to {out}")


class FileFormat(StrEnum):
    """Input file formats."""

    careops = "careops"
    kaggle_noshow = "kaggle-noshow"


DataOption = Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV or Parquet file.")]
FormatOption = Annotated[
    FileFormat, typer.Option("--format", help="careops (canonical columns) or kaggle-noshow (public CSV).")
]


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

    from config import Settings
    from models.registry import alias_version
    from training.fit import TrainingDataError
    from training.train import train as run_training

    configure_logging()
    settings = Settings()
    if skip_if_champion:
        client = MlflowClient(tracking_uri=settings.tracking_uri)
        version = alias_version(client, task.value, settings.champion_alias)
        if version is not None:
            typer.echo(f"{task.value}@{settings.champion_alias} is version {version}; not retraining")
            return
    from training.batch import SchedulerUnreachableError, dask_client

    try:
        if dask:
            with dask_client(scheduler, workers, settings.dask_connect_timeout_seconds) as client:
                result = run_training(
                    task.value, data, settings, file_format=file_format.value, client=client
                )
        else:
            result = run_training(task.value, data, settings, file_format=file_format.value)
    except (TrainingDataError, ValueError, SchedulerUnreachableError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    rows = result.rows
    typer.echo(
        f"{task.value}: {rows['rows_read']} rows read, {rows['rows_quarantined']} quarantined, "
        f"{rows['rows_train']} train / {rows['rows_calibration']} calibration / "
        f"{rows['rows_holdout']} holdout"
    )
    for reason, count in result.quarantine_reasons.items():
        typer.echo(f"  quarantined {count}: {reason}")
    metrics = result.metrics
    typer.echo(
        "  holdout: ROC-AUC {holdout_roc_auc:.4f}  PR-AUC {holdout_pr_auc:.4f}  Brier {holdout_brier:.4f}  "
        "log loss {holdout_log_loss:.4f}  ECE {holdout_ece:.4f}  calibration intercept "
        "{holdout_calibration_intercept:+.3f} slope {holdout_calibration_slope:.3f}".format(**metrics)
    )
    if "oracle_roc_auc" in metrics:
        typer.echo(
            "  oracle:  ROC-AUC {oracle_roc_auc:.4f}  Brier {oracle_brier:.4f}  "
            "model/oracle ROC-AUC {roc_auc_ratio_to_oracle:.4f}".format(**metrics)
        )
    champion = f", now @{settings.champion_alias}" if result.champion_set else ""
    typer.echo(f"  registered {task.value} version {result.model_version}{champion} (run {result.run_id})")


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

    from config import Settings
    from data.loaders.tables import write_table
    from training.backtest import run_backtest, run_rolling_backtest
    from training.fit import TrainingDataError

    configure_logging()
    try:
        when = date.fromisoformat(cutoff)
    except ValueError:
        typer.echo(f"error: --cutoff '{cutoff}' is not a YYYY-MM-DD date", err=True)
        raise typer.Exit(code=2) from None
    try:
        if folds > 1:
            result = run_rolling_backtest(
                task.value, data, when, folds, fold_days, Settings(), file_format.value, horizon_days
            )
        else:
            result = run_backtest(
                task.value, data, when, Settings(), file_format=file_format.value, horizon_days=horizon_days
            )
    except (TrainingDataError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    if predictions_out is not None:
        write_table(result.predictions, predictions_out)
    summary = result.summary
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    if "folds" in summary:
        _print_rolling(summary)
        return
    m = summary["metrics"]
    typer.echo(
        f"{summary['task']} backtest, cut-off {summary['cutoff']}, horizon {summary['horizon_days']} day(s): "
        f"{summary['rows']['train'] + summary['rows']['calibration']} train, "
        f"{summary['rows']['test']} test rows; "
        f"positive rate train {summary['train_positive_rate']:.4f}, test {summary['test_positive_rate']:.4f}"
    )
    typer.echo(
        f"  ROC-AUC {m['roc_auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  Brier {m['brier']:.4f}  log loss "
        f"{m['log_loss']:.4f}  ECE {m['ece']:.4f}  intercept {m['calibration_intercept']:+.3f}  "
        f"slope {m['calibration_slope']:.3f}  ({summary['calibration_method']})"
    )
    typer.echo("  subgroup                          count  observed  predicted  ROC-AUC  slope")
    for row in summary["subgroups"]:
        auc = f"{row['roc_auc']:.3f}" if row["roc_auc"] is not None else "  -  "
        slope = f"{row['calibration_slope']:.2f}" if row["calibration_slope"] is not None else "  -"
        label = f"{row['attribute']}={row['group']}"[:32]
        typer.echo(
            f"  {label:<32} {row['count']:>6}  {row['observed_rate']:.4f}    {row['mean_predicted']:.4f}   "
            f"{auc}   {slope}"
        )


def _print_rolling(summary: dict) -> None:
    typer.echo(
        f"{summary['task']} rolling backtest: {len(summary['folds'])} folds of {summary['fold_days']} days"
    )
    oracle = "oracle_mean" in summary  # synthetic data: the true probabilities' ROC-AUC and Brier
    typer.echo(
        "  cut-off     test rows  rate    ROC-AUC  PR-AUC  Brier   ECE     intercept  slope"
        + ("   oracle ROC-AUC  Brier" if oracle else "")
    )
    rows = [
        (f["cutoff"], f["rows"]["test"], f["test_positive_rate"], f["metrics"], f.get("oracle"))
        for f in summary["folds"]
    ]
    rows += [("mean", "", "", summary["mean"], summary.get("oracle_mean"))]
    rows += [("worst", "", "", summary["worst"], None)]
    for label, count, rate, m, best in rows:
        rate_text = f"{rate:.4f}" if rate != "" else ""
        ceiling = f"   {best['oracle_roc_auc']:.4f}          {best['oracle_brier']:.4f}" if best else ""
        typer.echo(
            f"  {label:<11} {count!s:>9}  {rate_text:<6}  {m['roc_auc']:.4f}   {m['pr_auc']:.4f}  "
            f"{m['brier']:.4f}  {m['ece']:.4f}  {m['calibration_intercept']:+.3f}     "
            f"{m['calibration_slope']:.3f}{ceiling}"
        )
    typer.echo("  subgroup (mean over folds)         rows  ROC-AUC  intercept  slope")
    for row in summary["subgroups"]:
        auc, intercept, slope = (
            row[f"mean_{n}"] for n in ("roc_auc", "calibration_intercept", "calibration_slope")
        )
        label = f"{row['attribute']}={row['group']}"[:32]
        typer.echo(
            f"  {label:<32} {row['count']:>6}  {_number(auc, '.3f')}    {_number(intercept, '+.3f')}     "
            f"{_number(slope, '.3f')}"
        )


def _number(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "  -  "


def _echo_gate_figures(decision: object) -> None:
    """The gated figures of a promotion decision's candidate and champion, a line each."""
    for label, version, metrics in (
        ("candidate", decision.candidate, decision.candidate_metrics),
        ("champion", decision.champion, decision.champion_metrics),
    ):
        typer.echo(
            f"  {label:<9} v{version}: ROC-AUC {metrics['roc_auc']:.4f}  Brier {metrics['brier']:.4f}  "
            f"ECE {metrics['ece']:.4f}"
        )


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
    from config import Settings
    from training.promotion import PromotionError
    from training.promotion import promote as run_gate

    configure_logging()
    try:
        decision = run_gate(task.value, data, Settings(), candidate or None, file_format.value, force, reason)
    except PromotionError as error:
        typer.echo(f"error: {error}; nothing changed", err=True)
        raise typer.Exit(code=2) from None
    _echo_gate_figures(decision)
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
    from config import Settings
    from training.recalibrate import RecalibrationError
    from training.recalibrate import recalibrate as run_update

    configure_logging()
    try:
        result = run_update(task.value, data, Settings(), days, file_format.value)
    except RecalibrationError as error:
        typer.echo(f"error: {error}; nothing registered", err=True)
        raise typer.Exit(code=2) from None
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
    from config import Settings
    from training.promotion import PromotionError
    from training.promotion import rollback as run_rollback

    configure_logging()
    try:
        decision = run_rollback(task.value, Settings())
    except PromotionError as error:
        typer.echo(f"error: {error}; nothing changed", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"{task.value}@champion is v{decision.candidate} again; v{decision.champion} is @previous "
        f"(run {decision.run_id})"
    )


QUARANTINED_EXIT_CODE = 3  # some input was refused (rows or files); the rest was processed


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

    from config import Settings
    from training.batch import SchedulerUnreachableError, dask_client, score_files

    configure_logging()
    settings = Settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    uri = model_uri or f"models:/{task.value}@{settings.champion_alias}"
    try:
        trained = mlflow.pyfunc.load_model(uri).unwrap_python_model().trained
    except Exception as error:  # any load failure is the user's to fix: say which model
        typer.echo(f"error: cannot load {uri}: {error}", err=True)
        raise typer.Exit(code=2) from None
    try:
        with dask_client(scheduler, workers, settings.dask_connect_timeout_seconds) as client:
            result = score_files(trained, data, out, file_format.value, client)
    except SchedulerUnreachableError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"scored {result.rows_scored} rows with {uri} into {result.out}")
    logged = _log_batch_scores(settings, task.value, uri, result.scored)
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

    from config import Settings
    from services.monitoring.weekly import MonitoringError
    from services.monitoring.weekly import monitor as make_report
    from training.monitoring import log_report, monitor_report_text

    configure_logging()
    settings = Settings()
    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        typer.echo("error: --since must be a date such as 2026-11-01", err=True)
        raise typer.Exit(code=2) from None
    try:
        report = make_report(task.value, settings, day)
    except MonitoringError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    run_id = log_report(report, settings)
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
    from config import Settings
    from training.retrain import RetrainError
    from training.retrain import retrain as run_retrain

    configure_logging()
    try:
        result = run_retrain(task.value, Settings(), export)
    except RetrainError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    trained, decision = result.trained, result.decision
    typer.echo(
        f"trained {task.value} v{trained.model_version} on {result.labelled_rows} labelled records from the "
        f"store: holdout ROC-AUC {trained.metrics['holdout_roc_auc']:.4f}"
    )
    if decision is None:
        typer.echo(f"v{trained.model_version} is @champion (there was none)")
        return
    _echo_gate_figures(decision)
    if decision.promoted:
        typer.echo(f"promoted v{decision.candidate} to @champion; v{decision.champion} is @previous")
        return
    typer.echo(f"refused v{decision.candidate}: {'; '.join(decision.reasons)}")
    raise typer.Exit(code=1)


def _log_batch_scores(settings: Settings, task_name: str, uri: str, scored: object) -> int | None:
    """Log a batch run's scores (None when the log is off or has no pseudonym key)."""
    from mlflow import MlflowClient

    from models.registry import uri_version
    from services.monitoring.score_log import record_table

    if scored is None:
        return None
    version = uri_version(MlflowClient(settings.tracking_uri), uri) or "unregistered"
    return record_table(settings, task_name, version, scored)


ingest_app = typer.Typer(help="Bring a practice's own files in as canonical tables.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("x12")
def ingest_x12_files(
    claims: Annotated[list[Path], typer.Option(exists=True, dir_okay=False, help="837 files (repeat).")],
    remits: Annotated[list[Path], typer.Option(exists=True, dir_okay=False, help="835 files (repeat).")],
    out: Annotated[Path, typer.Option(help="Canonical claims with labels (.csv or .parquet).")],
    record: Annotated[
        bool,
        typer.Option(help="Also record the valid claims in the claim store, as history for denial scores."),
    ] = False,
) -> None:
    """Canonical claims from 837 files, labelled (denied, category, CARC/RARC, paid) from 835 files."""
    from config import Settings
    from data.loaders.canonical import load_claims
    from data.loaders.tables import UnsupportedFormatError, table_format, write_table
    from data.stores.claims import ClaimStore
    from services.x12_ingest import ingest_x12

    try:
        table_format(out)
    except UnsupportedFormatError as error:
        typer.echo(f"error: --out {error}", err=True)
        raise typer.Exit(code=2) from None
    frame, report = ingest_x12(claims, remits)
    for error in report.file_errors:
        typer.echo(f"error: {error} (file rejected; the others were read)", err=True)
    write_table(frame, out)
    typer.echo(
        f"wrote {len(frame)} claims to {out}: {report.labelled} labelled from "
        f"{report.remittances} remittances"
    )
    typer.echo(f"  claims without a remittance: {len(report.claims_without_remittance)}")
    typer.echo(
        f"  remittances without a claim: {len(report.remittances_without_claim)} "
        f"{report.remittances_without_claim[:10]}"
    )
    typer.echo(f"  predeterminations / forwarded (not labelled): {len(report.unlabelled_payments)}")
    undated = len(report.payments_without_date)
    typer.echo(f"  labelled without a payment date (BPR16), so not payer history: {undated}")
    if record:
        loaded = load_claims(frame)
        store = ClaimStore(Settings().database_url)
        recorded = store.record(loaded.valid)
        store.engine.dispose()
        typer.echo(
            f"recorded {recorded} claims in the claim store; {len(loaded.quarantined)} invalid "
            f"ones were not ({loaded.reason_counts})"
        )
    if report.file_errors:
        typer.echo(f"{len(report.file_errors)} file(s) rejected; see the errors above", err=True)
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


@ingest_app.command("hl7")
def ingest_hl7_files(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="HL7 v2 files.")],
    record: Annotated[
        bool, typer.Option(help="Apply the events to the appointment store (without it: only read).")
    ] = False,
) -> None:
    """Read HL7 v2 SIU (and ADT^A04) messages; report counts by event and why any was not used."""
    from config import Settings
    from data.feeds.code_tables import CodeTables
    from data.feeds.mllp import split_messages
    from data.feeds.siu import MessageError, read_message
    from data.stores.appointments import AppointmentStore
    from services.schedule_feed import FeedReport, ScheduleFeed

    settings = Settings()
    tables = CodeTables.load(settings.code_tables)
    store = AppointmentStore(settings.database_url) if record else None
    feed = ScheduleFeed(store, settings.horizon_days) if store is not None else None
    report = feed.report if feed is not None else FeedReport()
    unused = 0
    for path in files:
        for number, message in enumerate(split_messages(path.read_bytes()), start=1):
            try:
                event = read_message(message, tables)
                if feed is None:
                    report.messages[event.trigger] += 1
                    report.applied[event.kind] += 1
                else:
                    feed.apply(event)  # counts what it applies and what it cannot
            except MessageError as error:
                if error.unread:
                    report.unusable(error.trigger, error.reason)
                unused += 1
                typer.echo(f"{path.name} message {number}: {error.reason}", err=True)
    if store is not None:
        store.engine.dispose()
    typer.echo("\n".join(report.lines()))
    if not record:
        typer.echo("(read only: --record applies the events to the appointment store)")
    if unused:
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


listen_app = typer.Typer(help="Listen for a practice system's feeds.", no_args_is_help=True)
app.add_typer(listen_app, name="listen")


@listen_app.command("hl7")
def listen_hl7(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MLLP port.")] = 2575,
    health_port: Annotated[
        int | None, typer.Option(help="Port for GET /health/live, /health/ready and /metrics.")
    ] = None,
    score: Annotated[
        bool,
        typer.Option(help="Score each booking on arrival with noshow@champion, into the prediction log."),
    ] = False,
) -> None:
    """Receive HL7 v2 schedule messages over MLLP into the appointment store, with an ACK for each."""
    import asyncio
    import logging.config

    from config import Settings
    from serving.hl7_listener import listen
    from serving.request_log import LOG_CONFIG

    config = {**LOG_CONFIG, "loggers": {**LOG_CONFIG["loggers"]}}
    config["loggers"]["careops.hl7"] = {"handlers": ["requests"], "level": "INFO", "propagate": False}
    logging.config.dictConfig(config)
    asyncio.run(listen(Settings(), host, port, health_port, score))


@app.command()
def tomorrow(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Canonical appointments.")],
    out: Annotated[Path, typer.Option(help="Where to write tomorrow's schedule (.csv or .parquet).")],
    day: Annotated[
        str | None, typer.Option(help="The day to move it to (default: the next weekday after today).")
    ] = None,
    claims: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Canonical claims: the latest become claims to submit."
        ),
    ] = None,
    claims_out: Annotated[Path | None, typer.Option(help="Where to write the claims to submit.")] = None,
) -> None:
    """Write the file's latest day of appointments moved to tomorrow, unlabelled: a first-run day."""
    from datetime import date, timedelta

    from data.loaders.tables import read_table, write_table
    from data.synthetic.tomorrow import claims_to_submit, tomorrow_schedule

    target = date.fromisoformat(day) if day else date.today() + timedelta(days=1)
    while day is None and target.weekday() >= 5:
        target += timedelta(days=1)
    schedule = tomorrow_schedule(read_table(data), target)
    write_table(schedule, out)
    typer.echo(f"wrote {len(schedule)} appointments for {target.isoformat()} to {out}")
    if claims is not None and claims_out is not None:
        to_submit = claims_to_submit(read_table(claims), target)
        write_table(to_submit, claims_out)
        typer.echo(f"wrote {len(to_submit)} claims to submit on {target.isoformat()} to {claims_out}")


@app.command()
def book(
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Canonical appointments.")],
) -> None:
    """Book a file of appointments in the appointment store; invalid rows are listed with why."""
    from config import Settings
    from data.loaders.canonical import load_appointments
    from data.stores.appointments import AppointmentStore

    settings = Settings()
    loaded = load_appointments(data)
    store = AppointmentStore(settings.database_url)
    booked = store.book_table(loaded.valid, settings.horizon_days)
    store.engine.dispose()
    typer.echo(
        f"booked {booked} appointments; {len(loaded.quarantined)} rows not valid {loaded.reason_counts}"
    )
    if len(loaded.quarantined):
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


@app.command()
def queue(
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Canonical claims (.csv or .parquet).")
    ],
) -> None:
    """Score claims about to be submitted with denial@champion and put them on the biller's worklist."""
    from config import Settings
    from data.loaders.canonical import load_claims
    from data.schemas import Claim
    from data.stores.claims import ClaimStore
    from data.stores.worklist import WorklistStore
    from models.tasks import caller_records, get_task
    from services.denial import worklist_scores
    from services.model_set import ModelSet

    settings = Settings()
    loaded = load_claims(data)
    claims = [Claim.model_validate(r) for r in caller_records(get_task("denial"), loaded.valid)]
    models = ModelSet()
    models.refresh(settings)
    model = models.get("denial")
    store = ClaimStore(settings.database_url)
    scores = worklist_scores(model.scorer, store, claims, settings.expected_payment_ratio)
    added, updated = WorklistStore(settings.database_url).add(claims, scores, model.version)
    typer.echo(f"worklist: {added} claims added, {updated} updated; {len(loaded.quarantined)} rows not valid")
    if len(loaded.quarantined):
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Uvicorn worker processes.")] = 1,
) -> None:
    """Serve the scoring API with uvicorn; both @champion models load at start-up in every worker."""
    from serving.workers import serve as run

    code = run(host, port, workers)
    if code:
        raise typer.Exit(code=code)


@app.command()
def keys(
    file: Annotated[Path, typer.Option(help="Where to keep the keys (git-ignored).")] = Path(
        ".careops/api-keys"
    ),
) -> None:
    """Create one API key per role in FILE if it does not exist, and print them once."""
    if file.exists():
        typer.echo(f"API keys already in {file} (set CAREOPS_API_KEYS_FILE={file} to use them)")
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{secrets.token_urlsafe(24)}:{role}" for role in ROLES]
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    typer.echo(f"Created API keys in {file} (shown once; the file is git-ignored):")
    for line in lines:
        key, _, role = line.rpartition(":")
        typer.echo(f"  {role:<9} {key}")


@app.command()
def examples(
    appointments: Annotated[Path, typer.Option(exists=True, help="Canonical appointments file.")],
    claims: Annotated[Path, typer.Option(exists=True, help="Canonical claims file.")],
    out: Annotated[Path, typer.Option(help="Folder for the request bodies.")] = Path(".careops/requests"),
    keys_file: Annotated[Path, typer.Option(help="The API keys file.")] = Path(".careops/api-keys"),
    base_url: Annotated[str, typer.Option(help="Where the API listens.")] = "http://127.0.0.1:8000",
    rows: Annotated[int, typer.Option(min=1, max=100)] = 3,
) -> None:
    """Write example request bodies from canonical files and print a curl for each route."""
    from models.tasks import caller_records, get_task

    out.mkdir(parents=True, exist_ok=True)
    bodies = {"noshow": ("appointments", appointments), "denial": ("claims", claims)}
    for task_name, (field, path) in bodies.items():
        task = get_task(task_name)
        records = caller_records(task, task.load(path).valid.tail(rows))
        (out / f"{task_name}-score.json").write_text(json.dumps({field: records}, indent=2), encoding="utf-8")
    role_of = {"noshow": "scheduler", "denial": "biller"}
    typer.echo("\nTry it (keys are read from the git-ignored key file):")
    for task_name, role in role_of.items():
        key = f"$(grep ':{role}$' {keys_file} | cut -d: -f1)"
        typer.echo(
            f"  curl -s -X POST {base_url}/v1/{task_name}/score -H 'Content-Type: application/json' "
            f'-H "X-API-Key: {key}" -d @{out}/{task_name}-score.json'
        )
    typer.echo(f"  curl -s {base_url}/health/ready")
    typer.echo(f"  open {base_url}/docs for the OpenAPI documentation")
    typer.echo(
        f"  open {base_url}/app/ for the scheduler's day; sign in with the scheduler key in {keys_file}\n"
    )
