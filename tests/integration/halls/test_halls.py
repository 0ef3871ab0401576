"""Halls (issue 21): the admins add development parks and set contact lines within their
reach; the public tree and each hall's page show that hall's notices, results and figures
rolled up over the halls below it; the notice list filters by hall the same way."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from market.notices.models import OwnerOrg
from tests.helpers import bearer, create_staff, csrf_from, register, token_for
from tests.integration.agencies.test_api import log_entries
from tests.integration.agencies.test_pages import login
from tests.integration.notices.test_api import fields_of, is_problem, published
from tests.integration.stats.helpers import refresh


def park(parent: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "parent": parent,
        "code": code,
        "name_zh": "测试开发区",
        "name_en": "Test Development Zone",
        **extra,
    }


async def staff(client: AsyncClient, db: Database, role: Role, jurisdiction: str) -> dict[str, str]:
    return bearer(await token_for(client, await create_staff(db, role=role, jurisdiction=jurisdiction)))


async def owner_in(client: AsyncClient, db: Database, region: str, hall: str | None = None) -> dict[str, str]:
    """An owner whose organisation is registered in ``region`` (and moved to ``hall``, a
    park, straight in the table: choosing a hall is another part of the issue)."""
    user = await register(client, role="owner", org=region)
    if hall is not None:
        session = db.sessionmaker()
        async with session:
            await session.execute(
                sa.update(OwnerOrg).where(sa.column("public_id") == user["org"]["id"]).values(hall=hall)
            )
            await session.commit()
    return bearer(await token_for(client, user["email"]))


# -- adding a park --------------------------------------------------------------------------------


async def test_a_province_admin_adds_a_park_which_is_logged_and_shown(
    client: AsyncClient, db: Database
) -> None:
    admin = await staff(client, db, Role.admin, "530000")
    response = await client.post(
        "/api/v1/halls", json=park("530100", "530100kf", reason="省政府批复设立"), headers=admin
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["code"], body["kind"], body["parent"], body["region"]) == (
        "530100KF",
        "park",
        "530100",
        "530100",
    )
    entry = [e for e in await log_entries(client) if e["type"] == "hall.added"][-1]
    assert {k: entry[k] for k in ("code", "parent", "name_zh", "name_en")} == {
        "code": "530100KF",
        "parent": "530100",
        "name_zh": "测试开发区",
        "name_en": "Test Development Zone",
    }
    assert entry["by"].startswith("U") or entry["by"]
    assert entry["reason"] == "省政府批复设立"
    tree = (await client.get("/api/v1/halls")).json()
    kunming = next(c for c in tree["children"] if c["code"] == "530100")
    assert kunming["children"][-1]["code"] == "530100KF"  # parks after the counties
    page = await client.get("/halls")
    assert page.status_code == 200 and 'href="/halls/530100KF"' in page.text
    again = await client.post("/api/v1/halls", json=park("530100", "530100KF"), headers=admin)
    assert again.status_code == 409 and fields_of(again) == ["code"]


async def test_bad_park_codes_and_parents_are_refused_beside_the_field(
    client: AsyncClient, db: Database
) -> None:
    admin = await staff(client, db, Role.admin, "530000")
    for body, field in [
        (park("530100", "530100"), "code"),  # no suffix
        (park("530100", "530100kf!"), "code"),
        (park("530100", "5301001K"), "code"),  # the suffix starts with a letter
        (park("530100", "530102KF"), "code"),  # another hall's digits
        (park("530100", "530100KFABCDE"), "code"),  # too long
        (park("530000", "530000KF"), "parent"),  # not under the province itself
        (park("999999", "999999KF"), "parent"),  # no such hall
        (park("530100", "530100KF", name_zh=" "), "name_zh"),
        (park("530100", "530100KF", name_en="Zone\u202e"), "name_en"),
        (park("530100", "530100KF", reason="a\x00b"), "reason"),
        (park("5301\x00", "530100KF"), "parent"),
    ]:
        response = await client.post("/api/v1/halls", json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert is_problem(response) and fields_of(response) == [field], (body, response.text)
    await client.post("/api/v1/halls", json=park("530102", "530102K1"), headers=admin)
    under_park = await client.post("/api/v1/halls", json=park("530102K1", "530102K1A"), headers=admin)
    assert under_park.status_code == 422 and fields_of(under_park) == ["parent"]


async def test_powers_follow_the_tree(client: AsyncClient, db: Database) -> None:
    county = await staff(client, db, Role.admin, "530102")
    refused = await client.post("/api/v1/halls", json=park("530100", "530100KF"), headers=county)
    assert refused.status_code == 403 and "jurisdiction" in refused.json()["detail"]
    beside = await client.post("/api/v1/halls", json=park("530103", "530103KF"), headers=county)
    assert beside.status_code == 403
    assert (
        await client.post("/api/v1/halls", json=park("530102", "530102KF"), headers=county)
    ).status_code == 201
    prefecture = await staff(client, db, Role.admin, "530100")
    assert (
        await client.post("/api/v1/halls", json=park("530103", "530103KF"), headers=prefecture)
    ).status_code == 201
    assert (
        await client.post("/api/v1/halls", json=park("530300", "530300KF"), headers=prefecture)
    ).status_code == 403
    supervisor = await staff(client, db, Role.supervisor, "530000")
    assert (
        await client.post("/api/v1/halls", json=park("530100", "530100KS"), headers=supervisor)
    ).status_code == 403
    # the contact line: the same reach
    assert (
        await client.put("/api/v1/halls/530100/contact", json={"phone": "0871-1"}, headers=county)
    ).status_code == 403
    bad = await client.put("/api/v1/halls/530102/contact", json={"phone": "call us"}, headers=county)
    assert bad.status_code == 422 and fields_of(bad) == ["phone"]
    ok = await client.put("/api/v1/halls/530102/contact", json={"phone": "0871-63100000"}, headers=county)
    assert ok.status_code == 200 and ok.json()["contact_phone"] == "0871-63100000"
    assert "0871-63100000" in (await client.get("/halls/530102")).text
    assert (await client.get("/api/v1/halls/530102")).json()["contact_phone"] == "0871-63100000"


async def test_the_admin_page_shows_errors_beside_the_field(client: AsyncClient, db: Database) -> None:
    email = await create_staff(db, role=Role.admin, jurisdiction="530100")
    await login(client, email)
    page = await client.get("/admin/halls")
    assert page.status_code == 200
    assert 'value="530102"' in page.text and 'value="530300"' not in page.text  # only what it reaches
    token = csrf_from(page.text)
    bad = await client.post("/admin/halls", data={"_csrf_token": token, **park("530100", "KF530100")})
    assert bad.status_code == 422
    assert 'id="e-code"' in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="KF530100"' in bad.text  # what was typed stays
    good = await client.post("/admin/halls", data={"_csrf_token": token, **park("530100", "530100KF")})
    assert good.status_code in (200, 303)
    assert "530100KF" in (await client.get("/admin/halls")).text
    phone = await client.post(
        "/admin/halls/contact", data={"_csrf_token": token, "hall": "530100", "phone": "x"}
    )
    assert phone.status_code == 422 and 'id="e-phone"' in phone.text
    saved = await client.post(
        "/admin/halls/contact", data={"_csrf_token": token, "hall": "530100", "phone": "0871-12345678"}
    )
    assert saved.status_code in (200, 303)
    assert "0871-12345678" in (await client.get("/halls/530100")).text


# -- the public pages and the list filter --------------------------------------------------------------


async def test_hall_pages_show_only_their_notices_rolled_up(client: AsyncClient, db: Database) -> None:
    admin = await staff(client, db, Role.admin, "530000")
    assert (
        await client.post("/api/v1/halls", json=park("530102", "530102K1"), headers=admin)
    ).status_code == 201
    notices: dict[str, str] = {}
    for key, region, hall in [
        ("wuhua", "530102", None),
        ("panlong", "530103", None),
        ("park", "530102", "530102K1"),
        ("qujing", "530302", None),
    ]:
        owner = await owner_in(client, db, region, hall)
        notice = await published(client, owner, title=f"大厅测试公告{key}")
        notices[key] = notice["id"]

    await refresh(db)  # the statistics' summary, as the server's task keeps it

    def shown(text: str) -> set[str]:
        return {k for k, nid in notices.items() if nid in text}

    expected = {
        "530000": set(notices),
        "530100": {"wuhua", "panlong", "park"},
        "530102": {"wuhua", "park"},
        "530102K1": {"park"},
        "530103": {"panlong"},
        "530300": {"qujing"},
        "530400": set(),
    }
    for code, keys in expected.items():
        page = await client.get(f"/halls/{code}")
        assert page.status_code == 200, (code, page.text[:300])
        assert shown(page.text) == keys, code
        api = (await client.get(f"/api/v1/halls/{code}")).json()
        assert {n["id"] for n in api["open_notices"]} == {notices[k] for k in keys}, code
        assert api["statistics"]["notices_published"] >= len(keys)
        listed = await client.get("/api/v1/notices", params={"hall": code, "limit": 100})
        assert listed.status_code == 200
        assert {n["id"] for n in listed.json()["items"]} & set(notices.values()) == {
            notices[k] for k in keys
        }, code
        list_page = await client.get("/notices", params={"hall": code, "limit": 100})
        assert shown(list_page.text) == keys, code
    # the figures add up: the prefecture is its counties and parks
    figures = {
        c: (await client.get(f"/api/v1/halls/{c}")).json()["statistics"]["notices_published"]
        for c in ("530100", "530102", "530103", "530102K1")
    }
    assert figures["530100"] >= figures["530102"] + figures["530103"]
    assert figures["530102"] >= figures["530102K1"] >= 1
    page = await client.get("/halls/530102")
    assert 'href="/halls/530102K1"' in page.text and 'href="/halls/530100"' in page.text  # below and above


async def test_unknown_halls_are_404_and_a_bad_filter_is_refused(client: AsyncClient) -> None:
    for code in ("999999", "530100ZZ", "abc"):
        page = await client.get(f"/halls/{code}", headers={"Accept": "text/html"})
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        api = await client.get(f"/api/v1/halls/{code}")
        assert api.status_code == 404 and is_problem(api)
    listed = await client.get("/api/v1/notices", params={"hall": "999999"})
    assert listed.status_code == 422 and fields_of(listed) == ["hall"]
    page = await client.get("/notices", params={"hall": "999999"})
    assert page.status_code == 200 and 'id="e-hall"' in page.text


async def test_home_page_lists_the_province_and_prefectures(client: AsyncClient) -> None:
    home = await client.get("/")
    assert 'href="/halls/530000"' in home.text and 'href="/halls/530100"' in home.text
    assert 'href="/halls/530102"' not in home.text  # counties are one click further
    assert 'href="/halls"' in home.text
    english = await client.get("/halls/530100", headers={"Accept-Language": "en"})
    assert english.status_code == 200 and "Kunming" in english.text and "昆明市" in english.text
    assert "Kunming" in (await client.get("/halls", headers={"Accept-Language": "en"})).text
    tree = (await client.get("/api/v1/halls")).json()
    assert tree["code"] == "530000" and len(tree["children"]) == 16
    assert sum(len(p["children"]) for p in tree["children"]) == 129
