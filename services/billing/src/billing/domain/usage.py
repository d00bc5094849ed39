"""Usage of one cycle: how its billable time entries draw on the allowance and what is left uncovered.

Entries draw in order of start time (ties by entry id), minute by minute, so the covered minutes are the
earliest. The allowance is drawn carried-forward units first, then the cycle's own, then top-ups, which
decides how much of the cycle's own allowance is left to carry forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from billing.domain.errors import EntryOutsideCycle, InvalidBillingTerms, InvalidTimeEntry
from billing.domain.terms import BillingTerms, BillRule, EntryTraits, WhenExhausted
from servicekit.business_hours import (
    CATEGORIES,
    MINUTE,
    BusinessCalendar,
    CategoryRun,
    MinuteCategory,
    to_whole_minute,
)
from servicekit.cycles import Cycle
from servicekit.money import CurrencyMismatch, Money


class AllowanceUnit(StrEnum):
    MINUTES = "minutes"
    REQUESTS = "requests"


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """A time entry as billing sees it.

    Its span is [started_at, ended_at) or, when `minutes` is given (a duration or an overridden time
    taken), [started_at, started_at + minutes); instants are cut down to the whole minute.
    """

    entry_id: str
    request_id: str
    started_at: datetime
    ended_at: datetime | None = None
    minutes: int | None = None
    include_non_operational: bool = True
    billable: bool = True
    other_charges: Money | None = None
    traits: EntryTraits = EntryTraits()
    """What bill rules look at: product, work-log type, rate type, custom fields."""
    _span: tuple[datetime, datetime] = field(init=False, repr=False, compare=False)
    """`span()`, worked out once: a bill asks for it several times per entry."""

    def __post_init__(self) -> None:
        if self.minutes is not None and self.minutes < 0:
            raise InvalidTimeEntry(f"time entry {self.entry_id} has a negative duration")
        start = to_whole_minute(self.started_at)
        if self.minutes is not None:
            end = start + timedelta(minutes=self.minutes)
        elif self.ended_at is None:
            raise InvalidTimeEntry(f"time entry {self.entry_id} has neither an end nor a duration")
        else:
            end = to_whole_minute(self.ended_at)
        if end < start:
            raise InvalidTimeEntry(f"time entry {self.entry_id} ends before it starts")
        object.__setattr__(self, "_span", (start, end))

    @classmethod
    def stored(
        cls,
        entry_id: str,
        request_id: str,
        started_at: datetime,
        minutes: int,
        include_non_operational: bool,
        billable: bool,
        other_charges: Money | None,
        traits: EntryTraits,
    ) -> UsageEntry:
        """An entry read back as billing stored it: checked by `__post_init__` when it was made, and
        stored as a duration, so made here without the checks, straight into its slots. A bill run
        reads twenty entries a bill, and the checked, frozen constructor cost twice what this does."""
        entry = object.__new__(cls)
        start = to_whole_minute(started_at)
        _set_entry_id(entry, entry_id)
        _set_request_id(entry, request_id)
        _set_started_at(entry, started_at)
        _set_ended_at(entry, None)
        _set_minutes(entry, minutes)
        _set_include_non_operational(entry, include_non_operational)
        _set_billable(entry, billable)
        _set_other_charges(entry, other_charges)
        _set_traits(entry, traits)
        _set_span(entry, (start, start + minutes * MINUTE))
        return entry

    def span(self) -> tuple[datetime, datetime]:
        """The entry's [start, end) in UTC, on whole minutes."""
        return self._span

    @property
    def draw_order(self) -> tuple[datetime, str]:
        return self._span[0], self.entry_id


def _slot_setter(name: str) -> Callable[[UsageEntry, Any], None]:
    """A slot's own setter, which the frozen dataclass's `__setattr__` does not stand in front of."""
    setter: Callable[[UsageEntry, Any], None] = getattr(UsageEntry, name).__set__
    return setter


