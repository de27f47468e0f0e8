"""The one configuration class, read from CAREOPS_* environment variables and an optional .env."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

ROLES = ("scheduler", "biller", "admin")


class Settings(BaseSettings):
    """careops configuration; every field is a CAREOPS_<NAME> variable unless noted."""

    model_config = SettingsConfigDict(
        env_prefix="CAREOPS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    tracking_uri: str = Field(
        default="sqlite:///mlflow.db",
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "CAREOPS_TRACKING_URI"),
        description="MLflow tracking and registry store (MLFLOW_TRACKING_URI wins).",
    )
    artifact_location: str | None = Field(
        default=None,
        description="Where new experiments keep artifacts (default: MLflow's, ./mlruns beside sqlite).",
    )
    database_url: str = Field(
        default="sqlite:///careops.db",
        description="SQLAlchemy URL of the service's own store (appointments and outcomes).",
    )
    horizon_days: int = Field(default=1, ge=1, description="Days ahead no-show predictions are made.")
    late_cancel_hours: float = Field(
        default=0,
        ge=0,
        le=720,
        description="A cancellation less than this many hours before the start counts as a no-show "
        "(0: cancellations never do).",
    )
    risk_bands: str = Field(
        default='{"default": [0.15, 0.35]}',
        description="JSON of clinic_id (or 'default') to [medium_from, high_from] no-show thresholds.",
    )
    max_session_slots: int = Field(
        default=64, ge=1, description="Most slots one overbooking request may hold."
    )
    expected_payment_ratio: float = Field(
        default=0.5, gt=0, le=1, description="Expected payment as a share of charges, for the worklist."
    )
    reference_dir: Path | None = Field(
        default=None,
        description="Directory of the practice's own reference tables (payers.csv, appeals.csv), each "
        "replacing the shipped one of its name (docs/reference-tables.md).",
    )
    filing_warning_days: int = Field(
        default=14, ge=0, le=365, description="Days before a filing deadline that the worklist flags a claim."
    )
    filing_urgency_weight: float = Field(
        default=2.0, ge=1, le=100, description="Weight of dollars at risk for a claim due within the warning."
    )
    top_factors: int = Field(default=5, ge=3, le=10, description="Factors returned with each score.")
    dask_connect_timeout_seconds: float = Field(default=10.0, gt=0, description="Wait for a Dask scheduler.")
    champion_alias: str = "champion"
    previous_alias: str = "previous"
    gate_auc_tolerance: float = Field(default=0.005, ge=0, description="ROC-AUC a challenger may lose.")
    gate_brier_tolerance: float = Field(default=0.002, ge=0, description="Brier a challenger may add.")
    gate_ece_tolerance: float = Field(default=0.01, ge=0, description="ECE a challenger may add.")
    reload_interval_seconds: float = Field(
        default=30.0, ge=0, description="How often the API checks the champion alias (0: only /admin/reload)."
    )
    seed: int = 42
    hidden_booking_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of no-show training rows whose booking time is hidden, so that the model "
        "learns to score (and calibrate) appointments whose booking time is unknown.",
    )
    train_threads: int = Field(default=2, ge=1, description="LightGBM threads for training.")
    score_threads: int = Field(default=1, ge=1, description="LightGBM threads per scoring call.")
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    validation_fraction: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        description="The latest share of the training window that calibrates (and early-stops) the "
        "booster; 0.25 won on rolling folds (docs/models.md, drift-aware calibration).",
    )
    api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated key:role pairs, e.g. k1:scheduler,k2:biller."
    )
    api_keys_file: Path | None = Field(
        default=None, description="A file holding key:role pairs, used when api_keys is unset."
    )
    max_batch: int = Field(default=1000, ge=1, description="Most records any list in one request may hold.")
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body, in bytes (413 beyond it)."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Key of the prediction log's record pseudonyms (HMAC-SHA256); without it, no log.",
    )
    prediction_log: bool = Field(default=True, description="Log every score (needs pseudonym_key).")
    prediction_retention_days: int = Field(
        default=400, ge=1, description="Days the prediction log keeps rows and daily histograms."
    )
    monitor_rate_bound: float = Field(
        default=0.03, gt=0, lt=1, description="Observed minus predicted rate that calls for retraining."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for GET /metrics (an admin API key works as well)."
    )
    mlflow_ui_url: str | None = Field(
        default=None, description="Base URL of an MLflow UI; the model page links each run to it."
    )
    code_tables: Path | None = Field(
        default=None,
        description="JSON file of appointment-type and payer codes to careops labels, over the defaults "
        "(docs/integration.md).",
    )
    day_page_visits: int = Field(
        default=400, ge=10, description="Most bookings the day page shows and plans at once (paged beyond)."
    )
    call_cooldown_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description="Days a called patient stays off the day page's call list (0: never left out).",
    )
    call_holdout_share: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="Share of the call list marked 'do not call' at random, to measure what calling "
        "does (0: none).",
    )
    clinic_day_capacity: int = Field(
        default=500,
        ge=1,
        description="Most visits one clinic can hold in a day; an upload past it is refused.",
    )
    upload_max_rows: int = Field(
        default=20_000, ge=1, description="Most rows (appointments or claims) one page upload may hold."
    )
    uploads_at_once: int = Field(
        default=2, ge=1, description="Page uploads one worker parses at a time; more get 429 to try again."
    )
    max_json_depth: int = Field(
        default=32, ge=4, description="Deepest JSON nesting a request may have (400)."
    )
    session_idle_minutes: int = Field(
        default=15, ge=1, description="A page session ends after this long without a request."
    )
    session_hours: float = Field(default=12, gt=0, description="A page session ends this long after sign-in.")
    auth_failures_allowed: int = Field(
        default=10,
        ge=1,
        description="Failed sign-ins of one account in a window, then it is locked out (429).",
    )
    auth_address_failures_allowed: int = Field(
        default=30,
        ge=1,
        description="Failed sign-ins or API keys from one address in a window, then 429 (higher than "
        "an account's: a practice's desks often share one address).",
    )
    auth_window_seconds: int = Field(
        default=300, ge=1, description="The window failed attempts are counted in."
    )
    lockout_minutes: int = Field(
        default=15, ge=1, description="How long an account stays locked after too many failed sign-ins."
    )
    audit: bool = Field(default=True, description="Keep the access audit trail.")
    audit_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the audit trail's store (default: on SQLite, a file of its own "
        "beside the database, `careops-audit.db` for `careops.db`, so that appending to the trail never "
        "waits on the bookings' writes; otherwise the service's database).",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit trail's chained HMACs (without it, plain SHA-256: anyone with the "
        "database could rewrite a chain that verifies).",
    )
    audit_key_file: Path | None = Field(default=None, description="A 0600 file holding the audit key.")
    audit_retention_days: int = Field(
        default=6 * 365, ge=1, description="Days the audit trail keeps its entries (6 years by default)."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of an OpenID Connect provider (Entra, Okta, Google, Keycloak); with it, "
        "the sign-in page offers single sign-on (https, or http on loopback for tests).",
    )
    oidc_client_id: str | None = Field(default=None, description="careops' client id at the provider.")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="careops' client secret at the provider (128 bits or more)."
    )
    oidc_client_secret_file: Path | None = Field(
        default=None, description="A 0600 file holding the client secret, used when it is unset."
    )
    oidc_scopes: str = Field(
        default="openid profile email", description="Scopes asked for (space-separated; with openid)."
    )
    oidc_groups_claim: str = Field(
        default="groups", description="The claim (ID token or userinfo) that lists the user's groups."
    )
    oidc_username_claim: str = Field(
        default="preferred_username", description="The claim careops names the user by (else email, sub)."
    )
    oidc_groups: str = Field(
        default="{}",
        description='JSON of group to role and scope, e.g. {"north-desk": {"role": "scheduler", '
        '"clinics": ["C01"]}}; a user in no listed group may not sign in (docs/security.md).',
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="The callback URL registered at the provider (default: this server's "
        "/app/sso/callback as the browser reached it).",
    )
    oidc_name: str = Field(
        default="your organisation", description="How the sign-in page names the provider."
    )


def oidc_client_secret(settings: Settings) -> str | None:
    """The identity provider's client secret, from the environment or its file."""
    if settings.oidc_client_secret is not None:
        return settings.oidc_client_secret.get_secret_value()
    if settings.oidc_client_secret_file is not None:
        return settings.oidc_client_secret_file.read_text(encoding="utf-8").strip()
    return None


