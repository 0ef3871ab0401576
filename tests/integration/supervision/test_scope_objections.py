"""Notice-bound supervision follows the halls (issue 21, items 3 and 4): a supervisor's
powers reach its jurisdiction and everything below it, nothing beside or above, for
objections, cancellations, disputed contracts and an administrator's close; what a hall's
business tells goes to that hall's supervisors only; the console lists only what the
viewer reaches, and its notice and organisation pages are 403 beyond that."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.core.db import Database
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.contracts.test_api import awarded, contract_body, headers_of, quick  # noqa: F401 - quick is a fixture
from tests.integration.notices.test_api import draft, owner_user
from tests.integration.selection.helpers import Round, messages_of, open_round, wait_until
from tests.integration.selection.test_pages import EN, browsers  # noqa: F401 - browsers is a fixture

REASONS = "中选机构的资质证书已被吊销，不符合报名条件"
COUNTY, SIBLING, PREFECTURE = "530102", "530103", "530100"
OUTSIDE = "This is outside your jurisdiction."


async def staff_at(
    client: AsyncClient, db: Database, hall: str, role: Role = Role.supervisor
) -> tuple[str, dict[str, str]]:
    email = await create_staff(db, role=role, jurisdiction=hall)
    return email, bearer(await token_for(client, email))


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [m["kind"] for m in messages]


def refused(response: Any) -> bool:
    return response.status_code == 403 and OUTSIDE in response.json()["detail"]


async def drawn_with_objection(
    client: AsyncClient, staff: dict[str, str], owner: dict[str, str], closer: dict[str, str] | None = None
) -> tuple[Round, str]:
    r = await open_round(client, staff, bidders=3, owner=owner, method="lottery", winners=1, min_candidates=3)
    await wait_until(r.deadline)
    if closer is not None:  # an administrator from beside the notice's hall tries first
        assert refused(await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=closer))
    closed = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=r.owner)
    assert closed.status_code == 200, closed.text
    loser = next(h for h, a in r.bidders if a["id"] not in closed.json()["winners"])
    filed = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections", json={"reasons": REASONS}, headers=loser
    )
    assert filed.status_code == 201, filed.text
    return r, filed.json()["id"]


async def decide(client: AsyncClient, notice_id: str, objection_id: str, headers: dict[str, str]) -> Any:
    return await client.post(
        f"/api/v1/notices/{notice_id}/objections/{objection_id}/decision",
        json={"decision": "rejected", "reason": "理由不成立"},
        headers=headers,
    )


async def test_objections_are_decided_and_listed_within_reach_only(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    county_email, county = await staff_at(client, db, COUNTY)
    sibling_email, sibling = await staff_at(client, db, SIBLING)
    prefecture_email, prefecture = await staff_at(client, db, PREFECTURE)
    _, sibling_admin = await staff_at(client, db, SIBLING, Role.admin)

    # One notice in the county of 五华区, one in the prefecture of 昆明市 itself.
    in_county, county_objection = await drawn_with_objection(
        client, staff, await owner_user(client), closer=sibling_admin
    )
    in_prefecture, prefecture_objection = await drawn_with_objection(
        client, staff, await owner_user(client, org=PREFECTURE)
    )

    # Routing: each objection tells its own hall's supervisors only.
    assert kinds(await messages_of(client, county)).count("alert_objection_filed") == 1
    assert kinds(await messages_of(client, prefecture)).count("alert_objection_filed") == 1
    assert "alert_objection_filed" not in kinds(await messages_of(client, sibling))

    # The console lists only what each reaches.
    pages = {email: await browsers(email, **EN) for email in (county_email, sibling_email, prefecture_email)}
    queue = {email: (await page.get("/supervision/objections")).text for email, page in pages.items()}
    assert county_objection in queue[county_email] and prefecture_objection not in queue[county_email]
    assert county_objection not in queue[sibling_email] and prefecture_objection not in queue[sibling_email]
    assert county_objection in queue[prefecture_email] and prefecture_objection in queue[prefecture_email]
    assert "五华区" in queue[county_email]  # the row names its hall

    county_page = pages[county_email]
    own = await county_page.get(f"/supervision/notices/{in_county.notice_id}")
    assert own.status_code == 200 and "五华区" in own.text and f'id="decide-{county_objection}"' in own.text
    assert (await county_page.get(f"/supervision/notices/{in_prefecture.notice_id}")).status_code == 403
    assert (await pages[sibling_email].get(f"/supervision/notices/{in_county.notice_id}")).status_code == 403
    found = await county_page.get("/supervision", params={"q": in_prefecture.notice_id})
    assert found.status_code == 200 and f"/supervision/notices/{in_prefecture.notice_id}" not in found.text
    found = await pages[prefecture_email].get("/supervision", params={"q": in_county.notice_id})
    assert f"/supervision/notices/{in_county.notice_id}" in found.text

    # Deciding: beside and above are refused, in the API and from the console alike.
    assert refused(await decide(client, in_county.notice_id, county_objection, sibling))
    assert refused(await decide(client, in_prefecture.notice_id, prefecture_objection, county))
    assert (await decide(client, in_county.notice_id, county_objection, county)).status_code == 200
    assert (
        await decide(client, in_prefecture.notice_id, prefecture_objection, prefecture)
    ).status_code == 200


async def test_a_prefecture_supervisor_decides_its_counties_objections(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    _, prefecture = await staff_at(client, db, PREFECTURE)
    r, objection = await drawn_with_objection(client, staff, await owner_user(client))
    # No county supervisor: the prefecture's are told, and decide it.
    assert "alert_objection_filed" in kinds(await messages_of(client, prefecture))
    assert (await decide(client, r.notice_id, objection, prefecture)).status_code == 200


async def test_cancellation_requests_go_to_the_notices_hall_and_are_decided_there(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    county_email, county = await staff_at(client, db, COUNTY)
    sibling_email, sibling = await staff_at(client, db, SIBLING)
    owner = await owner_user(client)
    notice = await draft(client, owner)
    assert (await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)).status_code == 200
    asked = await client.post(
        f"/api/v1/notices/{notice['id']}/cancel", json={"reason": "项目调整"}, headers=owner
    )
    assert asked.status_code == 202, asked.text
    assert "cancel_requested" in kinds(await messages_of(client, county))
    assert "cancel_requested" not in kinds(await messages_of(client, sibling))

    path = f"/supervision/notices/{notice['id']}/cancellation"
    assert (await (await browsers(sibling_email, **EN)).get(path)).status_code == 403
    assert (await (await browsers(county_email, **EN)).get(path)).status_code == 200
    assert refused(
        await client.post(
            f"/api/v1/notices/{notice['id']}/cancellation", json={"consent": True}, headers=sibling
        )
    )
    consented = await client.post(
        f"/api/v1/notices/{notice['id']}/cancellation", json={"consent": True}, headers=county
    )
    assert consented.status_code == 200, consented.text


async def test_disputed_contracts_go_to_the_notices_hall_and_are_decided_there(
    quick: tuple[Litestar, AsyncClient], db: Database, browsers: Any
) -> None:
    app, c = quick
    staff = await admin(c, db)
    county_email, county = await staff_at(c, db, COUNTY)
    sibling_email, sibling = await staff_at(c, db, SIBLING)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    recorded = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(winner, amount_fen=1), headers=r.owner
    )
    assert recorded.status_code == 201, recorded.text
    cid = recorded.json()["id"]
    disputed = await c.post(
        f"/api/v1/contracts/{cid}/decline",
        json={"reason": "合同金额与中选结果不符", "terms_mismatch": True},
        headers=headers_of(r, winner),
    )
    assert disputed.status_code == 200, disputed.text
    assert "contract_disputed" in kinds(await messages_of(c, county))
    assert "contract_disputed" not in kinds(await messages_of(c, sibling))

    listing = {
        email: (await (await browsers(email, **EN)).get("/supervision/contracts")).text
        for email in (county_email, sibling_email)
    }
    assert f"dispute-{cid}" in listing[county_email] and f"dispute-{cid}" not in listing[sibling_email]

    body = {"decision": "terms_wrong", "reason": "合同金额明显低于中选结果"}
    assert refused(await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=body, headers=sibling))
    decided = await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=body, headers=county)
    assert decided.status_code == 200, decided.text
