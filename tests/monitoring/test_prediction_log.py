"""The prediction log and /metrics through the real app: what is kept, what never is, and the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cli import app as cli
from features.history import HISTORY_FEATURES
from models.tasks import caller_records, get_task
from services.monitoring.log_writer import WRITE_CHUNK_ROWS
from services.monitoring.pseudonyms import pseudonym
from serving.app import create_app
from tests.bodies import APPOINTMENT, CLAIM, outcomes_of
from tests.helpers import ADMIN, BILLER, PSEUDONYM_KEY, SCHEDULER, TrainedStore

MARKER = "PHIMARKER7731"
METRICS = (
    "careops_requests",
    "careops_request_errors",
    "careops_request_latency_seconds",
    "careops_records_scored",
    "careops_model_info",
    "careops_score",
    "careops_drift_psi",
)


@pytest.fixture(scope="module")
def fresh_client(
    trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app on the trained models, with a service store of its own (an empty log)."""
    root: Path = tmp_path_factory.mktemp("monitoring")
    settings = trained_store.settings.model_copy(
        update={
            "database_url": f"sqlite:///{root / 'careops.db'}",
            "metrics_token": SecretStr("scrape-token"),
        }
    )
    with TestClient(create_app(settings)) as client:
        yield client


def stored_text(client: TestClient) -> str:
    client.app.state.careops.services.recorder.flush()
    engine = create_engine(client.app.state.careops.settings.database_url)
    with engine.connect() as connection:
        rows = [
            " ".join(map(str, row))
            for table in ("careops_predictions", "careops_feature_bins")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        ]
    engine.dispose()
    return "\n".join(rows)


def test_scores_are_logged_under_pseudonyms_with_no_identifier_anywhere(fresh_client: TestClient) -> None:
    appointment = APPOINTMENT | {"appointment_id": f"{MARKER}-A", "patient_id": f"{MARKER}-P"}
    claim = CLAIM | {"claim_id": f"{MARKER}-C", "patient_id": f"{MARKER}-P"}
    scored = fresh_client.post("/v1/noshow/score", json={"appointments": [appointment]}, headers=SCHEDULER)
    denied = fresh_client.post("/v1/denial/score", json={"claims": [claim]}, headers=BILLER)
    assert scored.status_code == denied.status_code == 200
    stored = stored_text(fresh_client)
    assert MARKER not in stored

    log = fresh_client.app.state.careops.services.recorder.log
    noshow = log.predictions("noshow")
    row = noshow[noshow["record_key"] == pseudonym(PSEUDONYM_KEY.encode(), f"{MARKER}-A")].iloc[0]
    prediction = scored.json()["predictions"][0]
    assert row["probability"] == pytest.approx(prediction["no_show_probability"])
    assert row["model_version"] == prediction["model_version"] and row["source"] == "api"
    assert row["segment_clinic_id"] == "C01" and row["segment_age_band"] == "18-39"
    assert row["event_day"] == 20522  # 2026-03-10, the appointment's day

    claims = log.predictions("denial")
    claim_row = claims[claims["record_key"] == pseudonym(PSEUDONYM_KEY.encode(), f"{MARKER}-C")].iloc[0]
    denial = denied.json()["predictions"][0]
    assert claim_row["top_reason"] == denial["reasons"][0]["category"]
    assert len(claim_row["line_probabilities"].split(",")) == len(CLAIM["service_lines"])

    # Every feature of the serving version (and the score) was counted into its reference bins.
    counts = log.bin_counts("noshow")
    profile = fresh_client.app.state.careops.models.models["noshow"].profile
    assert set(counts["feature"]) == {"__score__", *(f.name for f in profile.features)}
    assert (counts.groupby("feature")["count"].sum() >= 1).all()


def test_a_flush_larger_than_a_write_is_logged_whole_and_counted_once(fresh_client: TestClient) -> None:
    recorder = fresh_client.app.state.careops.services.recorder
    recorder.flush()
    log = recorder.log
    before = log.bin_counts("noshow").query("feature == '__score__'")["count"].sum()
    # One batch: its rows are written WRITE_CHUNK_ROWS at a time, its bin counts once.
    appointments = [
        APPOINTMENT | {"appointment_id": f"FLUSH-{i}", "patient_id": f"FLUSH-P{i}"} for i in range(200)
    ]
    assert len(appointments) > 3 * WRITE_CHUNK_ROWS
    response = fresh_client.post("/v1/noshow/score", json={"appointments": appointments}, headers=SCHEDULER)
    assert response.status_code == 200
    recorder.flush()
    keys = {pseudonym(PSEUDONYM_KEY.encode(), f"FLUSH-{i}") for i in range(200)}
    assert log.predictions("noshow")["record_key"].isin(keys).sum() == 200
    after = log.bin_counts("noshow").query("feature == '__score__'")["count"].sum()
    assert after - before == 200


