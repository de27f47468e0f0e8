"""Claims from a file a biller uploads: a canonical CSV or an X12 837, validated like any other file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from data.loaders.canonical import LoadResult, load_appointments, load_claims
from data.x12.claims_837 import read_837
from data.x12.reader import X12FileError

X12_SUFFIXES = (".837", ".x12", ".edi", ".txt")


class UploadError(ValueError):
    """A file that is neither a readable CSV nor a readable 837."""


def _check_rows(content: bytes, is_x12: bool, max_rows: int | None) -> None:
    """Refuse a file of more rows than allowed before anything parses it: CSV lines after the header,
    or an 837's claims, counted in the bytes (a bound: a quoted line break counts as a row)."""
    if max_rows is None:
        return
    rows = content.count(b"CLM*") if is_x12 else content.rstrip(b"\r\n").count(b"\n")
    if rows > max_rows:
        unit = "claims" if is_x12 else "rows"
        raise UploadError(
            f"the file holds more than {max_rows} {unit} (CAREOPS_UPLOAD_MAX_ROWS); split it and upload "
            "the parts"
        )


def appointments_from_upload(content: bytes, max_rows: int | None = None) -> LoadResult:
    """Validated appointments from an uploaded canonical CSV, with the rows quarantined and why."""
    _check_rows(content, False, max_rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(content)
        try:
            return load_appointments(path)
        except (ValueError, KeyError, pd.errors.ParserError) as error:
            raise UploadError(f"the file is not an appointments CSV ({type(error).__name__})") from None


def claims_from_upload(name: str, content: bytes, max_rows: int | None = None) -> LoadResult:
    """Validated claims from an uploaded file, with the rows quarantined and why."""
    suffix = Path(name).suffix.lower()
    is_x12 = suffix in X12_SUFFIXES or content.lstrip()[:3] == b"ISA"
    _check_rows(content, is_x12, max_rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("upload.837" if is_x12 else "upload.csv")
        path.write_bytes(content)
        try:
            if is_x12:
                return load_claims(pd.DataFrame(read_837(path)))
            return load_claims(path)
        except X12FileError as error:
            raise UploadError(f"the 837 cannot be read: {error}") from None
        except (ValueError, KeyError, pd.errors.ParserError) as error:
            raise UploadError(
                f"the file is neither a claims CSV nor an 837 ({type(error).__name__})"
            ) from None
