"""The bid path's one-statement context (market/bids/queries.py) read into the plain
facts the eligibility rule takes: the same facts the ORM path builds."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from market.agencies import rules as agency_rules
from market.bids.queries import bid_context

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "role": "agency",
        "is_active": True,
        "agency_id": 7,
        "agency_public_id": "AG-000007",
        "agency_status": "approved",
        "agency_region": "530100",
        "agency_status_until": None,
        "categories": ["EIA", "SURVEY"],
        "qualifications": json.dumps(
            [
                ["EIA", None, "HP-1", "2027-03-01", "approved"],
                ["SURVEY", "A", "KC-2", "2026-12-31", "pending"],
            ]
        ),
        "notice_id": 3,
        "notice_public_id": "N-000003",
        "notice_status": "open",
        "bid_deadline": NOW,
        "method": "lottery",
        "budget_fen": 30_000_000,
        "direct_agency_id": None,
        "category": "EIA",
        "required_level": None,
        "region": "530000",
        "avoid": json.dumps({"AG-000009": "关联企业"}),
        "standing": False,
        "related": False,
        "now": NOW,
        "bid_number": 42,
        "protocol": 2,
        "sealing": "server",
    }
    base.update(overrides)
    return base


def test_agency_and_notice_become_the_rule_s_facts() -> None:
    context = bid_context(row())
    assert context.bid_id == "B-000042"
    assert context.facts == agency_rules.AgencyFacts(
        agency_id="AG-000007",
        status="approved",
        region="530100",
        categories=frozenset({"EIA", "SURVEY"}),
        qualifications=(
            agency_rules.Qualification("EIA", None, "HP-1", date(2027, 3, 1), approved=True),
            agency_rules.Qualification("SURVEY", "A", "KC-2", date(2026, 12, 31), approved=False),
        ),
    )
    # A province-wide notice is open to agencies from anywhere.
    assert context.requirements == agency_rules.Requirements(
        category="EIA", min_level=None, region_scope=None, avoid={"AG-000009": "关联企业"}
    )
    assert agency_rules.eligibility(context.facts, context.requirements, date(2026, 11, 27))


def test_json_already_decoded_is_taken_as_it_is() -> None:
    parsed = bid_context(row(qualifications=[["EIA", None, "HP-1", "2027-03-01", "approved"]], avoid={}))
    assert parsed.facts is not None and len(parsed.facts.qualifications) == 1
    assert parsed.requirements is not None and dict(parsed.requirements.avoid) == {}


def test_suspension_and_blacklisting_carry_their_end_date() -> None:
    until = date(2027, 5, 1)
    suspended = bid_context(row(agency_status="suspended", agency_status_until=until)).facts
    blacklisted = bid_context(row(agency_status="blacklisted", agency_status_until=until)).facts
    assert suspended is not None and (suspended.suspended_until, suspended.blacklisted_until) == (until, None)
    assert blacklisted is not None and (blacklisted.suspended_until, blacklisted.blacklisted_until) == (
        None,
        until,
    )
    assert not agency_rules.eligibility(
        suspended, agency_rules.Requirements(category="EIA"), date(2026, 11, 27)
    )


def test_a_prefecture_notice_is_scoped_to_its_region() -> None:
    requirements = bid_context(row(region="530100", required_level="A", category="SURVEY")).requirements
    assert requirements is not None and (requirements.region_scope, requirements.min_level) == ("530100", "A")


def test_no_agency_or_no_notice_leaves_that_side_empty() -> None:
    no_agency = bid_context(
        row(agency_id=None, agency_public_id=None, categories=None, qualifications="[]", bid_number=None)
    )
    assert no_agency.facts is None and no_agency.bid_id is None
    no_notice = bid_context(
        row(notice_id=None, notice_public_id=None, notice_status=None, avoid="{}", bid_number=None)
    )
    assert no_notice.requirements is None and no_notice.facts is not None
