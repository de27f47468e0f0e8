"""Denial routes for billers: score claims before submission, and rank them by dollars at risk."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fastapi import APIRouter

from data.carc import LIKELY_CARCS
from data.schemas import Claim, DenialCategory
from models.denial_fixes import recommended_fix
from models.scorer import Factor as ScoreFactor
from serving.auth import BillerRole
from serving.dependencies import DenialModelDep, SettingsDep
from serving.model_loader import LoadedModel
from serving.schemas import (
    DenialReason,
    DenialScore,
    DenialScoreRequest,
    DenialScoreResponse,
    Factor,
    WorklistItem,
    WorklistRequest,
    WorklistResponse,
)
from serving.scoring import check_batch_size, model_ref

router = APIRouter(prefix="/v1/denial", tags=["denial"])
REASONS_SHOWN = 3


def _reasons(
    model: LoadedModel, claims: Sequence[Claim], probability: np.ndarray, matrix: np.ndarray
) -> list[list[DenialReason]]:
    reasons_model = model.scorer.trained.reasons
    if reasons_model is None:
        return [[] for _ in claims]
    given_denied = reasons_model.predict(matrix, num_threads=model.scorer.num_threads)
    features = model.scorer.features
    out = []
    for i, claim in enumerate(claims):
        order = np.argsort(-given_denied[i])[:REASONS_SHOWN]
        out.append(
            [
                DenialReason(
                    category=reasons_model.categories[k],
                    probability=float(probability[i] * given_denied[i, k]),
                    probability_if_denied=float(given_denied[i, k]),
                    carc_codes=list(LIKELY_CARCS.get(DenialCategory(reasons_model.categories[k]), ())),
                    recommended_fix=recommended_fix(
                        reasons_model.categories[k], claim, features.payers_, features.procedures_
                    ),
                )
                for k in order
            ]
        )
    return out


def _score(
    model: LoadedModel, claims: Sequence[Claim], top_factors: int
) -> tuple[np.ndarray, list[list[DenialReason]], list[list[ScoreFactor]], list[list[str]]]:
    scorer = model.scorer
    columns = scorer.columns(claims)
    matrix = scorer.matrix(columns)
    probability = scorer.score_matrix(matrix)
    reasons = _reasons(model, claims, probability, matrix)
    return (
        probability,
        reasons,
        scorer.top_factors(matrix, top_factors),
        scorer.features.unseen_categories(columns),
    )


@router.post("/score", response_model=DenialScoreResponse)
def score_claims(
    body: DenialScoreRequest, model: DenialModelDep, settings: SettingsDep, role: BillerRole
) -> DenialScoreResponse:
    """Denial probability, the likely reasons with CARCs and fixes, and top factors per claim."""
    claims = body.claims
    check_batch_size(len(claims), settings.max_batch)
    if not claims:
        return DenialScoreResponse(model=model_ref(model), predictions=[])
    probability, reasons, factors, unseen = _score(model, claims, settings.top_factors)
    return DenialScoreResponse(
        model=model_ref(model),
        predictions=[
            DenialScore(
                claim_id=claim.claim_id,
                denial_probability=float(probability[i]),
                model_version=model.version,
                reasons=reasons[i],
                top_factors=[Factor(**vars(f)) for f in factors[i]],
                unseen_inputs=unseen[i],
            )
            for i, claim in enumerate(claims)
        ],
    )


@router.post("/worklist", response_model=WorklistResponse)
def worklist(
    body: WorklistRequest, model: DenialModelDep, settings: SettingsDep, role: BillerRole
) -> WorklistResponse:
    """Claims ordered by expected dollars at risk: P(denied) x expected payment (charge x ratio)."""
    claims = body.claims
    check_batch_size(len(claims), settings.max_batch)
    if not claims:
        return WorklistResponse(
            model=model_ref(model), items=[], claims_considered=0, dollars_at_risk_listed=0.0
        )
    probability, reasons, _, _ = _score(model, claims, settings.top_factors)
    expected = np.array([c.total_charge for c in claims]) * settings.expected_payment_ratio
    at_risk = probability * expected
    order = [i for i in np.argsort(-at_risk, kind="stable") if probability[i] >= body.min_probability][
        : body.limit
    ]
    items = [
        WorklistItem(
            rank=rank,
            claim_id=claims[i].claim_id,
            denial_probability=float(probability[i]),
            expected_payment=float(expected[i]),
            dollars_at_risk=float(at_risk[i]),
            top_reason=reasons[i][0] if reasons[i] else None,
        )
        for rank, i in enumerate(order, start=1)
    ]
    return WorklistResponse(
        model=model_ref(model),
        items=items,
        claims_considered=len(claims),
        dollars_at_risk_listed=float(sum(item.dollars_at_risk for item in items)),
    )
