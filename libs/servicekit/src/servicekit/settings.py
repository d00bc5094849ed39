"""Typed settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.auth import AuthSettings
from servicekit.kafka_security import KafkaSecurity


class ServiceSettings(BaseSettings):
    """Read from the environment, e.g. BILLING_DATABASE_URL, BILLING_HTTP_PORT, KAFKA_BOOTSTRAP_SERVERS."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True, populate_by_name=True)

    service_name: str
    database_url: str
    http_host: str = "127.0.0.1"
    http_port: int = Field(ge=1, le=65535)
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    relay_batch_size: int = Field(default=2000, gt=0)
    consumer_batch_size: int = Field(default=2000, gt=0)
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    run_migrations: bool = True
    # Logs (shared by the services: LOG_*).
    log_format: Literal["json", "console"] = Field(
        default="json", validation_alias=AliasChoices("LOG_FORMAT", "log_format")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level")
    )
    docs_enabled: bool = Field(default=True, description="serve /docs, /redoc and /openapi.json")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    inbox_kept_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="as long as the broker keeps messages: older ones cannot come again",
    )
    outbox_kept_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="how long sent events stay in the outbox, for looking into what went out",
    )

    # Bearer tokens (shared by the services: AUTH_*).
    auth_jwks_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_JWKS_URL", "auth_jwks_url")
    )
    auth_jwks_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_JWKS_FILE", "auth_jwks_file")
    )
    auth_issuer: str = Field(
        default="support-billing-dev",
        min_length=1,
        validation_alias=AliasChoices("AUTH_ISSUER", "auth_issuer"),
    )
    auth_audience: str = Field(
        default="support-billing",
        min_length=1,
        validation_alias=AliasChoices("AUTH_AUDIENCE", "auth_audience"),
    )
    auth_leeway_seconds: int = Field(
        default=30, ge=0, le=300, validation_alias=AliasChoices("AUTH_LEEWAY_SECONDS", "auth_leeway_seconds")
    )

    # The broker's security (shared: KAFKA_*); each process brings its own user.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism")
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME", "kafka_sasl_username")
    )
    kafka_sasl_password: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD", "kafka_sasl_password")
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SSL_CAFILE", "kafka_ssl_cafile")
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SSL_CERTFILE", "kafka_ssl_certfile")
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SSL_KEYFILE", "kafka_ssl_keyfile")
    )
    kafka_create_topics: bool = Field(
        default=True,
        validation_alias=AliasChoices("KAFKA_CREATE_TOPICS", "kafka_create_topics"),
        description="create missing topics at start; false for a user without Create (docs/security.md)",
    )

    @model_validator(mode="after")
    def _one_key_set(self) -> Self:
        if (self.auth_jwks_url is None) == (self.auth_jwks_file is None):
            raise ValueError(
                "configure where bearer tokens' keys are: exactly one of AUTH_JWKS_URL (an OIDC provider's "
                "JWKS) or AUTH_JWKS_FILE (e.g. var/dev-keys/jwks.json, written by "
                "`python -m servicekit.dev_token init`)"
            )
        if self.auth_jwks_file is not None and not self.auth_jwks_file.is_file():
            raise ValueError(f"AUTH_JWKS_FILE {self.auth_jwks_file} is not a file")
        return self

    @property
    def auth(self) -> AuthSettings:
        return AuthSettings(
            issuer=self.auth_issuer,
            audience=self.auth_audience,
            leeway_seconds=self.auth_leeway_seconds,
            jwks_url=self.auth_jwks_url,
            jwks_file=self.auth_jwks_file,
        )

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            cafile=self.kafka_ssl_cafile,
            certfile=self.kafka_ssl_certfile,
            keyfile=self.kafka_ssl_keyfile,
        )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("database_url must be sqlite+aiosqlite://... or postgresql+asyncpg://...")
        return url
