"""The billing service's unit of work."""

from __future__ import annotations

from billing.adapters.repositories import BillBook, ContractCopies, UsageLedger
from servicekit.uow import UnitOfWork


class BillingUnitOfWork(UnitOfWork):
    contracts: ContractCopies
    usage: UsageLedger
    bills: BillBook

    def _start(self) -> None:
        self.contracts = ContractCopies(self.session)
        self.usage = UsageLedger(self.session)
        self.bills = BillBook(self.session)
