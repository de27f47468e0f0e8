"""Request and response bodies of the scoring API; records are the canonical data contracts."""

from __future__ import annotations

from pydantic import BaseModel, Field

from data.schemas import Appointment, Claim


class ModelRef(BaseModel):
    """Which registered model version produced a score, and through which alias."""

    name: str
    version: str
    alias: str


class NoShowScoreRequest(BaseModel):
    """Appointments to score."""

    appointments: list[Appointment]


class NoShowScore(BaseModel):
    """No-show risk for one appointment."""

    appointment_id: str
    no_show_probability: float = Field(ge=0, le=1)
    model_version: str
    unseen_inputs: list[str] = Field(
        default_factory=list, description="Categorical inputs whose value the model never saw in training."
    )


class NoShowScoreResponse(BaseModel):
    """Scores in request order, with the model that produced them."""

    model: ModelRef
    predictions: list[NoShowScore]


class DenialScoreRequest(BaseModel):
    """Claims to score before submission."""

    claims: list[Claim]


class DenialScore(BaseModel):
    """Denial risk for one claim."""

    claim_id: str
    denial_probability: float = Field(ge=0, le=1)
    model_version: str
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
