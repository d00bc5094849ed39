"""Builds the timetracking service: settings, clock, units of work, consumers and routes."""

from __future__ import annotations

from pathlib import Path

from servicekit.app import ServiceApp
from servicekit.clock import Clock, utc_now
from timetracking.adapters.tables import messaging, metadata
from timetracking.config import TimeTrackingSettings
from timetracking.entrypoints import consumers
from timetracking.entrypoints.api import router
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def bootstrap(
    settings: TimeTrackingSettings | None = None, *, clock: Clock = utc_now
) -> ServiceApp[TimeTrackingUnitOfWork]:
    service_app = ServiceApp(
        settings or TimeTrackingSettings(),
        title="Timetracking service",
        description="Time entries that support reps log on customer requests.",
        metadata=metadata,
        tables=messaging,
        migrations_dir=MIGRATIONS,
        unit_of_work=TimeTrackingUnitOfWork,
        routers=[router],
        clock=clock,
    )
    consumers.register(service_app.service.consumers, service_app.units, service_app.clock)
    return service_app
