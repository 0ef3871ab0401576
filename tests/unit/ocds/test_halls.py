"""The hall in OCDS (issue 21 item 6): the owner organisation stays the buyer, the hall
the notice was published in is the procuring entity, and a package of one hall's processes
is published by the hall. Every release and package stays valid against OCDS 1.1.5."""

from __future__ import annotations

from market.ocds import mapping
from tests.unit.ocds.schemas import codelist, package_errors, release_errors
from tests.unit.ocds.test_mapping import BIDS, CLOSED, PREFIX, T0, award, bid, process, selection

HALL = mapping.Hall("530100KF", "昆明经济技术开发区", "Kunming Economic and Technological Development Zone")
BASE = "https://market.example"


def test_the_hall_is_the_procuring_entity_and_the_buyer_stays_the_organisation() -> None:
    releases = mapping.releases(process(hall=HALL), prefix=PREFIX, base_url=BASE)
    (tender,) = releases
    assert release_errors(tender) == []
    assert tender["buyer"]["id"] == process().buyer.id  # type: ignore[union-attr]
    assert tender["tender"]["procuringEntity"] == {
        "id": "HALL-530100KF",
        "name": "昆明经济技术开发区公共资源交易中介超市",
    }
    roles = {p["id"]: p["roles"] for p in tender["parties"]}
    assert roles == {tender["buyer"]["id"]: ["buyer"], "HALL-530100KF": ["procuringEntity"]}
    hall = next(p for p in tender["parties"] if p["id"] == "HALL-530100KF")
    assert hall["identifier"] == {
        "scheme": mapping.HALL_SCHEME,
        "id": "530100KF",
        "legalName": "昆明经济技术开发区公共资源交易中介超市",
    }
    assert {r for p in tender["parties"] for r in p["roles"]} <= codelist("partyRole.csv")


def test_every_stage_names_the_hall_and_stays_valid() -> None:
    p = process(
        hall=HALL,
        events=[*process().events, *BIDS, *CLOSED],
        selection=selection([bid(1), bid(2), bid(3)]),
        awards=[award(1, "AG-000001", 11)],
    )
    releases = mapping.releases(p, prefix=PREFIX, base_url=BASE)
    assert len(releases) == 2
    for r in releases:
        assert release_errors(r) == [], r["id"]
        assert any(party["id"] == "HALL-530100KF" for party in r["parties"])
    pkg = mapping.package(
        releases,
        uri=f"{BASE}/api/v1/ocds/releases?hall=530100KF",
        published=T0,
        publisher=mapping.hall_publisher(HALL, base_url=BASE),
        base_url=BASE,
    )
    assert package_errors(pkg) == []
    assert pkg["publisher"] == {
        "name": "昆明经济技术开发区公共资源交易中介超市",
        "scheme": mapping.HALL_SCHEME,
        "uid": "530100KF",
        "uri": f"{BASE}/halls/530100KF",
    }
