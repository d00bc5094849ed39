"""How a cycle's allowance is announced as it is used: levels reached and the allowance running out.

Billing tells the help desk when a cycle's use of its allowance reaches a level (a percentage) and when
the allowance is used up, once each per cycle. A top-up that grows the allowance starts the levels
afresh against the larger allowance; when a used-up allowance has some left again (a top-up, time
deleted or made non-billable) that is announced too, and running out again is announced again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CycleStanding:
    """A cycle's use of its allowance as billing last counted it, and what it has announced of it.

    Units are minutes for hour-based plans and requests for `per_request`. `allowance` is the whole
    allowance: the cycle's own, what was carried in, and top-ups.
    """

    used: int
    allowance: int
    carried_in: int
    level_announced: int = 0
    exhausted_announced: bool = False

    @property
    def percent_used(self) -> int:
        """Whole percent, rounded down; nothing used is 0 % even of no allowance."""
        if self.used == 0:
            return 0
        return 100 if self.allowance == 0 else self.used * 100 // self.allowance


@dataclass(frozen=True, slots=True)
class LevelReached:
    percent: int
    used: int
    allowance: int


@dataclass(frozen=True, slots=True)
class AllowanceUsedUp:
    used: int
    allowance: int


@dataclass(frozen=True, slots=True)
class AllowanceAvailableAgain:
    """A cycle announced as used up has allowance left again: time went, or a top-up came."""

    used: int
    allowance: int


UsageNotice = LevelReached | AllowanceUsedUp | AllowanceAvailableAgain


def account_for_usage(
    previous: CycleStanding | None,
    *,
    used: int,
    allowance: int,
    carried_in: int,
    levels: Sequence[int],
) -> tuple[CycleStanding, list[UsageNotice]]:
    """The cycle's new standing after its use grew to `used`, and the notices that are now due.
    `levels` are in ascending order."""
    announced = previous.level_announced if previous else 0
    exhausted = previous.exhausted_announced if previous else False
    notices: list[UsageNotice] = []
    if exhausted and used < allowance:
        # Coverage of a plan that blocks follows this: the help desk must hear that work is covered again.
        notices.append(AllowanceAvailableAgain(used, allowance))
        exhausted = False
    if previous is not None and allowance > previous.allowance:
        announced = 0  # a top-up grew the allowance: the levels are announced against it anew
    standing = CycleStanding(used, allowance, carried_in, announced, exhausted)
    # Each level is announced, even when one batch of time crosses several: a help desk may act on
    # the contract's own level and on 100 % differently.
    for level in levels:
        if announced < level <= standing.percent_used:
            notices.append(LevelReached(level, used, allowance))
            announced = level
    if used >= allowance and used > 0 and not exhausted:
        notices.append(AllowanceUsedUp(used, allowance))
        exhausted = True
    return CycleStanding(used, allowance, carried_in, announced, exhausted), notices
