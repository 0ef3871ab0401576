"""Rows → OCDS releases, without a database; each release checked against the OCDS 1.1.5
release schema (with the selection extension patched in) and the codelists."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from market.ocds import mapping
from tests.unit.ocds.schemas import codelist, package_errors, release_errors

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PREFIX = "ocds-test00-"
BUYER = mapping.Org(
    id="O-000001",
    name="昆明市生态环境局",
    credit_code="11530100MB0000000X",
    region="530100",
    region_name="昆明市",
)
AGENCIES = {
    f"AG-00000{i}": mapping.Org(
        id=f"AG-00000{i}",
        name=f"云南第{i}环境咨询有限公司",
        credit_code=f"91530100MA0000000{i}",
        region="530100",
        region_name="昆明市",
    )
    for i in range(1, 5)
}
SECRET = "ab" * 32


def notice(**overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = dict(
        id=1,
        public_id="N-000001",
        title="环境影响评价报告编制",
        description="某项目环评",
        category="EIA",
        region="530100",
        budget_fen=12_345_67,
        method="lottery",
        winners=1,
        min_candidates=3,
        bid_deadline=T0 + timedelta(days=3),
        service_days=60,
        direct_agency_id=None,
        direct_justification=None,
        status="open",
        commit="cd" * 32,
        scheme="none",
        terms_sha256="ef" * 32,
        published_at=T0,
        required_level=None,
        org_id=1,
        protocol=2,
        sealing="server",
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def selection(bids: list[dict[str, Any]], **overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = dict(
        notice_id=1,
        closed_seq=10,
        closed_at=T0 + timedelta(days=3),
        secret=SECRET,
        bids=bids,
        openings=None,
        candidates=[[b["agency_id"], 1] for b in bids],
        excluded=[],
        eligible="01" * 32,
        outcome="drawn",
        outcome_seq=11,
        outcome_at=T0 + timedelta(days=3),
        failed_reason=None,
        beacon=None,
        seed="02" * 32,
        order=[b["agency_id"] for b in bids],
        ranking=[b["agency_id"] for b in bids],
        winners=[bids[0]["agency_id"]],
        alternates=[b["agency_id"] for b in bids[1:]],
        waiting_reason=None,
        publicity_ends=T0 + timedelta(days=6),
        final_seq=None,
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def bid(i: int, price: int | None = None) -> dict[str, Any]:
    return {
        "notice_id": "N-000001",
        "bid_id": f"B-00000{i}",
        "agency_id": f"AG-00000{i}",
        "price_fen": price,
        "nonce": f"n{i}",
    }


def award(slot: int, agency: str, since: int, status: str = "holding", **overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = dict(
        id=since * 10 + slot,
        notice_id=1,
        slot=slot,
        agency_public_id=agency,
        status=status,
        since_seq=since,
        ended_seq=None,
        created_at=T0 + timedelta(days=3, seconds=since),
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def ev(seq: int, type_: str, days: float = 0, contract: str | None = None) -> mapping.Event:
    return mapping.Event(seq=seq, type=type_, ts=T0 + timedelta(days=days, seconds=seq), contract_id=contract)


PUBLISHED = [ev(1, "notice.published")]
BIDS = [ev(3, "bid.accepted", 1), ev(4, "bid.accepted", 1), ev(5, "bid.accepted", 1)]
CLOSED = [ev(10, "bidding.closed", 3), ev(11, "selection.drawn", 3)]


def process(**overrides: Any) -> mapping.Process:
    values: dict[str, Any] = dict(
        notice=notice(), category_name="环境影响评价", buyer=BUYER, events=PUBLISHED, agencies=AGENCIES
    )
    values.update(overrides)
    return mapping.Process(**values)


def checked(p: mapping.Process) -> list[dict[str, Any]]:
    releases = mapping.releases(p, prefix=PREFIX, base_url="https://market.example")
    assert releases
    for r in releases:
        assert release_errors(r) == [], (r["id"], release_errors(r))
        json.dumps(r, allow_nan=False)  # plain JSON
        assert set(r["tag"]) <= codelist("releaseTag.csv")
    pkg = mapping.package(
        releases,
        uri="https://market.example/api/v1/ocds/releases",
        published=T0,
        publisher="market",
        base_url="https://market.example",
    )
    assert package_errors(pkg) == []
    assert len({r["id"] for r in releases}) == len(releases)
    return releases


def test_money_is_exact_yuan() -> None:
    assert mapping.yuan(12_345_67) == 12345.67
    assert mapping.yuan(100) == 1 and isinstance(mapping.yuan(100), int)
    assert mapping.yuan(1) == 0.01 and mapping.yuan(10) == 0.1
    assert json.dumps(mapping.yuan(999_999_999_99)) == "999999999.99"


def test_open_lottery_shows_no_bidders_prices_or_secret() -> None:
    (tender,) = checked(process(events=PUBLISHED + BIDS))
    assert tender["ocid"] == "ocds-test00-N-000001" and tender["id"] == "ocds-test00-N-000001-tender-1"
    assert tender["tag"] == ["tender"] and tender["initiationType"] == "tender" and tender["language"] == "zh"
    t = tender["tender"]
    assert t["status"] == "active" and t["procurementMethod"] == "open" and "awardCriteria" not in t
    assert "random draw" in t["awardCriteriaDetails"]
    assert t["value"] == {"amount": 12345.67, "currency": "CNY"}
    assert t["tenderPeriod"]["endDate"] == "2026-03-05T01:00:00Z"
    assert "numberOfTenderers" not in t and "tenderers" not in t
    assert [p["roles"] for p in tender["parties"]] == [["buyer", "procuringEntity"]]
    assert tender["parties"][0]["identifier"] == {
        "scheme": "X-CN-SCOPSR",  # a code starting "1" is issued by 机构编制, not the enterprise register
        "id": BUYER.credit_code,
        "legalName": BUYER.name,
    }
    s = tender["selection"]
    assert s["commit"] == "cd" * 32 and s["fairness"] == "operator"
    for sealed in ("secret", "bids", "candidates", "seed", "order", "ranking", "winners", "holders"):
        assert sealed not in s
    assert "bidsAccepted" not in s["logSeqs"] and s["logSeqs"]["published"] == 1
    assert "AG-00000" not in json.dumps(tender)


def test_lowest_price_after_the_draw_publishes_bidders_prices_and_the_draw() -> None:
    bids = [bid(1, 9_000_00), bid(2, 9_500_50), bid(3, 11_000_00)]
    p = process(
        notice=notice(method="lowest_price", status="selected"),
        events=PUBLISHED + BIDS + CLOSED,
        selection=selection(bids),
        awards=[award(1, "AG-000001", 11)],
        holders=["AG-000001"],
    )
    tender, awarded = checked(p)
    t = tender["tender"]
    assert tender["tag"] == ["tenderUpdate"] and t["status"] == "complete"
    assert t["awardCriteria"] == "priceOnly" and t["numberOfTenderers"] == 3
    assert [x["id"] for x in t["tenderers"]] == ["AG-000001", "AG-000002", "AG-000003"]
    assert awarded["tag"] == ["award"] and awarded["id"].endswith("-award-11")
    (a,) = awarded["awards"]
    assert (
        a["status"] == "pending"
        and a["value"] == {"amount": 9000, "currency": "CNY"}
        and a["suppliers"][0]["id"] == "AG-000001"
    )
    roles = {p["id"]: p["roles"] for p in awarded["parties"]}
    assert roles["AG-000001"] == ["supplier", "tenderer"] and roles["AG-000002"] == ["tenderer"]
    s = awarded["selection"]
    assert (
        s["secret"] == SECRET
        and s["seed"] == "02" * 32
        and s["winners"] == ["AG-000001"]
        and s["holders"] == ["AG-000001"]
    )
    assert [b["priceFen"] for b in s["bids"]] == [9_000_00, 9_500_50, 11_000_00]
    assert (
        s["logSeqs"]["closed"] == 10 and s["logLinks"]["outcome"] == "https://market.example/log/entries/11"
    )


def test_direct_selection() -> None:
    n = notice(
        method="direct",
        status="awarded",
        direct_agency_id="AG-000004",
        direct_justification="唯一具备资质的机构",
    )
    p = process(
        notice=n,
        events=PUBLISHED
        + [
            ev(3, "bid.accepted", 1),
            ev(10, "bidding.closed", 3),
            ev(11, "selection.direct", 3),
            ev(20, "award.final", 6),
        ],
        selection=selection(
            [bid(4)],
            outcome="direct",
            seed=None,
            order=None,
            ranking=None,
            winners=["AG-000004"],
            alternates=[],
            final_seq=20,
        ),
        awards=[award(1, "AG-000004", 11)],
        holders=["AG-000004"],
    )
    tender, awarded = checked(p)
    assert (
        tender["tender"]["procurementMethod"] == "direct"
        and tender["tender"]["procurementMethodRationale"] == "唯一具备资质的机构"
    )
    assert "awardCriteria" not in tender["tender"]
    assert awarded["tag"] == ["awardUpdate"] and awarded["awards"][0]["status"] == "active"
    assert awarded["selection"]["direct"] == {"agencyId": "AG-000004", "justification": "唯一具备资质的机构"}


def test_a_declined_award_is_cancelled_and_the_alternate_pending() -> None:
    bids = [bid(1), bid(2), bid(3)]
    p = process(
        notice=notice(status="selected"),
        events=PUBLISHED + BIDS + CLOSED + [ev(14, "award.declined", 4)],
        selection=selection(bids),
        holders=["AG-000002"],
        awards=[award(1, "AG-000001", 11, status="declined", ended_seq=14), award(1, "AG-000002", 14)],
    )
    _, awarded = checked(p)
    assert awarded["tag"] == ["awardUpdate"] and awarded["id"].endswith("-award-14")
    assert [(a["suppliers"][0]["id"], a["status"]) for a in awarded["awards"]] == [
        ("AG-000001", "cancelled"),
        ("AG-000002", "pending"),
    ]
    assert "value" not in awarded["awards"][0]  # a lottery bid has no price


def test_cancelled_and_failed_tenders() -> None:
    (cancelled,) = checked(
        process(notice=notice(status="cancelled"), events=PUBLISHED + [ev(2, "notice.cancelled", 1)])
    )
    assert cancelled["tag"] == ["tenderCancellation"] and cancelled["tender"]["status"] == "cancelled"
    failed = process(
        notice=notice(status="failed"),
        events=PUBLISHED
        + [ev(3, "bid.accepted", 1), ev(10, "bidding.closed", 3), ev(11, "selection.failed", 3)],
        selection=selection(
            [bid(1)],
            outcome="failed",
            failed_reason="too few candidates",
            seed=None,
            order=None,
            ranking=None,
            winners=None,
            alternates=None,
        ),
    )
    (release,) = checked(failed)
    assert (
        release["tender"]["status"] == "unsuccessful"
        and release["selection"]["failedReason"] == "too few candidates"
    )


def contract(status: str, **overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = dict(
        id=1,
        public_id="C-000001",
        notice_id=1,
        award_id=111,
        amount_fen=11_000_000,
        signed_on=date(2026, 3, 10),
        start_on=date(2026, 3, 11),
        due_on=date(2026, 5, 10),
        status=status,
        stop_reason=None,
        recorded_seq=30,
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def milestone(position: int, status: str = "pending", **overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = dict(
        position=position,
        title=f"第{position}阶段成果",
        due_on=date(2026, 4, 10 * position),
        status=status,
        accepted_at=None,
        overdue_on=None,
    )
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    ("status", "events", "milestones", "tag", "ocds_status", "milestone_statuses"),
    [
        (
            "proposed",
            [(30, "contract.recorded")],
            [milestone(1), milestone(2)],
            ["contract"],
            "pending",
            ["scheduled", "scheduled"],
        ),
        (
            "in_service",
            [
                (30, "contract.recorded"),
                (31, "contract.signed"),
                (32, "milestone.submitted"),
                (33, "milestone.accepted"),
            ],
            [
                milestone(1, "accepted", accepted_at=T0 + timedelta(days=20)),
                milestone(2, overdue_on=date(2026, 4, 21)),
            ],
            ["contractUpdate", "implementationUpdate"],
            "active",
            ["met", "notMet"],
        ),
        (
            "completed",
            [(30, "contract.recorded"), (31, "contract.signed"), (34, "contract.completed")],
            [milestone(1, "accepted", accepted_at=T0 + timedelta(days=20))],
            ["contractTermination"],
            "terminated",
            ["met"],
        ),
        (
            "stopped",
            [(30, "contract.recorded"), (31, "contract.signed"), (34, "contract.stopped")],
            [milestone(1)],
            ["contractTermination"],
            "terminated",
            ["notMet"],
        ),
        (
            "declined",
            [(30, "contract.recorded"), (35, "contract.declined")],
            [milestone(1)],
            ["contractUpdate"],
            "cancelled",
            ["scheduled"],
        ),
    ],
)
def test_contract_stages(
    status: str,
    events: list[tuple[int, str]],
    milestones: list[Any],
    tag: list[str],
    ocds_status: str,
    milestone_statuses: list[str],
) -> None:
    the_award = award(1, "AG-000001", 11)
    extra = [ev(seq, kind, 7, contract="C-000001") for seq, kind in events]
    p = process(
        notice=notice(status="awarded"),
        events=PUBLISHED + BIDS + CLOSED + [ev(20, "award.final", 6)] + extra,
        selection=selection([bid(1), bid(2), bid(3)], final_seq=20),
        awards=[the_award],
        holders=["AG-000001"],
        contracts=[
            mapping.ContractRows(
                contract=contract(status, stop_reason="业主终止" if status == "stopped" else None),
                milestones=milestones,
                award=the_award,
                agency=AGENCIES["AG-000001"],
            )
        ],
    )
    releases = checked(p)
    (release,) = [r for r in releases if "contracts" in r]
    assert (
        release["tag"] == tag and release["id"] == f"ocds-test00-N-000001-contract-C-000001-{events[-1][0]}"
    )
    (c,) = release["contracts"]
    assert c["status"] == ocds_status and c["status"] in codelist("contractStatus.csv")
    assert c["awardID"] == releases[1]["awards"][0]["id"]
    assert c["value"] == {"amount": 110000, "currency": "CNY"}
    assert [m["status"] for m in c["implementation"]["milestones"]] == milestone_statuses
    assert ("dateSigned" in c) == (status in ("in_service", "completed", "stopped"))


def test_unpublished_notice_has_no_releases() -> None:
    assert (
        mapping.releases(process(notice=notice(published_at=None, status="draft"), events=[]), prefix=PREFIX)
        == []
    )


def test_an_empty_package_breaks_only_the_one_release_minimum() -> None:
    """OCDS 1.1.5 asks for at least one release in a package: an empty page is well formed
    in every other respect."""
    pkg = mapping.package(
        [],
        uri="https://market.example/api/v1/ocds/releases",
        published=T0,
        publisher="market",
        base_url="https://market.example",
    )
    assert package_errors(pkg) == ["releases: [] should be non-empty"]
