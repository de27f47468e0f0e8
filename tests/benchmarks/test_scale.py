"""Throughput for 1,000,000 appointments: in-process, a 2-worker LocalCluster, and the raw booster."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from data.loaders.canonical import load_appointments
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from models.tasks import get_task
from tests.helpers import make_settings
from training.batch import dask_client, score_files
from training.fit import fit_and_evaluate, recent_holdout_start

pytestmark = pytest.mark.bench
ROWS = 1_000_000


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>10,.0f} rows/s ({seconds:.2f} s)"


def test_throughput_for_a_million_appointments(tmp_path: Path) -> None:
    task = get_task("noshow")
    settings = make_settings(tmp_path, train_threads=2)
    training = load_appointments(generate_appointments(100_000, seed=1)).valid
    trained = fit_and_evaluate(task, training, recent_holdout_start(task, training, 0.2), settings).trained
    data = write_table(generate_appointments(ROWS, seed=2), tmp_path / "appointments.csv")
    booster = trained.classifier.booster_
    print(f"\nmodel: {booster.num_trees()} trees; {ROWS:,} synthetic appointments in {data.name}")

    start = time.perf_counter()
    table = load_appointments(data).valid
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    probabilities = trained.predict_frame(table)
    in_process = time.perf_counter() - start
    assert len(probabilities) == ROWS

    matrix = trained.features.transform(trained.prepare(table))
    start = time.perf_counter()
    booster.predict(matrix, num_threads=2)
    raw = time.perf_counter() - start

    with dask_client(None, workers=2, timeout_seconds=30) as client:
        start = time.perf_counter()
        result = score_files(
            trained, [data], tmp_path / "scores.parquet", client=client, show_progress=False, blocksize="16MB"
        )
        distributed = time.perf_counter() - start
    assert result.rows_scored == ROWS

    print(f"  raw Booster.predict on the prepared matrix, 2 threads: {rate(ROWS, raw)}")
    print(f"  in-process, loaded table -> history, features, booster, calibration: {rate(ROWS, in_process)}")
    print(f"  in-process, file -> validation -> scores: {rate(ROWS, loaded + in_process)}")
    print(f"  dask, 2-worker LocalCluster, file -> validation -> scores: {rate(ROWS, distributed)}")
    ratio = raw / in_process
    print(f"  in-process / raw booster throughput: {ratio:.3f} (target >= 0.25)")
    from_file = raw / (loaded + in_process)
    print(f"  file -> validation -> scores / raw booster throughput: {from_file:.3f} (target >= 0.5)")
    assert ratio >= 0.25
    assert from_file >= 0.5, f"file -> scores at {from_file:.2f}x the raw booster, below 0.5x"
