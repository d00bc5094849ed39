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


class TopUpPlanNotFound(NotFound):
    pass


class TopUpPlanInUse(Conflict):
    """A top-up plan that support plans still offer cannot be deleted."""


class TopUpNotAllowed(DomainError):
    """The contract's terms or plan do not allow this top-up."""


class ContractNotActive(Conflict):
    """The action needs an active contract."""


class OutsideContractPeriod(Conflict):
    """The action is only possible between the contract's start and expiry dates."""


class ContractAlreadyTerminated(Conflict):
    pass


class ContractAlreadyRenewed(Conflict):
    pass


class InvalidTermination(DomainError):
    pass


class ContractInUse(Conflict):
    """Something was billed, logged or bought against the contract, so it must be kept."""