def parse_api_keys(text: str) -> dict[str, str]:
    """Parse `key:role` pairs separated by commas or new lines into {key: role}."""
    keys: dict[str, str] = {}
    for number, item in enumerate(text.replace("\n", ",").split(","), start=1):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        key, sep, role = item.rpartition(":")
        if not sep or not key.strip():
            raise ValueError(f"API key entry {number} is not of the form key:role")
        if role.strip() not in ROLES:
            raise ValueError(f"API key entry {number} has unknown role '{role.strip()}'; use {ROLES}")
        keys[key.strip()] = role.strip()
    return keys


def api_key_roles(settings: Settings) -> dict[str, str]:
    """The configured API keys and their roles (empty when none are configured)."""
    if settings.api_keys is not None:
        return parse_api_keys(settings.api_keys.get_secret_value())
    if settings.api_keys_file is not None:
        return parse_api_keys(settings.api_keys_file.read_text(encoding="utf-8"))
    return {}


def audit_key(settings: Settings) -> bytes | None:
    """The audit trail's key, from the environment or its file (None when neither is set)."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode("utf-8")
    if settings.audit_key_file is not None:
        return settings.audit_key_file.read_text(encoding="utf-8").strip().encode("utf-8")
    return None


def audit_url(settings: Settings) -> str:
    """Where the audit trail is kept (see `audit_database_url`)."""
    if settings.audit_database_url:
        return settings.audit_database_url
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return settings.database_url
    database = Path(url.database)
    return url.set(
        database=str(database.with_name(f"{database.stem}-audit{database.suffix}"))
    ).render_as_string(hide_password=False)


def handle_secret(settings: Settings) -> bytes:
    """The secret that signs the pages' record handles, the same in every worker and across restarts:
    derived from the audit key, else the pseudonym key (with neither, from the store's URL, which is
    no secret: set one of the keys in production)."""
    key = audit_key(settings)
    if key is None and settings.pseudonym_key is not None:
        key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    material = key if key is not None else settings.database_url.encode("utf-8")
    return hashlib.sha256(b"careops-page-handles:" + material).digest()


def holdout_key(settings: Settings) -> bytes | None:
    """The key of the call list's random hold-out draw: derived from the audit key, else the
    pseudonym key (with neither, None: each process draws a key of its own, and the store keeps
    each visit's first draw)."""
    key = audit_key(settings)
    if key is None and settings.pseudonym_key is not None:
        key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    return hashlib.sha256(b"careops-call-holdout:" + key).digest() if key is not None else None