_set_entry_id = _slot_setter("entry_id")
_set_request_id = _slot_setter("request_id")
_set_started_at = _slot_setter("started_at")
_set_ended_at = _slot_setter("ended_at")
_set_minutes = _slot_setter("minutes")
_set_include_non_operational = _slot_setter("include_non_operational")
_set_billable = _slot_setter("billable")
_set_other_charges = _slot_setter("other_charges")
_set_traits = _slot_setter("traits")
_set_span = _slot_setter("_span")


class EntryChange(StrEnum):
    """What happened to a time entry; after its period was billed, each is a reason to look again."""

    LOGGED = "logged"
    EDITED = "edited"
    DELETED = "deleted"

    @property
    def reason(self) -> str:
        return f"time entries {self.value} after the bill was made"


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """A time entry as timetracking announced it: its usage, the contract it is attached to (if any
    yet), its version, which orders changes of one entry, and what happened to it. A deleted entry
    is kept as one that no longer bills, so that a late older version cannot bring it back."""

    usage: UsageEntry
    contract_id: UUID | None
    account_id: str
    version: int
    change: EntryChange = EntryChange.LOGGED


@dataclass(frozen=True, slots=True)
class PlacedEntry:
    """A logged entry with the cycle it starts in and the minutes of it that draw on the allowance;
    both unknown (None, its own minutes) while billing has not seen its contract."""

    entry: LoggedEntry
    cycle_index: int | None
    counted_minutes: int
    by_rule: bool = False
    """Priced by a bill rule: it draws nothing and counts as no request (as on the bill)."""


@dataclass(frozen=True, slots=True)
class TopUpPurchase:
    """A top-up bought in a cycle: its units join the whole cycle's allowance, its price goes on a bill."""

    description: str
    units: int
    price: Money


@dataclass(frozen=True, slots=True)
class OtherCharge:
    entry_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class RuleUsage:
    """The counted minutes of a cycle's entries that a bill rule prices."""

    rule: BillRule
    minutes: int


@dataclass(frozen=True, slots=True)
class CycleUsage:
    """What a cycle's billable entries used, and what of it the allowance does not cover.

    Units are minutes for hour-based plans and requests for `per_request`. `used` counts the units that
    draw on the allowance; `remaining` may go negative. Uncovered units are either charged
    (`overage_minutes`, `extra_requests`) under charge_extra, or reported as `not_covered` under block.
    `carried_out` is the unused part of the cycle's own allowance when the terms carry forward.
    """

    cycle: Cycle
    unit: AllowanceUnit
    own_allowance: int
    carried_in: int
    top_up_units: int
    used: int
    covered: int
    overage_minutes: Mapping[MinuteCategory, int]
    extra_requests: int
    not_covered: int
    minutes_by_category: Mapping[MinuteCategory, int]
    dropped_minutes: int
    request_ids: tuple[str, ...]
    carried_out: int
    top_ups: tuple[TopUpPurchase, ...]
    other_charges: tuple[OtherCharge, ...]
    entry_ids: tuple[str, ...]
    priced_by_rules: tuple[RuleUsage, ...] = ()
    """Minutes of entries that bill rules price, in the order of the rules; they draw on nothing."""

    @property
    def total_allowance(self) -> int:
        return self.own_allowance + self.carried_in + self.top_up_units

    @property
    def remaining(self) -> int:
        return self.total_allowance - self.used

    @property
    def is_exhausted(self) -> bool:
        return self.remaining <= 0

    @property
    def total_overage_minutes(self) -> int:
        return sum(self.overage_minutes.values())


@dataclass(frozen=True, slots=True)
class _MinuteDraw:
    used: int
    uncovered: dict[MinuteCategory, int]
    counted: dict[MinuteCategory, int]
    dropped: int


