"""Denial routes for billers: score claims before submission, and rank them by dollars at risk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fastapi import APIRouter

from data.carc import LIKELY_CARCS
from data.claim_store import ClaimStore
from data.schemas import Claim, DenialCategory
from features.claim import LINE_RULES
from features.claim_history import online_claim_history
from features.claim_lines import line_matrix, line_rule_flags
from features.columns import Columns
from models.denial_fixes import line_fixes, recommended_fix
from models.line_model import cap_by_lines
from models.scorer import Factor as ScoreFactor
from serving.auth import BillerRole
from serving.dependencies import ClaimStoreDep, DenialModelDep, SettingsDep
from serving.model_loader import LoadedModel
from serving.schemas import (
    ClaimHistoryRequest,
    ClaimHistoryResponse,
    DenialReason,
    DenialScore,
    DenialScoreRequest,
    DenialScoreResponse,
    Factor,
    LineScore,
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


@dataclass
class ClaimScores:
    """Everything the denial routes return for a batch of claims."""

    probability: np.ndarray
    reasons: list[list[DenialReason]]
    factors: list[list[ScoreFactor]]
    unseen: list[list[str]]
    lines: list[list[LineScore]]


def _lines(
    model: LoadedModel, claims: Sequence[Claim], columns: Columns, matrix: np.ndarray
) -> tuple[list[list[LineScore]], np.ndarray, np.ndarray] | None:
    line_model = model.scorer.trained.lines
    if line_model is None:
        return None
    features = model.scorer.features
    line_features, index = line_matrix(features, columns, matrix)
    probability = line_model.predict(line_features, num_threads=model.scorer.num_threads)
    flags = line_rule_flags(features, line_features)
    out: list[list[LineScore]] = []
    starts = np.searchsorted(index, np.arange(len(claims)))
    for row, claim in enumerate(claims):
        scores = []
        for number, line in enumerate(claim.service_lines):
            checks = flags[starts[row] + number]
            rules = [rule for rule, flag in zip(LINE_RULES, checks, strict=True) if flag == 1]
            fixes = line_fixes(rules, line.procedure_code, claim, features.payers_, features.procedures_)
            scores.append(
                LineScore(
                    line_number=number + 1,
                    line_id=line.line_id,
                    procedure_code=line.procedure_code,
                    denial_probability=float(probability[starts[row] + number]),
                    rules_broken=rules,
                    recommended_fixes=fixes,
                )
            )
        out.append(scores)
    return out, probability, index


def _score(model: LoadedModel, store: ClaimStore, claims: Sequence[Claim], top_factors: int) -> ClaimScores:
    scorer = model.scorer
    params = scorer.trained.claim_history
    history = online_claim_history(store, claims, params) if params is not None else None
    columns = scorer.columns(claims, history)
    matrix = scorer.matrix(columns)
    probability = scorer.score_matrix(matrix)
    lines = _lines(model, claims, columns, matrix)
    if lines is not None:
        probability = cap_by_lines(probability, lines[1], lines[2])
    return ClaimScores(
        probability=probability,
        reasons=_reasons(model, claims, probability, matrix),
        factors=scorer.top_factors(matrix, top_factors),
        unseen=scorer.features.unseen_categories(columns),
        lines=lines[0] if lines is not None else [[] for _ in claims],
    )


def dollars_at_risk(claims: Sequence[Claim], scores: ClaimScores, payment_ratio: float) -> np.ndarray:
    """Expected payment lost per claim: each line's P(denied) x its expected payment, summed.

    Without a line model, the claim's P(denied) x its expected payment.
    """
    if all(scores.lines):
        at_risk = [
            sum(
                s.denial_probability * line.charge for s, line in zip(lines, claim.service_lines, strict=True)
            )
            for lines, claim in zip(scores.lines, claims, strict=True)
        ]
        return np.array(at_risk) * payment_ratio
    return scores.probability * np.array([c.total_charge for c in claims]) * payment_ratio


@router.post("/score", response_model=DenialScoreResponse)
def score_claims(
    body: DenialScoreRequest,
    model: DenialModelDep,
    store: ClaimStoreDep,
    settings: SettingsDep,
    role: BillerRole,
) -> DenialScoreResponse:
    """Per claim: P(denied whole), P(denied) per line with the rules it breaks, the likely reasons with
    CARCs and fixes, and top factors."""
    claims = body.claims
    check_batch_size(len(claims), settings.max_batch)
    if not claims:
        return DenialScoreResponse(model=model_ref(model), predictions=[])
    scores = _score(model, store, claims, settings.top_factors)
    return DenialScoreResponse(
        model=model_ref(model),
        predictions=[
            DenialScore(
                claim_id=claim.claim_id,
                denial_probability=float(scores.probability[i]),
                model_version=model.version,
                lines=scores.lines[i],
                reasons=scores.reasons[i],
                top_factors=[Factor(**vars(f)) for f in scores.factors[i]],
                unseen_inputs=scores.unseen[i],
            )
            for i, claim in enumerate(claims)
        ],
    )


@router.post("/worklist", response_model=WorklistResponse)
def worklist(
    body: WorklistRequest,
    model: DenialModelDep,
    store: ClaimStoreDep,
    settings: SettingsDep,
    role: BillerRole,
) -> WorklistResponse:
    """Claims ordered by expected dollars at risk: per line, P(denied) x expected payment (charge x ratio)."""
    claims = body.claims
    check_batch_size(len(claims), settings.max_batch)
    if not claims:
        return WorklistResponse(
            model=model_ref(model), items=[], claims_considered=0, dollars_at_risk_listed=0.0
        )
    scores = _score(model, store, claims, settings.top_factors)
    probability, reasons = scores.probability, scores.reasons
    expected = np.array([c.total_charge for c in claims]) * settings.expected_payment_ratio
    at_risk = dollars_at_risk(claims, scores, settings.expected_payment_ratio)
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


@router.post("/history", response_model=ClaimHistoryResponse)
def record_history(
    body: ClaimHistoryRequest, store: ClaimStoreDep, settings: SettingsDep, role: BillerRole
) -> ClaimHistoryResponse:
    """Record submitted claims, with their remittance outcomes when known, as history for later scores.

    A claim with `denied` and `adjudicated_at` (and per-line `denied`) counts toward its payer's
    denial rates from the day after it was adjudicated; any claim counts as an earlier submission
    of its patient, service date and codes. Recording a claim again replaces it.
    """
    claims = body.claims
    check_batch_size(len(claims), settings.max_batch)
    frame = pd.DataFrame([claim.model_dump() for claim in claims])
    recorded = store.record(frame) if claims else 0
    with_outcome = sum(c.denied is not None and c.adjudicated_at is not None for c in claims)
    return ClaimHistoryResponse(recorded=recorded, with_outcome=with_outcome)
