"""The walk of a single-record score: the careops files its code runs in, in order.

`python -m tests.walk` trains both models on small synthetic data in a temporary store, sends one
warm no-show and one warm denial score (with explanations) through the app, traces every call on
the event loop and the booking thread, and prints the files entered from the route on. The request
plumbing every route shares (request log, body limits, auth, metrics) and the recorder's writer
loop are left out; the recorder's hand-over is in.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from serving.app import create_app
from tests.bodies import bodies
from tests.helpers import BILLER, SCHEDULER, TrainedStore, make_settings
from training.train import train

ROOT = Path(__file__).resolve().parents[1]
PLUMBING = {
    "serving/request_log.py",
    "serving/limits.py",
    "serving/auth.py",
    "serving/metrics.py",
    "serving/security_headers.py",
}
FLOORS = {"config.py": 0, "data": 1, "features": 2, "models": 3, "services": 4, "serving": 5, "cli": 5}


def _ours(path: str) -> str | None:
    try:
        relative = Path(path).resolve().relative_to(ROOT)
    except ValueError:
        return None
    if relative.parts[0] in ("tests", ".venv") or relative.suffix != ".py":
        return None
    return str(relative)


def _floor(name: str) -> int:
    return FLOORS[name.split("/", 1)[0]]


class Tracer:
    """Records the careops files entered while on, and which careops file called into each."""

    def __init__(self) -> None:
        self.on = False
        self.entered: list[str] = []
        self.calls: list[tuple[str, str]] = []  # (caller, callee) across files

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.on and event == "call" and (name := _ours(frame.f_code.co_filename)):
            self.entered.append(name)
            caller = frame.f_back
            while caller is not None and _ours(caller.f_code.co_filename) is None:
                caller = caller.f_back  # through library frames (a thread pool, a comprehension's)
            if caller is not None and (source := _ours(caller.f_code.co_filename)) != name:
                self.calls.append((source, name))


def climbs(calls: list[tuple[str, str]], files: list[str]) -> list[str]:
    """The calls on the walk from a lower floor up into a higher one (a callback, a circle)."""
    seen = set(files)
    found = [f"{a} -> {b}" for a, b in calls if a in seen and b in seen and _floor(b) > _floor(a)]
    return list(dict.fromkeys(found))


def walk(entered: list[str]) -> list[str]:
    """The distinct files entered, from the route on, in first-entered order."""
    start = next(i for i, name in enumerate(entered) if name.startswith("serving/routes/"))
    kept = [n for n in entered[start:] if n not in PLUMBING and not n.endswith("monitoring/recorder.py")]
    return list(dict.fromkeys(kept))


def main() -> None:
    root = Path(tempfile.mkdtemp())
    appointments = write_table(generate_appointments(4000, seed=7), root / "appointments.csv")
    claims = write_table(claims_for_file(generate_claims(4000, seed=7)), root / "claims.csv")
    settings = make_settings(root)
    train("noshow", appointments, settings)
    train("denial", claims, settings)
    body = bodies(TrainedStore(root, settings, appointments, claims, {}), rows=1)
    tracer = Tracer()
    threading.setprofile(tracer)  # the booking queue's thread, started with the app
    with TestClient(create_app(settings)) as client:
        client.portal.call(sys.setprofile, tracer)  # the event loop's thread
        for task, route, headers in (
            ("noshow", "/v1/noshow/score", SCHEDULER),
            ("denial", "/v1/denial/score", BILLER),
        ):
            payload = {**body[task], "explain": True}
            client.post(route, json=payload, headers=headers)  # warm: compiled loops, prepared statements
            tracer.entered, tracer.calls, tracer.on = [], [], True
            response = client.post(route, json=payload, headers=headers)
            tracer.on = False
            assert response.status_code == 200, response.text
            files = walk(tracer.entered)
            up = climbs(tracer.calls, files)
            print(f"{task}: {len(files)} files: " + " -> ".join(files))
            print(f"  {len(up)} climbs back up" + "".join(f"\n    {c}" for c in up))


if __name__ == "__main__":
    main()
