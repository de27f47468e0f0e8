"""Synthetic 277CA acknowledgments for submitted claims, with their truth.

A share of the claims is rejected at the front end, most often for what the claim itself lacks: no
rendering provider (A7, the rendering provider's NPI), no eligibility check on file (A3, subscriber
not found); the rest for a code or date the clearinghouse's edits refuse. Every other claim is
accepted (A2) with a payer claim number. The truth is the frame of what each claim was given: the
acknowledgment file must mark the worklist exactly so.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

REJECTIONS = (  # (category, status code, entity) for a claim with nothing missing
    ("A7", "454", ""),  # procedure code for services rendered
    ("A6", "255", ""),  # diagnosis code
    ("A8", "187", ""),  # date(s) of service
    ("A3", "116", "PR"),  # submitted to the incorrect payer
)
COLUMNS = (
    "claim_id", "patient_id", "payer_id", "billing_provider_id", "total_charge", "service_date", "on",
    "category", "status_code", "entity", "accepted", "payer_claim_number",
)  # fmt: skip


def acknowledge(claims: pd.DataFrame, share: float = 0.08, seed: int = 0) -> pd.DataFrame:
    """Each claim's 277CA status (claims: canonical columns); `share` of them rejected. The status
    comes a day after submission."""
    rng = np.random.default_rng(seed)
    rows = []
    for claim in claims.itertuples(index=False):
        rejected = rng.random() < share
        if not rejected:
            status = ("A2", "20", "PR")
        elif _missing(claim.rendering_provider_id):
            status = ("A7", "562", "82")
        elif _missing(claim.eligibility_verified_at) and rng.random() < 0.7:
            status = ("A3", "33", "IL")
        else:
            status = REJECTIONS[int(rng.integers(len(REJECTIONS)))]
        on = pd.Timestamp(claim.submitted_at).date() + timedelta(days=1)
        number = None if rejected else f"PCN{int(rng.integers(10**9, 10**10))}"
        rows.append(
            (
                claim.claim_id, claim.patient_id, claim.payer_id, claim.billing_provider_id,
                float(claim.total_charge), pd.Timestamp(claim.service_date).date(), on, *status,
                not rejected, number,
            )
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _missing(value: object) -> bool:
    return value is None or value != value or value == ""
