"""Request and response bodies of the scoring API; records are the canonical data contracts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from data.schemas import Appointment, Claim, Day, Moment
from services.calls import CALL_OUTCOMES

MAX_COST = 1_000_000.0
MINUTES_PER_DAY = 24 * 60.0


class ModelRef(BaseModel):
    """Which registered model version produced a score, and through which alias."""

    name: str
    version: str
    alias: str

    @classmethod
    def of(cls, model: Any) -> ModelRef:
        """The reference of a loaded model (anything with name, version and alias)."""
        return cls(name=model.name, version=model.version, alias=model.alias)


class Factor(BaseModel):
    """An input's push on the score: TreeSHAP contribution on the log-odds scale, before calibration."""

    name: str
    value: float | str | None
    contribution: float
    text: str = Field(default="", description="The factor in plain words, e.g. 'booked 61 days ahead'.")


EXPLAIN_DESCRIPTION = (
    "Return each score's top factors (TreeSHAP, about 0.8 ms a record). Callers that need only the "
    "probabilities, such as nightly batches, set false."
)


class NoShowScoreRequest(BaseModel):
    """Appointments to score."""

    appointments: list[Appointment]
    explain: bool = Field(default=True, description=EXPLAIN_DESCRIPTION)


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
    missing_inputs: list[str] = Field(
        default_factory=list,
        description="Inputs the request did not give and the model scored without (booked_at).",
    )


class NoShowScoreResponse(BaseModel):
    """Scores in request order, with the model that produced them."""

    model: ModelRef
    predictions: list[NoShowScore]


class Outcome(BaseModel):
    """What happened to a booked appointment."""

    appointment_id: str = Field(min_length=1, max_length=64)
    outcome: Literal["attended", "no_show", "cancelled"]
    cancelled_at: Moment | None = Field(
        default=None,
        description="When a cancellation was made, in the clinic's time (default: when it is recorded); "
        "CAREOPS_LATE_CANCEL_HOURS may count a late one as a no-show",
    )


class OutcomesRequest(BaseModel):
    """Outcomes to record; posting the same outcomes again changes nothing."""

    outcomes: list[Outcome]


class OutcomesResponse(BaseModel):
    """How many outcomes were new or changed, and how many were already recorded."""

    recorded: int
    unchanged: int


CallOutcome = Literal[tuple(CALL_OUTCOMES)]  # type: ignore[valid-type]  # the service's list, once


class CallRequest(BaseModel):
    """How a reminder call about a booked visit went."""

    appointment_id: str = Field(min_length=1, max_length=64)
    outcome: CallOutcome = Field(
        description="confirmed or cancelled: the patient was reached; cancelled also records the visit "
        "as cancelled"
    )


class CallResponse(BaseModel):
    """The call as kept: its id, when, and the visit's no-show probability when it was made."""

    call_id: int
    appointment_id: str
    outcome: str
    called_at: datetime
    no_show_probability: float


class KeptCall(CallResponse):
    """A call as kept, with what became of the visit since (None: not known yet)."""

    visit_outcome: Literal["attended", "no_show", "cancelled"] | None


class CallsResponse(BaseModel):
    """The calls about the visits asked for, oldest first."""

    calls: list[KeptCall]


class DenialScoreRequest(BaseModel):
    """Claims to score before submission."""

    claims: list[Claim]
    explain: bool = Field(default=True, description=EXPLAIN_DESCRIPTION)


class ClaimHistoryRequest(BaseModel):
    """Claims as submitted, with their remittance outcomes where known (the output of an X12 ingest)."""

    claims: list[Claim]


class ClaimHistoryResponse(BaseModel):
    """How many claims were recorded, and how many of them carried an outcome."""

    recorded: int
    with_outcome: int


class DenialReason(BaseModel):
    """A likely reason for denial: its probability, the CARCs it usually comes with, and what to do."""

    category: str
    probability: float = Field(ge=0, le=1, description="P(denied with this reason)")
    probability_if_denied: float = Field(ge=0, le=1, description="P(this reason | denied)")
    carc_codes: list[str]
    recommended_fix: str


class LineScore(BaseModel):
    """Denial risk for one service line, and the payer or policy rules the line breaks."""

    line_number: int = Field(ge=1, description="1-based position of the line on the claim")
    line_id: str | None
    procedure_code: str
    denial_probability: float = Field(ge=0, le=1, description="P(this line is denied)")
    rules_broken: list[str] = Field(description="Payer or policy checks this line fails")
    recommended_fixes: list[str] = Field(description="One fix per rule broken")


class DenialScore(BaseModel):
    """Denial risk for one claim."""

    claim_id: str
    denial_probability: float = Field(ge=0, le=1, description="P(the whole claim is denied: paid nothing)")
    model_version: str
    lines: list[LineScore] = Field(
        description="Per service line, in claim order; empty if the model has none"
    )
    reasons: list[DenialReason]
    top_factors: list[Factor]
    unseen_inputs: list[str] = Field(
        default_factory=list, description="Categorical inputs whose value the model never saw in training."
    )


class DenialScoreResponse(BaseModel):
    """Scores in request order, with the model that produced them."""

    model: ModelRef
    predictions: list[DenialScore]


class ReloadOutcome(BaseModel):
    """What a reload did for one task."""

    action: Literal["loaded", "unchanged", "refused", "kept", "missing"]
    version: str | None
    reason: str | None


