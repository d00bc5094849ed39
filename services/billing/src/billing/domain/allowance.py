"""How a cycle's allowance is announced as it is used: levels reached and the allowance running out.

Billing tells the help desk when a cycle's use of its allowance reaches a level (a percentage) and when
the allowance is used up, once each per cycle. A top-up that grows the allowance starts the
announcements afresh against the larger allowance.
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


UsageNotice = LevelReached | AllowanceUsedUp


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
    if previous is not None and allowance > previous.allowance:
        announced, exhausted = 0, False  # a top-up grew the allowance: announce against it anew
    standing = CycleStanding(used, allowance, carried_in, announced, exhausted)
    notices: list[UsageNotice] = []
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
