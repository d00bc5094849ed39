"""Settings of the contracts service (CONTRACTS_* environment variables)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class ContractsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRACTS_", extra="ignore")

    service_name: str = "contracts"
    database_url: str = "sqlite+aiosqlite:///var/contracts.db"
    http_port: int = 8001
