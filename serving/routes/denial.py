"""Denial routes for billers: score claims before submission, rank them by dollars at risk, record history."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request

from models.decisions.worklist import rank
from services.offload import run_scoring
from serving.auth import BillerRole
from serving.dependencies import DenialScoringDep, ServicesDep, SettingsDep
from serving.errors import error_responses
from serving.limits import check_batch_size, check_unique, ids_of
from serving.schemas import (
    ClaimHistoryRequest,
    ClaimHistoryResponse,
    DenialReason,
    DenialScore,
    DenialScoreRequest,
    DenialScoreResponse,
    Factor,
    LineScore,
    ModelRef,
    WorklistItem,
    WorklistRequest,
    WorklistResponse,
)

router = APIRouter(prefix="/v1/denial", tags=["denial"])


@router.post(
    "/score", response_model=DenialScoreResponse, responses=error_responses(400, 401, 403, 413, 422, 503)
)
async def score_claims(
    request: Request, body: DenialScoreRequest, scoring: DenialScoringDep, who: BillerRole
) -> DenialScoreResponse:
    """Per claim: P(denied whole), P(denied) per line with the rules it breaks, the likely reasons with
    CARCs and fixes, and top factors. Reads payer history from the claim store; writes nothing."""
    model, settings, claims = scoring.model, scoring.settings, body.claims
    check_batch_size(request, len(claims), settings.max_batch)
    check_unique(ids_of(claims, "claims", "claim_id"))
    top = settings.top_factors if body.explain else 0
    scores = await run_scoring(len(claims), scoring.service.score, who, claims, "api", top, model)
    return DenialScoreResponse(
        model=ModelRef.of(model),
        predictions=[
            DenialScore(
                claim_id=claim.claim_id,
                denial_probability=float(scores.probability[i]),
                model_version=model.version,
                lines=[LineScore(**vars(line)) for line in scores.lines[i]],
                reasons=[DenialReason(**vars(reason)) for reason in scores.reasons[i]],
                top_factors=[Factor(**vars(f)) for f in scores.factors[i]],
                unseen_inputs=scores.unseen[i],
            )
            for i, claim in enumerate(claims)
        ],
    )


@router.post(
    "/worklist", response_model=WorklistResponse, responses=error_responses(400, 401, 403, 413, 422, 503)
)
def worklist(
    request: Request, body: WorklistRequest, scoring: DenialScoringDep, services: ServicesDep, who: BillerRole
) -> WorklistResponse:
    """Claims ordered by expected dollars at risk (per line, P(denied) x expected payment, charge x
    ratio), weighted by urgency as the worklist page ranks them: times CAREOPS_FILING_URGENCY_WEIGHT
    for a claim whose payer's filing deadline is within CAREOPS_FILING_WARNING_DAYS.

    Reads payer history from the claim store; writes nothing."""
    model, settings, claims = scoring.model, scoring.settings, body.claims
    check_batch_size(request, len(claims), settings.max_batch)
    check_unique(ids_of(claims, "claims", "claim_id"))
    scores = scoring.service.score(who, claims, "worklist", settings.top_factors, model)
    deadlines = services.worklist.deadlines(claims)
    policy = services.worklist.policy
    weights = np.array([policy.weight(d.day, "open") for d in deadlines])  # claims about to be filed
    order = rank(scores.dollars_at_risk, scores.probability, body.min_probability, body.limit, weights)
    items = [
        WorklistItem(
            rank=position,
            claim_id=claims[i].claim_id,
            denial_probability=float(scores.probability[i]),
            expected_payment=float(scores.expected_payment[i]),
            dollars_at_risk=float(scores.dollars_at_risk[i]),
            top_reason=DenialReason(**vars(scores.reasons[i][0])) if scores.reasons[i] else None,
            filing_deadline=deadlines[i].day,
            days_left=deadlines[i].days_left,
            deadline_flag=deadlines[i].flag,
        )
        for position, i in enumerate(order, start=1)
    ]
    return WorklistResponse(
        model=ModelRef.of(model),
        items=items,
        claims_considered=len(claims),
        dollars_at_risk_listed=float(sum(item.dollars_at_risk for item in items)),
    )


@router.post(
    "/history", response_model=ClaimHistoryResponse, responses=error_responses(400, 401, 403, 413, 422)
)
def record_history(
    request: Request,
    body: ClaimHistoryRequest,
    services: ServicesDep,
    settings: SettingsDep,
    who: BillerRole,
) -> ClaimHistoryResponse:
    """Record submitted claims, with their remittance outcomes when known, as history for later scores.

    A claim with `denied` and `adjudicated_at` (and per-line `denied`) counts toward its payer's
    denial rates from the day after it was adjudicated; any claim counts as an earlier submission
    of its patient, service date and codes. Recording a claim again replaces it.
    """
    check_batch_size(request, len(body.claims), settings.max_batch)
    check_unique(ids_of(body.claims, "claims", "claim_id"))
    recorded, with_outcome = services.denial.record(who, body.claims, "api")
    return ClaimHistoryResponse(recorded=recorded, with_outcome=with_outcome)
