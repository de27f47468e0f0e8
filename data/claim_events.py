"""Claim history as events: what the claim store returns and the payer-history features read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from data.schemas import DenialCategory, line_field, service_lines

# Denial categories whose payer rates history reads.
HISTORY_CATEGORIES = tuple(c.value for c in DenialCategory if c is not DenialCategory.PROVIDER_ENROLLMENT)


@dataclass
class ClaimEvents:
    """What history reads, as counts per key and day (`n` events; sums of their outcomes).

    claims: payer_id, day (adjudicated), n, denied, and one `category:<c>` count per category;
    lines: payer_id, procedure_code, day (adjudicated), n, denied; submissions: service_key, day, n.
    """

    claims: pd.DataFrame
    lines: pd.DataFrame
    submissions: pd.DataFrame


def service_key(patient_id: Any, service_date: Any, lines: Any) -> str:
    """Patient, service date and the sorted procedure codes: what a duplicate repeats."""
    codes = sorted(str(line_field(line, "procedure_code")) for line in service_lines(lines))
    day = pd.Timestamp(service_date).strftime("%Y-%m-%d")
    return f"{patient_id}|{day}|{','.join(codes)}"
