"""Batch scoring of canonical files with dask.dataframe, on a local or remote Dask cluster.

Rows are validated per partition (bad ones go to a quarantine file with their reasons). No-show
history needs every appointment of a patient, and of a clinic, together: the table is shuffled
by patient for the patient features and by clinic for the clinic features, so the scores equal
in-process scoring of the whole table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd

from data.claim_events import ClaimEvents
from data.epoch import as_days
from data.loaders.canonical import QUARANTINE_REASON, QUARANTINE_RULE, SOURCE_ROW, canonical_columns
from data.loaders.kaggle_noshow import kaggle_to_canonical
from data.loaders.tables import CSV_SUFFIXES, write_table
from features.claim_history import ClaimHistoryParams, add_claim_history, claim_events
from features.history import (
    CLINIC_FEATURES,
    PATIENT_FEATURES,
    HistoryParams,
    clinic_history_frame,
    lead_band_counts,
    patient_history_frame,
)
from models.denial_model import DenialModel
from models.noshow_model import NoShowModel
from models.subgroups import frame_groups
from models.tasks import Task
from models.trained import TrainedModel

EVENT_DAY, GROUP_PREFIX = "_event_day", "_group_"


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler did not answer in time."""


@dataclass
class BatchResult:
    """What a batch run wrote."""

    rows_scored: int
    rows_quarantined: int
    out: Path
    quarantine: Path | None
    # Per scored row: id, probability, event day and groups, for the prediction log (not written).
    scored: pd.DataFrame | None = None


def read_files(files: Sequence[Path], file_format: str, blocksize: str = "64MB") -> dd.DataFrame:
    """All files as one Dask DataFrame of canonical (not yet validated) columns."""
    paths = [str(f) for f in files]
    if all(p.lower().endswith(CSV_SUFFIXES) for p in paths):
        compressed = any(p.lower().endswith(".gz") for p in paths)
        frame = dd.read_csv(
            paths,
            dtype=str,
            keep_default_na=file_format != "kaggle-noshow",
            blocksize=None if compressed else blocksize,
        )
    else:
        frame = dd.read_parquet(paths)
    if file_format == "kaggle-noshow":
        frame = frame.map_partitions(kaggle_to_canonical)
    return frame


def _kept_columns(task: Task, columns: Sequence[str]) -> list[str]:
    # The generator's truth rides along when present, so distributed training can report the oracle.
    return [*canonical_columns(task.record), *(c for c in (task.oracle_column,) if c in columns)]


def _valid(part: pd.DataFrame, task: Task, kept: list[str]) -> pd.DataFrame:
    return task.load(part).valid[kept]


def _quarantined(part: pd.DataFrame, task: Task) -> pd.DataFrame:
    quarantined = task.load(part).quarantined
    return quarantined[[c for c in quarantined.columns if c != SOURCE_ROW]].astype(str)


def _score(part: pd.DataFrame, trained: TrainedModel) -> pd.DataFrame:
    task = trained.task
    probability = trained.predict_frame(part)
    scored = pd.DataFrame(
        {
            task.id_column: part[task.id_column].to_numpy(),
            task.probability_field: probability,
            EVENT_DAY: as_days(part[task.time_column].to_numpy()),
        },
        index=part.index,
    )
    groups = frame_groups(part, list(task.subgroup_columns)).add_prefix(GROUP_PREFIX)
    return scored.join(groups).reset_index(drop=True)


def validated(raw: dd.DataFrame, task: Task) -> tuple[dd.DataFrame, dd.DataFrame]:
    """The lazy valid canonical rows of a raw frame, and its lazy quarantine with reasons."""
    kept = _kept_columns(task, list(raw.columns))
    valid_meta = task.load(raw._meta).valid.reindex(columns=kept).iloc[:0]
    quarantine_meta = pd.DataFrame(columns=[*raw.columns, QUARANTINE_REASON, QUARANTINE_RULE], dtype=str)
    return (
        raw.map_partitions(_valid, task, kept, meta=valid_meta),
        raw.map_partitions(_quarantined, task, meta=quarantine_meta),
    )


