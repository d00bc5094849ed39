"""Typed settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment, e.g. BILLING_DATABASE_URL, BILLING_HTTP_PORT, KAFKA_BOOTSTRAP_SERVERS."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    service_name: str
    database_url: str
    http_host: str = "127.0.0.1"
    http_port: int = Field(ge=1, le=65535)
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    relay_batch_size: int = Field(default=500, gt=0)
    consumer_batch_size: int = Field(default=2000, gt=0)
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    run_migrations: bool = True
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="LOG_LEVEL"
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("database_url must be sqlite+aiosqlite://... or postgresql+asyncpg://...")
        return url
