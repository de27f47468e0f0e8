"""Denial routes for billers: score claims before submission."""

from __future__ import annotations

from fastapi import APIRouter

from serving.auth import BillerRole
from serving.dependencies import DenialModelDep, SettingsDep
from serving.schemas import DenialScore, DenialScoreRequest, DenialScoreResponse
from serving.scoring import check_batch_size, model_ref, score

router = APIRouter(prefix="/v1/denial", tags=["denial"])


@router.post("/score", response_model=DenialScoreResponse)
def score_claims(
    body: DenialScoreRequest, model: DenialModelDep, settings: SettingsDep, role: BillerRole
) -> DenialScoreResponse:
    """Denial probability for each claim, in request order."""
    check_batch_size(len(body.claims), settings.max_batch)
    probabilities, unseen = score(model, body.claims)
    return DenialScoreResponse(
        model=model_ref(model),
        predictions=[
            DenialScore(
                claim_id=claim.claim_id,
                denial_probability=float(probability),
                model_version=model.version,
                unseen_inputs=flags,
            )
            for claim, probability, flags in zip(body.claims, probabilities, unseen, strict=True)
        ],
    )
