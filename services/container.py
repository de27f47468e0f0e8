"""The services one process runs on: one engine per database, the stores on it, the champions,
the score log and the two scoring services. The app, the HL7 listener and the CLI each open one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from config import Settings
from data.stores.appointments import AppointmentStore
from data.stores.booking_queue import BookingQueue
from data.stores.claims import ClaimStore
from data.stores.engine import store_engine
from data.stores.overbooks import OverbookStore
from data.stores.worklist import WorklistStore
from services.denial import DenialService
from services.model_set import ModelSet
from services.monitoring.recorder import PredictionRecorder
from services.monitoring.score_log import Observer, ScoreLog, start_recorder
from services.noshow import NoShowService


@dataclass
class Services:
    """What routes, pages, feeds and commands call; built by `Services.open`, ended by `close`."""

    settings: Settings
    engine: Engine
    models: ModelSet
    appointments: AppointmentStore
    claims: ClaimStore
    worklist: WorklistStore
    overbooks: OverbookStore
    score_log: ScoreLog
    noshow: NoShowService
    denial: DenialService
    bookings: BookingQueue | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        models: ModelSet | None = None,
        *,
        log_scores: bool = True,
        observe: Observer | None = None,
        queue_bookings: bool = False,
    ) -> Services:
        """Open the stores on one engine; `log_scores` starts the prediction log's recorder (when the
        log is on), `queue_bookings` the group-commit queue the score route books through. The
        champions load on `models.refresh`, which the caller runs when it is ready to."""
        engine = store_engine(settings.database_url)
        appointments = AppointmentStore(engine)
        claims = ClaimStore(engine)
        recorder: PredictionRecorder | None = start_recorder(settings) if log_scores else None
        score_log = ScoreLog(recorder, observe)
        models = models or ModelSet()
        bookings = BookingQueue(appointments) if queue_bookings else None
        return cls(
            settings=settings,
            engine=engine,
            models=models,
            appointments=appointments,
            claims=claims,
            worklist=WorklistStore(engine),
            overbooks=OverbookStore(engine),
            score_log=score_log,
            noshow=NoShowService(models, appointments, score_log, bookings),
            denial=DenialService(models, claims, score_log, settings.expected_payment_ratio),
            bookings=bookings,
        )

    @property
    def recorder(self) -> PredictionRecorder | None:
        """The prediction log's recorder, or None when the log is off."""
        return self.score_log.recorder

    def close(self) -> None:
        """Write what is queued (bookings, then scores), then release the database."""
        if self.bookings is not None:
            self.bookings.close()
        if self.recorder is not None:
            self.recorder.close()
        self.engine.dispose()
