"""Wires the timetracking service together."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter

from servicekit.app import ServiceApp
from timetracking.adapters.tables import messaging, metadata
from timetracking.config import TimeTrackingSettings
from timetracking.entrypoints import consumers
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class TimeTracking(ServiceApp[TimeTrackingUnitOfWork]):
    title = "Timetracking service"
    description = "Time entries that support reps log on customer requests."
    unit_of_work = TimeTrackingUnitOfWork

    def __init__(self, settings: TimeTrackingSettings) -> None:
        super().__init__(settings, metadata, messaging, MIGRATIONS)
        consumers.register(self.service.consumers, self.uow)

    def routers(self) -> Sequence[APIRouter]:
        from timetracking.entrypoints.api import router

        return [router]


def bootstrap(settings: TimeTrackingSettings | None = None) -> TimeTracking:
    return TimeTracking(settings or TimeTrackingSettings())
