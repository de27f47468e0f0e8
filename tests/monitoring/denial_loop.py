"""The monitoring loop for denials, on a payer that tightens its rules: train before the shift,
score each week's claims before submission, record them as submitted, and record each remittance
when it arrives (1-6 weeks later), watching the monitor after every week."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.claims import PayerTightens, generate_claims
from models.tasks import caller_records, get_task
from serving.app import create_app
from tests.helpers import ADMIN, BILLER, make_settings
from training.train import train

CHUNK = 500


@dataclass
class DenialLoopResult:
    """Per served week: remittances that arrived, whether the monitor recommended retraining, and
    what it said; the week of the first remittance of a claim after the shift."""

    weeks: list[dict] = field(default_factory=list)
    first_remittance_week: int | None = None
    flagged_week: int | None = None
    moved: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def run_denial_loop(root: Path, rows: int, shift: date, served_weeks: int, seed: int = 5) -> DenialLoopResult:
    """Run the loop in `root` and return what the monitor said week by week."""
    task = get_task("denial")
    settings = make_settings(root, reload_interval_seconds=0)
    claims = generate_claims(rows, seed=seed, shift=PayerTightens(shift))
    table = task.load(write_table(claims_for_file(claims), root / "claims.csv")).valid
    before = table[table["submitted_at"] < pd.Timestamp(shift)]
    train("denial", write_table(claims_for_file(before), root / "before.csv"), settings)
    weeks = table["submitted_at"].dt.to_period("W")
    after = sorted(weeks[table["submitted_at"] >= pd.Timestamp(shift)].unique())[:served_weeks]
    result = DenialLoopResult()
    pending = table.iloc[0:0]
    with TestClient(create_app(settings)) as client:

        def post(path: str, body: dict) -> dict:
            response = client.post(path, json=body, headers=BILLER)
            assert response.status_code == 200, response.text
            return response.json()

        for number, week in enumerate(after, start=1):
            submitted = table[weeks == week]
            records = caller_records(task, submitted)
            for start in range(0, len(records), CHUNK):
                post("/v1/denial/score", {"claims": records[start : start + CHUNK], "explain": False})
                post("/v1/denial/history", {"claims": records[start : start + CHUNK]})  # as submitted
            pending = pd.concat([pending, submitted])
            remitted = pending[pending["adjudicated_at"] <= week.end_time]
            pending = pending.drop(remitted.index)
            with_outcomes = caller_records(task, remitted, with_labels=True)
            for start in range(0, len(with_outcomes), CHUNK):
                post("/v1/denial/history", {"claims": with_outcomes[start : start + CHUNK]})
            shifted = remitted["service_date"] >= pd.Timestamp(shift)
            if shifted.any() and result.first_remittance_week is None:
                result.first_remittance_week = number
            client.app.state.careops.services.recorder.flush()
            report = client.get("/v1/monitoring/denial", headers=ADMIN).json()
            recommended = report["retrain"]["recommended"]
            result.weeks.append(
                {
                    "week": str(week.start_time.date()),
                    "scored": len(submitted),
                    "remitted": len(remitted),
                    "recommended": recommended,
                    "reasons": report["retrain"]["reasons"],
                    "moved": report["drift"]["moved"],
                }
            )
            if recommended and result.flagged_week is None:
                result.flagged_week = number
                result.moved = report["drift"]["moved"]
                result.reasons = report["retrain"]["reasons"]
    return result
