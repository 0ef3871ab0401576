"""Issue 19, item 2: which amendments tighten the terms (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from market.core.errors import InvalidInput
from market.notices import rules

LEVELS = ("A", "B", "C")  # highest first


@pytest.mark.parametrize(
    ("changes", "tight"),
    [
        ({"required_level": ["C", "B"]}, ["required_level"]),
        ({"required_level": [None, "C"]}, ["required_level"]),
        ({"required_level": ["B", "C"]}, []),
        ({"required_level": ["B", None]}, []),
        ({"required_level": ["Z", "C"]}, ["required_level"]),  # off the ladder: not provably looser
        ({"budget_fen": [100, 99]}, ["budget_fen"]),
        ({"budget_fen": [100, 101]}, []),
        ({"service_days": [90, 60]}, ["service_days"]),
        ({"service_days": [None, 60]}, ["service_days"]),
        ({"service_days": [60, 90]}, []),
        ({"service_days": [60, None]}, []),
        ({"title": ["a", "b"], "description": ["x", "y"], "bid_deadline": ["t1", "t2"]}, []),
        (
            {"required_level": ["C", "A"], "budget_fen": [100, 50], "service_days": [9, 8]},
            ["required_level", "budget_fen", "service_days"],
        ),
    ],
)
def test_tightened(changes: dict[str, list[Any]], tight: list[str]) -> None:
    assert rules.tightened(LEVELS, changes) == tight


def test_refusal_names_every_tightened_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.refuse_tightening(
            LEVELS, {"budget_fen": [100, 50], "service_days": [9, 8], "title": ["a", "b"]}
        )
    assert [e.field for e in caught.value.errors] == ["budget_fen", "service_days"]
    rules.refuse_tightening(LEVELS, {"budget_fen": [100, 150]})
