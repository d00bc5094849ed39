"""The contracts service's unit of work: its repositories over one transaction."""

from __future__ import annotations

from contracts.adapters.repositories import CalendarRepository, ContractRepository, PlanRepository
from servicekit.uow import UnitOfWork


class ContractsUnitOfWork(UnitOfWork):
    calendars: CalendarRepository
    plans: PlanRepository
    contracts: ContractRepository

    def _start(self) -> None:
        self.calendars = CalendarRepository(self.session)
        self.plans = PlanRepository(self.session)
        self.contracts = ContractRepository(self.session)
