"""`careops listen hl7` over real MLLP: a synthetic month rebuilds the store as the CSV path does,
and broken input gets the right answer without stopping the listener or reaching its log."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import load_appointments
from data.loaders.tables import write_table
from data.schemas import Appointment
from data.stores.appointments import AppointmentStore
from data.stores.audit import AuditStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.siu import siu_stream
from models.tasks import caller_records, get_task
from services.access.audit import AuditTrail
from services.access.principal import system
from services.model_set import ModelSet
from services.monitoring.log_store import PredictionLog
from services.monitoring.score_log import ScoreLog
from services.noshow import Booking, NoShowService
from tests.feeds.listener import S12, MllpClient, ack_code, certificate, running_listener
from tests.helpers import TrainedStore

METRICS_TOKEN = "listener-metrics-token-of-some-length-0123456789"

pytestmark = pytest.mark.e2e
WHO = system("tests")


def _month(seed: int) -> pd.DataFrame:
    """One month of synthetic appointments; outcomes known for the first three weeks only."""
    table = load_appointments(generate_appointments(6000, seed=seed)).valid
    first = table["starts_at"].min().normalize()
    month = table[table["starts_at"] < first + timedelta(days=30)].copy()
    month.loc[month["starts_at"] >= first + timedelta(days=21), "no_show"] = np.nan
    return month.reset_index(drop=True)


def _stored(store: AppointmentStore) -> pd.DataFrame:
    with store.engine.connect() as connection:
        frame = pd.read_sql_table("careops_appointments", connection)
    return frame.set_index("appointment_id").sort_index()


def _record(text: str) -> dict:
    return Appointment.model_validate_json(text).model_dump()


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_a_synthetic_month_over_mllp_rebuilds_the_store_and_its_scores(
    tmp_path: Path, trained_store: TrainedStore, transport: str
) -> None:
    month = _month(seed=11)
    messages = siu_stream(month, seed=3)
    triggers = {m.text.split("\r")[0].split("|")[8] for m in messages}
    assert triggers == {"SIU^S12", "SIU^S13", "SIU^S15", "SIU^S26", "ADT^A04"}

    by_csv = AppointmentStore(f"sqlite:///{tmp_path / 'csv.db'}")
    by_csv.seed(load_appointments(write_table(month, tmp_path / "month.csv")).valid)
    by_feed_url = f"sqlite:///{tmp_path / 'feed.db'}"
    options, tls = (), None
    if transport == "tls":  # the same month over TLS, as an interface engine would send it
        cert, key, _ = certificate(tmp_path, "listener")
        options, tls = (
            ("--tls-cert", str(cert), "--tls-key", str(key)),
            ssl.create_default_context(cafile=cert),
        )
    with running_listener(by_feed_url, tmp_path, *options) as listener:
        client = MllpClient(listener.port, tls)
        codes = [ack_code(client.send(m.text)) for m in messages]
        client.close()
    assert listener.exit_code == 0
    assert codes == ["AA"] * len(messages)

    by_feed = AppointmentStore(by_feed_url)
    csv_rows, feed_rows = _stored(by_csv), _stored(by_feed)
    extra = feed_rows.loc[feed_rows.index.difference(csv_rows.index)]
    assert len(extra) > 0 and extra.index.str.startswith("X").all()
    assert (extra["outcome"] == "cancelled").all()
    same = feed_rows.loc[csv_rows.index]
    columns = ["patient_id", "clinic_id", "start_day", "booked_at", "outcome"]
    pd.testing.assert_frame_equal(same[columns], csv_rows[columns])
    assert [_record(r) for r in same["record"]] == [_record(r) for r in csv_rows["record"]]

    # The next week's bookings score the same against either store.
    models = ModelSet()
    models.refresh(trained_store.settings)
    later = load_appointments(generate_appointments(6000, seed=11)).valid
    upcoming = later[later["starts_at"] >= month["starts_at"].max()].head(200)
    records = [Appointment.model_validate(r) for r in caller_records(get_task("noshow"), upcoming)]
    first = (
        NoShowService(models, by_csv, ScoreLog(), AuditTrail(None))
        .score(WHO, records, None, Booking.DIRECT)
        .probability
    )
    second = (
        NoShowService(models, by_feed, ScoreLog(), AuditTrail(None))
        .score(WHO, records, None, Booking.DIRECT)
        .probability
    )
    assert len(first) == 200
    np.testing.assert_allclose(second, first, rtol=0, atol=1e-9)

    for pattern in (r"A\d{8}", r"P\d{7}", r"M\d{8}", r"C\d\d-D"):  # appointment, patient, control, provider
        assert re.search(pattern, listener.log) is None, pattern
    assert '"ack": "AA"' in listener.log
    # The trail has each change, from the feed at the sender's address (no client certificate here).
    trail = AuditStore(f"sqlite:///{tmp_path / 'feed-audit.db'}").entries()
    assert len(trail) > 1000 and {e.entry.action for e in trail} == {"change"}
    assert {(e.entry.principal, e.entry.source) for e in trail} == {("system:hl7-feed", "127.0.0.1")}


def test_broken_input_gets_the_right_answer_and_the_listener_keeps_serving(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    with running_listener(url, tmp_path, env={"CAREOPS_METRICS_TOKEN": METRICS_TOKEN}) as listener:
        client = MllpClient(listener.port)
        # Bytes outside any frame are dropped; the frame after them is answered.
        client.send_raw(b"GET / HTTP/1.1\r\n\r\n")
        assert ack_code(client.send(S12)) == "AA"
        no_header = client.send("PID|1||PAT-78||DOE^JOHN||19800101|M")
        assert ack_code(no_header) == "AR" and "no MSH segment" in no_header
        broken = client.send("MSH|")
        assert ack_code(broken) == "AR"
        no_schedule = client.send(S12.replace("SCH|", "XXX|"))
        assert ack_code(no_schedule) == "AE" and "no SCH segment" in no_schedule
        missing = client.send(S12.replace("|19800101|F", "||F").replace("CTRL1", "CTRL2").replace("77", "78"))
        assert ack_code(missing) == "AE" and "patient_age" in missing and "CTRL2" in missing
        client.close()

        # A connection cut in the middle of a frame, and one that sends an endless frame.
        cut = socket.create_connection(("127.0.0.1", listener.port))
        cut.sendall(b"\x0b" + S12.encode()[:40])
        cut.close()
        endless = socket.create_connection(("127.0.0.1", listener.port), timeout=30)
        with contextlib.suppress(ConnectionError):  # closed while sending: as it should be
            endless.sendall(b"\x0b" + b"A" * (2 * 1024 * 1024))
        with contextlib.suppress(ConnectionError):
            assert endless.recv(10) == b""  # closed by the listener, without an answer
        endless.close()

        again = MllpClient(listener.port)
        cancel = S12.replace("SIU^S12", "SIU^S15").replace("CTRL1", "CTRL3")
        assert ack_code(again.send(cancel)) == "AA"
        again.close()
        bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        metrics = httpx.get(f"http://127.0.0.1:{listener.health_port}/metrics", headers=bearer).text
        assert 'careops_hl7_messages_total{ack="AE",trigger="SIU^S12"} 2.0' in metrics
        assert 'careops_hl7_closed_connections_total{why="peer closed mid-frame"} 1.0' in metrics
        assert 'careops_hl7_closed_connections_total{why="frame over the size limit"} 1.0' in metrics
    assert listener.exit_code == 0
    stored = AppointmentStore(url).bookings_of(["APPT-77"])["APPT-77"]
    assert stored.outcome == "cancelled" and stored.record["patient_age"] == 46
    for identifier in ("APPT-77", "PAT-7", "CTRL", "DOE", "19800101", "C01-D1"):
        assert identifier not in listener.log, identifier


def test_with_score_each_booking_is_scored_on_arrival_into_the_prediction_log(
    tmp_path: Path, trained_store: TrainedStore
) -> None:
    month = _month(seed=12).head(60)
    messages = [
        m for m in siu_stream(month, seed=4, reschedule_share=0, cancel_share=0) if "SIU^S12" in m.text
    ]
    settings = trained_store.settings
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    env = {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "CAREOPS_PSEUDONYM_KEY": "listener-test-key",
        "CAREOPS_METRICS_TOKEN": METRICS_TOKEN,
    }
    with running_listener(url, tmp_path, "--score", env=env) as listener:
        client = MllpClient(listener.port)
        assert {ack_code(client.send(m.text)) for m in messages} == {"AA"}
        client.close()
        bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        metrics = httpx.get(f"http://127.0.0.1:{listener.health_port}/metrics", headers=bearer).text
    assert listener.exit_code == 0
    assert f'careops_hl7_scored_total{{result="scored"}} {float(len(messages))}' in metrics
    logged = PredictionLog(url).predictions("noshow")
    assert len(logged) == len(messages) and set(logged["source"]) == {"hl7"}
    # The last booking's history has not changed since it was scored: scoring it now agrees.
    models = ModelSet()
    models.refresh(settings)
    store = AppointmentStore(url)
    last = messages[-1].text.split("\r")[1].split("|")[1]
    record = Appointment.model_validate(store.bookings_of([last])[last].record)
    now = (
        NoShowService(models, store, ScoreLog(), AuditTrail(None))
        .score(WHO, [record], None, Booking.STORED)
        .probability[0]
    )
    assert logged["probability"].iloc[-1] == pytest.approx(now, abs=1e-9)
    assert re.search(r"A\d{8}|P\d{7}", listener.log) is None
