"""Issue 21, item 3: staff powers follow the tree. Administrators grant, move and revoke
staff below them (each a log entry), act only on the accounts and agencies their
jurisdiction reaches, blacklisting is the province's, and witnesses are registered by the
province's supervisors. Through the API and the pages, refusals included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from market.accounts.models import Role
from market.core.db import Database
from market.security import passwords
from tests.helpers import PASSWORD, bearer, create_staff, csrf_from, register, token_for
from tests.integration.agencies.test_api import agency_body

PROVINCE, KUNMING, WUHUA, PANLONG, QUJING = "530000", "530100", "530102", "530103", "530300"
OUTSIDE = "This is outside your jurisdiction."
EN = {"Accept-Language": "en"}
REASON = {"reason": "岗位调整，经局务会研究决定"}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Many accounts log in here; argon2 at its cheapest keeps that quick (hashing has tests of its own).
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    yield


async def staff(client: AsyncClient, db: Database, role: Role, at: str) -> dict[str, str]:
    return bearer(await token_for(client, await create_staff(db, role=role, jurisdiction=at)))


async def entries(client: AsyncClient, kind: str) -> list[dict[str, Any]]:
    raw = (await client.get("/api/v1/log/entries", params={"start": 0, "end": 1000})).text
    return [entry for entry in map(json.loads, raw.splitlines()) if entry["type"] == kind]


async def me(client: AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/me", headers=headers)).json()["id"])


def grant_body(role: str, at: str, email: str) -> dict[str, str]:
    return {"email": email, "name": "新任工作人员", "role": role, "jurisdiction": at}


async def granted(client: AsyncClient, by: dict[str, str], role: str, at: str, email: str) -> dict[str, Any]:
    response = await client.post("/api/v1/staff", json=grant_body(role, at, email), headers=by)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- grants --------------------------------------------------------------------------------------


async def test_a_prefecture_admin_grants_a_county_admin_who_sets_a_password_by_link(
    client: AsyncClient, db: Database
) -> None:
    kunming = await staff(client, db, Role.admin, KUNMING)
    body = await granted(client, kunming, "admin", WUHUA, "wuhua.admin@km.gov.cn")
    assert (body["role"], body["jurisdiction"], body["active"]) == ("admin", WUHUA, True)
    token = body["password_link"]["token"]
    assert body["password_link"]["path"].endswith(token)

    # Nobody can log in before the link is used: the account's password is random.
    refused = await client.post(
        "/api/v1/auth/token", json={"email": "wuhua.admin@km.gov.cn", "password": PASSWORD}
    )
    assert refused.status_code == 401
    reset = await client.post("/api/v1/auth/password-reset", json={"token": token, "new_password": PASSWORD})
    assert reset.status_code == 204, reset.text
    county = bearer(await token_for(client, "wuhua.admin@km.gov.cn"))
    assert await me(client, county) == body["id"]

    grant = next(e for e in await entries(client, "staff.granted") if e["user_id"] == body["id"])
    assert grant["role"] == "admin" and grant["jurisdiction"] == WUHUA
    assert grant["by"] == await me(client, kunming)
    # The new county admin in turn grants a supervisor at its own county.
    assert (await granted(client, county, "supervisor", WUHUA, "wuhua.sup@km.gov.cn"))[
        "jurisdiction"
    ] == WUHUA


async def test_a_county_admin_cannot_grant_above_beside_or_an_admin_at_its_own_level(
    client: AsyncClient, db: Database
) -> None:
    county = await staff(client, db, Role.admin, WUHUA)
    for role, at in (("supervisor", KUNMING), ("supervisor", PANLONG), ("admin", WUHUA), ("admin", PROVINCE)):
        response = await client.post(
            "/api/v1/staff", json=grant_body(role, at, f"{role}.{at}@km.gov.cn"), headers=county
        )
        assert response.status_code == 403, (role, at, response.text)
        assert response.json()["detail"] == OUTSIDE
    unknown = await client.post(
        "/api/v1/staff", json=grant_body("supervisor", "539999", "x@km.gov.cn"), headers=county
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "jurisdiction"
    owner_role = await client.post(
        "/api/v1/staff", json=grant_body("owner", WUHUA, "o@km.gov.cn"), headers=county
    )
    assert owner_role.status_code == 422
    supervisor = await staff(client, db, Role.supervisor, PROVINCE)
    assert (
        await client.post(
            "/api/v1/staff", json=grant_body("supervisor", WUHUA, "y@km.gov.cn"), headers=supervisor
        )
    ).status_code == 403
    # Province administrators come from the operator's command only.
    province = await staff(client, db, Role.admin, PROVINCE)
    assert (
        await client.post(
            "/api/v1/staff", json=grant_body("admin", PROVINCE, "z@yn.gov.cn"), headers=province
        )
    ).status_code == 403
    assert (await granted(client, province, "admin", KUNMING, "km.admin@yn.gov.cn"))[
        "jurisdiction"
    ] == KUNMING


# -- moves and revocations -------------------------------------------------------------------------


async def test_a_move_ends_the_sessions_and_is_logged_within_the_movers_reach(
    client: AsyncClient, db: Database
) -> None:
    kunming = await staff(client, db, Role.admin, KUNMING)
    moved_email = await create_staff(db, role=Role.supervisor, jurisdiction=WUHUA)
    moved = bearer(await token_for(client, moved_email))
    moved_id = await me(client, moved)

    beside = await client.post(
        f"/api/v1/staff/{moved_id}/move", json={"jurisdiction": QUJING, **REASON}, headers=kunming
    )
    assert beside.status_code == 403 and beside.json()["detail"] == OUTSIDE
    no_reason = await client.post(
        f"/api/v1/staff/{moved_id}/move", json={"jurisdiction": PANLONG, "reason": " "}, headers=kunming
    )
    assert no_reason.status_code == 422
    same = await client.post(
        f"/api/v1/staff/{moved_id}/move", json={"jurisdiction": WUHUA, **REASON}, headers=kunming
    )
    assert same.status_code == 409

    done = await client.post(
        f"/api/v1/staff/{moved_id}/move", json={"jurisdiction": PANLONG, **REASON}, headers=kunming
    )
    assert done.status_code == 200 and done.json()["jurisdiction"] == PANLONG
    assert (await client.get("/api/v1/me", headers=moved)).status_code == 401  # its sessions ended
    entry = next(e for e in await entries(client, "staff.moved") if e["user_id"] == moved_id)
    assert (entry["from"], entry["to"], entry["reason"]) == (WUHUA, PANLONG, REASON["reason"])
    assert entry["by"] == await me(client, kunming)


async def test_a_county_admin_cannot_move_or_revoke_a_prefecture_supervisor_a_peer_or_itself(
    client: AsyncClient, db: Database
) -> None:
    county = await staff(client, db, Role.admin, WUHUA)
    prefecture = await staff(client, db, Role.supervisor, KUNMING)
    peer = await staff(client, db, Role.supervisor, WUHUA)
    sibling = await staff(client, db, Role.supervisor, PANLONG)
    for target in (prefecture, peer, sibling):
        target_id = await me(client, target)
        move = await client.post(
            f"/api/v1/staff/{target_id}/move", json={"jurisdiction": WUHUA, **REASON}, headers=county
        )
        revoke = await client.post(f"/api/v1/staff/{target_id}/revoke", json=REASON, headers=county)
        assert (move.status_code, revoke.status_code) == (403, 403), (move.text, revoke.text)
    own = await me(client, county)
    assert (await client.post(f"/api/v1/staff/{own}/revoke", json=REASON, headers=county)).status_code == 409
    owner = await register(client)
    assert (
        await client.post(f"/api/v1/staff/{owner['id']}/revoke", json=REASON, headers=county)
    ).status_code == 409
    assert (
        await client.post("/api/v1/staff/U-999999/revoke", json=REASON, headers=county)
    ).status_code == 404


async def test_revocation_deactivates_ends_sessions_and_keeps_the_jurisdiction(
    client: AsyncClient, db: Database
) -> None:
    kunming = await staff(client, db, Role.admin, KUNMING)
    target = await staff(client, db, Role.admin, WUHUA)
    target_id = await me(client, target)
    done = await client.post(f"/api/v1/staff/{target_id}/revoke", json=REASON, headers=kunming)
    assert done.status_code == 200, done.text
    assert (done.json()["active"], done.json()["jurisdiction"]) == (False, WUHUA)
    assert (await client.get("/api/v1/me", headers=target)).status_code == 401
    entry = next(e for e in await entries(client, "staff.revoked") if e["user_id"] == target_id)
    assert (entry["role"], entry["jurisdiction"], entry["reason"]) == ("admin", WUHUA, REASON["reason"])
    again = await client.post(f"/api/v1/staff/{target_id}/revoke", json=REASON, headers=kunming)
    assert again.status_code == 409


async def test_the_staff_list_holds_the_staff_below_the_caller(client: AsyncClient, db: Database) -> None:
    kunming = await staff(client, db, Role.admin, KUNMING)
    below = await me(client, await staff(client, db, Role.supervisor, WUHUA))
    peer = await me(client, await staff(client, db, Role.supervisor, KUNMING))
    beside = await me(client, await staff(client, db, Role.supervisor, QUJING))
    listed = {s["id"]: s for s in (await client.get("/api/v1/staff", headers=kunming)).json()}
    assert below in listed and listed[below]["jurisdiction"] == WUHUA
    assert peer not in listed and beside not in listed and await me(client, kunming) not in listed
    province = {
        s["id"]
        for s in (
            await client.get("/api/v1/staff", headers=await staff(client, db, Role.admin, PROVINCE))
        ).json()
    }
    assert {below, peer, beside} <= province


# -- the accounts administration follows the tree ---------------------------------------------------


async def test_account_administration_reaches_owners_by_hall_and_agencies_by_region(
    client: AsyncClient, db: Database
) -> None:
    county = await staff(client, db, Role.admin, WUHUA)
    mine = await register(client)  # organisation in 五华区
    beside = await register(client, org=PANLONG)
    agency = await register(client, role="agency")
    registered = await client.post(
        "/api/v1/agencies",
        json=agency_body(region=PANLONG),
        headers=bearer(await token_for(client, agency["email"])),
    )
    assert registered.status_code == 201, registered.text
    for path in ("deactivate", "reset-link"):
        for other in (beside, agency):
            refused = await client.post(f"/api/v1/users/{other['id']}/{path}", json=REASON, headers=county)
            assert refused.status_code == 403 and refused.json()["detail"] == OUTSIDE
    assert (
        await client.post(f"/api/v1/users/{mine['id']}/reset-link", json=REASON, headers=county)
    ).status_code == 201
    assert (
        await client.post(f"/api/v1/users/{mine['id']}/deactivate", json=REASON, headers=county)
    ).status_code == 200
    # A staff account at one's own level is a peer's, not one's own to deactivate.
    peer = await me(client, await staff(client, db, Role.supervisor, WUHUA))
    assert (
        await client.post(f"/api/v1/users/{peer}/deactivate", json=REASON, headers=county)
    ).status_code == 403
    panlong = await staff(client, db, Role.admin, PANLONG)
    assert (
        await client.post(f"/api/v1/users/{agency['id']}/deactivate", json=REASON, headers=panlong)
    ).status_code == 200


async def test_the_admin_pages_list_only_accounts_in_reach_with_their_place(
    client: AsyncClient, db: Database
) -> None:
    client.headers.update(EN)
    email = await create_staff(db, role=Role.admin, jurisdiction=WUHUA)
    mine = await register(client)
    beside = await register(client, org=PANLONG)
    form = await client.get("/login")
    await client.post(
        "/login",
        data={"_csrf_token": csrf_from(form.text), "email": email, "password": PASSWORD, "next": "/"},
    )
    listing = await client.get("/admin/users")
    assert mine["id"] in listing.text and beside["id"] not in listing.text
    assert "五华区 (Wuhua District) · 530102" in listing.text and 'href="/admin/staff"' in listing.text
    page = await client.get(f"/admin/users/{mine['id']}")
    assert page.status_code == 200 and "五华区 (Wuhua District) · 530102" in page.text
    assert (await client.get(f"/admin/users/{beside['id']}")).status_code == 403


# -- the staff page -----------------------------------------------------------------------------------


async def test_the_staff_page_grants_moves_and_revokes_with_errors_beside_the_fields(
    client: AsyncClient, db: Database
) -> None:
    client.headers.update(EN)
    peer = await create_staff(db, role=Role.supervisor, jurisdiction=KUNMING)
    peer_id = await me(client, bearer(await token_for(client, peer)))
    email = await create_staff(db, role=Role.admin, jurisdiction=KUNMING)
    form = await client.get("/login")
    await client.post(
        "/login",
        data={"_csrf_token": csrf_from(form.text), "email": email, "password": PASSWORD, "next": "/"},
    )
    page = await client.get("/admin/staff")
    assert page.status_code == 200
    select = page.text.split('id="f-jurisdiction"')[1].split("</select>")[0]
    assert f'value="{KUNMING}"' in select and f'value="{WUHUA}"' in select
    assert f'value="{PROVINCE}"' not in select and f'value="{QUJING}"' not in select

    token = csrf_from(page.text)
    own_level = await client.post(
        "/admin/staff",
        data={"_csrf_token": token, **grant_body("admin", KUNMING, "km2@km.gov.cn")},
    )
    assert own_level.status_code == 403
    assert 'id="e-jurisdiction"' in own_level.text and OUTSIDE in own_level.text
    bad_email = await client.post(
        "/admin/staff", data={"_csrf_token": token, **grant_body("supervisor", WUHUA, "not-an-email")}
    )
    assert bad_email.status_code == 422 and 'id="e-email"' in bad_email.text

    done = await client.post(
        "/admin/staff", data={"_csrf_token": token, **grant_body("supervisor", WUHUA, "wh.sup@km.gov.cn")}
    )
    assert (
        done.status_code == 200 and 'id="staff-link"' in done.text and "/password-reset?token=" in done.text
    )
    new_id = next(e for e in await entries(client, "staff.granted") if e["jurisdiction"] == WUHUA)["user_id"]
    assert f'action="/admin/staff/{new_id}/move"' in done.text

    no_reason = await client.post(
        f"/admin/staff/{new_id}/move", data={"_csrf_token": token, "jurisdiction": PANLONG, "reason": ""}
    )
    assert no_reason.status_code == 422 and f'id="e-move-{new_id}-reason"' in no_reason.text
    beside = await client.post(
        f"/admin/staff/{new_id}/move", data={"_csrf_token": token, "jurisdiction": QUJING, **REASON}
    )
    assert beside.status_code == 403 and f'id="e-move-{new_id}-jurisdiction"' in beside.text
    moved = await client.post(
        f"/admin/staff/{new_id}/move",
        data={"_csrf_token": token, "jurisdiction": PANLONG, **REASON},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/admin/staff?done=moved"
    revoked = await client.post(
        f"/admin/staff/{new_id}/revoke", data={"_csrf_token": token, **REASON}, follow_redirects=False
    )
    assert revoked.status_code == 303
    after = await client.get("/admin/staff?done=revoked")
    assert "powers are revoked" in after.text and f'action="/admin/staff/{new_id}/revoke"' not in after.text

    # A prefecture supervisor (not this admin's to manage) is refused with the standard 403.
    refused = await client.post(f"/admin/staff/{peer_id}/revoke", data={"_csrf_token": token, **REASON})
    assert refused.status_code == 403


# -- agencies ----------------------------------------------------------------------------------------


async def agency_in(client: AsyncClient, region: str) -> str:
    user = await register(client, role="agency")
    response = await client.post(
        "/api/v1/agencies",
        json=agency_body(region=region),
        headers=bearer(await token_for(client, user["email"])),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_agency_review_and_standing_follow_the_agencys_region(
    client: AsyncClient, db: Database
) -> None:
    qujing = await staff(client, db, Role.admin, QUJING)
    kunming = await staff(client, db, Role.admin, KUNMING)
    county = await staff(client, db, Role.admin, PANLONG)
    agency = await agency_in(client, WUHUA)

    for who in (qujing, county):
        refused = await client.post(
            f"/api/v1/agencies/{agency}/review", json={"decision": "approve"}, headers=who
        )
        assert refused.status_code == 403 and refused.json()["detail"] == OUTSIDE
    approved = await client.post(
        f"/api/v1/agencies/{agency}/review", json={"decision": "approve"}, headers=kunming
    )
    assert approved.status_code == 200, approved.text

    other_supervisor = await staff(client, db, Role.supervisor, QUJING)
    assert (
        await client.post(f"/api/v1/agencies/{agency}/suspend", json=REASON, headers=other_supervisor)
    ).status_code == 403
    # Blacklisting is the province's alone, even for the agency's own prefecture.
    assert (
        await client.post(f"/api/v1/agencies/{agency}/blacklist", json=REASON, headers=kunming)
    ).status_code == 403
    province = await staff(client, db, Role.admin, PROVINCE)
    assert (
        await client.post(f"/api/v1/agencies/{agency}/blacklist", json=REASON, headers=province)
    ).status_code == 200
    assert (
        await client.post(f"/api/v1/agencies/{agency}/lift-blacklist", json=REASON, headers=kunming)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/agencies/{agency}/lift-blacklist", json=REASON, headers=province)
    ).status_code == 200

    org = (await register(client))["org"]["id"]
    link = {"org_id": org, **REASON}
    assert (
        await client.post(f"/api/v1/agencies/{agency}/links", json=link, headers=qujing)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/agencies/{agency}/links", json=link, headers=kunming)
    ).status_code == 201
    # Every staff member still sees every agency.
    seen = await client.get(f"/api/v1/agencies/{agency}", headers=qujing)
    assert seen.status_code == 200 and seen.json()["contact_phone"]


async def test_qualification_review_follows_the_region(client: AsyncClient, db: Database) -> None:
    kunming = await staff(client, db, Role.admin, KUNMING)
    qujing = await staff(client, db, Role.admin, QUJING)
    user = await register(client, role="agency")
    agency_headers = bearer(await token_for(client, user["email"]))
    body = await client.post("/api/v1/agencies", json=agency_body(region=WUHUA), headers=agency_headers)
    agency = body.json()["id"]
    assert (
        await client.post(f"/api/v1/agencies/{agency}/review", json={"decision": "approve"}, headers=kunming)
    ).status_code == 200
    qual = await client.post(
        "/api/v1/agencies/mine/qualifications",
        json={"category": "EIA", "level": None, "certificate_no": "HP-2026-777", "valid_until": "2030-01-01"},
        headers=agency_headers,
    )
    path = f"/api/v1/agencies/{agency}/qualifications/{qual.json()['id']}/review"
    assert (await client.post(path, json={"decision": "approve"}, headers=qujing)).status_code == 403
    assert (await client.post(path, json={"decision": "approve"}, headers=kunming)).status_code == 200


# -- the log's witnesses ------------------------------------------------------------------------------


async def test_only_province_supervisors_register_witnesses(client: AsyncClient, db: Database) -> None:
    key = {"name": "witness.km.gov.cn/w1", "public_key": "A" * 43 + "="}
    county = await staff(client, db, Role.supervisor, WUHUA)
    refused = await client.post("/api/v1/log/cosigners", json=key, headers=county)
    assert refused.status_code == 403 and refused.json()["detail"] == OUTSIDE
    province = await staff(client, db, Role.supervisor, PROVINCE)
    assert (await client.post("/api/v1/log/cosigners", json=key, headers=province)).status_code in (200, 201)

    client.headers.update(EN)
    email = await create_staff(db, role=Role.supervisor, jurisdiction=KUNMING)
    form = await client.get("/login")
    await client.post(
        "/login",
        data={"_csrf_token": csrf_from(form.text), "email": email, "password": PASSWORD, "next": "/"},
    )
    page = await client.get("/log/witness")
    assert page.status_code == 200 and 'action="/log/witness#register"' not in page.text
    posted = await client.post("/log/witness", data={"_csrf_token": csrf_from(page.text), **key})
    assert posted.status_code == 403