def with_history(valid: dd.DataFrame, params: HistoryParams) -> dd.DataFrame:
    """Valid appointments with their point-in-time history, computed patient- and clinic-complete."""
    patient_meta = pd.DataFrame(
        {"appointment_id": pd.Series(dtype=object), **{n: pd.Series(dtype=float) for n in PATIENT_FEATURES}}
    )
    clinic_meta = pd.DataFrame(
        {"appointment_id": pd.Series(dtype=object), **{n: pd.Series(dtype=float) for n in CLINIC_FEATURES}}
    )
    patients = valid.shuffle("patient_id").map_partitions(patient_history_frame, params, meta=patient_meta)
    clinics = valid.shuffle("clinic_id").map_partitions(clinic_history_frame, params, meta=clinic_meta)
    return valid.merge(patients, on="appointment_id").merge(clinics, on="appointment_id")


def gather_claim_events(claims: dd.DataFrame) -> ClaimEvents:
    """The history events of every partition, gathered in one ClaimEvents (they are small)."""
    parts = dask.compute(*(dask.delayed(claim_events)(part) for part in claims.to_delayed()))
    names = ("claims", "lines", "submissions")
    return ClaimEvents(*(pd.concat([getattr(e, n) for e in parts], ignore_index=True) for n in names))


def gather_lead_band_counts(appointments: dd.DataFrame) -> pd.DataFrame:
    """No-shows and visits per lead band (`lead_band_counts`), summed over every partition."""
    parts = dask.compute(*(dask.delayed(lead_band_counts)(part) for part in appointments.to_delayed()))
    return sum(parts[1:], parts[0])


def with_claim_history(valid: dd.DataFrame, params: ClaimHistoryParams) -> dd.DataFrame:
    """Valid claims with their point-in-time payer history, read from the events of every partition."""
    events = gather_claim_events(valid)
    meta = add_claim_history(valid._meta, params, events)
    return valid.map_partitions(add_claim_history, params, events, meta=meta)


def score_frame(raw: dd.DataFrame, trained: TrainedModel) -> tuple[dd.DataFrame, dd.DataFrame]:
    """The lazy scores (id, probability) and the lazy quarantine of a raw canonical frame."""
    task = trained.task
    valid, quarantined = validated(raw, task)
    if isinstance(trained, NoShowModel):
        valid = with_history(valid, trained.history)
    if isinstance(trained, DenialModel):
        valid = with_claim_history(valid, trained.claim_history)
    scores_meta = pd.DataFrame(
        {
            task.id_column: pd.Series(dtype=object),
            task.probability_field: pd.Series(dtype=float),
            EVENT_DAY: pd.Series(dtype=float),
            **{GROUP_PREFIX + name: pd.Series(dtype=object) for name in task.subgroup_columns},
        }
    )
    return valid.map_partitions(_score, trained, meta=scores_meta), quarantined


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int, timeout_seconds: float) -> Iterator[object]:
    """A client on the given scheduler, or on a LocalCluster of `workers` single-threaded processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout_seconds}s")
        except (OSError, TimeoutError) as error:
            raise SchedulerUnreachableError(
                f"no Dask scheduler answered at {scheduler} within {timeout_seconds:g}s: {error}"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def score_files(
    trained: TrainedModel,
    files: Sequence[Path],
    out: Path,
    file_format: str = "careops",
    client: object | None = None,
    show_progress: bool = True,
    blocksize: str = "64MB",
) -> BatchResult:
    """Score every file's valid rows into `out`; bad rows go to `<out>.quarantine.csv` with reasons."""
    scores, quarantined = score_frame(read_files(files, file_format, blocksize), trained)
    if client is not None:
        futures = client.compute([scores, quarantined])
        if show_progress:
            from distributed import progress

            progress(futures)
        scored, bad = (f.result() for f in futures)
    else:
        scored, bad = dask.compute(scores, quarantined)
    scored = scored.reset_index(drop=True)
    write_table(scored[[trained.task.id_column, trained.task.probability_field]], out, for_people=True)
    quarantine_path = None
    if len(bad):
        quarantine_path = out.with_name(out.name.split(".")[0] + ".quarantine.csv")
        write_table(bad.reset_index(drop=True), quarantine_path, for_people=True)
    return BatchResult(len(scored), len(bad), out, quarantine_path, scored)
