"""Everything the line reads from its environment, typed and checked at start.

Only this module reads settings from ``os.environ``. Names are ``IVR_*`` plus the conventional
``DATABASE_URL``, ``REDIS_URL``, ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ivr.queueing import SENTINEL_SCHEME, parse_sentinel_url, sentinel_url

# Variable names as a deployer writes them, for error messages.
_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
}


# What `ivr up` writes into var/local.env and `ivr simulate` uses: never a real account.
PLACEHOLDER_ACCOUNT_SID = "AC" + "0" * 32
PLACEHOLDER_ACCOUNT_SIDS = frozenset({PLACEHOLDER_ACCOUNT_SID, "AC" + "51" * 16})
_ACCOUNT_SID = re.compile(r"\AAC[0-9a-f]{32}\Z")
MIN_SECRET_BYTES = 32
# Development only (production refuses to start without real keys): a public constant, so it
# protects nothing, and it is never derived from the Twilio token, which rotates on its own.
_DEV_SECRET = b"ivr-insecure-development-secret; production refuses it"


def twilio_credential_problems(account_sid: str, auth_token: str) -> list[str]:
    """Why the line cannot take real calls with these Twilio credentials; empty when it can."""
    problems = []
    if not auth_token:
        problems.append("TWILIO_AUTH_TOKEN: empty; every webhook would be refused (403)")
    if account_sid in PLACEHOLDER_ACCOUNT_SIDS:
        problems.append("TWILIO_ACCOUNT_SID: a placeholder (the one `ivr up` writes); set your account's SID")
    elif not _ACCOUNT_SID.match(account_sid):
        problems.append("TWILIO_ACCOUNT_SID: not an account SID (AC and 32 hex digits)")
    return problems


def _env(name: str, conventional: str | None = None) -> AliasChoices:
    names = [name, f"IVR_{name.upper()}"]
    if conventional:
        names.append(conventional)
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything the line reads from its environment: IVR_*, plus the conventional names."""

    model_config = SettingsConfigDict(
        env_prefix="IVR_", extra="ignore", populate_by_name=True, frozen=True
    )

    database_url: str = Field("sqlite:///var/ivr.db", validation_alias=_env("database_url", "DATABASE_URL"))
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_env("redis_url", "REDIS_URL"))
    redis_sentinels: str = ""
    """`host:port,host:port` of Redis Sentinels; with `redis_service` it replaces REDIS_URL (database 0)."""
    redis_service: str = "mymaster"
    """The master group the Sentinels watch (IVR_REDIS_SERVICE)."""
    db_pool_size: int = Field(5, ge=1)
    """PostgreSQL connections each process keeps open (per gunicorn worker, per RQ worker)."""
    db_max_overflow: int = Field(5, ge=0)
    """Extra PostgreSQL connections a process may open for a burst, closed again when returned."""
    db_pool_timeout_s: float = Field(10.0, gt=0)
    """How long a request waits for a free connection before it fails (and the webhook falls back)."""
    db_statement_timeout_ms: int = Field(15000, ge=0)
    """PostgreSQL cancels any one statement running longer than this (0: never), so a stuck query
    cannot hold a connection and its locks while callers wait; migrations are not limited."""
    queue_name: str = "intake"
    """RQ queue the webhooks enqueue recordings on and the workers listen to."""
    transcribe_queue_name: str = "transcribe"
    """RQ queue of transcriptions (`ivr worker --queue transcribe`); `ivr worker` takes intake first."""

    twilio_account_sid: str = Field("", validation_alias=_env("twilio_account_sid", "TWILIO_ACCOUNT_SID"))
    twilio_auth_token: SecretStr = Field(
        SecretStr(""), validation_alias=_env("twilio_auth_token", "TWILIO_AUTH_TOKEN")
    )
    twilio_api_base: str = "https://api.twilio.com"
    """Where the Twilio REST API and recordings live; tests point it at a local stand-in."""

    env: Literal["development", "production", ""] = ""
    """IVR_ENV=production refuses to start on missing keys or placeholder credentials (as an
    https public URL does); anything else is development."""

    public_base_url: str = ""
    """The https URL Twilio calls (e.g. https://ivr.example.kz). Signatures are checked against it,
    so the app is right behind a TLS-terminating proxy. Empty: the URL the request arrived on."""

    verify_signatures: bool = True
    """Only for local development without Twilio: False accepts unsigned webhooks (logged loudly)."""

    secret_key: SecretStr = SecretStr("")
    """Signs sessions and encrypts call state in webhook URLs; 32 bytes or more (`ivr keys new`).
    Empty: a public development constant, refused in production."""

    data_key: SecretStr = SecretStr("")
    """Base64 32-byte key that encrypts contacts and recordings at rest (`ivr keys new`).
    Empty: a public development constant, refused in production."""

    data_key_id: str = "k1"
    """Stored beside everything the data key encrypts, so keys can rotate."""

    old_data_keys: str = ""
    """Earlier keys still able to decrypt, as id:base64 pairs separated by commas."""

    flow_path: Path = Path("config/flow.yaml")
    prompts_dir: Path = Path("config/prompts")
    flow_check_interval_s: float = 2.0
    """How often a web process looks for a changed flow file (a stat call, nothing more)."""

    recordings_dir: Path = Path("var/recordings")
    spool_dir: Path = Path("var/spool")
    """Where a web host keeps reports while the database is down (encrypted; replayed when it returns)."""
    recording_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    keep_on_twilio: bool = False
    """True keeps the recording at Twilio after our copy is safe (not recommended)."""

    transcriber: Literal["faster-whisper", "none"] = "faster-whisper"
    model_dir: Path | None = None
    """A CTranslate2 Whisper model folder. Empty: the bundled Whisper base."""
    model_cache_dir: Path = Path("var/models")
    models_dir: Path | None = None
    """Where `ivr model add` installs speech models; empty: IVR_MODEL_CACHE_DIR."""
    speech_config_path: Path = Path("config/speech.yaml")
    recipients_path: Path = Path("config/recipients.yaml")
    """The bodies a forwarded case can go to (ivr.cases.recipients); re-read when it changes."""
    """Which engine and model hear each language; a language not listed gets the bundled Whisper."""
    transcribe_timeout_s: int = 600
    transcript_min_confidence: float = Field(0.55, ge=0.0, le=1.0)
    """A transcript whose model confidence (mean token probability) is below this is marked
    "unreliable — listen" in the queue and on the case, whatever the worker's verdict said."""

    webhook_budget_ms: int = 500
    log_level: str = "INFO"
    log_json: bool | None = None
    """JSON log lines (true) or readable text (false); unset: text on a terminal, JSON otherwise."""
    metrics_token: SecretStr = SecretStr("")
    """A bearer token that opens /metrics from anywhere (Prometheus' `authorization` setting)."""
    metrics_allow: str = "127.0.0.1/32,::1/128"
    """Networks (CIDRs, comma-separated) whose direct, unproxied requests may read /metrics."""

    urgent_webhook_url: str = ""
    """Urgent reports are also POSTed (ids only) to this URL, retried."""

    transcribe_retry_intervals_s: list[int] = [60, 300, 900, 3600, 3 * 3600]
    """Waits between retries of a failed transcription (JSON list); the case is open meanwhile."""

    notify_retry_intervals_s: list[int] = [10, 60, 300, 900, 3600]
    """Waits between retries of the urgent-report webhook (JSON list)."""

    urgent_unclaimed_after_min: int = Field(default=10, ge=1)
    """An open urgent case nobody has claimed this many minutes after it was opened is reported to
    the supervisors through the urgent webhook (once per case, by the sweeper)."""

    deadlines_path: Path = Path("config/deadlines.yaml")
    """The deadline rules (acknowledge, forward, redirect, answer) shown in the queue."""

    work_calendar_path: Path = Path("config/work_calendar.yaml")
    """Kazakhstan's working-day calendar (weekends, public holidays, transfers) for the deadlines."""

    call_assumed_over_after_s: int = 2 * 3600
    """A call with no status callback this long after its recording is taken to have ended, so
    the recording may be deleted at Twilio (while the call lasts the caller may replay it)."""

    sweep_interval_s: float = 15.0
    """How often `ivr sweep --forever` looks for lost work, killed workers' jobs and overdue retries
    (a report interrupted by a hard kill runs again within about twice this plus 30 s)."""

    unready_after_s: int = 300
    """An intake whose recording status callback has not come after this long is fetched anyway."""

    stuck_after_s: int = 2400
    """An intake processing this long with no finished job is re-enqueued (above the job timeout)."""

    reconcile_window_h: int = 48
    """How far back `ivr reconcile` lists Twilio's recordings to find ones we never heard of."""

    reconcile_interval_s: int = 3600
    """How often the sweeper loop has a worker reconcile with Twilio's list of recordings."""

    retention_days: int = 90
    """Closed cases older than this lose their recordings, transcripts and contacts."""

    anonymous_time_resolution_minutes: int = Field(60, ge=1, le=1440)
    """Anonymous calls keep their times only to this many minutes (from midnight UTC) and no end or
    length, so no phone company record can be matched to them; operators still see the day."""

    download_budget_s: float = 300.0
    """How long one job keeps retrying a Twilio request (404 before the media is ready, 5xx, timeouts)."""

    download_backoff_s: float = 1.0
    """First pause between Twilio retries; it doubles up to 30 s, with jitter."""

    download_timeout_s: float = 60.0
    """Read timeout of one Twilio request."""

    transcribe_threads: int = 0
    """CPU threads the speech model uses in one worker process; 0: every core this process may use."""

    followup_max_failures: int = 5
    """Wrong PINs for one reference (across all calls) before it locks."""
    followup_lock_minutes: int = 60
    """How long a reference stays locked; operators can unlock it sooner."""
    followup_max_failures_per_hour: int = 200
    """Failed PIN checks on the whole line in one clock hour before every check is refused until
    the hour ends (guessing spread over many references); alert on `ivr_followup_pin_cap_refusals_total`."""

    session_idle_minutes: int = 30
    """A console session unused this long ends; the person signs in again."""
    session_max_hours: int = 12
    """A console session ends this long after signing in, however busy."""

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for local tests)")
        return value.rstrip("/")

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for network in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (e.g. 10.0.0.0/8)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we ship; the plain scheme would ask for psycopg2.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://", SENTINEL_SCHEME)):
            raise ValueError("must be a redis://, rediss://, unix:// or redis+sentinel:// URL")
        if value.startswith(SENTINEL_SCHEME):
            parse_sentinel_url(value)  # its ValueError names the expected form
        return value

    @model_validator(mode="after")
    def _sentinels_name_the_redis(self) -> Settings:
        # Every process builds its connection from redis_url alone, so the Sentinel variables are
        # folded into it here (the model is frozen; this runs once, while it is being built).
        if self.redis_sentinels.strip():
            url = sentinel_url(self.redis_sentinels, self.redis_service)
            parse_sentinel_url(url)
            object.__setattr__(self, "redis_url", url)
        return self

    @field_validator("data_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw:
            try:
                decoded = base64.b64decode(raw, validate=True)
            except ValueError as exc:
                raise ValueError("must be base64") from exc
            if len(decoded) != 32:
                raise ValueError("must decode to 32 bytes (AES-256)")
        return value

    @property
    def is_production(self) -> bool:
        """IVR_ENV=production, or Twilio reaches the line over https: real callers."""
        return self.env == "production" or self.public_base_url.startswith("https://")

    def production_problems(self) -> list[str]:
        """What production refuses, one line per problem naming its variable; empty when none."""
        problems = []
        if len(self.secret_key.get_secret_value().encode()) < MIN_SECRET_BYTES:
            state = "missing" if not self.secret_key.get_secret_value() else "too short"
            problems.append(f"IVR_SECRET_KEY: {state}; production needs {MIN_SECRET_BYTES} random bytes or more"
                            " (`ivr keys new` makes one)")
        if not self.data_key.get_secret_value():
            problems.append("IVR_DATA_KEY: missing; production needs its own 32-byte key (`ivr keys new` makes one)")
        if not self.verify_signatures:
            problems.append("IVR_VERIFY_SIGNATURES: false; production checks every webhook's signature")
        return problems + twilio_credential_problems(
            self.twilio_account_sid, self.twilio_auth_token.get_secret_value()
        )

    @property
    def session_secret(self) -> bytes:
        """The secret that signs sessions and seals call state (never derived from the Twilio token)."""
        raw = self.secret_key.get_secret_value().encode() or _DEV_SECRET
        return hashlib.sha256(raw).digest()

    @property
    def data_keys(self) -> dict[str, bytes]:
        """Key id to 32-byte key; the current key first."""
        current = self.data_key.get_secret_value()
        keys = {
            self.data_key_id: base64.b64decode(current)
            if current
            else hashlib.sha256(b"ivr-dev-data-key:" + _DEV_SECRET).digest()
        }
        for pair in filter(None, (p.strip() for p in self.old_data_keys.split(","))):
            key_id, _, b64 = pair.partition(":")
            keys.setdefault(key_id, base64.b64decode(b64))
        return keys


def engine_options(settings: Settings) -> dict[str, float | int]:
    """The keyword arguments for `ivr.db.make_engine` that tune the PostgreSQL pool and timeouts."""
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
        "statement_timeout_ms": settings.db_statement_timeout_ms,
    }


class SettingsError(Exception):
    """The environment holds values the line cannot start with; one line per variable."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and var/local.env, which `ivr up` writes); one error line per bad variable.

    IVR_ENV_FILE names another file of defaults (empty: none); real environment variables win.
    """
    env_file = os.environ.get("IVR_ENV_FILE", "var/local.env") or None
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = _ENV_NAMES.get(field, f"IVR_{field.upper()}")
            lines.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    problems = settings.production_problems() if settings.is_production else []
    if problems:
        raise SettingsError(
            "refusing to start in production (IVR_ENV=production or an https IVR_PUBLIC_BASE_URL):\n  "
            + "\n  ".join(problems)
        )
    return settings
