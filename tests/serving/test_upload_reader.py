"""Large uploads are read in a process of their own: the same claims, days and reasons as reading here, a
reader out of time is stopped with a clear error, and no reader is left behind."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.loaders.uploads import UploadError
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from services import upload_reader
from services.upload_reader import read_appointments, read_claims


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    frame = claims_for_file(generate_claims(60, seed=404))
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith(("true_", "denied", "denial_"))])
    frame.loc[[3, 17], "payer_id"] = None  # two rows the loader must quarantine
    frame.loc[[8], "total_charge"] = -5
    return write_table(frame, tmp_path_factory.mktemp("upload") / "claims.csv").read_bytes()


def test_a_reader_process_gives_what_reading_here_gives(content: bytes) -> None:
    here = read_claims("claims.csv", content, 1000, in_process=True)
    there = read_claims("claims.csv", content, 1000)
    assert there == here
    assert there.quarantined == 3 and sum(there.reason_counts.values()) == 3
    assert len(there.records) == 57
    claims = [claim for chunk in there.chunks(size=20) for claim in chunk]
    assert [len(chunk) for chunk in there.chunks(size=20)] == [20, 20, 17]
    assert [c.model_dump_json() for c in claims] == there.records
    assert not [p for p in multiprocessing.active_children() if p.name == "careops-upload-reader"]


def test_a_file_the_reader_refuses_is_an_upload_error_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="more than 10 rows"):
        read_claims("claims.csv", b"claim_id\n" + b"x\n" * 11, 10)
    with pytest.raises(UploadError, match="neither a claims CSV nor an 837"):
        read_claims("claims.csv", b"\x00\x01 not a table", 10)


def test_a_reader_out_of_time_is_stopped_with_a_clear_error(
    content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_reader, "READ_TIMEOUT_SECONDS", 0.0)
    with pytest.raises(UploadError, match="in the time an upload may take"):
        read_claims("claims.csv", content, 1000)
    assert not [p for p in multiprocessing.active_children() if p.name == "careops-upload-reader"]


def test_a_day_read_in_its_own_process_is_the_day_read_here(tmp_path: Path) -> None:
    frame = generate_appointments(40, seed=405)
    frame.loc[[2, 30], "clinic_id"] = None  # two rows the loader must quarantine
    content = write_table(frame, tmp_path / "day.csv").read_bytes()
    here = read_appointments(content, 1000, shown=1, in_process=True)
    there = read_appointments(content, 1000, shown=1)
    pd.testing.assert_frame_equal(there.valid, here.valid)
    assert len(there.valid) == 38 and there.quarantined == 2
    assert there.bad_rows == here.bad_rows and len(there.bad_rows) == 1 and there.bad_rows[0][0] == 4
    with pytest.raises(UploadError, match="more than 10 rows"):
        read_appointments(b"appointment_id\n" + b"x\n" * 11, 10, shown=5)
