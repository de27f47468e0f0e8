"""Factors in words: what a scheduler reads beside a score."""

from __future__ import annotations

import mlflow

from models.pyfunc import load_registered
from models.wording import CATEGORIES, FLAGS, PHRASES, factor_text
from tests.helpers import TrainedStore


def test_factors_read_as_plain_language() -> None:
    context = {"prior_visits": 4.0, "prior_no_shows": 2.0}
    cases = {
        ("lead_time_days", 61.375): "booked 61 days ahead",
        ("lead_time_days", 0.2): "booked the same day",
        ("lead_time_days", None): "booking time unknown",
        ("prior_no_show_rate", 0.5): "missed 2 of 4 earlier visits",
        ("prior_no_shows", 2.0): "missed 2 of 4 earlier visits",
        ("start_hour", 14.5): "starts at 14:30",
        ("start_weekday", 0.0): "on a Monday",
        ("reminder_sent", 0.0): "no reminder was sent",
        ("clinic_prior_no_show_rate", 0.123): "the clinic's no-show rate is 12%",
        ("clinic_day_load", 1.0): "1 appointment booked at the clinic that day",
        ("appointment_type", "follow_up"): "a follow up visit",
        ("payer_type", "unknown"): "payer unknown",
        ("last_outcome_no_show", None): "no earlier visit on record",
        ("no_show_ratio_to_expected", 2.06): "missed earlier visits 2.1x as often as expected",
        ("last_outcome_surprise", 0.93): "missed the last visit",
        ("last_outcome_surprise", -0.07): "came to the last visit",
        ("last_outcome_surprise", None): "no earlier visit on record",
        ("claim_charge_total", 1310.0): "claim charge total: 1310",
    }
    for (name, value), text in cases.items():
        assert factor_text(name, value, context) == text, name
    for name in ("prior_no_shows", "no_show_ratio_to_expected"):
        assert factor_text(name, 0.0, {"prior_visits": 0.0}) == "no earlier visits with a known outcome"


def test_the_denial_factors_read_as_the_biller_would_say_them() -> None:
    context = {"payer_id": "MCR-TX", "filing_window_days": 365.0}
    cases = {
        ("eligibility_age_days", None): "no eligibility check on file",
        ("eligibility_not_verified", 1.0): "no eligibility check on file",
        ("eligibility_age_days", 3.0): "eligibility checked 3 days before the service",
        ("days_past_filing_window", -3.0): "filed 3 days before MCR-TX's 365-day deadline",
        ("days_past_filing_window", 1.0): "filed 1 day after MCR-TX's 365-day deadline",
        ("payer_denial_rate", 0.734527): "MCR-TX denies 73% of claims",
        ("payer_timely_filing_rate", 0.00181291): "MCR-TX denies 0.2% of claims for late filing",
        ("rendering_provider_missing", 1.0): "no rendering provider on the claim",
        ("rendering_provider_missing", 0.0): "a rendering provider on the claim",
        (
            "max_payer_code_denial_rate",
            0.734527,
        ): "MCR-TX denies 73% of the lines of this claim's riskiest procedure",
        ("noncovered_lines", 1.0): "1 line the payer does not cover",
        ("claim_type", "institutional"): "an institutional claim",
        ("place_of_service", "11"): "at the office",
        ("total_charge", 1310.0): "charges of $1,310.00",
        ("appointment_type", "annual_physical"): "an annual physical visit",
    }
    for (name, value), text in cases.items():
        assert factor_text(name, value, context) == text, name


def test_every_input_the_denial_model_can_emit_has_words(trained_store: TrainedStore) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    trained = load_registered("models:/denial@champion").trained
    names = list(trained.features.get_feature_names_out())
    assert len(names) >= 30
    worded = set(PHRASES) | set(FLAGS) | set(CATEGORIES)
    assert [n for n in names if n not in worded] == []
    # And none reads as a column name, with a value or unknown.
    for name in names:
        value = "commercial" if name in CATEGORIES else 2.0
        for text in (factor_text(name, value, {"payer_id": "COM-AET"}), factor_text(name, None, {})):
            assert "_" not in text, (name, text)
