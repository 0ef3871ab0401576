"""An owner organisation's hall (issue 21 item 2): chosen at registration among its
region's own hall and the parks inside it, changed only by admins reaching both halls
(logged), while the notices it published keep theirs."""

from __future__ import annotations

from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from tests.helpers import bearer, create_staff, csrf_from, org_credit_code, register, register_org, token_for
from tests.integration.agencies.test_api import log_entries
from tests.integration.agencies.test_pages import login
from tests.integration.halls.test_halls import park, staff
from tests.integration.notices.test_api import fields_of, is_problem, published


async def owner_without_org(client: AsyncClient) -> tuple[dict[str, str], str]:
    user = await register(client, role="owner", org=None)
    return bearer(await token_for(client, user["email"])), user["email"]


async def add_park(client: AsyncClient, db: Database, parent: str, code: str) -> None:
    admin = await staff(client, db, Role.admin, "530000")
    response = await client.post("/api/v1/halls", json=park(parent, code), headers=admin)
    assert response.status_code == 201, response.text


# -- registration ---------------------------------------------------------------------------------


async def test_an_organisation_belongs_to_its_regions_hall_unless_it_chooses_a_park(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, "530102", "530102K1")
    headers, _ = await owner_without_org(client)
    assert (await register_org(client, headers, region="530102"))["hall"] == "530102"
    other, _ = await owner_without_org(client)
    org = await register_org(client, other, region="530102", hall="530102K1")
    assert org["hall"] == "530102K1"
    assert (await client.get("/api/v1/owners/org", headers=other)).json()["hall"] == "530102K1"


async def test_a_hall_outside_the_region_is_refused_beside_the_field(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, "530102", "530102K1")
    headers, _ = await owner_without_org(client)
    for hall in ("530103", "530100", "530102K1X", "999999"):  # a sibling, above, unknown
        body = {
            "name": "测试业主单位甲",
            "credit_code": org_credit_code(),
            "region": "530102",
            "hall": hall,
        }
        response = await client.post("/api/v1/owners/org", json=body, headers=headers)
        assert response.status_code == 422 and is_problem(response), response.text
        assert "hall" in fields_of(response)


async def test_the_registration_page_offers_parks_and_says_why_a_choice_is_refused(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, "530102", "530102K1")
    _, email = await owner_without_org(client)
    await login(client, email)
    page = await client.get("/owner")
    assert page.status_code == 200 and 'name="hall"' in page.text and 'value="530102K1"' in page.text
    form = {
        "_csrf_token": csrf_from(page.text),
        "name": "测试业主单位乙",
        "credit_code": "",
        "region": "530103",  # the region changed: the park lies in 530102
        "hall": "530102K1",
        "contact_phone": "",
    }
    form["credit_code"] = org_credit_code()
    refused = await client.post("/owner/org", data=form)
    assert refused.status_code == 422
    assert 'id="e-hall"' in refused.text
    form["region"] = "530102"
    done = await client.post("/owner/org", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    home = await client.get("/owner")
    assert 'href="/halls/530102K1"' in home.text


# -- staff change the hall ------------------------------------------------------------------------


async def test_an_admin_moves_an_organisation_and_its_notices_keep_their_hall(
    client: AsyncClient, db: Database
) -> None:
    await add_park(client, db, "530102", "530102K1")
    owner, _ = await owner_without_org(client)
    org = await register_org(client, owner, region="530102")
    before = await published(client, owner)
    admin = await staff(client, db, Role.admin, "530100")  # reaches 530102 and its park
    response = await client.post(
        f"/api/v1/owners/{org['id']}/hall", json={"hall": "530102K1", "reason": "入驻开发区"}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["hall"] == "530102K1"
    entry = [e for e in await log_entries(client) if e["type"] == "owner.hall_changed"][-1]
    assert {k: entry[k] for k in ("org_id", "from", "to", "reason")} == {
        "org_id": org["id"],
        "from": "530102",
        "to": "530102K1",
        "reason": "入驻开发区",
    }
    assert entry["by"]
    after = await published(client, owner)
    old_page = await client.get(f"/notices/{before['id']}")
    assert 'href="/halls/530102"' in old_page.text  # kept for life
    new_page = await client.get(f"/notices/{after['id']}")
    assert 'href="/halls/530102K1"' in new_page.text


async def test_moving_is_refused_outside_the_reach_or_the_region(client: AsyncClient, db: Database) -> None:
    await add_park(client, db, "530102", "530102K1")
    await add_park(client, db, "530103", "530103K1")
    owner, _ = await owner_without_org(client)
    org = await register_org(client, owner, region="530102")
    url = f"/api/v1/owners/{org['id']}/hall"
    body = {"hall": "530102K1", "reason": "调整"}
    # beside (a sibling county's admin), and a park's admin that reaches the new hall only
    for jurisdiction in ("530103", "530102K1", "530300"):
        response = await client.post(
            url, json=body, headers=await staff(client, db, Role.admin, jurisdiction)
        )
        assert response.status_code == 403 and is_problem(response), response.text
    supervisor = await staff(client, db, Role.supervisor, "530000")
    assert (await client.post(url, json=body, headers=supervisor)).status_code == 403
    assert (await client.post(url, json=body, headers=owner)).status_code == 403
    admin = await staff(client, db, Role.admin, "530000")
    for hall in ("530103K1", "530103", "530100"):  # another county's park, a sibling, above
        response = await client.post(url, json={"hall": hall, "reason": "调整"}, headers=admin)
        assert response.status_code == 422 and fields_of(response) == ["hall"], response.text
    missing = await client.post(url, json={"hall": "530102K1", "reason": " "}, headers=admin)
    assert missing.status_code == 422 and "reason" in fields_of(missing)
    same = await client.post(url, json={"hall": "530102", "reason": "调整"}, headers=admin)
    assert same.status_code == 409
    unknown = await client.post("/api/v1/owners/OW999999/hall", json=body, headers=admin)
    assert unknown.status_code == 404
    assert (await client.get("/api/v1/owners/org", headers=owner)).json()["hall"] == "530102"


async def test_the_console_page_moves_an_organisation(client: AsyncClient, db: Database) -> None:
    await add_park(client, db, "530102", "530102K1")
    owner, _ = await owner_without_org(client)
    org = await register_org(client, owner, region="530102")
    await login(client, await create_staff(db, role=Role.admin, jurisdiction="530102"))
    page = await client.get(f"/supervision/owners/{org['id']}")
    assert page.status_code == 200 and 'id="move-hall"' in page.text
    token = csrf_from(page.text)
    url = f"/supervision/owners/{org['id']}/hall"
    refused = await client.post(url, data={"_csrf_token": token, "hall": "530102K1", "reason": ""})
    assert refused.status_code == 422 and 'id="e-hall-reason"' in refused.text
    done = await client.post(
        url, data={"_csrf_token": token, "hall": "530102K1", "reason": "入驻开发区"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    assert (await client.get("/api/v1/owners/org", headers=owner)).json()["hall"] == "530102K1"
    # a supervisor sees the page but not the form
    client.cookies.clear()
    await login(client, await create_staff(db, role=Role.supervisor, jurisdiction="530102"))
    page = await client.get(f"/supervision/owners/{org['id']}")
    assert page.status_code == 200 and 'id="move-hall"' not in page.text
