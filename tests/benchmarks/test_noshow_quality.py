"""No-show model quality, printed with the command that produced each figure (`make bench`)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.bench
CAREOPS = str(Path(sys.executable).parent / "careops")


def run(command: list[str], workdir: Path) -> dict:
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'bench.db'}",
        "CAREOPS_ARTIFACT_LOCATION": str(workdir / "artifacts"),
    }
    print(f"\n$ {shlex.join(command)}")
    completed = subprocess.run(
        command, cwd=workdir, env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1]) if "--json" in command else {}


def show(summary: dict) -> None:
    m, rows = summary["metrics"], summary["rows"]
    print(
        f"  rows train {rows['train'] + rows['calibration']}, test {rows['test']}; no-show rate train "
        f"{summary['train_positive_rate']:.4f}, test {summary['test_positive_rate']:.4f}"
    )
    print(
        f"  ROC-AUC {m['roc_auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  Brier {m['brier']:.4f}  "
        f"log loss {m['log_loss']:.4f}  ECE {m['ece']:.4f}"
    )
    print(
        f"  calibration intercept {m['calibration_intercept']:+.3f} slope {m['calibration_slope']:.3f} "
        f"({summary['calibration_method']})"
    )


def test_brazil_2016_rolling_backtest(shared_data: Path, tmp_path: Path) -> None:
    """Weekly cut-offs 2016-05-09, -16 and -23, each scoring the 7 days after it."""
    data = shared_data / "noshow" / "noshow_brazil_2016_dev.csv.gz"
    command = [CAREOPS, "backtest", "noshow", "--data", str(data), "--format", "kaggle-noshow"]
    folds = ["--cutoff", "2016-05-23", "--folds", "3", "--fold-days", "7", "--json"]
    summary = run([*command, *folds], tmp_path)
    for fold in summary["folds"]:
        m = fold["metrics"]
        print(
            f"  {fold['cutoff']}: {fold['rows']['test']} rows  ROC-AUC {m['roc_auc']:.4f}  "
            f"PR-AUC {m['pr_auc']:.4f}  Brier {m['brier']:.4f}  ECE {m['ece']:.4f}  "
            f"intercept {m['calibration_intercept']:+.3f}  slope {m['calibration_slope']:.3f}"
        )
    rocs = [fold["metrics"]["roc_auc"] for fold in summary["folds"]]
    eces = [fold["metrics"]["ece"] for fold in summary["folds"]]
    ages = [
        row
        for row in summary["subgroups"]
        if row["attribute"] == "age_band" and row["count"] / len(rocs) >= 2_000
    ]
    slopes = {row["group"]: round(row["mean_calibration_slope"], 3) for row in ages}
    print(f"  mean ROC-AUC {np.mean(rocs):.4f} (target >= 0.745), worst {min(rocs):.4f} (>= 0.735)")
    print(f"  worst ECE {max(eces):.4f} (<= 0.02); mean slope by age band {slopes} (0.8-1.2)")
    assert max(rocs) < 0.85, "leakage canary: honest models score about 0.73-0.76 on these weeks"
    assert max(eces) <= 0.02 and len(slopes) == 4 and all(0.8 <= v <= 1.2 for v in slopes.values())
    assert np.mean(rocs) >= 0.745
    worst = summary["cutoffs"][rocs.index(min(rocs))]
    assert min(rocs) >= 0.735, f"fold of {worst} at {min(rocs):.4f} < 0.735"


@pytest.mark.parametrize("rows", [100_000])
def test_synthetic_oracle_gap(rows: int, tmp_path: Path) -> None:
    data = tmp_path / "appointments.csv"
    run(
        [CAREOPS, "generate", "appointments", "--rows", str(rows), "--seed", "42", "--out", str(data)],
        tmp_path,
    )
    summary = run(
        [CAREOPS, "backtest", "noshow", "--data", str(data), "--cutoff", "2026-06-08", "--json"], tmp_path
    )
    show(summary)
    oracle = summary["oracle"]
    print(
        f"  oracle ROC-AUC {oracle['oracle_roc_auc']:.4f}: gap {oracle['roc_auc_gap_to_oracle']:.4f} "
        "(target <= 0.01)"
    )
    print(
        f"  oracle Brier {oracle['oracle_brier']:.4f}: model/oracle {oracle['brier_ratio_to_oracle']:.4f} "
        "(target <= 1.03)"
    )