def calculate_cycle_usage(
    terms: BillingTerms,
    cycle: Cycle,
    entries: Iterable[UsageEntry],
    calendar: BusinessCalendar,
    *,
    carried_in: int = 0,
    top_ups: Sequence[TopUpPurchase] = (),
) -> CycleUsage:
    """Usage of `cycle` from the entries that start in it; non-billable entries are ignored.

    `calendar` must read the contract's time zone (see `BusinessCalendar.in_zone`).
    """
    if carried_in < 0:
        raise InvalidBillingTerms("carried-forward allowance cannot be negative")
    for top_up in top_ups:
        if top_up.units < 0:
            raise InvalidBillingTerms(f"top-up {top_up.description!r} has negative units")
        _require_currency(top_up.price, terms.currency)
    billable = sorted((entry for entry in entries if entry.billable), key=lambda entry: entry.draw_order)
    _require_entries_of_cycle(billable, cycle)
    top_up_units = sum(top_up.units for top_up in top_ups)
    total_allowance = terms.allowance_units + carried_in + top_up_units
    # Entries a bill rule prices stand apart: they neither draw on the allowance nor count as requests.
    rule_of = {entry.entry_id: terms.rule_for(entry.traits) for entry in billable}
    drawing = [entry for entry in billable if rule_of[entry.entry_id] is None]
    priced_by_rules, rule_dropped = _price_by_rules(terms, billable, rule_of, calendar)

    # A per_request allowance counts requests, not minutes; its minutes are walked only for the split.
    minute_allowance = total_allowance if terms.plan_type.is_hour_based else 0
    minutes = _draw_minutes(terms, drawing, calendar, minute_allowance)
    request_ids = tuple(dict.fromkeys(entry.request_id for entry in drawing))
    if terms.plan_type.is_hour_based:
        unit, used = AllowanceUnit.MINUTES, minutes.used
        uncovered = sum(minutes.uncovered.values())
    else:
        unit, used = AllowanceUnit.REQUESTS, len(request_ids)
        uncovered = max(0, used - total_allowance)
    covered = min(used, total_allowance)
    charges_extra = terms.when_exhausted is WhenExhausted.CHARGE_EXTRA

    no_overage = dict.fromkeys(CATEGORIES, 0)
    return CycleUsage(
        cycle=cycle,
        unit=unit,
        own_allowance=terms.allowance_units,
        carried_in=carried_in,
        top_up_units=top_up_units,
        used=used,
        covered=covered,
        overage_minutes=minutes.uncovered if charges_extra and unit is AllowanceUnit.MINUTES else no_overage,
        extra_requests=uncovered if charges_extra and unit is AllowanceUnit.REQUESTS else 0,
        not_covered=0 if charges_extra else uncovered,
        minutes_by_category=minutes.counted,
        dropped_minutes=minutes.dropped + rule_dropped,
        request_ids=request_ids,
        carried_out=unused_own_allowance(terms.allowance_units, carried_in, used)
        if terms.carry_forward
        else 0,
        top_ups=tuple(top_ups),
        other_charges=_other_charges(billable, terms.currency),
        entry_ids=tuple(entry.entry_id for entry in billable),
        priced_by_rules=priced_by_rules,
    )


def _price_by_rules(
    terms: BillingTerms,
    billable: Sequence[UsageEntry],
    rule_of: Mapping[str, BillRule | None],
    calendar: BusinessCalendar,
) -> tuple[tuple[RuleUsage, ...], int]:
    """Counted minutes per rule (all of an entry's counted minutes, whatever their category), in rule
    order, and the minutes those entries leave out."""
    minutes: dict[str, int] = {}
    dropped = 0
    for entry in billable:
        rule = rule_of[entry.entry_id]
        if rule is not None:
            runs, entry_dropped = _counted_runs(entry, calendar)
            minutes[rule.name] = minutes.get(rule.name, 0) + sum(run.minutes for run in runs)
            dropped += entry_dropped
    return tuple(
        RuleUsage(rule, minutes[rule.name]) for rule in terms.bill_rules if minutes.get(rule.name)
    ), dropped


