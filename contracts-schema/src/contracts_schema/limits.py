"""The maximum size of every text, list and batch the services take, in one place.

They are checked at the edge, where a request or command comes in (the REST bodies and the command
models), so that no event a service publishes can exceed a topic's maximum message size: every event
is built from what came in through these limits. `contracts_schema.sizes` builds the largest event of
each kind from them and measures it; its test fails when a limit would let one grow past
`MAX_MESSAGE_BYTES`. The table in the README of contracts-schema lists them for readers.

Events and stored states keep the bounds they were first published with (a consumer must still read
every message it was ever sent); their field descriptions name the maximum the edge applies.
"""

from __future__ import annotations

from datetime import date
from typing import Final

MAX_MESSAGE_BYTES: Final = 1_048_576
"""A topic's maximum message size: Kafka's default `max.message.bytes` (1 MiB, plus a record's few
bytes of overhead) and the producer's default `max.request.size`."""

MAX_EVENT_BYTES: Final = MAX_MESSAGE_BYTES - 16_384
"""An event's JSON (the CloudEvent): the rest of a record is its key, headers and Kafka's overhead."""

JSON_BYTES_PER_CHARACTER: Final = 4
"""The most a character of an edge text takes in a JSON message: texts refuse control characters but
tab, line feed and carriage return (2 bytes escaped), so a code point outside the BMP (4 bytes of
UTF-8) is the worst."""

# --- texts, in characters ---------------------------------------------------------------------------
ID_LENGTH: Final = 100
"""Account, request, task and rep ids, products, work-log and rate types, contract numbers."""
NAME_LENGTH: Final = 200
"""Names of calendars, plans, top-up plans and contracts."""
RULE_NAME_LENGTH: Final = 100
DESCRIPTION_LENGTH: Final = 4000
"""Descriptions of plans, top-up plans, contracts and time entries."""
NOTES_LENGTH: Final = 4000
REASON_LENGTH: Final = 2000
"""Why a contract was terminated, a bill voided, a billed entry changed."""
EMAIL_LENGTH: Final = 320
"""An e-mail address (RFC 5321: 64 for the local part, @, 255 for the domain)."""
TIME_ZONE_LENGTH: Final = 64
PERIOD_LENGTH: Final = 20
CUSTOM_FIELD_NAME_LENGTH: Final = 64
CUSTOM_FIELD_VALUE_LENGTH: Final = 500
RULE_VALUE_LENGTH: Final = 500
"""A value a bill rule's criterion compares with (a custom field's value may be this long)."""

# --- lists ------------------------------------------------------------------------------------------
WORKING_HOURS: Final = 10
"""Intervals of working time in a calendar's day."""
HOLIDAYS: Final = 1000
PRODUCTS: Final = 100
"""Products in a contract's scope."""
RECIPIENTS: Final = 20
"""Addresses a contract's notices go to."""
TOP_UP_PLANS: Final = 50
"""Top-up plans a support plan offers."""
BILL_RULES: Final = 20
RULE_CRITERIA: Final = 10
CRITERION_VALUES: Final = 50
RULE_VALUES_TOTAL_LENGTH: Final = 20_000
"""Characters of all the criterion values of a plan's bill rules together: a plan's terms travel in
every contract event, twice in a renewal, so their rules are bounded as a whole too."""
CUSTOM_FIELDS: Final = 20
BATCH: Final = 500
"""Entries in one batch of time entries; entry ids in one bulk billable marking."""

# --- numbers and dates ------------------------------------------------------------------------------
MAX_AMOUNT_DIGITS: Final = 9
"""Money amounts at the edge are from 0 to below 10^9, in whole minor units of their currency."""
MAX_ALLOWANCE: Final = 100_000
"""Hours or requests of a cycle's allowance, and of a top-up."""
MAX_ENTRY_MINUTES: Final = 60 * 24 * 31
"""A time entry's span or time taken: 31 days."""
FIRST_DATE: Final = date(2000, 1, 1)
LAST_DATE: Final = date(2099, 12, 31)
"""Dates (contract dates, holidays, due dates) and instants at the edge fall in [FIRST_DATE, LAST_DATE]:
nothing a billing system meets is outside, and date arithmetic never leaves the calendar."""
MAX_PAGE_OFFSET: Final = 1_000_000
"""The largest `offset` of a paged list."""
