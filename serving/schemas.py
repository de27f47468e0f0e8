"""Request and response bodies of the scoring API; records are the canonical data contracts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from data.schemas import Appointment, Claim


class ModelRef(BaseModel):
    """Which registered model version produced a score, and through which alias."""

    name: str
    version: str
    alias: str


class Factor(BaseModel):
    """An input's push on the score: TreeSHAP contribution on the log-odds scale, before calibration."""

    name: str
    value: float | str | None
    contribution: float


class NoShowScoreRequest(BaseModel):
    """Appointments to score."""

    appointments: list[Appointment]


class NoShowScore(BaseModel):
    """No-show risk for one appointment."""

    appointment_id: str
    no_show_probability: float = Field(ge=0, le=1)
    risk_band: Literal["low", "medium", "high"]
    model_version: str
    top_factors: list[Factor]
    unseen_inputs: list[str] = Field(
        default_factory=list, description="Categorical inputs whose value the model never saw in training."
    )


class NoShowScoreResponse(BaseModel):
    """Scores in request order, with the model that produced them."""

    model: ModelRef
    predictions: list[NoShowScore]


class Outcome(BaseModel):
    """What happened to a booked appointment."""

    appointment_id: str = Field(min_length=1, max_length=64)
    outcome: Literal["attended", "no_show", "cancelled"]


class OutcomesRequest(BaseModel):
    """Outcomes to record; posting the same outcomes again changes nothing."""

    outcomes: list[Outcome]

    @model_validator(mode="after")
    def _one_outcome_per_appointment(self) -> OutcomesRequest:
        seen: dict[str, str] = {}
        for item in self.outcomes:
            if seen.setdefault(item.appointment_id, item.outcome) != item.outcome:
                raise ValueError(f"appointment {item.appointment_id} has two different outcomes")
        return self


class OutcomesResponse(BaseModel):
    """How many outcomes were new or changed, and how many were already recorded."""

    recorded: int
    unchanged: int


class DenialScoreRequest(BaseModel):
    """Claims to score before submission."""

    claims: list[Claim]


class DenialScore(BaseModel):
    """Denial risk for one claim."""

    claim_id: str
    denial_probability: float = Field(ge=0, le=1)
    model_version: str
    top_factors: list[Factor]
    unseen_inputs: list[str] = Field(
        default_factory=list, description="Categorical inputs whose value the model never saw in training."
    )


class DenialScoreResponse(BaseModel):
    """Scores in request order, with the model that produced them."""

    model: ModelRef
    predictions: list[DenialScore]


class ModelStatus(BaseModel):
    """A task's loaded model, or why none is loaded."""

    loaded: bool
    name: str
    version: str | None = None
    alias: str
    error: str | None = None


class Readiness(BaseModel):
    """Whether every task has a model to score with."""

    status: str
    models: dict[str, ModelStatus]
