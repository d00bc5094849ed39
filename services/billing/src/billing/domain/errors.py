"""Errors the billing domain raises; entrypoints map them to 4xx responses or dead-letter reasons."""


class BillingDomainError(Exception):
    """Base of every error raised by the billing domain."""


class InvalidCalendar(BillingDomainError):
    """A business-hours calendar that cannot decide minute categories."""


class InvalidContractPeriod(BillingDomainError):
    """Contract dates that cannot be split into bill cycles."""


class InvalidBillingTerms(BillingDomainError):
    """Contract terms that contradict each other or the plan type."""


class InvalidTimeEntry(BillingDomainError):
    """A time entry whose span cannot be counted."""


class EntryOutsideCycle(BillingDomainError):
    """A time entry handed to a cycle it does not start in."""


class MismatchedBillPeriod(BillingDomainError):
    """Usage handed to a bill that does not carry that cycle."""
