"""The app's typed state and the FastAPI dependencies that read it.

`app.state.careops` holds one `AppState`; nothing else is kept on `app.state`, and routes and pages
reach it through `app_state` and the dependencies below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from config import Settings
from data.feeds.code_tables import CodeTables
from models.decisions.risk_bands import RiskBands
from services.container import Services
from services.denial import DenialService
from services.model_set import LoadedModel, ModelSet
from services.noshow import NoShowService
from serving.metrics import ServiceMetrics
from serving.upload_slots import UploadSlots


@dataclass
class AppState:
    """What the app holds for its life: built when it is created, `services` opened at start-up."""

    settings: Settings
    risk_bands: RiskBands
    code_tables: CodeTables
    models: ModelSet
    metrics: ServiceMetrics
    handle_secret: bytes  # signs record handles in the pages' forms (the same in every worker)
    uploads: UploadSlots = field(default_factory=lambda: UploadSlots(2))
    _services: Services | None = None

    @property
    def services(self) -> Services:
        """The stores and scoring services (open while the app runs)."""
        if self._services is None:
            raise RuntimeError("the app's services are not open: it has not started")
        return self._services


def app_state(request: Request) -> AppState:
    """The app's state."""
    return request.app.state.careops


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return app_state(request).settings


def _model(request: Request, task: str) -> LoadedModel:
    model = app_state(request).models.get(task)
    request.state.model = f"{model.name}/{model.version}"  # for the request's log line
    return model


async def get_noshow_model(request: Request) -> LoadedModel:
    """The loaded no-show model (503 when there is none)."""
    return _model(request, "noshow")


async def get_denial_model(request: Request) -> LoadedModel:
    """The loaded denial model (503 when there is none)."""
    return _model(request, "denial")


async def get_services(request: Request) -> Services:
    """The app's stores and scoring services."""
    return app_state(request).services


async def get_risk_bands(request: Request) -> RiskBands:
    """The configured risk-band thresholds."""
    return app_state(request).risk_bands


@dataclass(frozen=True)
class NoShowScoring:
    """What a no-show score uses, in one dependency (FastAPI resolves each one per request)."""

    model: LoadedModel
    service: NoShowService
    bands: RiskBands
    settings: Settings


async def get_noshow_scoring(request: Request) -> NoShowScoring:
    """The no-show model (503 when there is none) with the service, bands and settings."""
    state = app_state(request)
    return NoShowScoring(_model(request, "noshow"), state.services.noshow, state.risk_bands, state.settings)


@dataclass(frozen=True)
class DenialScoring:
    """What a denial score uses, in one dependency."""

    model: LoadedModel
    service: DenialService
    settings: Settings


async def get_denial_scoring(request: Request) -> DenialScoring:
    """The denial model (503 when there is none) with the service and settings."""
    state = app_state(request)
    return DenialScoring(_model(request, "denial"), state.services.denial, state.settings)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
RiskBandsDep = Annotated[RiskBands, Depends(get_risk_bands)]
NoShowModelDep = Annotated[LoadedModel, Depends(get_noshow_model)]
DenialModelDep = Annotated[LoadedModel, Depends(get_denial_model)]
NoShowScoringDep = Annotated[NoShowScoring, Depends(get_noshow_scoring)]
DenialScoringDep = Annotated[DenialScoring, Depends(get_denial_scoring)]
