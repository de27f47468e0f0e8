"""What the training commands print: a training run, a backtest, a promotion gate's figures."""

from __future__ import annotations

import typer


def print_training(task: str, result: object, champion_alias: str) -> None:
    """A training run's rows, holdout figures (and the oracle's, on synthetic data) and its version."""
    rows = result.rows
    typer.echo(
        f"{task}: {rows['rows_read']} rows read, {rows['rows_quarantined']} quarantined, "
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
    champion = f", now @{champion_alias}" if result.champion_set else ""
    typer.echo(f"  registered {task} version {result.model_version}{champion} (run {result.run_id})")


def print_backtest(summary: dict) -> None:
    """A backtest's figures: one cut-off's, with subgroups, or every fold's (`_print_rolling`)."""
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


def echo_gate_figures(decision: object) -> None:
    """The gated figures of a promotion decision's candidate and champion, a line each."""
    for label, version, metrics in (
        ("candidate", decision.candidate, decision.candidate_metrics),
        ("champion", decision.champion, decision.champion_metrics),
    ):
        typer.echo(
            f"  {label:<9} v{version}: ROC-AUC {metrics['roc_auc']:.4f}  Brier {metrics['brier']:.4f}  "
            f"ECE {metrics['ece']:.4f}"
        )
