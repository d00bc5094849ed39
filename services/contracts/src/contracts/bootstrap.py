"""Builds the contracts service: the one place that knows every dependency, and that nothing imports."""

from __future__ import annotations

from pathlib import Path

from contracts.adapters.tables import messaging, metadata
from contracts.config import ContractsSettings
from contracts.entrypoints import consumers, scheduler
from contracts.entrypoints.api import router
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.app import ServiceApp
from servicekit.clock import Clock, utc_now

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def bootstrap(
    settings: ContractsSettings | None = None, *, clock: Clock = utc_now
) -> ServiceApp[ContractsUnitOfWork]:
    settings = settings or ContractsSettings()
    app = ServiceApp(
        settings,
        title="Contracts service",
        description="Support plans, top-up plans, business-hours calendars and contracts.",
        metadata=metadata,
        tables=messaging,
        migrations_dir=MIGRATIONS,
        unit_of_work=ContractsUnitOfWork,
        routers=[router],
        clock=clock,
    )
    consumers.subscribe(app.service.consumers, app.units, clock)
    app.service.add_background_loop(
        scheduler.lifecycle_loop(app.units, clock, settings.scheduler_interval_seconds)
    )
    return app
