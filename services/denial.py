"""The denial service: validated claims in; claim and line risk, reasons, fixes and dollars out.

Every caller (the score and worklist routes, the worklist pages, `careops queue`) goes through
`DenialService.score`. It reads each claim's payer history from the claim store and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.schemas import Claim, DenialCategory
from data.stores.claims import ClaimStore
from data.worklist_items import ItemScore
from data.x12.carc import LIKELY_CARCS
from features.claim import LINE_RULES
from features.claim_history import online_claim_history
from models.decisions.denial_fixes import line_fixes, recommended_fix
from models.decisions.worklist import dollars_at_risk
from models.scorer import CompiledScorer, Scored, ScoreFactor
from services.access.audit import AuditTrail
from services.access.principal import Principal
from services.model_set import LoadedModel, ModelSet
from services.monitoring.score_log import ScoreLog

REASONS_SHOWN = 3


@dataclass(frozen=True)
class ReasonRisk:
    """One likely denial reason of a claim, with its CARCs and what to do about it."""

    category: str
    probability: float
    probability_if_denied: float
    carc_codes: list[str]
    recommended_fix: str


@dataclass(frozen=True)
class LineRisk:
    """One service line's P(denied), the rules it breaks and a fix per rule."""

    line_number: int
    line_id: str | None
    procedure_code: str
    denial_probability: float
    rules_broken: list[str]
    recommended_fixes: list[str]


@dataclass(frozen=True)
class ClaimScores:
    """Per claim, in request order. `lines` is empty for every claim when the model has no line model."""

    model: LoadedModel | None
    probability: np.ndarray
    lines: list[list[LineRisk]]
    reasons: list[list[ReasonRisk]]
    factors: list[list[ScoreFactor]]
    unseen: list[list[str]]
    expected_payment: np.ndarray
    dollars_at_risk: np.ndarray
    matrix: np.ndarray | None = None  # the feature rows scored (for the prediction log's histograms)


def _reasons(model: LoadedModel, claims: Sequence[Claim], scored: Scored) -> list[list[ReasonRisk]]:
    scorer, reasons_model = model.scorer, model.trained.reasons
    if reasons_model is None:
        return [[] for _ in claims]
    given_denied = reasons_model.predict(scored.matrix, num_threads=scorer.num_threads)
    payers, procedures = scorer.features.payers_, scorer.features.procedures_
    out = []
    for i, claim in enumerate(claims):
        order = np.argsort(-given_denied[i])[:REASONS_SHOWN]
        out.append(
            [
                ReasonRisk(
                    category=reasons_model.categories[k],
                    probability=float(scored.probability[i] * given_denied[i, k]),
                    probability_if_denied=float(given_denied[i, k]),
                    carc_codes=list(LIKELY_CARCS.get(DenialCategory(reasons_model.categories[k]), ())),
                    recommended_fix=recommended_fix(reasons_model.categories[k], claim, payers, procedures),
                )
                for k in order
            ]
        )
    return out


def _lines(scorer: CompiledScorer, claims: Sequence[Claim], scored: Scored) -> list[list[LineRisk]]:
    if scored.lines is None:
        return [[] for _ in claims]
    features = scorer.features
    flags = scored.lines.lines.rule_flags
    starts = np.searchsorted(scored.lines.lines.claim_index, np.arange(len(claims)))
    out: list[list[LineRisk]] = []
    for row, claim in enumerate(claims):
        risks = []
        for number, line in enumerate(claim.service_lines):
            checks = flags[starts[row] + number]
            rules = [rule for rule, flag in zip(LINE_RULES, checks, strict=True) if flag == 1]
            risks.append(
                LineRisk(
                    line_number=number + 1,
                    line_id=line.line_id,
                    procedure_code=line.procedure_code,
                    denial_probability=float(scored.lines.probability[starts[row] + number]),
                    rules_broken=rules,
                    recommended_fixes=line_fixes(
                        rules, line.procedure_code, claim, features.payers_, features.procedures_
                    ),
                )
            )
        out.append(risks)
    return out


