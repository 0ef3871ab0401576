"""The dashboards' pure rules: what became of a bid, which piece of work comes first, when
an objection goes up a hall, and a day's deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from market.core.clock import CHINA
from market.dashboards import rules
from market.dashboards.rules import Group, Item, Outcome
from market.halls import rules as halls_rules
from market.selection import rules as selection_rules

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bid", "notice", "selection", "award", "expected"),
    [
        ("standing", "open", None, None, Outcome.waiting_deadline),
        ("standing", "closed", "waiting", None, Outcome.waiting_draw),
        ("standing", "selected", "drawn", "holding", Outcome.won),
        ("standing", "awarded", "drawn", None, Outcome.not_chosen),
        ("standing", "awarded", "drawn", "declined", Outcome.declined_unreplaced),
        ("standing", "awarded", "drawn", "disqualified", Outcome.disqualified),
        ("standing", "failed", "failed", None, Outcome.failed),
        ("standing", "cancelled", None, None, Outcome.cancelled),
        ("withdrawn", "awarded", "drawn", None, Outcome.withdrawn),
        ("withdrawn", "cancelled", None, None, Outcome.cancelled),
    ],
)
def test_bid_outcome(
    bid: str, notice: str, selection: str | None, award: str | None, expected: Outcome
) -> None:
    assert (
        rules.bid_outcome(
            bid_status=bid, notice_status=notice, selection_outcome=selection, award_status=award
        )
        == expected
    )
    assert expected in rules.OUTCOME_LABELS and expected in rules.OUTCOME_NEXT


def item(mine: bool, due: datetime | None, ref: str) -> Item:
    return Item(Group.drafts, title="t", ref=ref, action="a", href="/", link="l", mine=mine, due=due)


def test_the_viewers_own_earliest_deadline_comes_first() -> None:
    items = [
        item(False, NOW, "theirs-soon"),
        item(True, None, "mine-undated"),
        item(True, NOW + timedelta(days=2), "mine-later"),
        item(True, NOW - timedelta(days=1), "mine-overdue"),
    ]
    assert [i.ref for i in rules.ordered(items)] == [
        "mine-overdue",
        "mine-later",
        "mine-undated",
        "theirs-soon",
    ]
    top = rules.first(items)
    assert top is not None and top.ref == "mine-overdue"
    assert rules.first([]) is None


def test_objection_escalates_days_after_filing_or_last_escalation_but_not_from_the_province() -> None:
    filed = NOW - timedelta(days=1)
    assert rules.escalation_at(
        hall="530102", filed_at=filed, escalated_at=None, days=5, province="530000"
    ) == filed + timedelta(days=5)
    later = NOW
    assert rules.escalation_at(
        hall="530100", filed_at=filed, escalated_at=later, days=5, province="530000"
    ) == later + timedelta(days=5)
    assert (
        rules.escalation_at(hall="530000", filed_at=filed, escalated_at=None, days=5, province="530000")
        is None
    )


def test_a_day_deadline_lasts_to_the_end_of_the_china_day() -> None:
    end = rules.end_of_day(date(2026, 12, 6))
    assert end.astimezone(CHINA).date() == date(2026, 12, 6)
    assert (end + timedelta(microseconds=1)).astimezone(CHINA).date() == date(2026, 12, 7)
    overdue = rules.agency_milestone(
        {
            "title": "t",
            "contract_public_id": "C-1",
            "position": 1,
            "milestone_title": "m",
            "due_on": date(2026, 12, 5),
            "status": "pending",
        },
        date(2026, 12, 6),
    )
    assert overdue.overdue and overdue.due_is_day and overdue.href == "/contracts/C-1"


def test_a_draft_past_its_deadline_is_to_edit_not_to_publish() -> None:
    row = {"public_id": "N-1", "title": "t", "status": "draft", "bid_deadline": NOW - timedelta(hours=1)}
    late = rules.owner_notice(row, NOW)
    assert late.href == "/owner/notices/N-1/edit" and late.overdue
    fresh = rules.owner_notice({**row, "bid_deadline": NOW + timedelta(days=3)}, NOW)
    assert fresh.href == "/owner/notices/N-1/publish" and not fresh.overdue


def test_a_failed_selection_is_told_by_its_reason() -> None:
    """The texts say "too few eligible bids" only when that is why, and "the next
    alternate took it" only when one did."""
    assert rules.NO_ALTERNATES == selection_rules.NO_ALTERNATES
    common = {"bid_status": "standing", "selection_outcome": "drawn"}
    too_few = rules.bid_outcome(
        notice_status="failed", award_status=None, failed_reason=selection_rules.TOO_FEW_CANDIDATES, **common
    )
    none_left = rules.bid_outcome(
        notice_status="failed", award_status="declined", failed_reason=selection_rules.NO_ALTERNATES, **common
    )
    assert (too_few, none_left) == (Outcome.failed, Outcome.failed_no_alternates)
    assert "too few eligible bids" in rules.OUTCOME_NEXT[too_few]
    assert "too few" not in rules.OUTCOME_NEXT[none_left] and "no alternate" in rules.OUTCOME_NEXT[none_left]
    taken = rules.bid_outcome(
        notice_status="selected", award_status="declined", replaced_by="AG-000002", **common
    )
    untaken = rules.bid_outcome(notice_status="selected", award_status="declined", replaced_by=None, **common)
    assert (taken, untaken) == (Outcome.declined, Outcome.declined_unreplaced)
    assert "the next alternate took it" in rules.OUTCOME_NEXT[taken]
    assert "alternate took" not in rules.OUTCOME_NEXT[untaken]
    for outcome in Outcome:
        assert outcome in rules.OUTCOME_LABELS and outcome in rules.OUTCOME_NEXT
    # Through the dashboard's row, as the query gives it.
    row = {
        "notice_public_id": "N-000001",
        "title": "t",
        "notice_status": "failed",
        "bid_deadline": NOW,
        "bid_status": "standing",
        "selection_outcome": "drawn",
        "failed_reason": "no_alternates",
        "award_status": None,
        "replaced_by": None,
    }
    assert rules.agency_bid(row).action == rules.OUTCOME_NEXT[Outcome.failed_no_alternates]


@pytest.mark.parametrize("reason", ["too_few_candidates", "no_alternates"])
def test_an_owners_failed_notice_leads_to_its_re_issue_button(reason: str) -> None:
    row = {
        "public_id": "N-000009",
        "title": "t",
        "status": "failed",
        "bid_deadline": NOW,
        "publicity_ends": None,
        "failed_reason": reason,
    }
    item = rules.owner_notice(row, NOW)
    assert item.group == Group.failed and item.href == "/notices/N-000009#owner-h"
    assert item.link == "Re-issue" and "re-issue" in item.action
    assert ("Too few eligible bids" in item.action) == (reason == "too_few_candidates")
    assert ("no alternate was left" in item.action) == (reason == "no_alternates")


JURISDICTIONS = ["530000", "530100", "530102", "530300", "530100KF", "520000", None]
REGIONS = ["530000", "530100", "530102", "530111", "530103", "530300", "530321", "520000", "520102", "110105"]


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS)
def test_the_review_queues_region_prefix_reaches_what_the_hall_rules_reach(jurisdiction: str | None) -> None:
    prefix = rules.agency_reach(jurisdiction)
    for region in REGIONS:
        in_sql = prefix is not None and region.startswith(prefix)
        assert in_sql == halls_rules.reaches(jurisdiction, region), (jurisdiction, region)
