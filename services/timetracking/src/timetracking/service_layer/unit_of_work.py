"""The timetracking service's unit of work."""

from __future__ import annotations

from servicekit.uow import UnitOfWork
from timetracking.adapters.repositories import CoveringContractRepository, TimeEntryRepository


class TimeTrackingUnitOfWork(UnitOfWork):
    time_entries: TimeEntryRepository
    contracts: CoveringContractRepository

    def _start(self) -> None:
        self.time_entries = TimeEntryRepository(self.session)
        self.contracts = CoveringContractRepository(self.session)
