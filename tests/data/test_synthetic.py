"""The generators are deterministic and encode the effects the domain primer describes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.reference import payers
from data.schemas import DenialCategory
from data.synthetic.appointments import generate_appointments
from data.synthetic.claim_truth import CATEGORIES, Mechanism, draw_line_outcomes, exact_truth
from data.synthetic.claims import generate_claims

# docs/domain.md: initial denial rate by payer type (Premier 2022; KFF 2023 for marketplace).
PUBLISHED_DENIAL_RATES = {
    "medicare": 0.084,
    "commercial": 0.139,
    "managed_medicaid": 0.151,
    "medicare_advantage": 0.157,
    "medicaid": 0.167,
    "marketplace": 0.19,
}


@pytest.fixture(scope="module")
def appointments() -> pd.DataFrame:
    return generate_appointments(60_000, seed=11)


@pytest.fixture(scope="module")
def claims() -> pd.DataFrame:
    return generate_claims(30_000, seed=11)


def test_generators_are_deterministic_per_seed() -> None:
    pd.testing.assert_frame_equal(generate_appointments(500, seed=5), generate_appointments(500, seed=5))
    pd.testing.assert_frame_equal(generate_claims(300, seed=5), generate_claims(300, seed=5))
    assert not generate_appointments(500, seed=5).equals(generate_appointments(500, seed=6))


def test_appointments_are_valid_canonical_rows(appointments: pd.DataFrame) -> None:
    assert appointments["appointment_id"].is_unique
    assert (appointments["starts_at"] >= appointments["booked_at"]).all()
    assert appointments["true_no_show_probability"].between(0, 1).all()


def test_no_show_labels_follow_the_true_probabilities(appointments: pd.DataFrame) -> None:
    by_decile = appointments.groupby(pd.qcut(appointments["true_no_show_probability"], 10), observed=True)
    observed = by_decile["no_show"].mean().to_numpy()
    expected = by_decile["true_no_show_probability"].mean().to_numpy()
    assert np.abs(observed - expected).max() < 0.03


def test_same_day_bookings_rarely_no_show(appointments: pd.DataFrame) -> None:
    lead_days = (appointments["starts_at"] - appointments["booked_at"]).dt.total_seconds() / 86400
    same_day = appointments.loc[lead_days < 1, "no_show"].mean()
    long_lead = appointments.loc[lead_days > 14, "no_show"].mean()
    assert same_day < 0.5 * long_lead


def test_a_patients_earlier_no_shows_raise_later_risk(appointments: pd.DataFrame) -> None:
    ordered = appointments.sort_values("starts_at")
    day = ordered["starts_at"].dt.normalize()
    earlier_no_shows = ordered.groupby("patient_id")["no_show"].cumsum() - ordered["no_show"]
    # Count only outcomes from earlier days, as the generator does.
    same_day_before = ordered.groupby(["patient_id", day])["no_show"].cumsum() - ordered["no_show"]
    prior = earlier_no_shows - same_day_before
    visits_before = ordered.groupby("patient_id").cumcount() - ordered.groupby(["patient_id", day]).cumcount()
    returning = visits_before >= 2
    with_history = ordered.loc[returning & (prior >= 2), "no_show"].mean()
    clean_history = ordered.loc[returning & (prior == 0), "no_show"].mean()
    assert with_history > 1.5 * clean_history


def test_friday_has_more_no_shows_than_midweek(appointments: pd.DataFrame) -> None:
    weekday = appointments["starts_at"].dt.day_of_week
    assert appointments.loc[weekday == 4, "no_show"].mean() > appointments.loc[weekday == 2, "no_show"].mean()


def test_denial_rates_by_payer_type_are_near_the_published_ones(claims: pd.DataFrame) -> None:
    rates = claims.groupby("payer_type")["denied"].mean()
    for payer_type, published in PUBLISHED_DENIAL_RATES.items():
        assert rates[payer_type] == pytest.approx(published, abs=0.035), payer_type


def test_missing_prior_auth_denies_the_line_that_needs_it(claims: pd.DataFrame) -> None:
    table = payers()
    rows = [
        (
            line["procedure_code"] in table[c.payer_id].auth_required_codes,
            line["denied"],
            line["denial_category"],
        )
        for c in claims[claims["prior_auth_number"].isna()].itertuples()
        for line in c.service_lines
    ]
    lines = pd.DataFrame(rows, columns=["needs_auth", "denied", "category"])
    needing = lines[lines["needs_auth"]]
    assert needing["denied"].mean() > 0.6
    assert (needing.loc[needing["denied"], "category"] == "prior_authorization").mean() > 0.8
    assert lines.loc[~lines["needs_auth"], "denied"].mean() < 0.25


def test_a_claim_is_denied_when_all_its_lines_are(claims: pd.DataFrame) -> None:
    all_lines = claims["service_lines"].map(lambda lines: all(line["denied"] for line in lines))
    any_line = claims["service_lines"].map(lambda lines: any(line["denied"] for line in lines))
    assert (all_lines == claims["denied"]).all()
    assert any_line.mean() > claims["denied"].mean() + 0.03  # partial denials exist
    for claim in claims[claims["denied"]].head(500).itertuples():
        largest = max(claim.service_lines, key=lambda line: line["charge"])
        assert largest["denial_category"] == claim.denial_category


def test_denied_claims_carry_a_category_and_others_do_not(claims: pd.DataFrame) -> None:
    assert claims.loc[claims["denied"], "denial_category"].notna().all()
    assert claims.loc[~claims["denied"], "denial_category"].isna().all()
    assert claims["true_denial_probability"].between(0, 1).all()
    for claim in claims.head(2000).itertuples():
        for line in claim.service_lines:
            assert (line["denial_category"] is not None) == line["denied"]


def test_true_probabilities_match_the_drawn_outcomes(claims: pd.DataFrame) -> None:
    truth = claims["true_denial_probability"].to_numpy()
    denied = claims["denied"].to_numpy(float)
    line_truth = np.concatenate(claims["true_line_denial_probabilities"].to_list())
    line_denied = np.concatenate(claims["service_lines"].map(lambda ls: [x["denied"] for x in ls]).to_list())
    for p, y in ((truth, denied), (line_truth, line_denied.astype(float))):
        edges = np.quantile(p, [0, 0.5, 0.8, 0.95, 1])
        bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 3)
        for b in range(4):
            inside = bins == b
            error = np.sqrt(p[inside].mean() * (1 - p[inside].mean()) / inside.sum())
            assert abs(y[inside].mean() - p[inside].mean()) < 4 * error + 1e-3, b


def test_exact_truth_matches_simulation() -> None:
    mechanisms = sorted(
        [
            Mechanism(0.3, DenialCategory.ELIGIBILITY),
            Mechanism(0.1, None),
            Mechanism(0.7, DenialCategory.PRIOR_AUTHORIZATION, (1,)),
            Mechanism(0.5, DenialCategory.MEDICAL_NECESSITY, (0,)),
            Mechanism(0.5, DenialCategory.CODING, (0,)),
        ],
        key=lambda m: -m.hazard,
    )
    charges = [120.0, 900.0, 50.0]
    shares = np.full(len(CATEGORIES), 1 / len(CATEGORIES))
    truth = exact_truth(mechanisms, charges, shares)
    rng = np.random.default_rng(3)
    draws = [draw_line_outcomes(mechanisms, 3, shares, rng) for _ in range(40_000)]
    claim_denied = np.array([all(c is not None for c in d) for d in draws])
    assert claim_denied.mean() == pytest.approx(truth.claim_probability, abs=0.01)
    for line in range(3):
        rate = np.mean([d[line] is not None for d in draws])
        assert rate == pytest.approx(truth.line_probabilities[line], abs=0.01)
    reported = pd.Series([d[1] for d, denied in zip(draws, claim_denied, strict=True) if denied])
    assert reported.value_counts().index[0] == truth.category
    for line in range(3):
        on_line = pd.Series([d[line] for d in draws if d[line] is not None])
        assert on_line.value_counts().index[0] == truth.line_categories[line]
