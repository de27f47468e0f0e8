"""Payer history for claims is point-in-time: only remittances and submissions known on submission day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.claim_events import service_key
from data.loaders.canonical import frame_records, load_claims
from data.schemas import Claim
from data.stores.claims import ClaimStore
from data.synthetic.claims import generate_claims
from features.claim_history import (
    CLAIM_HISTORY_FEATURES,
    LINE_HISTORY_COLUMN,
    ClaimHistoryParams,
    add_claim_history,
    online_claim_history,
)
from tests.helpers import backend_settings

PARAMS = ClaimHistoryParams(
    prior_denial_rate=0.1,
    prior_line_denial_rate=0.2,
    prior_category_rates={"prior_authorization": 0.05},
    payer_weight=10.0,
    code_weight=5.0,
)


def claim(
    claim_id: str,
    submitted: str,
    adjudicated: str | None = None,
    denied: bool | None = None,
    codes: tuple[str, ...] = ("99213", "72148"),
    patient: str = "P1",
    payer: str = "MCR-TX",
    category: str | None = None,
) -> dict:
    lines = [{"procedure_code": c, "units": 1.0, "charge": 100.0, "denied": denied} for c in codes]
    return {
        "claim_id": claim_id,
        "patient_id": patient,
        "payer_id": payer,
        "payer_type": "medicare",
        "service_date": pd.Timestamp("2026-03-01"),
        "submitted_at": pd.Timestamp(submitted),
        "adjudicated_at": None if adjudicated is None else pd.Timestamp(adjudicated),
        "denied": None if denied is None else float(denied),
        "denial_category": category,
        "service_lines": lines,
    }


def test_a_remittance_counts_from_the_day_after_it_was_adjudicated() -> None:
    table = pd.DataFrame(
        [
            claim("A", "2026-03-02", "2026-03-10", True, category="prior_authorization"),
            claim("SAME-DAY", "2026-03-10", codes=("72148",), patient="P2"),
            claim("NEXT-DAY", "2026-03-11", codes=("72148",), patient="P3"),
            claim("OTHER-PAYER", "2026-03-11", codes=("72148",), patient="P4", payer="MCD-TX"),
        ]
    )
    history = add_claim_history(table, PARAMS).set_index("claim_id")
    assert history.loc["SAME-DAY", "payer_claims_adjudicated"] == 0
    assert history.loc["SAME-DAY", "payer_denial_rate"] == pytest.approx(0.1)
    assert history.loc["NEXT-DAY", "payer_claims_adjudicated"] == 1
    assert history.loc["NEXT-DAY", "payer_denial_rate"] == pytest.approx((1 + 10 * 0.1) / (1 + 10))
    assert history.loc["NEXT-DAY", "payer_prior_authorization_rate"] == pytest.approx((1 + 10 * 0.05) / 11)
    assert history.loc["NEXT-DAY", "payer_coding_rate"] == pytest.approx(0.0)
    np.testing.assert_allclose(history.loc["NEXT-DAY", LINE_HISTORY_COLUMN], [[1, (1 + 5 * 0.2) / 6]])
    np.testing.assert_allclose(history.loc["SAME-DAY", LINE_HISTORY_COLUMN], [[0, 0.2]])
    assert history.loc["OTHER-PAYER", "payer_claims_adjudicated"] == 0
    # A's own features never see its own outcome.
    assert history.loc["A", "payer_claims_adjudicated"] == 0


def test_an_earlier_submission_of_the_same_service_marks_a_duplicate() -> None:
    table = pd.DataFrame(
        [
            claim("FIRST", "2026-03-02"),
            claim("SAME-DAY", "2026-03-02", codes=("72148", "99213")),
            claim("AGAIN", "2026-03-09", codes=("72148", "99213")),
            claim("OTHER-CODES", "2026-03-09", codes=("99213",)),
            claim("OTHER-PATIENT", "2026-03-09", patient="P9"),
        ]
    )
    history = add_claim_history(table, PARAMS).set_index("claim_id")["earlier_submissions_same_service"]
    assert history.to_dict() == {"FIRST": 0, "SAME-DAY": 0, "AGAIN": 2, "OTHER-CODES": 0, "OTHER-PATIENT": 0}


def test_outcomes_known_after_submission_change_nothing() -> None:
    table = load_claims(generate_claims(3_000, seed=41)).valid
    cutoff = table["submitted_at"].sort_values().iloc[1500]
    before = add_claim_history(table, PARAMS)
    rng = np.random.default_rng(0)
    changed = table.copy()
    later = (changed["adjudicated_at"] >= cutoff).to_numpy()
    flipped = rng.random(len(changed)) < 0.5
    changed["denied"] = np.where(later & flipped, 1 - changed["denied"], changed["denied"])
    changed["denial_category"] = np.where(later & flipped, None, changed["denial_category"])
    changed["service_lines"] = [
        [{**line, "denied": not line["denied"], "denial_category": None} for line in lines] if flip else lines
        for lines, flip in zip(changed["service_lines"], later & flipped, strict=True)
    ]
    after = add_claim_history(changed, PARAMS)
    known = (table["submitted_at"] <= cutoff).to_numpy()
    assert (later & flipped).sum() > 500 and before.loc[known, "payer_claims_adjudicated"].max() > 100
    for name in CLAIM_HISTORY_FEATURES:
        np.testing.assert_array_equal(before.loc[known, name], after.loc[known, name], err_msg=name)
        if name.endswith("_rate") and name != "max_payer_code_denial_rate":
            assert not np.array_equal(before.loc[~known, name], after.loc[~known, name]), name


def test_online_history_from_the_store_equals_offline(tmp_path: Path, backend: str) -> None:
    settings = backend_settings(tmp_path, backend)
    table = load_claims(generate_claims(3_000, seed=43)).valid
    offline = add_claim_history(table, PARAMS)
    store = ClaimStore(settings.database_url)
    assert store.record(table) == 3_000
    targets = table.tail(150)
    fields = [name for name in Claim.model_fields if name in targets.columns]
    records = [Claim.model_validate(r) for r in frame_records(targets[fields])]
    online = online_claim_history(store, records, PARAMS)
    expected = offline.tail(150)
    assert (
        expected["payer_claims_adjudicated"].min() > 0
        and expected["earlier_submissions_same_service"].sum() > 0
    )
    for name in CLAIM_HISTORY_FEATURES:
        np.testing.assert_allclose(online[name], expected[name].to_numpy(), rtol=0, atol=1e-12, err_msg=name)
    for got, want in zip(online[LINE_HISTORY_COLUMN], expected[LINE_HISTORY_COLUMN], strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    store.engine.dispose()


def test_recording_a_claim_again_replaces_it_with_its_outcome(tmp_path: Path) -> None:
    store = ClaimStore(f"sqlite:///{tmp_path / 'store.db'}")
    first = claim("A", "2026-03-02")
    store.record(pd.DataFrame([first]))
    key = service_key(first["patient_id"], first["service_date"], first["service_lines"])
    before = store.events(["MCR-TX"], [key], before_day=30_000)
    assert before.claims.empty and before.lines.empty and before.submissions["n"].sum() == 1
    store.record(pd.DataFrame([claim("A", "2026-03-02", "2026-03-10", True, codes=("72148",))]))
    after = store.events(["MCR-TX"], [], before_day=30_000)
    assert after.claims[["n", "denied"]].sum().tolist() == [1, 1]
    assert after.lines[["procedure_code", "n", "denied"]].values.tolist() == [["72148", 1, 1]]
    store.engine.dispose()
