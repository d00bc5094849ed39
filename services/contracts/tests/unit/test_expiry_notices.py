"""Expiry notices: N days before and N days after expiry, each once, per the contract's settings."""

from __future__ import annotations

from datetime import date

from contracts.domain.contracts import ContractNotifications, Notice, NoticeKind

EXPIRY = date(2026, 12, 31)


def _notified(make_contract, termination_date=None, **settings):
    notifications = ContractNotifications(recipients=("ops@example.com",), **settings)
    return make_contract(notifications=notifications, termination_date=termination_date)


def test_no_notices_are_sent_unless_configured(make_contract) -> None:
    contract = make_contract()

    assert contract.next_notice_on is None
    assert contract.due_notices(date(2027, 6, 1)) == []


def test_the_approaching_notice_is_due_n_days_before_expiry(make_contract) -> None:
    contract = _notified(make_contract, days_before_expiry=30)

    assert contract.next_notice_on == date(2026, 12, 1)
    assert contract.due_notices(date(2026, 11, 30)) == []
    assert contract.due_notices(date(2026, 12, 1)) == [Notice(NoticeKind.EXPIRY_APPROACHING, 30)]


def test_a_notice_is_sent_once(make_contract) -> None:
    contract = _notified(make_contract, days_before_expiry=30)
    contract.due_notices(date(2026, 12, 1))

    assert contract.due_notices(date(2026, 12, 2)) == []
    assert contract.next_notice_on is None


def test_an_approaching_notice_caught_up_late_says_how_many_days_are_left(make_contract) -> None:
    contract = _notified(make_contract, days_before_expiry=30)

    assert contract.due_notices(date(2026, 12, 21)) == [Notice(NoticeKind.EXPIRY_APPROACHING, 10)]


def test_an_approaching_notice_found_only_after_expiry_is_dropped(make_contract) -> None:
    contract = _notified(make_contract, days_before_expiry=30)

    assert contract.due_notices(date(2027, 1, 3)) == []
    assert contract.next_notice_on is None


def test_the_expired_notice_is_due_n_days_after_expiry(make_contract) -> None:
    contract = _notified(make_contract, days_after_expiry=7)

    assert contract.due_notices(date(2027, 1, 6)) == []
    assert contract.due_notices(date(2027, 1, 7)) == [Notice(NoticeKind.EXPIRED, 7)]


def test_an_expired_notice_of_zero_days_goes_out_on_the_first_expired_day(make_contract) -> None:
    contract = _notified(make_contract, days_after_expiry=0)

    assert contract.due_notices(EXPIRY) == []
    assert contract.due_notices(date(2027, 1, 1)) == [Notice(NoticeKind.EXPIRED, 1)]


def test_a_terminated_contract_gets_no_expiry_notices(make_contract) -> None:
    contract = _notified(
        make_contract, days_before_expiry=30, days_after_expiry=7, termination_date=date(2026, 6, 30)
    )

    assert contract.next_notice_on is None
    assert contract.due_notices(date(2027, 1, 7)) == []
