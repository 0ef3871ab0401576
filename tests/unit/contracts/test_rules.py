"""The pure rules of contracts: dates and amount, the signing window, overdue milestones,
completion, and yuan typed on a form."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from market.contracts import rules
from market.contracts.rules import MilestoneDates

START, DUE = date(2026, 12, 1), date(2027, 2, 28)


def fields(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "amount_fen": 12_000_000,
        "signed_on": date(2026, 11, 30),
        "start_on": START,
        "due_on": DUE,
        "milestones": [MilestoneDates("初稿", date(2027, 1, 15)), MilestoneDates("终稿", DUE)],
        **overrides,
    }
    return [e.field for e in rules.contract_errors(**values)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"amount_fen": 0}, ["amount_fen"]),
        ({"amount_fen": -1}, ["amount_fen"]),
        ({"amount_fen": 1}, []),
        ({"signed_on": START}, []),  # signed the day the service starts
        ({"signed_on": START + timedelta(days=1)}, ["signed_on"]),
        ({"start_on": DUE, "milestones": [MilestoneDates("一次交付", DUE)]}, []),  # a one-day service
        (
            {"start_on": DUE + timedelta(days=1), "signed_on": DUE},
            ["due_on", "milestones[0].due_on", "milestones[1].due_on"],
        ),
        ({"milestones": []}, ["milestones"]),
        ({"milestones": [MilestoneDates("早于开始", START - timedelta(days=1))]}, ["milestones[0].due_on"]),
        ({"milestones": [MilestoneDates("晚于到期", DUE + timedelta(days=1))]}, ["milestones[0].due_on"]),
        (
            {"milestones": [MilestoneDates("首日", START), MilestoneDates("末日", DUE)]},
            [],
        ),  # both ends included
        (
            {"milestones": [MilestoneDates("终稿", DUE), MilestoneDates("初稿", START)]},
            ["milestones[1].due_on"],
        ),
        (
            {"milestones": [MilestoneDates("a", START), MilestoneDates("b", START)]},
            [],
        ),  # the same day is in order
        (
            {
                "milestones": [
                    MilestoneDates("a", date(2027, 1, 10)),
                    MilestoneDates("b", date(2027, 1, 1)),
                    MilestoneDates("c", date(2027, 1, 5)),
                ]
            },
            ["milestones[1].due_on", "milestones[2].due_on"],
        ),  # each compared with the latest before it
        ({"milestones": [MilestoneDates("  ", START)]}, ["milestones[0].title"]),
    ],
)
def test_contract_errors_name_each_field(overrides: dict[str, object], expected: list[str]) -> None:
    assert fields(**overrides) == expected


FINAL = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("final_on", "signed", "today", "days", "overdue"),
    [
        (FINAL, False, FINAL, 30, False),
        (FINAL, False, FINAL + timedelta(days=30), 30, False),  # the last day to sign
        (FINAL, False, FINAL + timedelta(days=31), 30, True),
        (FINAL, True, FINAL + timedelta(days=365), 30, False),  # signed: never overdue
        (None, False, FINAL + timedelta(days=365), 30, False),  # not final yet
        (FINAL, False, FINAL + timedelta(days=1), 0, True),
    ],
)
def test_unsigned_overdue(final_on: date | None, signed: bool, today: date, days: int, overdue: bool) -> None:
    assert (
        rules.unsigned_overdue(final_on=final_on, signed=signed, today=today, contract_days=days) is overdue
    )
    if final_on is not None:
        assert rules.sign_by(final_on, days) == final_on + timedelta(days=days)


MILESTONE_DUE = date(2027, 1, 15)


@pytest.mark.parametrize(
    ("status", "today", "overdue_on", "flag"),
    [
        ("pending", MILESTONE_DUE, None, False),  # due today is not late
        ("pending", MILESTONE_DUE + timedelta(days=1), None, True),
        ("returned", MILESTONE_DUE + timedelta(days=1), None, True),
        ("submitted", MILESTONE_DUE + timedelta(days=9), None, False),  # handed in: the owner's turn
        ("accepted", MILESTONE_DUE + timedelta(days=9), None, False),
        (
            "pending",
            MILESTONE_DUE + timedelta(days=9),
            MILESTONE_DUE + timedelta(days=1),
            False,
        ),  # flagged once
    ],
)
def test_milestone_overdue(status: str, today: date, overdue_on: date | None, flag: bool) -> None:
    assert (
        rules.milestone_overdue(status=status, due_on=MILESTONE_DUE, overdue_on=overdue_on, today=today)
        is flag
    )


@pytest.mark.parametrize(
    ("statuses", "done"),
    [
        ([], False),
        (["accepted"], True),
        (["accepted", "accepted"], True),
        (["accepted", "submitted"], False),
        (["returned"], False),
    ],
)
def test_all_accepted(statuses: list[str], done: bool) -> None:
    assert rules.all_accepted(statuses) is done


FINAL = date(2026, 1, 1)  # the window (30 days) ends on 2026-01-31


@pytest.mark.parametrize(
    ("recorded_on", "signed_on", "disputed", "today", "counts"),
    [
        (None, None, False, date(2026, 6, 1), False),  # the owner never recorded: the owner's delay
        (date(2026, 1, 5), None, False, date(2026, 1, 31), False),  # the last day is still in time
        (date(2026, 1, 5), None, False, date(2026, 2, 1), True),  # the agency let it wait
        (date(2026, 1, 5), date(2026, 2, 3), False, date(2026, 6, 1), True),  # signed late
        (date(2026, 1, 5), date(2026, 1, 20), False, date(2026, 6, 1), False),
        (
            date(2026, 1, 31),
            None,
            False,
            date(2026, 2, 7),
            False,
        ),  # recorded on the last day: 7 days to confirm
        (date(2026, 1, 31), None, False, date(2026, 2, 8), True),
        (date(2026, 1, 5), None, True, date(2026, 6, 1), False),  # the agency disputed the terms
    ],
)
def test_an_unsigned_award_counts_against_the_agency_only_when_it_kept_the_owner_waiting(
    recorded_on: date | None, signed_on: date | None, disputed: bool, today: date, counts: bool
) -> None:
    assert (
        rules.unsigned_counts_against_agency(
            final_on=FINAL,
            recorded_on=recorded_on,
            signed_on=signed_on,
            disputed=disputed,
            today=today,
            contract_days=30,
        )
        is counts
    )
    assert not rules.unsigned_counts_against_agency(
        final_on=None,
        recorded_on=recorded_on,
        signed_on=signed_on,
        disputed=disputed,
        today=today,
        contract_days=30,
    )
