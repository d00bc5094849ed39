"""Settings of the billing service (BILLING_* environment variables)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    service_name: str = "billing"
    database_url: str = "sqlite+aiosqlite:///var/billing.db"
    http_port: int = 8002
