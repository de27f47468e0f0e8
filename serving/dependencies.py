"""FastAPI dependencies: settings and the loaded model of each task."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.model_loader import LoadedModel
from training.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_noshow_model(request: Request) -> LoadedModel:
    """The loaded no-show model (503 when there is none)."""
    return request.app.state.models.get("noshow")


def get_denial_model(request: Request) -> LoadedModel:
    """The loaded denial model (503 when there is none)."""
    return request.app.state.models.get("denial")


SettingsDep = Annotated[Settings, Depends(get_settings)]
NoShowModelDep = Annotated[LoadedModel, Depends(get_noshow_model)]
DenialModelDep = Annotated[LoadedModel, Depends(get_denial_model)]
