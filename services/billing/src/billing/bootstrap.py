"""Builds the billing service: settings, clock, units of work, consumers, the bill scheduler, routes."""

from __future__ import annotations

from pathlib import Path

from billing.adapters.tables import messaging, metadata
from billing.config import BillingSettings
from billing.entrypoints import consumers
from billing.entrypoints.api import router
from billing.entrypoints.scheduler import bill_scheduler
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.app import ServiceApp
from servicekit.clock import Clock, utc_now

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def bootstrap(
    settings: BillingSettings | None = None, *, clock: Clock = utc_now
) -> ServiceApp[BillingUnitOfWork]:
    settings = settings or BillingSettings()
    app = ServiceApp(
        settings,
        title="Billing service",
        description="Usage per contract cycle, bills, bill versions and the main bill.",
        metadata=metadata,
        tables=messaging,
        migrations_dir=MIGRATIONS,
        unit_of_work=BillingUnitOfWork,
        routers=[router],
        clock=clock,
    )
    # One cache of contract copies for the process: consumers and the scheduler read through it.
    contracts = ContractCache()
    consumers.register(app.service.consumers, app.units.write, clock, contracts)
    app.service.add_background_loop(
        bill_scheduler(app.units, clock, contracts, settings.scheduler_interval_seconds)
    )
    return app
