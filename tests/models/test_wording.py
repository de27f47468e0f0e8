"""Factors in words: what a scheduler reads beside a score."""

from __future__ import annotations

from models.wording import factor_text


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
