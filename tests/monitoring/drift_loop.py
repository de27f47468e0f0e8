"""The monitoring loop on a practice that changes: train before the shift, serve the weeks after it
through the API while outcomes arrive, watch the monitor, retrain from the store, reload, and
compare with the oracle. Shared by the test and the benchmark (which runs it larger)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sklearn.metrics import roc_auc_score

from data.loaders.tables import write_table
from data.synthetic.appointments import ClinicOpens, generate_appointments
from models.pyfunc import load_registered
from models.tasks import caller_form, caller_records, get_task
from serving.app import create_app
from tests.bodies import outcomes_of
from tests.helpers import ADMIN, SCHEDULER, make_settings
from training.retrain import RetrainResult, retrain
from training.train import train

CHUNK = 500


@dataclass
class LoopResult:
    """What the loop saw: per served week, the monitor's estimate before the outcomes arrived and
    the realized figure after; when it first recommended retraining; and the holdout figures."""

    weeks: list[dict] = field(default_factory=list)
    flagged_after_weeks: int | None = None
    moved: list[str] = field(default_factory=list)
    retrained: RetrainResult | None = None
    served_after_reload: set[str] = field(default_factory=set)
    holdout_rows: int = 0
    roc_before: float = float("nan")  # the champion trained before the shift, on the later weeks
    roc_after: float = float("nan")  # the retrained champion, on the same weeks
    roc_oracle: float = float("nan")  # the generator's true probabilities, on the same weeks

    @property
    def estimate_errors(self) -> np.ndarray:
        """Estimated minus realized ROC-AUC per served week."""
        return np.array([w["estimated"] - w["realized"] for w in self.weeks])


def _week_start(period: pd.Period) -> str:
    return str(period.start_time.date())


def run_drift_loop(root: Path, rows: int, shift: date, served_weeks: int, seed: int = 5) -> LoopResult:
    """Run the loop in `root` (stores, registry) and return what it measured."""
    task = get_task("noshow")
    settings = make_settings(root, reload_interval_seconds=0)
    table = task.load(
        write_table(generate_appointments(rows, seed=seed, shift=ClinicOpens(shift)), root / "all.csv")
    ).valid
    before = table[table["starts_at"] < pd.Timestamp(shift)]
    train("noshow", write_table(before, root / "before.csv"), settings)
    weeks = table["starts_at"].dt.to_period("W")
    after = sorted(weeks[table["starts_at"] >= pd.Timestamp(shift)].unique())
    served, later = after[:served_weeks], after[served_weeks:]
    result = LoopResult()
    with TestClient(create_app(settings)) as client:

        def report() -> dict:
            client.app.state.careops.services.recorder.flush()
            response = client.get("/v1/monitoring/noshow", headers=ADMIN)
            assert response.status_code == 200, response.text
            return response.json()

        def serve(week: pd.Period) -> pd.DataFrame:
            rows_of_week = table[weeks == week]
            records = caller_records(task, rows_of_week)
            for start in range(0, len(records), CHUNK):
                body = {"appointments": records[start : start + CHUNK], "explain": False}
                response = client.post("/v1/noshow/score", json=body, headers=SCHEDULER)
                assert response.status_code == 200, response.text
                result.served_after_reload.update(p["model_version"] for p in response.json()["predictions"])
            return rows_of_week

        def outcomes_arrive(rows_of_week: pd.DataFrame) -> None:
            outcomes = outcomes_of(rows_of_week)
            for start in range(0, len(outcomes), 1000):
                body = {"outcomes": outcomes[start : start + 1000]}
                assert client.post("/v1/noshow/outcomes", json=body, headers=SCHEDULER).status_code == 200

        for number, week in enumerate(served, start=1):
            rows_of_week = serve(week)
            estimated = {w["week"]: w for w in report()["weeks"]}[_week_start(week)]["estimated"]
            outcomes_arrive(rows_of_week)
            now = report()
            realized = {w["week"]: w for w in now["weeks"]}[_week_start(week)]["realized"]
            result.weeks.append(
                {
                    "week": _week_start(week),
                    "estimated": estimated["expected_roc_auc"],
                    "realized": realized["roc_auc"],
                    "recommended": now["retrain"]["recommended"],
                    "reasons": now["retrain"]["reasons"],
                }
            )
            if now["retrain"]["recommended"] and result.flagged_after_weeks is None:
                result.flagged_after_weeks = number
                result.moved = now["drift"]["moved"]

        result.retrained = retrain("noshow", settings)
        reload = client.post("/admin/reload", headers=ADMIN).json()
        assert reload["noshow"]["action"] in ("loaded", "unchanged"), reload
        result.served_after_reload = set()
        for week in later:
            outcomes_arrive(serve(week))

    # The later weeks, scored offline by both versions with the same point-in-time history.
    mlflow.set_tracking_uri(settings.tracking_uri)
    holdout = weeks.isin(later).to_numpy()
    labels = table.loc[holdout, "no_show"].to_numpy(dtype=int)
    frame = caller_form(task, table, with_labels=True)
    for version, name in (("1", "roc_before"), (result.retrained.trained.model_version, "roc_after")):
        model = load_registered(f"models:/noshow/{version}")
        probability = model.predict(None, frame)[task.probability_field].to_numpy()[holdout]
        setattr(result, name, float(roc_auc_score(labels, probability)))
    result.roc_oracle = float(roc_auc_score(labels, table.loc[holdout, "true_no_show_probability"]))
    result.holdout_rows = int(holdout.sum())
    return result
