"""A golden capture of what careops answers, for a redesign that must not change behaviour.

`python -m tests.golden OUT.json` trains both models on seeded synthetic data in a temporary store,
then records the pyfunc's predictions, every route's JSON, the FHIR operation, a worklist, a
40-slot plan, the pages' rendered numbers and an HL7 month over MLLP (with --score), with the parts
that change from run to run (times, tokens, request ids) taken out. Run it before and after a
change and compare the two files (`python -m tests.golden --compare A.json B.json`).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from data.synthetic.siu import siu_stream
from models.pyfunc import load_registered
from models.tasks import caller_records, get_task
from serving.app import create_app
from tests.bodies import bodies, fhir_bundle, outcomes_of, session_body, sign_in_form
from tests.helpers import ADMIN, BILLER, SCHEDULER, TrainedStore, ensure_users, make_settings
from training.train import train

VOLATILE = re.compile(
    r'(name="(csrf|token)" value=")[^"]+"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*(Z|[+-]\d\d:\d\d)?'
    r'|"(request_id|trained_at|loaded_at|run_id)": ?"[^"]*"|\b[0-9a-f]{32}\b'
)


def _stable(text: str) -> str:
    return VOLATILE.sub("<volatile>", text)


def _numbers(html: str) -> list[str]:
    """The figures and words a page shows, without its markup or tokens."""
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", _stable(html), flags=re.S)
    return [part for part in re.split(r"\s*<[^>]+>\s*", text) if part.strip()]


def _store(root: Path) -> TrainedStore:
    appointments = write_table(generate_appointments(20_000, seed=7), root / "appointments.csv")
    claims = write_table(claims_for_file(generate_claims(20_000, seed=7)), root / "claims.csv")
    settings = make_settings(root)
    results = {"noshow": train("noshow", appointments, settings), "denial": train("denial", claims, settings)}
    ensure_users(settings)  # the pages' users, one per role
    return TrainedStore(root, settings, appointments, claims, results)


def _pyfunc(store: TrainedStore) -> dict[str, list[dict]]:
    mlflow.set_tracking_uri(store.settings.tracking_uri)
    out = {}
    for task_name, path in (("noshow", store.appointments), ("denial", store.claims)):
        task = get_task(task_name)
        rows = task.load(path).valid.tail(1000)
        model = load_registered(f"models:/{task_name}@champion")
        predictions = model.predict(None, rows).to_dict(orient="records")
        out[task_name] = json.loads(json.dumps(predictions, default=str))
    return out


def _flush(client: TestClient) -> None:
    """Wait until what was scored is in the log (its own process writes it)."""
    state = client.app.state
    (state.careops.services.recorder if hasattr(state, "careops") else state.recorder).flush()


def _api(client: TestClient, store: TrainedStore) -> dict[str, Any]:
    body = bodies(store, rows=20)
    out: dict[str, Any] = {}
    calls = [
        ("noshow/score", "/v1/noshow/score", {**body["noshow"], "explain": True}, SCHEDULER),
        ("overbook", "/v1/noshow/overbook", session_body(40), SCHEDULER),
        ("denial/score", "/v1/denial/score", {**body["denial"], "explain": True}, BILLER),
        ("denial/worklist", "/v1/denial/worklist", {**body["denial"], "limit": 100}, BILLER),
        ("denial/history", "/v1/denial/history", body["denial"], BILLER),
    ]
    for name, path, payload, headers in calls:
        response = client.post(path, json=payload, headers=headers)
        out[name] = [response.status_code, json.loads(_stable(response.text))]
    labelled = get_task("noshow").load(store.appointments).valid.tail(20)
    response = client.post("/v1/noshow/outcomes", json={"outcomes": outcomes_of(labelled)}, headers=SCHEDULER)
    out["noshow/outcomes"] = [response.status_code, response.json()]
    response = client.post(
        "/fhir/Appointment/$no-show-risk",
        content=json.dumps(fhir_bundle()),
        headers={**SCHEDULER, "Content-Type": "application/fhir+json"},
    )
    out["fhir"] = [response.status_code, json.loads(_stable(response.text))]
    _flush(client)
    for task_name in ("noshow", "denial"):
        response = client.get(f"/v1/monitoring/{task_name}", headers=ADMIN)
        out[f"monitoring/{task_name}"] = [response.status_code, _stable(response.text)]
    return out


def _pages(client: TestClient, store: TrainedStore) -> dict[str, Any]:
    out: dict[str, Any] = {}
    booked = caller_records(get_task("noshow"), get_task("noshow").load(store.appointments).valid.tail(60))
    client.post("/v1/noshow/score", json={"appointments": booked}, headers=SCHEDULER)
    clinic, day = booked[-1]["clinic_id"], str(booked[-1]["starts_at"])[:10]
    sign_in_form(client, "scheduler")
    out["day"] = _numbers(client.get("/app/day", params={"clinic": clinic, "date": day}).text)
    _flush(client)
    out["numbers/scheduler"] = _numbers(client.get("/app/numbers").text)
    sign_in_form(client, "biller")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/app/worklist").text).group(1)
    claims = generate_claims(300, seed=808)
    claims["claim_id"] = [f"WL{i:05d}" for i in range(len(claims))]
    path = write_table(claims_for_file(claims), store.root / "upload.csv")
    with path.open("rb") as handle:
        client.post("/app/worklist/upload", data={"csrf": csrf}, files={"claims_file": ("c.csv", handle)})
    page = client.get("/app/worklist?status=all").text
    out["worklist"] = _numbers(page)
    out["worklist.csv"] = client.get("/app/worklist.csv?status=all").text.splitlines()
    handle = re.search(r'href="/app/claim/([^"]+)"', page).group(1)
    out["claim"] = _numbers(client.get(f"/app/claim/{handle}").text)
    _flush(client)
    out["numbers/biller"] = _numbers(client.get("/app/numbers").text)
    sign_in_form(client, "admin")
    out["models"] = _numbers(client.get("/app/models").text)
    return out


def _hl7(store: TrainedStore, tmp: Path) -> dict[str, Any]:
    from data.loaders.canonical import load_appointments
    from services.monitoring.log_store import PredictionLog
    from tests.feeds.listener import MllpClient, ack_code, running_listener

    table = load_appointments(generate_appointments(6000, seed=11)).valid
    month = table[table["starts_at"] < table["starts_at"].min().normalize() + np.timedelta64(30, "D")]
    messages = siu_stream(month.reset_index(drop=True), seed=3)
    url = f"sqlite:///{tmp / 'feed.db'}"
    env = {"MLFLOW_TRACKING_URI": store.settings.tracking_uri, "CAREOPS_PSEUDONYM_KEY": "golden-key"}
    with running_listener(url, tmp, "--score", env=env) as listener:
        client = MllpClient(listener.port)
        codes = [ack_code(client.send(m.text)) for m in messages]
        client.close()
    logged = PredictionLog(url).predictions("noshow")
    return {"acks": codes, "probabilities": [float(p) for p in logged["probability"]]}


def capture() -> dict[str, Any]:
    """Everything above, from a fresh temporary store."""
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        store = _store(root)
        out: dict[str, Any] = {"pyfunc": _pyfunc(store)}
        with TestClient(create_app(store.settings)) as client:
            out["api"] = _api(client, store)
            out["pages"] = _pages(client, store)
        out["hl7"] = _hl7(store, root)
        return out


def compare(before: dict[str, Any], after: dict[str, Any], path: str = "") -> list[str]:
    """Where two captures differ, by path (floats compared to the last bit)."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        return [d for k in keys for d in compare(before.get(k), after.get(k), f"{path}/{k}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            d
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for d in compare(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [f"{path}: {str(before)[:200]!r} -> {str(after)[:200]!r}"]


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        a, b = (json.loads(Path(p).read_text()) for p in sys.argv[2:4])
        differences = compare(a, b)
        print("\n".join(differences[:200]) or "identical")
        print(f"{len(differences)} differences")
        sys.exit(1 if differences else 0)
    Path(sys.argv[1]).write_text(json.dumps(capture(), indent=1, sort_keys=True))
