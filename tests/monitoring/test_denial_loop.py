"""The monitoring loop for denials: a payer tightens its rules, and the monitor hears of it only as
remittances arrive, weeks after the claims were scored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.monitoring.denial_loop import run_denial_loop


def test_monitor_flags_a_payer_that_tightens_within_two_weeks_of_its_first_remittances(
    tmp_path: Path,
) -> None:
    loop = run_denial_loop(tmp_path, rows=30_000, shift=date(2026, 5, 4), served_weeks=5)
    assert loop.first_remittance_week is not None, loop.weeks
    assert loop.flagged_week is not None and loop.flagged_week - loop.first_remittance_week <= 2, loop.weeks
    # It says where: the payer's claims come back denied far more often than predicted.
    assert any("payer_id=COM-BCBS" in reason for reason in loop.reasons), loop.reasons
    assert any(name.startswith("payer_") for name in loop.moved), loop.moved
