"""The FastAPI application factory: settings, models loaded at start-up, routes and handlers."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from config import Settings, api_key_roles, handle_secret
from data.feeds.code_tables import CodeTables
from models.decisions.risk_bands import RiskBands
from models.decisions.variants import compile_passes
from services.access.secrets import MIN_KEY_BITS, key_bits
from services.access.single_sign_on import check_configuration
from services.container import Services
from services.model_set import ModelSet
from serving.dependencies import AppState
from serving.errors import install_error_handlers
from serving.limits import BodyLimits
from serving.metrics import ModelAndDrift, ServiceMetrics
from serving.pages import admin as admin_pages
from serving.pages import appeals as appeal_pages
from serving.pages import day as day_pages
from serving.pages import models_page, rendering, sign_in, sso
from serving.pages import numbers as numbers_pages
from serving.pages import worklist as worklist_pages
from serving.request_log import RequestLog
from serving.routes import admin, denial, fhir, health, monitoring, noshow, overbook
from serving.security_headers import SecurityHeaders
from serving.upload_slots import RETRY_SECONDS, UploadsBusy, UploadSlots

log = logging.getLogger(__name__)
ROUTERS = (
    health.router, noshow.router, overbook.router, fhir.router, admin.router, denial.router,
    monitoring.router, sign_in.router, sso.router, day_pages.router, worklist_pages.router,
    numbers_pages.router, models_page.router, admin_pages.router, appeal_pages.router,
)  # fmt: skip


def _poll(models: ModelSet, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(settings.reload_interval_seconds):
        try:
            models.refresh(settings)
        except Exception:  # a poll must never end the poller; the next one tries again
            log.exception("model refresh failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; models load when it starts, so creating it touches no store."""
    settings = settings or Settings()
    keys = api_key_roles(settings)
    weak = sorted({role for key, role in keys.items() if key_bits(key) < MIN_KEY_BITS})
    if weak:
        raise ValueError(
            f"CAREOPS_API_KEYS holds keys of under {MIN_KEY_BITS} bits (roles: {', '.join(weak)}); "
            "use named clients (careops clients add) or keys of 32+ random characters"
        )
    check_configuration(settings)
    state = AppState(
        settings=settings,
        risk_bands=RiskBands.from_json(settings.risk_bands),
        code_tables=CodeTables.load(settings.code_tables),
        models=ModelSet(),
        metrics=ServiceMetrics(),
        handle_secret=handle_secret(settings),
        uploads=UploadSlots(settings.uploads_at_once),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not keys:
            log.info("no configured API keys: /v1 callers use named clients (careops clients add)")
        services = await run_in_threadpool(
            partial(
                Services.open,
                settings,
                state.models,
                observe=state.metrics.observe_scores,
                queue_bookings=True,
            )
        )
        state._services = services
        state.metrics.attach(
            ModelAndDrift(state.metrics.worker, state.models, getattr(services.recorder, "log", None))
        )
        await run_in_threadpool(state.models.refresh, settings)
        await run_in_threadpool(compile_passes)  # no request waits for the overbooking loops' compiler
        stop = threading.Event()
        poller = None
        if settings.reload_interval_seconds > 0:
            poller = threading.Thread(
                target=_poll, args=(state.models, settings, stop), name="careops-model-poller", daemon=True
            )
            poller.start()
        # The models, stores and imports are here for the process's life: kept out of the cyclic
        # collector, a full collection no longer walks them and stalls requests for tens of ms.
        gc.collect()
        gc.freeze()
        yield
        stop.set()
        if poller is not None:
            poller.join(timeout=10)
        await run_in_threadpool(services.close)  # what is queued is written before exit

    app = FastAPI(
        title="careops",
        summary="No-show risk for schedulers and denial risk for billers.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.careops = state
    install_error_handlers(app, rendering.error_page)
    app.add_middleware(
        BodyLimits, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth,
        page_error=rendering.error_page,
    )  # fmt: skip
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestLog)  # outermost: every answer, 413 and 400 included, is logged
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=Path(rendering.__file__).parent / "static"), name="static")
    app.add_exception_handler(rendering.SignInRequired, _to_sign_in)
    app.add_exception_handler(UploadsBusy, _uploads_busy)
    app.add_exception_handler(rendering.PageForbidden, rendering.to_forbidden)
    return app


async def _to_sign_in(request: Request, error: Exception) -> RedirectResponse:
    """A page opened without a valid session goes to the sign-in form."""
    return RedirectResponse("/app/sign-in", status.HTTP_303_SEE_OTHER)


async def _uploads_busy(request: Request, error: Exception) -> Response:
    """An upload while this worker's upload slots are all taken: try again in a moment."""
    page = rendering.error_page(request, 429, "Other uploads are being read; try again in a few seconds.")
    page.headers["Retry-After"] = str(RETRY_SECONDS)
    return page