def test_metrics_parse_name_every_required_metric_and_hold_no_identifier(fresh_client: TestClient) -> None:
    appointment = APPOINTMENT | {"appointment_id": f"{MARKER}-M", "patient_id": f"{MARKER}-Q"}
    fresh_client.post("/v1/noshow/score", json={"appointments": [appointment]}, headers=SCHEDULER)
    fresh_client.post(
        "/v1/noshow/score", json={"appointments": [{"appointment_id": MARKER}]}, headers=SCHEDULER
    )
    assert fresh_client.get("/metrics").status_code == 401
    assert fresh_client.get("/metrics", headers=SCHEDULER).status_code == 401
    assert fresh_client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    by_token = fresh_client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    response = fresh_client.get("/metrics", headers=ADMIN)
    assert by_token.status_code == response.status_code == 200
    assert MARKER not in response.text
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert set(METRICS) <= set(families)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }
    scored = [v for (name, labels), v in samples.items() if name == "careops_records_scored_total"]
    assert sum(scored) >= 2
    errors = [labels for (name, labels), _ in samples.items() if name == "careops_request_errors_total"]
    assert any(("status", "422") in labels and ("route", "/v1/noshow/score") in labels for labels in errors)
    versions = {
        dict(labels)["task"]: dict(labels)["version"]
        for (name, labels), _ in samples.items()
        if name == "careops_model_info"
    }
    assert versions == {t: m.version for t, m in fresh_client.app.state.careops.models.models.items()}
    drift = {dict(labels)["feature"] for (name, labels), _ in samples.items() if name == "careops_drift_psi"}
    assert "__score__" in drift


def test_report_joins_outcomes_by_pseudonym_and_estimates_unlabelled_weeks(
    fresh_client: TestClient, trained_store: TrainedStore
) -> None:
    task = get_task("noshow")
    table = task.load(trained_store.appointments).valid.tail(1200)
    records = caller_records(task, table)
    for start in range(0, len(records), 400):
        chunk = {"appointments": records[start : start + 400], "explain": False}
        assert fresh_client.post("/v1/noshow/score", json=chunk, headers=SCHEDULER).status_code == 200
    # Outcomes arrive for all but the last week: its appointments have no labels yet.
    weeks = table["starts_at"].dt.to_period("W")
    known = table[weeks < weeks.max()]
    outcomes = outcomes_of(known)
    for start in range(0, len(outcomes), 400):
        body = {"outcomes": outcomes[start : start + 400]}
        assert fresh_client.post("/v1/noshow/outcomes", json=body, headers=SCHEDULER).status_code == 200
    fresh_client.app.state.careops.services.recorder.flush()

    assert fresh_client.get("/v1/monitoring/noshow", headers=SCHEDULER).status_code == 403
    report = fresh_client.get("/v1/monitoring/noshow", headers=ADMIN).json()
    assert report["labelled"] == len(known) > 300
    realized = [w for w in report["weeks"] if w["realized"] is not None]
    waiting = [w for w in report["weeks"] if w["labelled"] == 0 and w["predictions"] >= 100]
    assert realized and waiting
    assert all(0.5 < w["estimated"]["expected_roc_auc"] < 1 for w in waiting)
    assert {g["attribute"] for g in report["subgroups"]} >= {"clinic_id", "age_band", "patient_sex"}
    # This service store holds no visits before these appointments, so their history inputs (and
    # only those) moved far from the reference, which was scored with the practice's history.
    moved = [e["feature"] for e in report["drift"]["features"] if e["level"] == "act"]
    assert moved and set(moved) <= set(HISTORY_FEATURES)
    assert "last_outcome_no_show" in moved and "prior_visits" in moved
    assert report["retrain"]["recommended"] == bool(report["retrain"]["reasons"])


def test_cli_prints_the_report_and_logs_it_to_mlflow_with_charts(
    fresh_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh_client.app.state.careops.settings
    fresh_client.app.state.careops.services.recorder.flush()
    for name, value in (
        ("MLFLOW_TRACKING_URI", settings.tracking_uri),
        ("CAREOPS_DATABASE_URL", settings.database_url),
        ("CAREOPS_ARTIFACT_LOCATION", settings.artifact_location),
        ("CAREOPS_PSEUDONYM_KEY", PSEUDONYM_KEY),
    ):
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["monitor", "noshow", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == fresh_client.get("/v1/monitoring/noshow", headers=ADMIN).json()
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("careops-noshow-monitoring")
    run = client.search_runs([experiment.experiment_id], max_results=1)[0]
    assert run.data.metrics["predictions"] == report["predictions"]
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"monitoring_report.json", "weekly_performance.png", "feature_psi.png"} <= logged
    text = CliRunner().invoke(cli, ["monitor", "noshow"]).stdout
    assert "retrain" in text and "score PSI" in text and MARKER not in text

    monkeypatch.delenv("CAREOPS_PSEUDONYM_KEY")
    refused = CliRunner().invoke(cli, ["monitor", "noshow"])
    assert refused.exit_code == 2 and "CAREOPS_PSEUDONYM_KEY" in refused.output