def unused_own_allowance(own_allowance: int, carried_in: int, used: int) -> int:
    """What a cycle's own allowance has left to carry forward after `used` units. Carried units are
    drawn first and top-ups last, so only the own allowance's leftover carries, and never more of it."""
    own_used = min(max(used - carried_in, 0), own_allowance)
    return own_allowance - own_used


def minutes_drawing(entry: UsageEntry, calendar: BusinessCalendar, terms: BillingTerms) -> int:
    """The minutes of one entry that draw on the allowance: what it adds to a cycle's `used`.

    Bills (through `calculate_cycle_usage`) and the running usage billing announces count by this one
    rule: every counted minute draws, or only operational ones under deduct-only-operational.
    """
    if terms.rule_for(entry.traits) is not None:
        return 0  # a bill rule prices it apart
    if entry.include_non_operational and not terms.deduct_only_operational:
        start, end = entry.span()
        return (end - start) // MINUTE  # every minute counts and draws: no need to walk the calendar
    runs, _ = _counted_runs(entry, calendar)
    return sum(run.minutes for run in runs if _draws(run, terms))


def _counted_runs(entry: UsageEntry, calendar: BusinessCalendar) -> tuple[list[CategoryRun], int]:
    """The entry's minutes by category in time order, without those it leaves out, and how many it
    leaves out: an entry without non-operational hours counts only its operational minutes."""
    counted: list[CategoryRun] = []
    dropped = 0
    for run in calendar.category_runs(*entry.span()):
        if entry.include_non_operational or run.category is MinuteCategory.OPERATIONAL:
            counted.append(run)
        else:
            dropped += run.minutes
    return counted, dropped


def _draws(run: CategoryRun, terms: BillingTerms) -> bool:
    return not terms.deduct_only_operational or run.category is MinuteCategory.OPERATIONAL


def _draw_minutes(
    terms: BillingTerms, entries: Sequence[UsageEntry], calendar: BusinessCalendar, allowance: int
) -> _MinuteDraw:
    """Walk the entries' minutes in draw order against an allowance of `allowance` minutes."""
    left = allowance
    used = dropped = 0
    uncovered = dict.fromkeys(CATEGORIES, 0)
    counted = dict.fromkeys(CATEGORIES, 0)
    for entry in entries:
        runs, entry_dropped = _counted_runs(entry, calendar)
        dropped += entry_dropped
        for run in runs:
            counted[run.category] += run.minutes
            if not _draws(run, terms):
                uncovered[run.category] += run.minutes
                continue
            drawn = min(left, run.minutes)
            left -= drawn
            used += run.minutes
            uncovered[run.category] += run.minutes - drawn
    return _MinuteDraw(used=used, uncovered=uncovered, counted=counted, dropped=dropped)


def _require_entries_of_cycle(entries: Sequence[UsageEntry], cycle: Cycle) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.entry_id in seen:
            raise InvalidTimeEntry(f"time entry {entry.entry_id} is listed twice")
        seen.add(entry.entry_id)
        if not cycle.contains(to_whole_minute(entry.started_at)):
            raise EntryOutsideCycle(
                f"time entry {entry.entry_id} starts at {entry.started_at.isoformat()}, "
                f"outside cycle {cycle.index} ({cycle.start_date} to {cycle.end_date})"
            )


def _other_charges(entries: Sequence[UsageEntry], currency: str) -> tuple[OtherCharge, ...]:
    charges: list[OtherCharge] = []
    for entry in entries:
        if entry.other_charges is not None:
            _require_currency(entry.other_charges, currency)
            charges.append(OtherCharge(entry.entry_id, entry.other_charges))
    return tuple(charges)


def _require_currency(money: Money, currency: str) -> None:
    if money.currency != currency:
        raise CurrencyMismatch(f"{money} is not in the contract's currency {currency}")