class DenialService:
    """Scores, explains and logs claims with the denial champion; keeps submitted claims as history."""

    def __init__(
        self, models: ModelSet, store: ClaimStore, log: ScoreLog, audit: AuditTrail, payment_ratio: float
    ) -> None:
        self.models, self.store, self.log, self.audit = models, store, log, audit
        self.payment_ratio = payment_ratio

    def score(
        self,
        who: Principal,
        claims: Sequence[Claim],
        source: str | None,
        top_factors: int = 0,
        model: LoadedModel | None = None,
    ) -> ClaimScores:
        """Score claims about to be submitted, with the payer history the store holds before each one,
        and log them under `source` (None: not logged), for `who`: every claim's payer must be in their
        scope, and the access is in the audit trail. Reads the claim store; writes nothing to it."""
        who.check_payers(c.payer_id for c in claims)
        model = model or self.models.get("denial")
        scores = self._score(model, claims, top_factors)
        if claims:
            self.audit.record(who, "score", "claim", (c.claim_id for c in claims), door=source)
        if source is not None and claims:
            self.log.record(
                model,
                source,
                claims,
                scores.probability,
                scores.matrix,
                scores.unseen,
                top_reasons=[reasons[0].category if reasons else None for reasons in scores.reasons],
                line_probabilities=[[line.denial_probability for line in lines] for lines in scores.lines],
            )
        return scores

    def worklist_scores(self, who: Principal, claims: Sequence[Claim]) -> tuple[list[ItemScore], str]:
        """What the worklist keeps of each claim's score (no factors: the list does not show them), and
        the model version that scored them."""
        model = self.models.get("denial")
        scores = self.score(who, claims, None, 0, model)
        items = [
            ItemScore(
                float(scores.probability[i]),
                float(scores.expected_payment[i]),
                float(scores.dollars_at_risk[i]),
                scores.reasons[i][0].category if scores.reasons[i] else None,
            )
            for i in range(len(claims))
        ]
        return items, model.version

    def record(self, who: Principal, claims: Sequence[Claim], door: str) -> tuple[int, int]:
        """Record claims as submitted (with their remittance outcomes when known) as history for later
        scores; returns the claims recorded and how many carried an outcome."""
        who.check_payers(c.payer_id for c in claims)
        recorded = self.store.record(pd.DataFrame([claim.model_dump() for claim in claims])) if claims else 0
        self.audit.record(who, "change", "claim", (c.claim_id for c in claims), door=door, change="history")
        with_outcome = sum(c.denied is not None and c.adjudicated_at is not None for c in claims)
        return recorded, with_outcome

    def record_table(self, who: Principal, table: pd.DataFrame, door: str) -> int:
        """Record a validated canonical claims table as history (an X12 ingest); returns how many."""
        who.check_payers(table["payer_id"].astype(str))
        recorded = self.store.record(table)
        self.audit.record(who, "change", "claim", table["claim_id"].astype(str), door=door, change="history")
        return recorded

    def _score(self, model: LoadedModel, claims: Sequence[Claim], top_factors: int) -> ClaimScores:
        if not claims:
            empty = np.empty(0)
            return ClaimScores(model, empty, [], [], [], [], empty, empty)
        scorer = model.scorer
        features = model.scorer.features
        batch = features.batch(claims, online_claim_history(self.store, claims, model.trained.claim_history))
        scored = scorer.score(batch)
        lines = _lines(scorer, claims, scored)
        line_probability = (
            [[risk.denial_probability for risk in risks] for risks in lines]
            if scored.lines is not None
            else None
        )
        return ClaimScores(
            model=model,
            probability=scored.probability,
            lines=lines,
            reasons=_reasons(model, claims, scored),
            factors=scorer.top_factors(scored.matrix, top_factors),
            unseen=features.unseen_categories(batch.columns),
            expected_payment=np.array([c.total_charge for c in claims]) * self.payment_ratio,
            dollars_at_risk=dollars_at_risk(claims, scored.probability, line_probability, self.payment_ratio),
            matrix=scored.matrix,
        )
