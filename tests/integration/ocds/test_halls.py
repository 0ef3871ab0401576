"""OCDS per hall (issue 21 item 6): the hall a notice was published in is its procuring
entity; ``hall`` narrows the release list to one hall rolled up, published by the hall."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from tests.helpers import bearer, org_credit_code, register, token_for
from tests.integration.halls.test_halls import park, staff
from tests.integration.notices.test_api import is_problem, published
from tests.integration.ocds.test_export import EMPTY, of, package
from tests.unit.ocds.schemas import package_errors


async def owner_in(client: AsyncClient, region: str, hall: str | None = None) -> dict[str, str]:
    user = await register(client, role="owner", org=None)
    headers = bearer(await token_for(client, user["email"]))
    body: dict[str, Any] = {
        "name": f"测试业主单位{region}",
        "credit_code": org_credit_code(),
        "region": region,
    }
    if hall:
        body["hall"] = hall
    response = await client.post("/api/v1/owners/org", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def test_the_hall_is_the_procuring_entity_and_the_publisher_of_its_package(
    client: AsyncClient, db: Database
) -> None:
    admin = await staff(client, db, Role.admin, "530000")
    assert (
        await client.post("/api/v1/halls", json=park("530100", "530100KF"), headers=admin)
    ).status_code == 201
    wuhua = (await published(client, await owner_in(client, "530102")))["id"]
    zone = (await published(client, await owner_in(client, "530100", "530100KF")))["id"]
    qujing = (await published(client, await owner_in(client, "530300")))["id"]

    everything = await package(client, limit=100)
    assert package_errors(everything) == []
    assert everything["publisher"] == {"name": "中介服务网上超市 (intermediary-services supermarket)"}
    (tender,) = of(everything, zone)
    assert tender["tender"]["procuringEntity"]["id"] == "HALL-530100KF"
    roles = {p["id"]: p["roles"] for p in tender["parties"]}
    assert roles[tender["buyer"]["id"]] == ["buyer"] and roles["HALL-530100KF"] == ["procuringEntity"]
    hall = next(p for p in tender["parties"] if p["id"] == "HALL-530100KF")
    assert hall["identifier"]["scheme"] == "X-MARKET-HALL" and hall["identifier"]["id"] == "530100KF"
    assert of(everything, wuhua)[0]["tender"]["procuringEntity"]["id"] == "HALL-530102"

    kunming = await package(client, hall="530100", limit=100)
    assert package_errors(kunming) == []
    assert {r["tender"]["id"] for r in kunming["releases"]} == {wuhua, zone}
    assert kunming["publisher"]["uid"] == "530100" and kunming["publisher"]["scheme"] == "X-MARKET-HALL"
    assert kunming["publisher"]["name"].startswith("昆明市")
    assert "hall=530100" in kunming["uri"]
    park_only = await package(client, hall="530100KF")
    assert [r["tender"]["id"] for r in park_only["releases"]] == [zone]
    assert [r["tender"]["id"] for r in (await package(client, hall="530300"))["releases"]] == [qujing]
    assert package_errors(await package(client, hall="530103")) == EMPTY  # a hall with no notice
    province = await package(client, hall="530000", limit=100)
    assert len(province["releases"]) == 3 and province["publisher"]["uid"] == "530000"


async def test_an_unknown_hall_is_refused(client: AsyncClient) -> None:
    for code in ("999999", "5301", "530100ZZ", "x'"):
        response = await client.get("/api/v1/ocds/releases", params={"hall": code})
        assert response.status_code == 422 and is_problem(response), response.text
        assert [e["field"] for e in response.json()["errors"]] == ["hall"]
