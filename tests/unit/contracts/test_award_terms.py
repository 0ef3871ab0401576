"""``award_errors``: a contract follows the award (docs/contracts.md), without a database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from market.contracts.rules import AwardTerms, award_errors, earliest_due

FINAL = date(2026, 3, 2)
TODAY = date(2026, 3, 10)
LOWEST = AwardTerms(budget_fen=30_000_000, price_fen=26_000_000, service_days=90, final_on=FINAL)
LOTTERY = AwardTerms(budget_fen=30_000_000, price_fen=None, service_days=None, final_on=FINAL)


def fields(terms: AwardTerms, **overrides: object) -> list[str]:
    start = TODAY + timedelta(days=1)
    values: dict[str, object] = {
        "amount_fen": 26_000_000,
        "signed_on": TODAY,
        "start_on": start,
        "due_on": start + timedelta(days=90),
        "today": TODAY,
        **overrides,
    }
    return [e.field for e in award_errors(terms, **values)]  # type: ignore[arg-type]


def test_terms_that_follow_the_award_have_no_errors() -> None:
    assert fields(LOWEST) == []
    assert fields(LOTTERY, amount_fen=1) == [] and fields(LOTTERY, amount_fen=30_000_000) == []
    assert fields(LOWEST, signed_on=FINAL, start_on=TODAY, due_on=TODAY + timedelta(days=90)) == []


@pytest.mark.parametrize("amount", [1, 25_999_999, 26_000_001, 30_000_000, 30_000_001])
def test_a_lowest_price_amount_is_exactly_the_winning_price(amount: int) -> None:
    assert fields(LOWEST, amount_fen=amount) == ["amount_fen"]


def test_a_lottery_amount_is_at_most_the_budget() -> None:
    assert fields(LOTTERY, amount_fen=30_000_001) == ["amount_fen"]


def test_dates_follow_the_final_award_today_and_the_published_period() -> None:
    assert fields(LOWEST, signed_on=FINAL - timedelta(days=1)) == ["signed_on"]
    assert fields(
        LOWEST, start_on=TODAY - timedelta(days=1), due_on=TODAY + timedelta(days=89), signed_on=FINAL
    ) == ["start_on"]
    assert fields(LOWEST, due_on=TODAY + timedelta(days=90)) == [
        "due_on"
    ]  # one day short of 90 from the start
    assert (
        fields(LOTTERY, due_on=TODAY + timedelta(days=2)) == []
    )  # no period published: only start <= due (contract_errors)


def test_earliest_due_counts_the_published_days_from_the_start() -> None:
    assert earliest_due(date(2026, 3, 1), 90) == date(2026, 5, 30)
    assert earliest_due(date(2026, 3, 1), None) == date(2026, 3, 1)
