"""Pure rules of public selection: candidates at closing, the draw over logged values,
replacements, and what the selection record shows before and after closing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market import protocol
from market.agencies.rules import AgencyFacts, Qualification, Requirements
from market.selection import rules

TODAY = date(2026, 11, 27)
BASE = AgencyFacts(
    agency_id="AG-000001",
    status="approved",
    region="530102",
    categories=frozenset({"EIA"}),
    qualifications=(
        Qualification(
            category="EIA", level=None, certificate_no="HP-1", valid_until=date(2028, 1, 1), approved=True
        ),
    ),
)
NOTICE = Requirements(category="EIA")


def bid(agency_id: str, **facts: Any) -> rules.StandingBid:
    doc = {
        "notice_id": "N-000001",
        "bid_id": f"B-{agency_id[-3:]}",
        "agency_id": agency_id,
        "price_fen": None,
    }  # an MSP/2 bid document
    return rules.StandingBid(document=doc, facts=replace(BASE, agency_id=agency_id, **facts))


def test_eligible_bidders_become_candidates_in_canonical_order_with_weight_one() -> None:
    decided = rules.candidates_at_close([bid("AG-000003"), bid("AG-000001"), bid("AG-000002")], NOTICE, TODAY)
    assert decided.candidates == [("AG-000001", 1), ("AG-000002", 1), ("AG-000003", 1)]
    assert decided.excluded == []


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"status": "suspended"}, "suspended"),
        ({"status": "blacklisted"}, "blacklisted"),
        ({"categories": frozenset({"SAFETY_ASSESSMENT"})}, "category"),
    ],
)
def test_a_bidder_that_lost_its_standing_since_bidding_is_excluded_with_its_reason(
    facts: dict[str, Any], reason: str
) -> None:
    decided = rules.candidates_at_close([bid("AG-000002", **facts), bid("AG-000001")], NOTICE, TODAY)
    assert decided.candidates == [("AG-000001", 1)]
    assert decided.excluded == [{"agency_id": "AG-000002", "reason": reason}]


def test_an_avoided_agency_is_excluded_at_closing() -> None:
    notice = Requirements(category="EIA", avoid={"AG-000001": "与业主存在关联关系"})
    decided = rules.candidates_at_close([bid("AG-000001")], notice, TODAY)
    assert decided.excluded == [{"agency_id": "AG-000001", "reason": "avoided"}]


def test_a_price_above_the_budget_in_force_at_closing_is_excluded() -> None:
    """Issue 19, item 3: an owner who cuts the budget after the bids are in cannot have a
    bid above the new cap win: at closing every price is judged against the cap in force."""

    def priced(agency_id: str, price: int) -> rules.StandingBid:
        standing = bid(agency_id)
        return rules.StandingBid(document={**standing.document, "price_fen": price}, facts=standing.facts)

    bids = [priced("AG-000001", 26_000_000), priced("AG-000002", 25_000_000), priced("AG-000003", 29_000_000)]
    decided = rules.candidates_at_close(bids, NOTICE, TODAY, budget_fen=25_000_000)
    assert decided.candidates == [("AG-000002", 1)]  # at the cap is within it
    assert decided.excluded == [
        {"agency_id": "AG-000001", "reason": rules.OVER_BUDGET},
        {"agency_id": "AG-000003", "reason": rules.OVER_BUDGET},
    ]
    assert rules.OVER_BUDGET in rules.EXCLUSION_REASONS
    # lottery bids carry no price, and an ineligible bidder keeps its own first reason
    assert rules.candidates_at_close([bid("AG-000004")], NOTICE, TODAY, budget_fen=1).candidates == [
        ("AG-000004", 1)
    ]
    suspended = rules.StandingBid(
        document={**bid("AG-000005").document, "price_fen": 99},
        facts=replace(BASE, agency_id="AG-000005", status="suspended"),
    )
    assert rules.candidates_at_close([suspended], NOTICE, TODAY, budget_fen=1).excluded == [
        {"agency_id": "AG-000005", "reason": "suspended"}
    ]


def test_on_a_direct_notice_only_the_named_agency_can_be_a_candidate() -> None:
    decided = rules.candidates_at_close(
        [bid("AG-000001"), bid("AG-000002")], NOTICE, TODAY, direct_agency_id="AG-000002"
    )
    assert decided.candidates == [("AG-000002", 1)]
    assert decided.excluded == [{"agency_id": "AG-000001", "reason": rules.NOT_NAMED}]


def test_draw_reproduces_vector_v1() -> None:
    secret = bytes.fromhex("f9b04710fe955f048de2b05a6ec4613dc47cff7a6588548b7ef1a9b353e9fb80")
    candidates = [("AG-004", 1), ("AG-001", 1), ("AG-003", 1), ("AG-002", 1), ("AG-005", 1)]
    result = rules.draw(
        notice_id="N-000001",
        method="lottery",
        k=1,
        secret=secret,
        candidates=candidates,
        bids=[],
        scheme="none",
        beacon=b"",
    )
    assert result.seed.hex() == "f1a5980ef247c8c2abe130f08ed038fc561f7a2ef6b566fd897417e627901d86"
    assert result.order == ["AG-004", "AG-005", "AG-002", "AG-003", "AG-001"]
    assert (result.winners, result.alternates) == (["AG-004"], ["AG-005", "AG-002", "AG-003", "AG-001"])


def test_draw_reproduces_vector_v3_with_prices_from_the_bid_documents() -> None:
    secret = bytes.fromhex("12906dc71fbc3500a12ed35015bedc70b1a5617787fbd7a46b606166979a5d3a")
    signature = bytes.fromhex(
        "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
    )
    prices = {"AG-101": 980000, "AG-102": 950000, "AG-103": 900000, "AG-104": 900000}
    bids = [{"agency_id": a, "price_fen": p} for a, p in prices.items()]
    result = rules.draw(
        notice_id="N-000003",
        method="lowest_price",
        k=1,
        secret=secret,
        candidates=[(a, 1) for a in prices],
        bids=bids,
        scheme="drand/quicknet/657413",
        beacon=protocol.beacon_value(signature),
    )
    assert result.order == ["AG-101", "AG-102", "AG-104", "AG-103"]
    assert result.ranking == ["AG-104", "AG-103", "AG-102", "AG-101"]
    assert result.winners == ["AG-104"]


@pytest.mark.parametrize(
    ("alternates", "used", "expected"),
    [
        (["A", "B", "C"], ["W"], "A"),
        (["A", "B", "C"], ["W", "A"], "B"),
        (["A", "B"], ["W", "A", "B"], None),
        ([], ["W"], None),
    ],
)
def test_the_replacement_is_the_first_alternate_that_has_not_held_the_award(
    alternates: list[str], used: list[str], expected: str | None
) -> None:
    assert rules.next_alternate(alternates, used) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=30), min_size=0, max_size=10, unique=True),
    st.integers(min_value=1, max_value=4),
)
def test_replacements_walk_the_alternates_in_order_and_never_repeat(
    alternate_numbers: list[int], declines: int
) -> None:
    alternates = [f"AG-{n:03d}" for n in alternate_numbers]
    used = ["AG-999"]
    seen = []
    for _ in range(declines):
        nxt = rules.next_alternate(alternates, used)
        if nxt is None:
            break
        seen.append(nxt)
        used.append(nxt)
    assert seen == alternates[: len(seen)]
    assert len(set(seen)) == len(seen)


def notice(**overrides: Any) -> SimpleNamespace:
    values = {
        "public_id": "N-000001",
        "status": "open",
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
        "commit": "ab" * 32,
        "scheme": "none",
        "terms_sha256": "cd" * 32,
        "direct_agency_id": None,
        "direct_justification": None,
        "protocol": 2,
        "sealing": "server",
    }
    return SimpleNamespace(**(values | overrides))


def closed_selection(**overrides: Any) -> SimpleNamespace:
    """A stored selection row after closing (a draw), as ``selection_record`` reads it."""
    values = {
        "waiting_reason": None,
        "secret": "ef" * 32,
        "bids": [],
        "openings": None,
        "candidates": [["AG-000001", 1]],
        "excluded": [],
        "eligible": "01" * 32,
        "publicity_ends": datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        "failed_reason": None,
        "outcome": "drawn",
        "beacon": None,
        "seed": "02" * 32,
        "order": ["AG-000001"],
        "ranking": ["AG-000001"],
        "winners": ["AG-000001"],
        "alternates": [],
    }
    return SimpleNamespace(**(values | overrides))


def test_the_record_before_closing_withholds_everything_sealed() -> None:
    record = rules.selection_record(
        notice=notice(), selection=None, seqs={"notice.published": [0]}, holders=[], base_url="http://x"
    )
    assert record["secret"] is None and record["bids"] is None and record["candidates"] is None
    assert record["openings"] is None and record["sealed"] is None
    assert record["seqs"]["bids_accepted"] is None and record["seqs"]["bids_withdrawn"] is None
    assert record["seqs"]["published"] == 0
    assert (record["protocol"], record["sealing"]) == (2, "server")
    assert record["fairness"] == "operator" and record["fairness_note"]
    assert record["verify_command"] == "python3 ops/verify_log.py --url http://x --notice N-000001"


def test_a_beacon_scheme_is_not_called_operator_fair() -> None:
    record = rules.selection_record(
        notice=notice(scheme="drand/quicknet/34525012"), selection=None, seqs={}, holders=[], base_url=""
    )
    assert record["fairness"] == "beacon" and record["fairness_note"] is None


def test_an_msp1_record_before_closing_withholds_its_bid_entries_too() -> None:
    # A notice published before MSP/2 logged bid.accepted entries under its id; the record
    # still lists none of them before the close.
    msp1 = notice(protocol=1, sealing=None)
    record = rules.selection_record(
        notice=msp1,
        selection=None,
        seqs={"notice.published": [0], "bid.accepted": [1, 2], "bid.withdrawn": [3]},
        holders=[],
        base_url="",
    )
    assert record["seqs"]["bids_accepted"] is None and record["seqs"]["bids_withdrawn"] is None
    assert record["bids"] is None and record["openings"] is None and record["sealed"] is None
    assert (record["protocol"], record["sealing"]) == (1, None)


def test_an_msp2_record_after_closing_shows_the_openings_and_every_sealed_entry_they_claim() -> None:
    openings = [
        {
            "bid": {
                "agency_id": "AG-000002",
                "bid_id": "B-000001",
                "notice_id": "N-000001",
                "price_fen": None,
            },
            "salt": "aa" * 32,
            "seq": 7,
            "withdrawn": {"salt": "bb" * 32, "seq": 12},
        },
        {
            "bid": {
                "agency_id": "AG-000001",
                "bid_id": "B-000002",
                "notice_id": "N-000001",
                "price_fen": None,
            },
            "salt": "cc" * 32,
            "seq": 9,
            "withdrawn": None,
        },
        {
            "bid": {
                "agency_id": "AG-000002",
                "bid_id": "B-000003",
                "notice_id": "N-000001",
                "price_fen": None,
            },
            "salt": "dd" * 32,
            "seq": 13,
            "withdrawn": None,
        },
    ]
    standing = [openings[1]["bid"], openings[2]["bid"]]
    record = rules.selection_record(
        notice=notice(status="selected"),
        selection=closed_selection(bids=standing, openings=openings),
        seqs={"notice.published": [0], "bidding.closed": [20], "selection.drawn": [21]},
        holders=["AG-000001"],
        base_url="",
    )
    assert record["openings"] == openings and record["bids"] == standing
    assert record["sealed"] == [7, 9, 12, 13]  # bids and the withdrawal, sorted
    # An MSP/2 sealed entry names no notice: there are no per-notice bid entries to list.
    assert record["seqs"]["bids_accepted"] is None and record["seqs"]["bids_withdrawn"] is None
    assert record["seqs"]["closed"] == 20 and record["seqs"]["outcome"] == 21


def test_an_msp1_record_after_closing_lists_its_bid_entries_and_no_openings() -> None:
    bids = [
        {
            "agency_id": "AG-000001",
            "bid_id": "B-000002",
            "nonce": "00" * 16,
            "notice_id": "N-000001",
            "price_fen": None,
        }
    ]
    record = rules.selection_record(
        notice=notice(status="selected", protocol=1, sealing=None),
        selection=closed_selection(bids=bids, openings=None),
        seqs={
            "notice.published": [0],
            "bid.accepted": [1, 2],
            "bid.withdrawn": [3],
            "bidding.closed": [5],
            "selection.drawn": [6],
        },
        holders=["AG-000001"],
        base_url="",
    )
    assert record["seqs"]["bids_accepted"] == [1, 2] and record["seqs"]["bids_withdrawn"] == [3]
    assert record["bids"] == bids and record["openings"] is None and record["sealed"] is None
    assert (record["protocol"], record["sealing"]) == (1, None)


def test_an_agency_that_is_one_party_with_the_owner_is_excluded_at_closing() -> None:
    """Issue 19, item 4: linked (or sharing the credit code) since it bid, it still cannot win."""
    decided = rules.candidates_at_close(
        [bid("AG-000001"), bid("AG-000002", status="suspended")],
        NOTICE,
        TODAY,
        related=frozenset({"AG-000001", "AG-000002"}),
    )
    assert decided.candidates == []
    assert decided.excluded == [
        {"agency_id": "AG-000001", "reason": "related_to_owner"},
        {"agency_id": "AG-000002", "reason": "related_to_owner"},
    ]
