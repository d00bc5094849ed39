"""Every message type on the wire, its body model, and the topic it travels on.

Topics are named `<service>.<aggregate>.<version>`; each has a `.dlq` twin for messages that could not
be processed. Keys keep related messages on one partition: contract and bill messages by contract id,
time-entry messages by account id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts_schema import billing, contracts, timetracking
from contracts_schema.primitives import WireModel

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    description: str
    messages: dict[str, type[WireModel]] = field(default_factory=dict)
    kind: str = "events"
    answered_on: str | None = None
    """For a command topic: the event topic its owner answers each command on (what an integration reads)."""

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


CALENDARS = Topic(
    "contracts.calendars.v1",
    1,
    "calendar id",
    "Business-hours calendars as they stand after each change.",
    {"contracts.calendar.saved": contracts.CalendarSaved},
)
PLANS = Topic(
    "contracts.plans.v1",
    1,
    "plan id",
    "Support plans as they stand after each change.",
    {
        "contracts.plan.saved": contracts.SupportPlanSaved,
        "contracts.top_up_plan.saved": contracts.TopUpPlanSaved,
        "contracts.top_up_plan.deleted": contracts.TopUpPlanDeleted,
    },
)
CONTRACTS = Topic(
    "contracts.contracts.v1",
    6,
    "contract id",
    "Every change of a contract, with its whole state.",
    {
        "contracts.contract.created": contracts.ContractCreated,
        "contracts.contract.updated": contracts.ContractUpdated,
        "contracts.contract.status_changed": contracts.ContractStatusChanged,
        "contracts.contract.terminated": contracts.ContractTerminated,
        "contracts.contract.renewed": contracts.ContractRenewed,
        "contracts.contract.topped_up": contracts.ContractToppedUp,
        "contracts.contract.deleted": contracts.ContractDeleted,
        "contracts.contract.expiry_approaching": contracts.ContractExpiryApproaching,
        "contracts.contract.expired_notice": contracts.ContractExpiredNotice,
        "contracts.contract.command_rejected": contracts.ContractCommandRejected,
    },
)
CONTRACT_COMMANDS = Topic(
    "contracts.contract-commands.v1",
    6,
    "contract id",
    "Commands from integrations; each is answered on contracts.contracts.v1 or dead-lettered.",
    {
        "contracts.contract.create": contracts.CreateContract,
        "contracts.contract.top_up": contracts.TopUpContract,
        "contracts.contract.renew": contracts.RenewContract,
        "contracts.contract.terminate": contracts.TerminateContract,
    },
    kind="commands",
    answered_on="contracts.contracts.v1",
)
TIME_ENTRIES = Topic(
    "timetracking.time-entries.v1",
    6,
    "account id",
    "Time entries logged, changed and deleted, and the answers to commands on them.",
    {
        "timetracking.time_entry.logged": timetracking.TimeEntryLogged,
        "timetracking.time_entry.changed": timetracking.TimeEntryChanged,
        "timetracking.time_entry.deleted": timetracking.TimeEntryDeleted,
        "timetracking.time_entry.rejected": timetracking.TimeEntryRejected,
        "timetracking.time_entries.marked": timetracking.TimeEntriesMarked,
    },
)
TIME_ENTRY_COMMANDS = Topic(
    "timetracking.time-entry-commands.v1",
    6,
    "account id",
    "Commands from integrations; each is answered on timetracking.time-entries.v1 or dead-lettered.",
    {
        "timetracking.time_entry.log": timetracking.LogTimeEntry,
        "timetracking.time_entries.log": timetracking.LogTimeEntries,
        "timetracking.time_entry.edit": timetracking.EditTimeEntry,
        "timetracking.time_entry.delete": timetracking.DeleteTimeEntry,
        "timetracking.time_entries.mark_billable": timetracking.MarkTimeEntriesBillable,
    },
    kind="commands",
    answered_on="timetracking.time-entries.v1",
)
BILLS = Topic(
    "billing.bills.v1",
    6,
    "contract id",
    "Bills made (drafted or issued) and every later change of one: status, main bill, edits, flags.",
    {
        "billing.bill.issued": billing.BillIssued,
        "billing.bill.drafted": billing.BillDrafted,
        "billing.bill.updated": billing.BillUpdated,
        "billing.bill.status_changed": billing.BillStatusChanged,
        "billing.bill.main_changed": billing.BillMainChanged,
        "billing.bill.needs_regeneration": billing.BillNeedsRegeneration,
        "billing.bill.reconciled": billing.BillReconciled,
        "billing.bill.command_rejected": billing.BillCommandRejected,
    },
)
USAGE = Topic(
    "billing.usage.v1",
    6,
    "contract id",
    "Allowance levels reached, allowances used up, and allowances available again.",
    {
        "billing.usage.threshold_reached": billing.UsageThresholdReached,
        "billing.usage.allowance_exhausted": billing.AllowanceExhausted,
        "billing.usage.allowance_restored": billing.AllowanceRestored,
    },
)
BILLING_COMMANDS = Topic(
    "billing.bill-commands.v1",
    6,
    "contract id",
    "Commands from integrations; each is answered on billing.bills.v1 or dead-lettered.",
    {
        "billing.bill.generate": billing.GenerateBill,
        "billing.bill.issue": billing.IssueBill,
        "billing.bill.send": billing.SendBill,
        "billing.bill.pay": billing.PayBill,
        "billing.bill.void": billing.VoidBill,
        "billing.bill.mark_main": billing.MarkBillMain,
        "billing.bill.regenerate": billing.RegenerateBill,
        "billing.bill.edit": billing.EditBill,
        "billing.bill.reconcile": billing.ReconcileBill,
    },
    kind="commands",
    answered_on="billing.bills.v1",
)

TOPICS: tuple[Topic, ...] = (
    CALENDARS,
    PLANS,
    CONTRACTS,
    CONTRACT_COMMANDS,
    TIME_ENTRIES,
    TIME_ENTRY_COMMANDS,
    BILLS,
    USAGE,
    BILLING_COMMANDS,
)

MESSAGE_TYPES: dict[str, type[WireModel]] = {
    name: model for topic in TOPICS for name, model in topic.messages.items()
}
_TYPE_OF_MODEL: dict[type[WireModel], str] = {model: name for name, model in MESSAGE_TYPES.items()}


class UnknownMessageType(LookupError):
    pass


def message_type_of(model: type[WireModel]) -> str:
    try:
        return _TYPE_OF_MODEL[model]
    except KeyError:
        raise UnknownMessageType(f"{model.__name__} is not a registered message") from None


def model_of(message_type: str) -> type[WireModel]:
    try:
        return MESSAGE_TYPES[message_type]
    except KeyError:
        raise UnknownMessageType(f"unknown message type {message_type!r}") from None


def topic_of(message_type: str) -> Topic:
    for topic in TOPICS:
        if message_type in topic.messages:
            return topic
    raise UnknownMessageType(f"unknown message type {message_type!r}")
