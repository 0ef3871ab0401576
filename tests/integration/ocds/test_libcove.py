"""The OCDS Data Review Tool's library, libcoveocds, run offline (tests/integration/ocds/
libcove.py) over a package with every kind of notice, award and contract the marketplace
makes: 0 validation errors, no undeclared (additional) fields, and its spreadsheet
conversion (flattentool) works. test_export.py runs it over the whole demo's export too."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from market.ocds import mapping
from tests.integration.ocds.libcove import review
from tests.unit.ocds.test_mapping import (
    AGENCIES,
    BIDS,
    CLOSED,
    PREFIX,
    PUBLISHED,
    T0,
    award,
    bid,
    contract,
    ev,
    milestone,
    notice,
    process,
    selection,
)

BASE = "https://zjcs.example.gov.cn"
CONTRACTS = {
    "proposed": ([(30, "contract.recorded")], [milestone(1)]),
    "in_service": (
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
    ),
    "completed": (
        [(30, "contract.recorded"), (31, "contract.signed"), (34, "contract.completed")],
        [milestone(1, "accepted", accepted_at=T0 + timedelta(days=20))],
    ),
    "stopped": (
        [(30, "contract.recorded"), (31, "contract.signed"), (34, "contract.stopped")],
        [milestone(1)],
    ),
    "declined": ([(30, "contract.recorded"), (35, "contract.declined")], [milestone(1)]),
    "disputed": ([(30, "contract.recorded"), (35, "contract.disputed")], [milestone(1)]),
    "set_aside": (
        [(30, "contract.recorded"), (35, "contract.disputed"), (36, "contract.dispute_decided")],
        [milestone(1)],
    ),
}


def every_kind() -> list[mapping.Process]:
    """One process per kind: open, amended, cancelled, failed, lottery and lowest price
    drawn, a declined award passed on, a disqualification, a direct selection, and a
    contract in every status."""
    n = iter(range(1, 100))

    def nid() -> str:
        return f"N-{next(n):06d}"

    three = [bid(1), bid(2), bid(3)]
    revision = type(
        "R", (), {"log_seq": 2, "created_at": T0, "reason": "改期", "changes": {"bid_deadline": 1}}
    )()
    out = [
        process(notice=notice(public_id=nid())),
        process(
            notice=notice(public_id=nid()), events=PUBLISHED + [ev(2, "notice.amended")], revisions=[revision]
        ),
        process(
            notice=notice(public_id=nid(), status="cancelled"),
            events=PUBLISHED + [ev(2, "notice.cancelled", 1)],
        ),
        process(
            notice=notice(public_id=nid(), status="failed"),
            events=PUBLISHED
            + [ev(3, "bid.accepted", 1), ev(10, "bidding.closed", 3), ev(11, "selection.failed", 3)],
            selection=selection(
                [bid(1)],
                outcome="failed",
                failed_reason="候选人不足",
                seed=None,
                order=None,
                ranking=None,
                winners=None,
                alternates=None,
            ),
        ),
        process(
            notice=notice(public_id=nid(), status="selected"),
            events=PUBLISHED + BIDS + CLOSED,
            selection=selection(three),
            awards=[award(0, "AG-000001", 11)],
            holders=["AG-000001"],
        ),
        process(
            notice=notice(public_id=nid(), method="lowest_price", status="selected"),
            events=PUBLISHED + BIDS + CLOSED,
            selection=selection([bid(1, 9_000_00), bid(2, 9_500_50), bid(3, 11_000_00)]),
            awards=[award(0, "AG-000001", 11)],
            holders=["AG-000001"],
        ),
        process(
            notice=notice(public_id=nid(), status="selected"),
            events=PUBLISHED + BIDS + CLOSED + [ev(14, "award.declined", 4)],
            selection=selection(three),
            holders=["AG-000002"],
            awards=[award(0, "AG-000001", 11, status="declined", ended_seq=14), award(0, "AG-000002", 14)],
        ),
        process(
            notice=notice(public_id=nid(), status="selected"),
            events=PUBLISHED + BIDS + CLOSED + [ev(15, "award.disqualified", 4)],
            selection=selection(three),
            holders=["AG-000002"],
            awards=[
                award(0, "AG-000001", 11, status="disqualified", ended_seq=15),
                award(0, "AG-000002", 15),
            ],
        ),
        process(
            notice=notice(
                public_id=nid(),
                method="direct",
                status="awarded",
                direct_agency_id="AG-000004",
                direct_justification="唯一具备资质",
            ),
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
            awards=[award(0, "AG-000004", 11)],
            holders=["AG-000004"],
        ),
    ]
    for status, (events, milestones) in CONTRACTS.items():
        the_award = award(0, "AG-000001", 11)
        out.append(
            process(
                notice=notice(public_id=nid(), status="awarded"),
                events=PUBLISHED
                + BIDS
                + CLOSED
                + [ev(20, "award.final", 6)]
                + [ev(seq, kind, 7, contract="C-000001") for seq, kind in events],
                selection=selection(three, final_seq=20),
                awards=[the_award],
                holders=["AG-000001"],
                contracts=[
                    mapping.ContractRows(
                        contract=contract(
                            status,
                            award_id=the_award.id,
                            stop_reason="业主终止" if status == "stopped" else None,
                        ),
                        milestones=milestones,
                        award=the_award,
                        agency=AGENCIES["AG-000001"],
                    )
                ],
            )
        )
    return out


def every_release() -> list[dict[str, Any]]:
    return [r for p in every_kind() for r in mapping.releases(p, prefix=PREFIX, base_url=BASE)]


def test_libcoveocds_finds_no_error_and_no_undeclared_field_and_converts(tmp_path: Path) -> None:
    releases = every_release()
    assert {t for r in releases for t in r["tag"]} >= {
        "tender",
        "tenderAmendment",
        "tenderUpdate",
        "tenderCancellation",
        "award",
        "awardUpdate",
        "contract",
        "contractUpdate",
        "implementationUpdate",
        "contractTermination",
    }
    pkg = mapping.package(
        releases, uri=f"{BASE}/api/v1/ocds/releases", published=T0, publisher="m", base_url=BASE
    )
    result = review(pkg, tmp_path)
    assert result["validation_errors"] == []
    assert result["additional_fields"] == [] and result["all_additional_fields"] == []
    assert result["extensions"]["invalid_extension"] == {} and result["extensions"]["is_extended_schema"]
    assert result.get("conversion_error") is None and result["conversion"] == "flatten"
    assert (tmp_path / "out" / "flattened.xlsx").exists()
    assert result["additional_closed_codelist_values"] == {}

    records = mapping.record_package(
        [
            mapping.record([r for r in releases if r["ocid"] == ocid])
            for ocid in dict.fromkeys(r["ocid"] for r in releases)
        ],
        uri=f"{BASE}/api/v1/ocds/records",
        published=T0,
        publisher="m",
        base_url=BASE,
    )
    (tmp_path / "records").mkdir()
    result = review(records, tmp_path / "records", convert=False)
    assert result["validation_errors"] == [] and result["additional_fields"] == []
