"""The contracts service's unit of work: its repositories over one transaction."""

from __future__ import annotations

from contracts.adapters.repositories import (
    ActivityRepository,
    CalendarRepository,
    ContractRepository,
    ExhaustionRepository,
    PlanRepository,
    TopUpPlanRepository,
    TopUpRepository,
)
from servicekit.uow import UnitOfWork


class ContractsUnitOfWork(UnitOfWork):
    calendars: CalendarRepository
    plans: PlanRepository
    top_up_plans: TopUpPlanRepository
    contracts: ContractRepository
    top_ups: TopUpRepository
    activity: ActivityRepository
    exhaustions: ExhaustionRepository

    def _start(self) -> None:
        self.calendars = CalendarRepository(self.session)
        self.plans = PlanRepository(self.session)
        self.top_up_plans = TopUpPlanRepository(self.session)
        self.contracts = ContractRepository(self.session)
        self.top_ups = TopUpRepository(self.session)
        self.activity = ActivityRepository(self.session)
        self.exhaustions = ExhaustionRepository(self.session)
