"""FastAPI dependencies: settings and the loaded model of each task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from config import Settings
from data.stores.appointments import AppointmentStore
from data.stores.booking_queue import BookingQueue
from data.stores.claims import ClaimStore
from models.decisions.risk_bands import RiskBands
from serving.model_loader import LoadedModel


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def _model(request: Request, task: str) -> LoadedModel:
    model = request.app.state.models.get(task)
    request.state.model = f"{model.name}/{model.version}"  # for the request's log line
    return model


async def get_noshow_model(request: Request) -> LoadedModel:
    """The loaded no-show model (503 when there is none)."""
    return _model(request, "noshow")


async def get_denial_model(request: Request) -> LoadedModel:
    """The loaded denial model (503 when there is none)."""
    return _model(request, "denial")


async def get_store(request: Request) -> AppointmentStore:
    """The service's appointment store."""
    return request.app.state.store


async def get_bookings(request: Request) -> BookingQueue:
    """The group-commit queue that writes scored appointments' bookings."""
    return request.app.state.bookings


async def get_claim_store(request: Request) -> ClaimStore:
    """The service's claim store (submissions and remittance outcomes)."""
    return request.app.state.claim_store


async def get_risk_bands(request: Request) -> RiskBands:
    """The configured risk-band thresholds."""
    return request.app.state.risk_bands


@dataclass(frozen=True)
class NoShowScoring:
    """What a no-show score uses, in one dependency (FastAPI resolves each one per request)."""

    model: LoadedModel
    store: AppointmentStore
    bookings: BookingQueue
    bands: RiskBands
    settings: Settings


async def get_noshow_scoring(request: Request) -> NoShowScoring:
    """The loaded no-show model (503 when there is none) with the store, bookings, bands and settings."""
    state = request.app.state
    return NoShowScoring(
        _model(request, "noshow"), state.store, state.bookings, state.risk_bands, state.settings
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[AppointmentStore, Depends(get_store)]
BookingsDep = Annotated[BookingQueue, Depends(get_bookings)]
ClaimStoreDep = Annotated[ClaimStore, Depends(get_claim_store)]
RiskBandsDep = Annotated[RiskBands, Depends(get_risk_bands)]
NoShowModelDep = Annotated[LoadedModel, Depends(get_noshow_model)]
DenialModelDep = Annotated[LoadedModel, Depends(get_denial_model)]
NoShowScoringDep = Annotated[NoShowScoring, Depends(get_noshow_scoring)]
