"""Log rows built from several hand-overs at once: each record's own row, day and pseudonym."""

from __future__ import annotations

import json
import math
from datetime import datetime
from types import SimpleNamespace

import numpy as np

from services.monitoring.log_rows import ScoredBatch, log_rows
from services.monitoring.pseudonyms import pseudonym

KEY = b"log-rows-key"


def _visit(appointment_id: str, starts_at: datetime | None, clinic_id: str) -> SimpleNamespace:
    return SimpleNamespace(appointment_id=appointment_id, starts_at=starts_at, clinic_id=clinic_id)


def test_hand_overs_taken_together_give_each_record_its_own_row_and_day() -> None:
    day_one, day_two = 86400.0 * 20000.5, 86400.0 * 20003.25  # scored on days 20000 and 20003
    items = [
        ScoredBatch(
            "noshow",
            "1",
            "api",
            [_visit("A1", datetime(2024, 9, 3, 9), "C1")],
            np.array([0.25]),
            scored_at=day_one,
        ),
        ScoredBatch(
            "noshow",
            "2",
            "fhir",
            [_visit("A2", None, "C2"), _visit("A3", datetime(2024, 9, 5, 14), "C1")],
            np.array([0.5, np.nan]),  # A3's score is not finite: no row, but its day is still counted
            top_reasons=["R1", "R2"],
            scored_at=day_two,
        ),
    ]
    rows, days = log_rows(items, KEY, ["clinic_id"], "appointment_id", "starts_at")
    assert [row["record_key"] for row in rows] == [pseudonym(KEY, "A1"), pseudonym(KEY, "A2")]
    assert [(r["model_version"], r["source"], r["scored_day"], r["event_day"]) for r in rows] == [
        ("1", "api", 20000, 19969),  # 2024-09-03
        ("2", "fhir", 20003, None),
    ]
    assert [r["probability"] for r in rows] == [0.25, 0.5] and rows[1]["top_reason"] == "R1"
    assert [json.loads(r["segments"]) for r in rows] == [{"clinic_id": "C1"}, {"clinic_id": "C2"}]
    assert all(math.isclose(r["scored_at"], s) for r, s in zip(rows, (day_one, day_two), strict=True))
    # Per hand-over, each record's event day, or the scoring day when it has none.
    assert [d.tolist() for d in days] == [[19969], [20003, 19971]]
