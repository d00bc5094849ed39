"""The timetracking service's unit of work."""

from __future__ import annotations

from servicekit.uow import UnitOfWork
from timetracking.adapters.repositories import (
    AuditTrail,
    CalendarRepository,
    ClosedPeriodRepository,
    CoveringContractRepository,
    TimeEntryRepository,
)


class TimeTrackingUnitOfWork(UnitOfWork):
    time_entries: TimeEntryRepository
    audit: AuditTrail
    contracts: CoveringContractRepository
    calendars: CalendarRepository
    closed_periods: ClosedPeriodRepository

    def _start(self) -> None:
        self.time_entries = TimeEntryRepository(self.session)
        self.audit = AuditTrail(self.session)
        self.contracts = CoveringContractRepository(self.session)
        self.calendars = CalendarRepository(self.session)
        self.closed_periods = ClosedPeriodRepository(self.session)
