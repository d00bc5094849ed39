"""What can go wrong in the contracts domain, in words a billing team understands."""

from __future__ import annotations

from servicekit.errors import Conflict, DomainError, NotFound


class InvalidPlan(DomainError):
    """A support plan whose fields contradict each other."""


class InvalidCalendar(DomainError):
    pass


class InvalidContract(DomainError):
    pass


class OverlappingContract(Conflict):
    """Another contract of the account covers the same scope in the same time."""


class DuplicateContractNumber(Conflict):
    pass


class CalendarNotFound(NotFound):
    pass


class PlanNotFound(NotFound):
    pass


class ContractNotFound(NotFound):
    pass


class ContractExists(Conflict):
    pass
