"""The credit formula (market/ratings/rules.py), table-driven."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from market.ratings import rules
from market.ratings.rules import CreditEvent

TODAY = date(2026, 6, 30)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def rating(days: int, *scores: int, voided: bool = False, ref: str = "RT-000001") -> CreditEvent:
    return CreditEvent("rating", ago(days), ref, scores=tuple(scores) or (5, 5, 5, 5, 5), voided=voided)


def penalty(kind: str, days: int, ref: str = "N-1") -> CreditEvent:
    return CreditEvent(kind, ago(days), ref)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([], "100.0", id="no events: the base"),
        pytest.param([rating(10)], "110.0", id="recent all-fives rating: +10"),
        pytest.param([rating(10, 1, 1, 1, 1, 1)], "90.0", id="recent all-ones rating: -10"),
        pytest.param([rating(10, 3, 3, 3, 3, 3)], "100.0", id="average three: nothing"),
        pytest.param([rating(10, 4, 4, 4, 4, 5)], "106.0", id="average 4.2: +6"),
        pytest.param([rating(182)], "110.0", id="six months old: full weight"),
        pytest.param([rating(456)], "105.0", id="halfway to 24 months: half weight"),
        pytest.param(
            [rating(729)], "100.0", id="one day before 24 months: almost nothing (0.02 rounds away)"
        ),
        pytest.param([rating(730)], "100.0", id="24 months old: nothing"),
        pytest.param([rating(2000)], "100.0", id="older: nothing"),
        pytest.param([rating(10, voided=True)], "100.0", id="voided rating: ignored"),
        pytest.param([rating(-1)], "100.0", id="dated after today: not yet"),
        pytest.param([penalty("decline", 30)], "95.0", id="decline: -5"),
        pytest.param([penalty("overdue", 30)], "90.0", id="overdue: -10"),
        pytest.param([penalty("disqualified", 30)], "85.0", id="upheld objection: -15"),
        pytest.param([penalty("disqualified", 729)], "85.0", id="penalty just inside 24 months: full"),
        pytest.param([penalty("disqualified", 730)], "100.0", id="penalty 24 months old: gone"),
        pytest.param([penalty("disqualified", d, ref=str(d)) for d in range(1, 9)], "0.0", id="clamped at 0"),
        pytest.param([rating(d, ref=str(d)) for d in range(1, 13)], "200.0", id="clamped at 200"),
        pytest.param([rating(10), penalty("decline", 20), penalty("overdue", 40)], "95.0", id="sum of all"),
        pytest.param([rating(10, 5, 4, 4, 4, 4)], "106.0", id="round: 4.2 average"),
        pytest.param(
            [rating(300, 5, 5, 5, 5, 4)],
            "107.1",
            id="4.8 average, weight (730-300)/548: 7.06 rounds to 107.1",
        ),
    ],
)
def test_score(events: list[CreditEvent], expected: str) -> None:
    assert rules.score(events, TODAY).score == Decimal(expected)


def test_rounding_is_half_up_to_one_decimal() -> None:
    # 4.8 average (+9) weighted (730-300)/548 = 7.0620...
    value = rules.score([rating(300, 5, 5, 5, 5, 4)], TODAY).score
    assert value == (Decimal(100) + Decimal(9) * Decimal(430) / Decimal(548)).quantize(Decimal("0.1"))
    # (3.25 - 3) * 5 = 1.25, then 101.25 -> 101.3 (half up, not banker's rounding)
    assert rules.clamp_round(Decimal("101.25")) == Decimal("101.3")


def test_contributions_list_what_counted_oldest_first() -> None:
    events = [
        penalty("decline", 5, "N-2"),
        rating(400, ref="RT-1"),
        rating(20, voided=True, ref="RT-2"),
        rating(900, ref="RT-3"),
    ]
    result = rules.score(events, TODAY)
    assert [(c.kind, c.ref) for c in result.contributions] == [("rating", "RT-1"), ("decline", "N-2")]
    assert result.contributions[1].points == Decimal("-5.00") and result.contributions[1].on == ago(5)
    assert result.version == rules.VERSION


def test_history_is_the_score_on_each_events_day_then_today() -> None:
    events = [rating(100, ref="RT-1"), penalty("decline", 50, "N-1"), penalty("overdue", 10, "C-1")]
    points = rules.history(events, TODAY)
    assert [(p.on, p.score, p.kind) for p in points] == [
        (ago(100), Decimal("110.0"), "rating"),
        (ago(50), Decimal("105.0"), "decline"),
        (ago(10), Decimal("95.0"), "overdue"),
        (TODAY, Decimal("95.0"), None),
    ]
    assert rules.history([], TODAY) == [
        rules.HistoryPoint(on=TODAY, score=Decimal("100.0"), kind=None, ref=None)
    ]


def test_weight_falls_linearly() -> None:
    assert [rules.weight(d) for d in (0, 182, 456, 730, -1)] == [1, 1, Decimal("0.5"), 0, 0]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        CreditEvent("praise", TODAY, "x")
