"""Denial routes for billers: score claims before submission, rank them by dollars at risk, record history."""

from __future__ import annotations

from fastapi import APIRouter, Request

from models import denial_service
from models.decisions.worklist import rank
from models.denial_service import ClaimScores
from serving.auth import BillerRole
from serving.dependencies import ClaimStoreDep, DenialModelDep, SettingsDep
from serving.errors import error_responses
from serving.limits import check_batch_size, check_unique, ids_of
from serving.model_loader import LoadedModel
from serving.offload import run_scoring
from serving.prediction_log import record_scores
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


def _record(request: Request, model: LoadedModel, source: str, claims: list, scores: ClaimScores) -> None:
    record_scores(
        request,
        model,
        source,
        claims,
        scores.probability,
        scores.matrix,
        scores.unseen,
        top_reasons=[reasons[0].category if reasons else None for reasons in scores.reasons],
        line_probabilities=[[line.denial_probability for line in lines] for lines in scores.lines],
    )


@router.post(
    "/score", response_model=DenialScoreResponse, responses=error_responses(400, 401, 403, 413, 422, 503)
)
async def score_claims(
    request: Request,
    body: DenialScoreRequest,
    model: DenialModelDep,
    store: ClaimStoreDep,
    settings: SettingsDep,
    role: BillerRole,
) -> DenialScoreResponse:
    """Per claim: P(denied whole), P(denied) per line with the rules it breaks, the likely reasons with
    CARCs and fixes, and top factors. Reads payer history from the claim store; writes nothing."""
    claims = body.claims
    check_batch_size(request, len(claims), settings.max_batch)
    check_unique(ids_of(claims, "claims", "claim_id"))
    scores = await run_scoring(
        len(claims),
        denial_service.score_claims,
        model.scorer,
        store,
        claims,
        settings.top_factors if body.explain else 0,
        settings.expected_payment_ratio,
    )
    _record(request, model, "api", claims, scores)
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
    request: Request,
    body: WorklistRequest,
    model: DenialModelDep,
    store: ClaimStoreDep,
    settings: SettingsDep,
    role: BillerRole,
) -> WorklistResponse:
    """Claims ordered by expected dollars at risk: per line, P(denied) x expected payment (charge x ratio).

    Reads payer history from the claim store; writes nothing."""
    claims = body.claims
    check_batch_size(request, len(claims), settings.max_batch)
    check_unique(ids_of(claims, "claims", "claim_id"))
    scores = denial_service.score_claims(
        model.scorer, store, claims, settings.top_factors, settings.expected_payment_ratio
    )
    _record(request, model, "worklist", claims, scores)
    order = rank(scores.dollars_at_risk, scores.probability, body.min_probability, body.limit)
    items = [
        WorklistItem(
            rank=position,
            claim_id=claims[i].claim_id,
            denial_probability=float(scores.probability[i]),
            expected_payment=float(scores.expected_payment[i]),
            dollars_at_risk=float(scores.dollars_at_risk[i]),
            top_reason=DenialReason(**vars(scores.reasons[i][0])) if scores.reasons[i] else None,
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
    request: Request, body: ClaimHistoryRequest, store: ClaimStoreDep, settings: SettingsDep, role: BillerRole
) -> ClaimHistoryResponse:
    """Record submitted claims, with their remittance outcomes when known, as history for later scores.

    A claim with `denied` and `adjudicated_at` (and per-line `denied`) counts toward its payer's
    denial rates from the day after it was adjudicated; any claim counts as an earlier submission
    of its patient, service date and codes. Recording a claim again replaces it.
    """
    check_batch_size(request, len(body.claims), settings.max_batch)
    check_unique(ids_of(body.claims, "claims", "claim_id"))
    recorded, with_outcome = denial_service.record_claims(store, body.claims)
    return ClaimHistoryResponse(recorded=recorded, with_outcome=with_outcome)
