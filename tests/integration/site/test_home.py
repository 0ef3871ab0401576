"""Issue 22, items 11 and 12: the portal home (search, the latest notices and results as
tabs, the figures, the halls; its data cached a few seconds), the favicon, and region
filters that offer the province's own prefectures and counties."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from market.core.db import Database
from market.site import cache as site_cache
from market.site.web import HOME_TTL
from tests.helpers import register
from tests.integration.agencies.test_api import admin, credit_code
from tests.integration.agencies.test_pages import login
from tests.integration.notices.test_api import owner_user, project_code, published
from tests.integration.selection.helpers import close, open_round


def panel(html: str, name: str) -> str:
    """The text of one tab panel of the home page."""
    found = re.search(rf'<div class="tab-panel" id="panel-{name}">(.*?)\n  </div>', html, re.S)
    assert found, f"no panel {name}"
    return found.group(1)


async def test_home_has_search_latest_notices_and_results_as_tabs(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=2,
        method="lottery",
        winners=1,
        min_candidates=2,
        due_in=5,
        title="首页结果公告",
    )
    await close(client, r)
    names = [agency["name"] for _, agency in r.bidders]
    open_notice = await published(client, await owner_user(client), title="首页最新公告甲")
    home = await client.get("/")
    assert home.status_code == 200
    html = home.text
    # the search box comes first, a plain GET form to the notice list
    search = re.search(r'<form method="get" action="/notices" role="search"[^>]*>.*?</form>', html, re.S)
    assert search and 'name="q"' in search.group(0)
    assert html.index('role="search"') < html.index('id="panel-notices"') < html.index('id="counts"')
    # two tabs without JavaScript: radio buttons, the first checked, each labelling its panel
    assert re.search(
        r'<input class="tab-input" type="radio" name="portal-tab" id="tab-notices" checked>', html
    )
    assert '<label class="tab" for="tab-results">最新结果</label>' in html
    notices, results = panel(html, "notices"), panel(html, "results")
    assert open_notice["id"] in notices and "首页最新公告甲" in notices and r.notice_id not in notices
    assert r.notice_id in results and "首页结果公告" in results and any(name in results for name in names)
    assert "中选机构" in results and "notice-selected" in results
    # the figures and the ways on
    assert "已发布公告" in html and "节约资金率" in html
    for href in ('href="/stats"', 'href="/data"', 'href="/halls/530100"', 'href="/notices?status=open"'):
        assert href in html, href
    english = await client.get("/", headers={"Accept-Language": "en"})
    assert "Latest results" in english.text and "Search notices" in english.text


async def test_the_search_finds_notices_by_title_project_owner_and_id(client: AsyncClient) -> None:
    owner = await owner_user(client, org=None)
    org_name = "首页搜索测试交通运输局"
    assert (
        await client.post(
            "/api/v1/owners/org",
            json={"name": org_name, "credit_code": credit_code(), "region": "530100"},
            headers=owner,
        )
    ).status_code == 201
    project = (
        await client.post(
            "/api/v1/owners/projects",
            json={"name": "滇池东岸截污工程", "code": project_code()},
            headers=owner,
        )
    ).json()
    wanted = await published(client, owner, project_id=project["id"], title="环境影响评价服务")
    other = await published(client, await owner_user(client), title="另一个项目的测绘服务")

    async def found(q: str) -> set[str]:
        api = {
            n["id"]
            for n in (await client.get("/api/v1/notices", params={"q": q, "limit": 100})).json()["items"]
        }
        page = (await client.get("/notices", params={"q": q, "limit": 100})).text
        assert {wanted["id"], other["id"]} & api == {i for i in (wanted["id"], other["id"]) if i in page}, q
        return api & {wanted["id"], other["id"]}

    assert await found("环境影响评价服务") == {wanted["id"]}  # title
    assert await found("截污") == {wanted["id"]}  # project name
    assert await found(project["code"]) == {wanted["id"]}  # project code
    assert await found("首页搜索测试交通") == {wanted["id"]}  # the owner's organisation
    assert await found(wanted["id"]) == {wanted["id"]}  # the notice id
    assert await found("测绘") == {other["id"]}
    assert await found("100%_") == set()  # wildcards are literal


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """Every SQL statement sent on the test's connection while the block runs (the ORM's
    and the bare asyncpg readers' alike: in tests both go through this connection)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(connection.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection.sync_engine, "before_cursor_execute", record)


async def test_the_home_page_data_is_cached_for_a_few_seconds(
    client: AsyncClient, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(site_cache, "monotonic", lambda: now[0])
    with statements(connection) as sent:
        first = await client.get("/")
    assert first.status_code == 200 and sent, "the first visit reads the database"
    with statements(connection) as sent:
        second = await client.get("/", headers={"Accept-Language": "en"})
    assert second.status_code == 200 and "Latest notices" in second.text
    assert sent == [], "the second visit within the TTL reads nothing from the database"
    # what changed shows once the TTL has passed, and not before
    await published(client, await owner_user(client), title="缓存之后发布的公告")
    assert "缓存之后发布的公告" not in (await client.get("/")).text
    now[0] += HOME_TTL + 0.1
    with statements(connection) as sent:
        assert "缓存之后发布的公告" in (await client.get("/")).text
    assert sent


async def test_favicon_answers_and_every_page_links_it(client: AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 301 and icon.headers["location"] == "/static/favicon.svg"
    svg = await client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg")
    for path in ("/", "/notices", "/agencies", "/login"):
        page = await client.get(path)
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text, path


async def test_region_filters_offer_the_province_s_prefectures_and_counties(client: AsyncClient) -> None:
    for path in ("/notices", "/agencies"):
        html = (await client.get(path)).text
        select = re.search(r'<select id="f-region" name="region"[^>]*>(.*?)</select>', html, re.S)
        assert select, path
        values = re.findall(r'<option value="([^"]*)"', select.group(1))
        assert values[0] == "" and "530100" in values and "530102" in values, path  # 昆明市, 五华区
        assert all(v.startswith("53") for v in values[1:]), path
        assert "110000" not in values and "北京市" not in select.group(1), path  # not the country's provinces
        assert len(re.findall("<optgroup", select.group(1))) == 16, path  # Yunnan's prefectures
    # a county chosen is kept selected and filters
    kept = (await client.get("/notices", params={"region": "530102"})).text
    assert '<option value="530102" selected>' in kept


async def test_the_owner_s_organisation_form_offers_only_the_province(client: AsyncClient) -> None:
    """An organisation belongs to a hall of this province: another province was a dead end
    (refused on submit, no hall to join)."""
    user = await register(client, role="owner", org=None)
    await login(client, user["email"])
    html = (await client.get("/owner")).text
    select = re.search(r'<select id="f-region" name="region"[^>]*>(.*?)</select>', html, re.S)
    assert select
    values = re.findall(r'<option value="([^"]*)"', select.group(1))
    assert "530000" in values and "530102" in values
    assert all(v.startswith("53") for v in values) and "110000" not in values
