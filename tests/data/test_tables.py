"""Tables are read and written by extension; identifiers keep their exact text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.loaders.tables import UnsupportedFormatError, file_sha256, read_table, write_table


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.parquet"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    frame = pd.DataFrame({"patient_id": ["007", "42"], "value": [1.5, 2.5]})
    path = write_table(frame, tmp_path / "nested" / name)
    back = read_table(path)
    assert back["patient_id"].tolist() == ["007", "42"]
    assert back["value"].astype(float).tolist() == [1.5, 2.5]


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"\.xlsx: unsupported extension"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")


def test_hash_changes_with_content(tmp_path: Path) -> None:
    first = write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.csv")
    second = write_table(pd.DataFrame({"a": [2]}), tmp_path / "b.csv")
    assert file_sha256(first) != file_sha256(second)
    assert file_sha256(first) == file_sha256(first)
