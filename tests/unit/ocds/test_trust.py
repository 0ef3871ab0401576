"""Open data a re-user can trust (issue 22): the licence, the scheme by code type, UTC
instants in timeline order, values and places, amendments linked, the extension declaring
every field, and a validator that checks formats."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from market.ocds import mapping
from market.ocds.api import EXTENSION_DIR
from tests.unit.ocds.schemas import SCHEMAS, package_errors, release_errors, release_schema
from tests.unit.ocds.test_mapping import (
    AGENCIES,
    BIDS,
    CLOSED,
    PREFIX,
    PUBLISHED,
    T0,
    award,
    bid,
    checked,
    contract,
    ev,
    milestone,
    notice,
    process,
    selection,
)

BASE = "https://zjcs.example.gov.cn"


def lottery_with_contract(signed_day_offset: float = 0) -> tuple[mapping.Process, Any]:
    """A lottery won, its award final, and a contract signed the same China day as the award."""
    the_award = award(0, "AG-000001", 11)
    signed = ev(31, "contract.signed", 3.2, contract="C-000001")
    p = process(
        notice=notice(status="awarded"),
        events=PUBLISHED
        + BIDS
        + CLOSED
        + [ev(20, "award.final", 3.1), ev(30, "contract.recorded", 3.15, contract="C-000001"), signed],
        selection=selection([bid(1), bid(2), bid(3)], final_seq=20),
        awards=[the_award],
        holders=["AG-000001"],
        contracts=[
            mapping.ContractRows(
                # signed_on is the award's own China day: its local midnight precedes the award
                contract=contract(
                    "in_service", signed_on=(T0 + timedelta(days=3)).date(), award_id=the_award.id
                ),
                milestones=[milestone(1)],
                award=the_award,
                agency=AGENCIES["AG-000001"],
            )
        ],
    )
    return p, signed


def test_packages_carry_the_data_licence_and_our_policy_page() -> None:
    p, _ = lottery_with_contract()
    pkg = mapping.package(
        mapping.releases(p, prefix=PREFIX, base_url=BASE),
        uri=BASE,
        published=T0,
        publisher="m",
        base_url=BASE,
    )
    assert pkg["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert pkg["publicationPolicy"] == f"{BASE}/data#licence"
    records = mapping.record_package([], uri=BASE, published=T0, publisher="m", base_url=BASE)
    assert records["license"] == pkg["license"] and records["publicationPolicy"] == pkg["publicationPolicy"]


@pytest.mark.parametrize(
    ("code", "scheme"),
    [
        ("11530100MB0000000X", "X-CN-SCOPSR"),  # 机关 (机构编制)
        ("12530100MB0000000X", "X-CN-SCOPSR"),  # 事业单位 (机构编制)
        ("51530100MJ0000000X", "X-CN-MCA"),  # 社会团体 (民政)
        ("31530000MD0000000X", "X-CN-MOJ"),  # 律师事务所 (司法行政)
        ("91530100MA0000000X", "CN-SAIC"),  # 企业 (工商)
        ("92530100MA0000000X", "CN-SAIC"),  # 个体工商户 (工商)
        ("N2530100MF0000000X", "X-CN-MARA"),  # 村级集体经济组织 (农业农村)
        ("Y1530100MF0000000X", "X-CN-USCC"),  # 其他
        ("530100-short", "X-CN-USCC"),  # not a unified code
    ],
)
def test_the_scheme_follows_the_registration_authority(code: str, scheme: str) -> None:
    org = mapping.Org(id="O-1", name="x", credit_code=code, region="530100")
    assert mapping.party(org, ["buyer"])["identifier"]["scheme"] == scheme


def test_dates_are_utc_instants_in_timeline_order() -> None:
    p, signed = lottery_with_contract()
    tender, awarded, contracted = checked(p)
    (c,) = contracted["contracts"]
    assert c["dateSigned"] == mapping.rfc3339(signed.ts)
    tender_start = tender["tender"]["tenderPeriod"]["startDate"]
    award_date = awarded["awards"][0]["date"]
    for value in (tender_start, award_date, c["dateSigned"], c["period"]["startDate"]):
        assert value.endswith("Z"), value
    assert tender_start < award_date < c["dateSigned"]
    # a China day as a UTC instant: Beijing midnight is 16:00 the day before
    assert mapping.china_day(T0.date()) == "2026-03-01T16:00:00Z"


def test_lottery_awards_carry_the_contract_value_and_places_start_at_one() -> None:
    p, _ = lottery_with_contract()
    _, awarded, _ = checked(p)
    (a,) = awarded["awards"]
    assert a["value"] == {"amount": 110000, "currency": "CNY"}
    assert "第 1 名" in a["title"] and "place 1" in a["title"]


def test_amendments_name_the_release_they_amend() -> None:
    revision = type(
        "R", (), {"log_seq": 2, "created_at": T0, "reason": "改期", "changes": {"bid_deadline": 1}}
    )()
    p = process(events=PUBLISHED + [ev(2, "notice.amended")], revisions=[revision])
    (tender,) = checked(p)
    (amendment,) = tender["tender"]["amendments"]
    assert amendment["amendsReleaseID"] == f"{PREFIX}N-000001-tender-1"
    assert amendment["releaseID"] == tender["id"] == f"{PREFIX}N-000001-tender-2"

    declined = process(
        notice=notice(status="selected"),
        events=PUBLISHED + BIDS + CLOSED + [ev(14, "award.declined", 4)],
        selection=selection([bid(1), bid(2), bid(3)]),
        holders=["AG-000002"],
        awards=[award(0, "AG-000001", 11, status="declined", ended_seq=14), award(0, "AG-000002", 14)],
    )
    _, awarded = checked(declined)
    first, replacement = awarded["awards"]
    assert first["amendments"][0]["amendsReleaseID"].endswith("-award-11")
    assert first["amendments"][0]["releaseID"] == awarded["id"]
    assert "amendments" not in replacement


def test_the_validator_checks_formats() -> None:
    p, _ = lottery_with_contract()
    release = checked(p)[0]
    assert release_errors(release) == []
    bad = {**release, "date": "06/12/2026 01:31"}
    assert any("date" in e and "date-time" in e for e in release_errors(bad))
    pkg = mapping.package([release], uri=BASE, published=T0, publisher="m", base_url=BASE)
    assert any("uri" in e for e in package_errors({**pkg, "publicationPolicy": "not a uri"}))


# -- every field the releases use is declared -------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def undeclared(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Field paths in ``value`` that ``node`` (of ``schema``) does not declare."""
    node = _resolve(schema, node)
    out: list[str] = []
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key, item in value.items():
            if key not in props:
                out.append(f"{path}/{key}")
            else:
                out += undeclared(schema, props[key], item, f"{path}/{key}")
    elif isinstance(value, list):
        items = node.get("items")
        if value and not isinstance(items, dict):
            out.append(f"{path}[] (no items)")
        for item in value:
            out += undeclared(schema, items or {}, item, f"{path}[]")
    return out


def test_the_extension_declares_every_field_the_releases_use() -> None:
    schema = release_schema()
    p, _ = lottery_with_contract()
    for release in checked(p):
        assert undeclared(schema, schema, release) == [], release["id"]
    meta = json.loads((EXTENSION_DIR / "extension.json").read_text(encoding="utf-8"))
    assert meta["documentationUrl"]["en"] and meta["name"]["en"] and meta["description"]["en"]
    patch = json.loads((EXTENSION_DIR / "release-schema.json").read_text(encoding="utf-8"))

    def described(node: dict[str, Any], path: str) -> list[str]:
        missing = [] if "$ref" in node or ("title" in node and "description" in node) else [path]
        for key, child in node.get("properties", {}).items():
            missing += described(child, f"{path}/{key}")
        if isinstance(node.get("items"), dict) and node["items"].get("properties"):
            missing += described(node["items"], f"{path}[]")
        return missing

    missing = described(patch["definitions"]["Selection"], "Selection")
    for name in ("Award", "Contract"):
        missing += described(
            patch["definitions"][name]["properties"]["statusDetails"], f"{name}/statusDetails"
        )
    assert missing == []
    assert (SCHEMAS / "release-schema.json").exists()
