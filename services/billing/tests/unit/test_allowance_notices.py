"""The notices of a cycle's allowance as it is used: each level and the running out announced once."""

from billing.domain.allowance import (
    AllowanceAvailableAgain,
    AllowanceUsedUp,
    CycleStanding,
    LevelReached,
    account_for_usage,
)

LEVELS = (50, 75, 90, 100)


def test_a_level_is_announced_when_use_reaches_it_and_not_again() -> None:
    standing, notices = account_for_usage(None, used=300, allowance=600, carried_in=0, levels=LEVELS)
    assert notices == [LevelReached(50, 300, 600)]

    standing, notices = account_for_usage(standing, used=320, allowance=600, carried_in=0, levels=LEVELS)
    assert notices == []
    assert standing.level_announced == 50


def test_a_jump_over_several_levels_announces_each_of_them_once() -> None:
    standing, notices = account_for_usage(
        None, used=450, allowance=600, carried_in=0, levels=(50, 75, 80, 90)
    )
    assert notices == [LevelReached(50, 450, 600), LevelReached(75, 450, 600)]

    _, notices = account_for_usage(
        standing, used=672, allowance=600, carried_in=0, levels=(50, 75, 80, 90, 100)
    )
    assert notices == [
        LevelReached(80, 672, 600),
        LevelReached(90, 672, 600),
        LevelReached(100, 672, 600),
        AllowanceUsedUp(672, 600),
    ]


def test_the_allowance_running_out_is_announced_once_with_the_full_level() -> None:
    standing, notices = account_for_usage(None, used=600, allowance=600, carried_in=0, levels=LEVELS)
    assert notices == [*(LevelReached(level, 600, 600) for level in LEVELS), AllowanceUsedUp(600, 600)]

    _, notices = account_for_usage(standing, used=700, allowance=600, carried_in=0, levels=LEVELS)
    assert notices == []


def test_a_top_up_that_grows_the_allowance_starts_the_announcements_afresh() -> None:
    used_up = CycleStanding(
        used=600, allowance=600, carried_in=0, level_announced=100, exhausted_announced=True
    )

    standing, notices = account_for_usage(used_up, used=600, allowance=900, carried_in=0, levels=LEVELS)

    assert notices == [AllowanceAvailableAgain(600, 900), LevelReached(50, 600, 900)]
    assert not standing.exhausted_announced


def test_time_going_from_a_used_up_cycle_is_announced_once_and_running_out_again_is_announced_again() -> None:
    used_up = CycleStanding(
        used=600, allowance=600, carried_in=0, level_announced=100, exhausted_announced=True
    )

    freed, freed_notices = account_for_usage(used_up, used=540, allowance=600, carried_in=0, levels=LEVELS)
    _, still_free = account_for_usage(freed, used=550, allowance=600, carried_in=0, levels=LEVELS)
    _, again = account_for_usage(freed, used=600, allowance=600, carried_in=0, levels=LEVELS)

    assert freed_notices == [AllowanceAvailableAgain(540, 600)]
    assert still_free == []
    assert again == [AllowanceUsedUp(600, 600)]


def test_a_cycle_without_allowance_is_used_up_by_its_first_minute_but_not_before() -> None:
    _, nothing = account_for_usage(None, used=0, allowance=0, carried_in=0, levels=LEVELS)
    _, first_minute = account_for_usage(None, used=1, allowance=0, carried_in=0, levels=LEVELS)

    assert nothing == []
    assert first_minute == [*(LevelReached(level, 1, 0) for level in LEVELS), AllowanceUsedUp(1, 0)]
