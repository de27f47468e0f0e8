"""The services one process runs on: one engine per database, the stores on it, the champions, the
score log, the audit trail, and the services every door calls. The app, the HL7 listener and the
CLI each open one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from config import Settings, api_key_roles, audit_key, audit_url, holdout_key
from data.filing_deadlines import DeadlinePolicy
from data.reference import load_appeals, load_payers
from data.stores.appointments import AppointmentStore
from data.stores.audit import AuditStore
from data.stores.booking_queue import BookingQueue
from data.stores.calls import CallStore
from data.stores.claims import ClaimStore
from data.stores.engine import store_engine
from data.stores.identity import IdentityStore
from data.stores.overbooks import OverbookStore
from data.stores.worklist import WorklistStore
from models.decisions.risk_bands import RiskBands
from services.access.accounts import Accounts
from services.access.audit import AuditTrail
from services.access.authentication import Authenticator
from services.access.single_sign_on import SingleSignOn
from services.appeals import AppealService
from services.calls import Calls
from services.denial import DenialService
from services.model_set import ModelSet
from services.monitoring.recorder import PredictionRecorder
from services.monitoring.score_log import Observer, ScoreLog, start_recorder
from services.noshow import NoShowService
from services.practice_numbers import PracticeNumbersService
from services.scheduling import Scheduling
from services.worklist import WorklistService


@dataclass
class Services:
    """What routes, pages, feeds and commands call; built by `Services.open`, ended by `close`."""

    settings: Settings
    engine: Engine
    models: ModelSet
    appointments: AppointmentStore
    claims: ClaimStore
    score_log: ScoreLog
    audit: AuditTrail
    noshow: NoShowService
    denial: DenialService
    worklist: WorklistService
    appeals: AppealService
    numbers: PracticeNumbersService
    scheduling: Scheduling
    calls: Calls
    accounts: Accounts
    authenticator: Authenticator
    bookings: BookingQueue | None = None
    sign_on: SingleSignOn | None = None  # single sign-on, when an OpenID provider is configured

    @classmethod
    def open(
        cls,
        settings: Settings,
        models: ModelSet | None = None,
        *,
        log_scores: bool = True,
        observe: Observer | None = None,
        queue_bookings: bool = False,
        audit_now: bool = False,
    ) -> Services:
        """Open the stores on one engine; `log_scores` starts the prediction log's recorder (when the
        log is on), `queue_bookings` the group-commit queue the score route books through, and
        `audit_now` writes each audit entry as it comes (a command) instead of from a thread (a
        service). The champions load on `models.refresh`, which the caller runs when it is ready to."""
        engine = store_engine(settings.database_url)
        appointments = AppointmentStore(engine)
        claims = ClaimStore(engine)
        identity = IdentityStore(engine)
        call_store, overbooks = CallStore(engine), OverbookStore(engine)
        trail_url = audit_url(settings)  # its own file on SQLite: appends never wait on bookings
        audit = AuditTrail(
            AuditStore(engine if trail_url == settings.database_url else trail_url, audit_key(settings))
            if settings.audit
            else None,
            synchronous=audit_now,
            retention_days=settings.audit_retention_days,
        )
        recorder: PredictionRecorder | None = start_recorder(settings) if log_scores else None
        score_log = ScoreLog(recorder, observe)
        models = models or ModelSet()
        bookings = BookingQueue(appointments) if queue_bookings else None
        denial = DenialService(models, claims, score_log, audit, settings.expected_payment_ratio)
        authenticator = Authenticator(identity, audit, settings, api_key_roles(settings))
        sign_on = SingleSignOn(settings, identity, authenticator, audit) if settings.oidc_issuer else None
        noshow = NoShowService(models, appointments, score_log, audit, bookings)
        payers = load_payers(settings.reference_dir)
        worklist = WorklistService(
            WorklistStore(engine),
            claims,
            denial,
            audit,
            payers,
            DeadlinePolicy(settings.filing_warning_days, settings.filing_urgency_weight),
        )
        return cls(
            settings=settings,
            engine=engine,
            models=models,
            appointments=appointments,
            claims=claims,
            score_log=score_log,
            audit=audit,
            noshow=noshow,
            denial=denial,
            worklist=worklist,
            appeals=AppealService(worklist, load_appeals(settings.reference_dir), payers),
            numbers=PracticeNumbersService(
                engine,
                recorder,
                RiskBands.from_json(settings.risk_bands),
                settings.late_cancel_hours,
                call_store,
                overbooks,
            ),
            scheduling=Scheduling(appointments, overbooks, audit),
            calls=Calls(
                noshow,
                call_store,
                audit,
                settings.call_cooldown_days,
                settings.call_holdout_share,
                holdout_key(settings),
            ),
            accounts=Accounts(identity, audit),
            authenticator=authenticator,
            bookings=bookings,
            sign_on=sign_on,
        )

    @property
    def recorder(self) -> PredictionRecorder | None:
        """The prediction log's recorder, or None when the log is off."""
        return self.score_log.recorder

    def close(self) -> None:
        """Write what is queued (bookings, scores, audit entries), then release the database."""
        if self.bookings is not None:
            self.bookings.close()
        if self.recorder is not None:
            self.recorder.close()
        self.audit.close()
        if self.audit.store is not None and self.audit.store.engine is not self.engine:
            self.audit.store.engine.dispose()
        self.engine.dispose()
