"""Claim features: each payer and policy rule, and one definition offline and online."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import frame_records, load_claims
from data.schemas import Claim
from data.synthetic.claims import generate_claims
from features.claim import ClaimFeatures
from features.claim_history import CLAIM_HISTORY_COLUMNS, ClaimHistoryParams, add_claim_history
from features.columns import columns_from_records
from tests.bodies import CLAIM


@pytest.fixture(scope="module")
def features() -> ClaimFeatures:
    return ClaimFeatures().fit(load_claims(generate_claims(1_000, seed=3)).valid)


def columns(records: list[Claim], history: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Record columns, plus payer history (from `history`, else none: a practice's first claims)."""
    out = columns_from_records(records, ClaimFeatures.record_columns)
    if history is None:
        frame = pd.DataFrame([r.model_dump() for r in records])
        history = add_claim_history(frame, ClaimHistoryParams())
    for name in CLAIM_HISTORY_COLUMNS:
        out[name] = np.empty(len(records), dtype=object)
        out[name][:] = list(history[name])
    return out


def values(features: ClaimFeatures, **change: object) -> dict[str, float]:
    record = Claim.model_validate({**CLAIM, **change})
    matrix = features.transform_columns(columns([record]))
    return dict(zip(features.get_feature_names_out(), matrix[0], strict=True))


def test_prior_auth_required_by_the_payer_and_missing(features: ClaimFeatures) -> None:
    assert values(features)["lines_needing_missing_auth"] == 1  # MCR-TX needs auth for 72148
    assert values(features, prior_auth_number="PA123")["lines_needing_missing_auth"] == 0
    assert values(features, prior_auth_number="PA123")["prior_auth_present"] == 1


def test_timely_filing_window_comes_from_the_payer_table(features: ClaimFeatures) -> None:
    late = values(features, submitted_at="2027-03-10")  # 373 days after service; MCR-TX allows 365
    assert late["filing_window_days"] == 365
    assert late["days_to_submit"] == 373
    assert late["days_past_filing_window"] == 8


def test_eligibility_missing_or_stale(features: ClaimFeatures) -> None:
    assert values(features)["eligibility_not_verified"] == 1
    assert np.isnan(values(features)["eligibility_age_days"])
    stale = values(features, eligibility_verified_at="2026-01-01")
    assert stale["eligibility_not_verified"] == 0 and stale["eligibility_age_days"] == 60


def test_diagnosis_that_does_not_support_the_procedure(features: ClaimFeatures) -> None:
    assert values(features)["lines_unsupported_by_diagnosis"] == 0
    assert values(features, diagnosis_codes=["E11.9"])["lines_unsupported_by_diagnosis"] == 1


def test_em_with_a_procedure_needs_modifier_25(features: ClaimFeatures) -> None:
    lines = [
        {"procedure_code": "99213", "units": 1, "charge": 110.0},
        {"procedure_code": "20610", "units": 1, "charge": 180.0},
    ]
    change = {"service_lines": lines, "total_charge": 290.0, "diagnosis_codes": ["M17.11"]}
    assert values(features, **change)["em_with_procedure_without_modifier_25"] == 1
    lines[0]["modifiers"] = ["25"]
    assert values(features, **change)["em_with_procedure_without_modifier_25"] == 0


def test_noncovered_unknown_codes_and_missing_rendering_provider(features: ClaimFeatures) -> None:
    lines = [{"procedure_code": "15823", "units": 1, "charge": 2500.0}]
    noncovered = values(features, service_lines=lines, total_charge=2500.0, diagnosis_codes=["H02.831"])
    assert noncovered["noncovered_lines"] == 1
    unknown = [{"procedure_code": "0001U", "units": 1, "charge": 50.0}]
    assert values(features, service_lines=unknown, total_charge=50.0)["unknown_procedure_lines"] == 1
    assert values(features, rendering_provider_id=None)["rendering_provider_missing"] == 1


def test_unknown_payer_gets_missing_payer_rules_and_a_flag(features: ClaimFeatures) -> None:
    unknown = values(features, payer_id="NEW-PAYER")
    assert np.isnan(unknown["filing_window_days"]) and np.isnan(unknown["payer_id"])
    record = Claim.model_validate({**CLAIM, "payer_id": "NEW-PAYER"})
    assert features.unseen_categories(columns([record])) == [["payer_id"]]


def test_offline_and_online_features_are_identical(features: ClaimFeatures) -> None:
    frame = add_claim_history(load_claims(generate_claims(200, seed=9)).valid, ClaimHistoryParams())
    records = [Claim.model_validate(row) for row in frame_records(frame[list(Claim.model_fields)])]
    offline = features.transform(frame)
    online = features.transform_columns(columns(records, frame))
    assert frame["payer_claims_adjudicated"].max() > 0
    np.testing.assert_array_equal(offline, online)
