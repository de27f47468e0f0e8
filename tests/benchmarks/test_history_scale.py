"""A score's history read costs the same whatever the store holds: 10 thousand events against 1 million.

The same record is scored against a small store and against the same store with about a million
unrelated events added (other patients, clinics and payers): its features must be identical and
its history read at most 1.5 times as slow.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import load_appointments, load_claims
from data.schemas import Appointment, Claim
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from features.claim_history import ClaimHistoryParams, online_claim_history
from features.history import HistoryParams, online_history
from models.tasks import caller_records, get_task

pytestmark = pytest.mark.bench
SMALL, LARGE = 10_000, 1_000_000
CLAIM_COPIES = 40  # 400,000 claims: about a million claim and line events
REPEATS = 200


def median_ms(read, repeats: int = REPEATS) -> float:
    read()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def unrelated(frame: pd.DataFrame, copy: int, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = f"X{copy}-" + out[column].astype(str)
    return out


def test_history_reads_do_not_grow_with_the_store(tmp_path: Path) -> None:
    base = load_appointments(generate_appointments(SMALL, seed=21)).valid
    record = Appointment.model_validate(caller_records(get_task("noshow"), base.tail(1))[0])
    params = HistoryParams(horizon_days=1, prior_rate=0.2)
    small, large = (AppointmentStore(f"sqlite:///{tmp_path / name}") for name in ("a-small.db", "a-large.db"))
    small.seed(base)
    large.seed(base)
    extra = load_appointments(generate_appointments(LARGE - SMALL, seed=22)).valid
    large.seed(unrelated(extra, 0, ("appointment_id", "patient_id", "clinic_id")))
    appointments = {
        name: median_ms(lambda s=store: online_history(s, [record], params))
        for name, store in (("small", small), ("large", large))
    }
    same = online_history(small, [record], params), online_history(large, [record], params)
    assert all(np.array_equal(same[0][k], same[1][k], equal_nan=True) for k in same[0])

    claims = load_claims(generate_claims(SMALL, seed=21)).valid
    claim = Claim.model_validate(caller_records(get_task("denial"), claims.tail(1))[0])
    history = ClaimHistoryParams.learn(claims)
    stores = {name: ClaimStore(f"sqlite:///{tmp_path / f'c-{name}.db'}") for name in ("small", "large")}
    stores["small"].record(claims)
    stores["large"].record(claims)
    for k in range(CLAIM_COPIES - 1):
        stores["large"].record(unrelated(claims, k, ("claim_id", "patient_id", "payer_id")))
    denials = {
        name: median_ms(lambda s=store: online_claim_history(s, [claim], history))
        for name, store in stores.items()
    }
    features = [online_claim_history(store, [claim], history) for store in stores.values()]
    assert all(
        np.array_equal(
            np.asarray(list(features[0][k]), dtype=float),
            np.asarray(list(features[1][k]), dtype=float),
            equal_nan=True,
        )
        for k in features[0]
    )

    ratio = appointments["large"] / appointments["small"]
    print(f"\nhistory read for one record, median of {REPEATS}:")
    print(
        f"  no-show: {appointments['small']:.3f} ms with {SMALL:,} appointments, "
        f"{appointments['large']:.3f} ms with {LARGE:,} (ratio {ratio:.2f})"
    )
    print(
        f"  denial:  {denials['small']:.3f} ms with {SMALL:,} claims, {denials['large']:.3f} ms with "
        f"{SMALL * CLAIM_COPIES:,} (ratio {denials['large'] / denials['small']:.2f}); target ratio <= 1.5"
    )
    assert appointments["large"] <= 1.5 * appointments["small"]
    assert denials["large"] <= 1.5 * denials["small"]
