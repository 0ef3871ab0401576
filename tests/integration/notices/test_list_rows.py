"""The public list's hand-written SQL (queries.notice_list, present.notice_public_row)
against the ORM path the detail still takes: every item of the list equals the notice's
own answer, whatever it carries (organisation, project, avoidance list, direct selection,
cancellation), and the filters and cursor behave as before."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from market.core.db import Database
from tests.helpers import cancel_notice
from tests.integration.agencies.test_api import admin, credit_code
from tests.integration.notices.test_api import approved_agency, draft, owner_user, project_code, published


async def all_pages(client: AsyncClient, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url = f"/api/v1/notices?{query}"
    while True:
        page = (await client.get(url)).json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        url = f"/api/v1/notices?{query}&cursor={page['next_cursor']}"


async def test_every_list_item_equals_the_notice_s_own_answer(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client, org=None)
    org = (
        await client.post(
            "/api/v1/owners/org",
            json={"name": "昆明市交通运输局", "credit_code": credit_code(), "region": "530100"},
            headers=owner,
        )
    ).json()
    project = (
        await client.post(
            "/api/v1/owners/projects",
            json={"name": "某道路改扩建工程", "code": project_code()},
            headers=owner,
        )
    ).json()
    _, named = await approved_agency(client, await admin(client, db))
    made = [
        await published(
            client,
            owner,
            project_id=project["id"],
            avoid=[
                {"agency_id": "AG-999998", "reason": "关联企业"},
                {"agency_id": "AG-999997", "reason": "曾有纠纷"},
            ],
        ),
        await published(client, owner, region="530100", method="lowest_price", service_days=90),
        await published(
            client,
            owner,
            method="direct",
            min_candidates=1,
            direct_agency_id=named["id"],
            direct_justification="涉密项目，经主管部门批准直接选取。",
        ),
        await published(client, await owner_user(client), title="另一业主单位的公告"),
    ]
    cancelled = await published(client, owner)
    assert (await cancel_notice(client, db, cancelled["id"], owner, "项目取消")).status_code == 200
    hidden = await draft(client, owner)

    listed = {item["id"]: item for item in await all_pages(client, "limit=2")}
    assert hidden["id"] not in listed
    for notice in [*made, cancelled]:
        own = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
        assert listed[notice["id"]] == own
    assert listed[made[0]["id"]]["owner"] == {"id": org["id"], "name": org["name"]}
    assert [a["agency_id"] for a in listed[made[0]["id"]]["avoid"]] == ["AG-999997", "AG-999998"]


async def test_filters_and_cursor_as_before(client: AsyncClient) -> None:
    owner = await owner_user(client)
    kunming = [
        await published(client, owner, region="530102", title=f"五华区 {i} 号 环境影响评价") for i in range(3)
    ]
    await published(client, owner, region="530300", title="曲靖某项目")
    ids = [n["id"] for n in kunming][::-1]  # newest first
    assert [n["id"] for n in await all_pages(client, "region=530100&category=EIA&limit=1")][:3] == ids
    assert [n["id"] for n in await all_pages(client, "q=%E4%BA%94%E5%8D%8E%E5%8C%BA&limit=2")][
        :3
    ] == ids  # q=五华区
    assert [n["id"] for n in (await client.get(f"/api/v1/notices?q={ids[1]}")).json()["items"]] == [ids[1]]
    assert (await client.get("/api/v1/notices?q=100%25_")).json()["items"] == []  # wildcards are literal
    assert (await client.get("/api/v1/notices?status=draft")).status_code == 422
    assert (await client.get("/api/v1/notices?cursor=nonsense")).status_code in (400, 422)
