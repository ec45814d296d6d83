"""Configuration: every setting tenantry reads, from `TENANTRY_*` environment variables.

This module owns the names and defaults of settings and nothing else; it opens no connection
and creates no directory. Call `get_settings()` to read the environment at call time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenantry.errors import ConfigurationError

__all__ = ["Settings", "get_settings", "settings_error_message"]


class Settings(BaseSettings):
    """Runtime settings, read from the environment with the prefix `TENANTRY_`."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="ignore")

    home: Path = Field(
        default=Path(".tenantry"),
        description="Folder for the embedded database, the lake and local keys.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "Administrative URL of an external PostgreSQL (>= 15). Unset: the embedded one. "
            "Migrations run through it as `tenantry_owner`."
        ),
    )
    app_database_url: SecretStr | None = Field(
        default=None,
        description="URL the application uses (role `tenantry_app`); derived when unset.",
    )
    app_password: SecretStr | None = Field(
        default=None,
        description="Password set for `tenantry_app` on an external server.",
    )
    database_name: str = Field(default="tenantry", description="Database name (embedded).")
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    pool_pre_ping: bool = Field(
        default=True,
        description=(
            "Test each pooled connection before use (one extra round trip per transaction). "
            "Off: a dead connection fails one request and the pool is refreshed."
        ),
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of the 32-byte master key; unset: $TENANTRY_HOME/master.key.",
    )
    kms_provider: str | None = Field(
        default=None,
        description="'package.module:Factory' of a KMS master-key provider plug-in.",
    )
    audit_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "Ed25519 private key that signs audit checkpoints (PEM, or the raw 32 bytes in "
            "base64). Unset: `$TENANTRY_HOME/audit-signing.key`, created on first checkpoint."
        ),
    )
    audit_retention_months: int = Field(
        default=120,
        ge=1,
        description="How long audit entries are kept, in whole months (default 10 years).",
    )

    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret for HS256 bearer tokens. Unset: HS256 tokens are refused.",
    )
    jwt_public_key_file: Path | None = Field(
        default=None,
        description="PEM file with the RSA public key that verifies RS256 bearer tokens.",
    )
    jwt_jwks_file: Path | None = Field(
        default=None,
        description="JWKS (JSON Web Key Set) file whose RSA keys verify RS256 tokens by `kid`.",
    )
    jwt_audience: str | None = Field(
        default=None, description="Required `aud` claim of bearer tokens (unset: not checked)."
    )
    jwt_issuer: str | None = Field(
        default=None, description="Required `iss` claim of bearer tokens (unset: not checked)."
    )
    rate_limit_per_minute: int = Field(
        default=1000,
        ge=0,
        description="Requests per minute per principal and worker process (0: unlimited).",
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=0,
        description=(
            "Failed authentications per minute a client address may make (per worker process)"
            " before its requests are refused with 429 (0: unlimited)."
        ),
    )
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a worker caches a verified API key (revocation delay).",
    )
    api_threads: int = Field(
        default=40,
        ge=1,
        le=200,
        description="Threads per worker that run database work (FastAPI's thread pool).",
    )
    api_gc_threshold: int = Field(
        default=10_000,
        ge=0,
        description=(
            "Allocations between two collections of Python's youngest garbage generation in "
            "`tenantry serve` workers (Python's default, 700, collects several times per "
            "request); 0 keeps Python's default."
        ),
    )
    api_write_batch: int = Field(
        default=64,
        ge=1,
        le=1000,
        description=(
            "Most concurrent writes of one caller committed together in one transaction "
            "(group commit, for the writes that support it); 1 writes each request alone."
        ),
    )
    api_opentelemetry: bool = Field(
        default=False,
        description=(
            "Let FastAPI send request spans and metrics to the OpenTelemetry providers the "
            "process has configured (never its exception logs, which can quote personal data)."
        ),
    )
    api_log_level: str = Field(default="INFO", description="Level of the API's JSON log lines.")

    # The visibility check (tenantry.insight): collectors, analysers, benchmarks.
    collect_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Let collectors fetch private, loopback and link-local addresses (tests, intranet "
            "installs). Off: such targets, and redirects to them, are refused."
        ),
    )
    collect_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Most seconds one retrieval may take in all."
    )
    collect_max_bytes: int = Field(
        default=2_000_000,
        ge=1024,
        le=100_000_000,
        description="Most bytes kept of one response; the rest is cut off (marked truncated).",
    )
    collect_max_redirects: int = Field(default=5, ge=0, le=20)
    collect_user_agent: str = Field(default="tenantry-visibility-check/1.0", max_length=200)
    google_business_base_url: str = Field(
        default="https://mybusinessbusinessinformation.googleapis.com",
        description="Google Business Profile Business Information API.",
    )
    google_reviews_base_url: str = Field(
        default="https://mybusiness.googleapis.com",
        description="Google My Business API v4 (reviews).",
    )
    google_places_base_url: str = Field(
        default="https://places.googleapis.com", description="Google Places API (New)."
    )
    google_places_api_key: SecretStr | None = Field(
        default=None, description="API key of the Places API (public data and competitors)."
    )
    google_oauth_token_url: str = Field(default="https://oauth2.googleapis.com/token")
    google_client_id: str | None = Field(default=None, description="OAuth client of GBP.")
    google_client_secret: SecretStr | None = None
    meta_graph_base_url: str = Field(
        default="https://graph.facebook.com/v21.0", description="Facebook/Instagram Graph API."
    )
    meta_app_id: str | None = Field(default=None, description="Meta app that holds the tokens.")
    meta_app_secret: SecretStr | None = None
    vc_analyser: str = Field(
        default="rules",
        pattern="^(rules|llm)$",
        description="`rules`: the deterministic analyser; `llm`: the OpenAI-compatible provider.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat API, e.g. https://api.openai.com/v1.",
    )
    llm_api_key: SecretStr | None = None
    llm_model: str = Field(default="gpt-4o-mini", max_length=200)
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    vc_workers: int = Field(
        default=1,
        ge=0,
        le=32,
        description="Check-running threads `tenantry serve` starts in each worker (0: none).",
    )
    chat_upkeep_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 31,
        description="How often `tenantry serve` runs the chat partition upkeep (0: never).",
    )
    outcome_poll_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="How often `tenantry serve` turns events into experiment outcomes (0: never).",
    )
    # Payment reconciliation (tenantry.payments): when a notice is matched without a person.
    payment_match_threshold: float = Field(
        default=0.9,
        ge=0.5,
        le=1.0,
        description="Least score (0..1) of the best booking for an automatic match.",
    )
    payment_match_margin: float = Field(
        default=1.5,
        ge=0.0,
        le=20.0,
        description=(
            "Least lead of the best booking over the runner-up, in log-odds (1.5: the best "
            "about 4.5 times likelier)."
        ),
    )
    payment_match_days_after: int = Field(
        default=60,
        ge=0,
        le=730,
        description="Days after a booking's start that a payment may still be for it.",
    )
    dkim_keys_file: Path | None = Field(
        default=None,
        description=(
            "File of DKIM public keys that verify payment e-mails instead of DNS (offline installs"
            " and tests): one `<selector>._domainkey.<domain> <TXT value>` per line."
        ),
    )
    benchmark_min_tenants: int = Field(
        default=5,
        ge=5,
        description="A benchmark figure is published only where at least this many tenants add.",
    )
    stripe_webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="How far a Stripe-Signature's timestamp may lie from now (replay window).",
    )
    imap_timeout_seconds: float = Field(
        default=60.0, gt=0, le=600, description="Network timeout of `payments watch` (IMAP)."
    )
    # Lead scoring (tenantry.decisions): when a tenant's model is learnt, how often it rescores.
    lead_model_min_outcomes: int = Field(
        default=30,
        ge=2,
        le=100_000,
        description="Least won and lost leads a learnt model needs; below it the rules score.",
    )
    lead_rescore_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="How often `tenantry serve` rescores leads whose inputs changed (0: never).",
    )
    lead_rescore_daily: bool = Field(
        default=True,
        description="Whether `tenantry serve` also rescores every open lead once a day (recency).",
    )
    personalize_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description=(
            "How often `tenantry serve` checks the lake for a newly published segments/features"
            " version and reloads its cached profiles (0: never after the first load)."
        ),
    )

    @property
    def pgdata(self) -> Path:
        return self.home / "pg"

    @property
    def audit_checkpoint_dir(self) -> Path:
        return self.home / "audit-checkpoints"

    @property
    def audit_signing_key_file(self) -> Path:
        return self.home / "audit-signing.key"


def settings_error_message(exc: PydanticValidationError) -> str:
    """What is wrong with the environment, naming each variable and never its value (it can be
    a secret)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        reason = error["msg"].removeprefix("Value error, ")
        problems.append(f"TENANTRY_{field.upper()}: {reason[:1].lower()}{reason[1:]}")
    return "invalid setting " + "; ".join(problems)


def get_settings() -> Settings:
    """Read the settings from the current environment; `ConfigurationError` if one is invalid."""
    try:
        return Settings()
    except PydanticValidationError as exc:
        raise ConfigurationError(settings_error_message(exc)) from None
