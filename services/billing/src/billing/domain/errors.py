"""Errors the billing domain raises; entrypoints map them to 4xx responses or dead-letter reasons."""

from servicekit.errors import Conflict, DomainError, NotFound


class BillingDomainError(DomainError):
    """Base of every error raised by the billing domain."""


class InvalidBillingTerms(BillingDomainError):
    """Contract terms that contradict each other or the plan type."""


class InvalidTimeEntry(BillingDomainError):
    """A time entry whose span cannot be counted."""


class EntryOutsideCycle(BillingDomainError):
    """A time entry handed to a cycle it does not start in."""


class MismatchedBillPeriod(BillingDomainError):
    """Usage handed to a bill that does not carry that cycle."""


class ContractUnknown(NotFound):
    """Billing has not (yet) seen the contract's events."""


class BillNotFound(NotFound):
    pass


class NoSuchPeriod(BillingDomainError):
    """The contract has no cycle (or no final bill) by that name."""


class PeriodNotStarted(BillingDomainError):
    """A bill asked for a period whose cycle has not begun: there is nothing to bill yet."""


class BillRunInFuture(BillingDomainError):
    """A bill run asked for bills that are not due yet."""


class BillStatusConflict(Conflict):
    """A status change or main-bill change that the bill's state does not allow."""


class InvalidBillChange(BillingDomainError):
    """A change of a bill that makes no sense whatever its state (a due date before the bill date)."""


class BillIdTaken(Conflict):
    """A new bill was asked for under the id of another contract's or period's bill."""
