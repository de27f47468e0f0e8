"""The generators are deterministic and encode the effects the domain primer describes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.reference import payers
from data.synthetic_appointments import generate_appointments
from data.synthetic_claims import generate_claims

# domain.md: initial denial rate by payer type (Premier 2022; KFF 2023 for marketplace).
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


def test_missing_prior_auth_drives_prior_auth_denials(claims: pd.DataFrame) -> None:
    table = payers()
    needs_auth = claims.apply(
        lambda c: any(
            line["procedure_code"] in table[c["payer_id"]].auth_required_codes for line in c["service_lines"]
        ),
        axis=1,
    )
    missing = needs_auth & claims["prior_auth_number"].isna()
    assert claims.loc[missing, "denied"].mean() > 0.6
    assert (claims.loc[missing, "true_denial_category"] == "prior_authorization").mean() > 0.9
    assert claims.loc[~needs_auth, "denied"].mean() < 0.2


def test_denied_claims_carry_a_category_and_others_do_not(claims: pd.DataFrame) -> None:
    assert claims.loc[claims["denied"], "denial_category"].notna().all()
    assert claims.loc[~claims["denied"], "denial_category"].isna().all()
    assert claims["true_denial_probability"].between(0, 1).all()
