"""Denial routes for billers: score claims before submission."""

from __future__ import annotations

from fastapi import APIRouter

from serving.auth import BillerRole
from serving.dependencies import DenialModelDep, SettingsDep
from serving.schemas import DenialScore, DenialScoreRequest, DenialScoreResponse, Factor
from serving.scoring import check_batch_size, model_ref

router = APIRouter(prefix="/v1/denial", tags=["denial"])


@router.post("/score", response_model=DenialScoreResponse)
def score_claims(
    body: DenialScoreRequest, model: DenialModelDep, settings: SettingsDep, role: BillerRole
) -> DenialScoreResponse:
    """Denial probability and top factors for each claim, in request order."""
    claims = body.claims
    check_batch_size(len(claims), settings.max_batch)
    if not claims:
        return DenialScoreResponse(model=model_ref(model), predictions=[])
    scorer = model.scorer
    columns = scorer.columns(claims)
    matrix = scorer.matrix(columns)
    probabilities = scorer.score_matrix(matrix)
    factors = scorer.top_factors(matrix, settings.top_factors)
    unseen = scorer.features.unseen_categories(columns)
    return DenialScoreResponse(
        model=model_ref(model),
        predictions=[
            DenialScore(
                claim_id=claim.claim_id,
                denial_probability=float(probabilities[i]),
                model_version=model.version,
                top_factors=[Factor(**vars(f)) for f in factors[i]],
                unseen_inputs=unseen[i],
            )
            for i, claim in enumerate(claims)
        ],
    )
