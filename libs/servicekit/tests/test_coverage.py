"""The one coverage rule: which contract covers an account's work on a product at an instant."""

from datetime import UTC, date, datetime
from uuid import UUID

from servicekit.coverage import CoverageWindow, covering


def window(n: int, *, products: tuple[str, ...] = (), start: date = date(2026, 1, 1)) -> CoverageWindow:
    return CoverageWindow(
        contract_id=UUID(int=n),
        all_products=not products,
        products=frozenset(products),
        start_date=start,
        end_date=date(2026, 12, 31),
        time_zone="Asia/Tokyo",
    )


def pick(windows: list[CoverageWindow], product: str | None, at: datetime) -> int | None:
    found = covering(windows, lambda w: w, product, at)
    return found.contract_id.int if found else None


def test_a_contract_covers_its_own_days_on_its_own_clock() -> None:
    # 2025-12-31 15:00 UTC is already 1 January 2026 in Tokyo.
    assert pick([window(1)], None, datetime(2025, 12, 31, 15, tzinfo=UTC)) == 1
    assert pick([window(1)], None, datetime(2025, 12, 31, 14, 59, tzinfo=UTC)) is None


def test_work_with_no_product_is_covered_only_by_an_all_products_scope() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert pick([window(1, products=("mail",))], None, at) is None
    assert pick([window(1, products=("mail",))], "mail", at) == 1


def test_should_two_qualify_the_product_scope_wins_then_the_later_start_then_the_lower_id() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert pick([window(1), window(2, products=("mail",))], "mail", at) == 2
    assert pick([window(1), window(2, start=date(2026, 2, 1))], "mail", at) == 2
    assert pick([window(3), window(2)], "mail", at) == 2
