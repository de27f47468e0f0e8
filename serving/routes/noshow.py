"""No-show routes for schedulers: score appointments."""

from __future__ import annotations

from fastapi import APIRouter

from serving.auth import SchedulerRole
from serving.dependencies import NoShowModelDep, SettingsDep
from serving.schemas import NoShowScore, NoShowScoreRequest, NoShowScoreResponse
from serving.scoring import check_batch_size, model_ref, score

router = APIRouter(prefix="/v1/noshow", tags=["no-show"])


@router.post("/score", response_model=NoShowScoreResponse)
def score_appointments(
    body: NoShowScoreRequest, model: NoShowModelDep, settings: SettingsDep, role: SchedulerRole
) -> NoShowScoreResponse:
    """No-show probability for each appointment, in request order."""
    check_batch_size(len(body.appointments), settings.max_batch)
    probabilities, unseen = score(model, body.appointments)
    return NoShowScoreResponse(
        model=model_ref(model),
        predictions=[
            NoShowScore(
                appointment_id=appointment.appointment_id,
                no_show_probability=float(probability),
                model_version=model.version,
                unseen_inputs=flags,
            )
            for appointment, probability, flags in zip(body.appointments, probabilities, unseen, strict=True)
        ],
    )