class ModelStatus(BaseModel):
    """A task's loaded model, or why none is loaded."""

    loaded: bool
    name: str
    version: str | None = None
    alias: str
    error: str | None = None
    refused_version: str | None = Field(
        default=None, description="A newer version that failed to load or check."
    )
    refused_reason: str | None = None


class Readiness(BaseModel):
    """Whether every task has a model to score with."""

    status: str
    models: dict[str, ModelStatus]


class WorklistRequest(BaseModel):
    """Claims to rank for review before submission."""

    claims: list[Claim]
    limit: int = Field(default=50, ge=1)
    min_probability: float = Field(default=0.0, ge=0, le=1)


class WorklistItem(BaseModel):
    """One claim on the worklist, by expected dollars at risk."""

    rank: int
    claim_id: str
    denial_probability: float
    expected_payment: float
    dollars_at_risk: float = Field(description="Expected payment lost: sum over lines of P(denied) x payment")
    top_reason: DenialReason | None
    filing_deadline: date | None = Field(description="Service date plus the payer's timely-filing window")
    days_left: int | None = Field(description="Days from today to the filing deadline (negative: past)")
    deadline_flag: str = Field(description="'past deadline', 'due soon' (within the warning window) or ''")


class WorklistResponse(BaseModel):
    """The claims most worth fixing first, and what is at stake."""

    model: ModelRef
    items: list[WorklistItem]
    claims_considered: int
    dollars_at_risk_listed: float


class SessionAppointment(Appointment):
    """A booked appointment in a session, with an optional patient group for fairness reporting."""

    group: str | None = Field(default=None, max_length=64)


class SessionSlot(BaseModel):
    """One slot of a clinic session and the appointments booked into it (possibly none)."""

    starts_at: Moment
    appointments: list[SessionAppointment] = Field(default_factory=list, max_length=10)


class CostsIn(BaseModel):
    """Money per visit seen, and per minute of patient waiting, clinic idle time and overtime."""

    visit_value: float = Field(default=100.0, ge=0, le=MAX_COST, allow_inf_nan=False)
    wait_per_minute: float = Field(default=0.5, ge=0, le=MAX_COST, allow_inf_nan=False)
    idle_per_minute: float = Field(default=2.0, ge=0, le=MAX_COST, allow_inf_nan=False)
    overtime_per_minute: float = Field(default=8.0, ge=0, le=MAX_COST, allow_inf_nan=False)


class LimitsIn(BaseModel):
    """How far overbooking may go."""

    max_overbooks_per_slot: int = Field(default=1, ge=0, le=5)
    max_overbooks_per_session: int | None = Field(default=None, ge=0, le=1000)
    overtime_bound_minutes: float = Field(default=30.0, ge=0, le=MINUTES_PER_DAY, allow_inf_nan=False)
    max_overtime_probability: float | None = Field(default=None, gt=0, le=1)


class OverbookRequest(BaseModel):
    """A clinic session to plan: its slots, booked appointments, costs, limits and fairness option."""

    clinic_id: str = Field(min_length=1, max_length=64)
    provider_id: str = Field(min_length=1, max_length=64)
    session_date: Day
    slot_minutes: int = Field(gt=0, le=240)
    slots: list[SessionSlot] = Field(min_length=1)
    costs: CostsIn = Field(default_factory=CostsIn)
    limits: LimitsIn = Field(default_factory=LimitsIn)
    fairness: Literal["none", "equal_wait"] = "none"
    wait_gap_tolerance_minutes: float = Field(default=1.0, ge=0, le=MINUTES_PER_DAY, allow_inf_nan=False)
    overbook_show_probability: float | None = Field(
        default=None, gt=0, le=1, description="Show probability of an added patient (default: session mean)."
    )

    @model_validator(mode="after")
    def _slots_do_not_overlap(self) -> OverbookRequest:
        length = timedelta(minutes=self.slot_minutes)
        for index in range(1, len(self.slots)):
            previous, start = self.slots[index - 1].starts_at, self.slots[index].starts_at
            if start < previous + length:
                raise ValueError(
                    f"slots[{index}] starts inside slots[{index - 1}]; give the slots in time order, apart"
                )
        return self


class PlannedAppointment(BaseModel):
    """A booked appointment and its show probability."""

    appointment_id: str
    show_probability: float
    group: str | None = None


class SlotPlan(BaseModel):
    """One slot: who is booked, how many are expected, and how many bookings to add."""

    index: int
    starts_at: datetime
    appointments: list[PlannedAppointment]
    expected_arrivals: float
    recommended_overbooks: int


class SessionFiguresOut(BaseModel):
    """Expected figures of a session."""

    net_value: float
    patients_seen: float
    seen_in_session: float
    waiting_minutes: float
    idle_minutes: float
    overtime_minutes: float
    overtime_probability: float = Field(description="P(overtime > limits.overtime_bound_minutes)")
    mean_wait_by_group: dict[str, float]


class Unscored(BaseModel):
    """An appointment the model could not score, and why."""

    appointment_id: str
    reason: str


class OverbookResponse(BaseModel):
    """The plan for a session: per slot, before/after figures, the model and the assumptions."""

    model: ModelRef
    clinic_id: str
    provider_id: str
    session_date: date
    slots: list[SlotPlan]
    overbooks_total: int
    before: SessionFiguresOut
    after: SessionFiguresOut
    assumptions: dict[str, object]
    unscored: list[Unscored]
