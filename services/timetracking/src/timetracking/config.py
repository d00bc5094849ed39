"""Settings of the timetracking service (TIMETRACKING_* environment variables)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class TimeTrackingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TIMETRACKING_", extra="ignore")

    service_name: str = "timetracking"
    database_url: str = "sqlite+aiosqlite:///var/timetracking.db"
    http_port: int = 8003
