"""The notice pages: the owner's organisation, projects, drafts, publish, amend and cancel;
bad input beside its field; the agency's "open to me", bids with receipts and withdrawal;
the public list with its htmx partial; and the sealed-bid matrix across every role."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.core.clock import CHINA
from market.core.db import Database
from market.core.errors import InvalidInput
from market.core.money import parse_yuan
from tests.conftest import serve_in_process
from tests.helpers import bearer, create_staff, csrf_from, register, token_for
from tests.integration.agencies.test_api import create
from tests.integration.agencies.test_pages import login

HTMX = {"HX-Request": "true"}
_serial = itertools.count(1)


def local(dt: datetime) -> str:
    return dt.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def later(hours: float = 2) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def notice_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "昆明市某道路工程环境影响评价",
        "description": "编制环境影响报告书",
        "category": "EIA",
        "required_level": "",
        "region": "530000",
        "budget": "300000",
        "method": "lottery",
        "winners": "1",
        "min_candidates": "",
        "bid_deadline": local(later()),
        "service_days": "90",
        "project_id": "",
        "avoid0_agency_id": "",
        "avoid0_reason": "",
        "avoid1_agency_id": "",
        "avoid1_reason": "",
    }
    data.update(overrides)
    return data


async def post_form(c: AsyncClient, page: str, path: str, data: dict[str, Any]) -> Any:
    token = csrf_from((await c.get(page)).text)
    return await c.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)


def error_beside(page: str, name: str) -> str:
    match = re.search(rf'<small id="e-{re.escape(name)}" class="error"[^>]*>([^<]*)</small>', page)
    assert match, f"no error slot for {name}"
    return html.unescape(match.group(1)).strip()


@pytest.fixture
async def owner(app: Litestar, client: AsyncClient) -> AsyncIterator[AsyncClient]:
    """A browser logged in as a new owner whose organisation is registered."""
    user = await register(client, role="owner")
    async with serve_in_process(app) as c:
        await login(c, user["email"])
        yield c


@pytest.fixture
async def new_owner(app: Litestar, client: AsyncClient) -> AsyncIterator[AsyncClient]:
    """A browser logged in as a new owner who has not registered an organisation yet."""
    user = await register(client, role="owner", org=None)
    async with serve_in_process(app) as c:
        await login(c, user["email"])
        yield c


async def browser_for(app: Litestar, email: str) -> Any:
    cm = serve_in_process(app)
    c = await cm.__aenter__()
    await login(c, email)
    return cm, c


async def approved_agency(client: AsyncClient, db: Database, **overrides: Any) -> dict[str, Any]:
    """A new agency account with an approved agency (through the API); its email and id."""
    user = await register(client, role="agency")
    headers = bearer(await token_for(client, user["email"]))
    agency = await create(client, headers, **overrides)
    admin = bearer(await token_for(client, await create_staff(db, role=Role.admin)))
    response = await client.post(
        f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=admin
    )
    assert response.status_code == 200, response.text
    return {"email": user["email"], "id": agency["id"], "headers": headers}


async def open_notice(client: AsyncClient, **overrides: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A published notice made through the API by a new owner; the notice and the owner's email."""
    user = await register(client, role="owner")
    headers = bearer(await token_for(client, user["email"]))
    body = {
        "title": "大理州某水库防洪评价",
        "description": "编制防洪评价报告",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 50_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": later().isoformat(),
        **overrides,
    }
    draft = await client.post("/api/v1/notices", json=body, headers=headers)
    assert draft.status_code == 201, draft.text
    published = await client.post(f"/api/v1/notices/{draft.json()['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    return published.json(), {"email": user["email"]}


# -- pure helpers --------------------------------------------------------------------------------


def test_yuan_is_converted_to_fen_exactly() -> None:
    assert parse_yuan("300000", "budget") == 30_000_000
    assert parse_yuan("1,234.5", "budget") == 123_450
    assert parse_yuan("0.01", "budget") == 1
    assert parse_yuan("¥99.99", "budget") == 9_999
    for bad in ("0", "1.234", "-5", "1e5", "abc", "0.00"):
        with pytest.raises(InvalidInput):
            parse_yuan(bad, "budget")


# -- the owner -----------------------------------------------------------------------------------


async def test_owner_registers_org_and_project_then_drafts_edits_publishes_amends_and_cancels(
    new_owner: AsyncClient,
) -> None:
    owner = new_owner
    page = (await owner.get("/owner")).text
    assert (
        'action="/owner/org"' in page and "投资项目统一代码" not in page
    )  # projects come after the organisation

    from tests.integration.agencies.test_pages import credit_code

    response = await post_form(
        owner,
        "/owner",
        "/owner/org",
        {"name": "昆明市交通运输局", "credit_code": credit_code(), "region": "530100"},
    )
    assert response.status_code == 303, response.text
    page = (await owner.get("/owner?done=org")).text
    assert (
        "昆明市交通运输局" in page and "2026-530102-48-01-012345" in page
    )  # the project code format is explained

    bad = await post_form(owner, "/owner", "/owner/projects", {"name": "某道路工程", "code": "2026-5301"})
    assert bad.status_code == 422
    assert "2026-530102-48-01-012345" in error_beside(bad.text, "code")
    code = f"2026-530102-48-01-{next(_serial):06d}"
    assert (
        await post_form(owner, "/owner", "/owner/projects", {"name": "某道路工程", "code": code})
    ).status_code == 303
    page = (await owner.get("/owner")).text
    assert code in page
    project_id = re.search(r"<code>(PJ-[^<]+)</code>", page).group(1)  # type: ignore[union-attr]

    new = (await owner.get("/owner/notices/new")).text
    assert 'type="datetime-local"' in new and 'value="530000" selected' in new and "某道路工程" in new
    response = await post_form(
        owner,
        "/owner/notices/new",
        "/owner/notices",
        notice_form(project_id=project_id, avoid0_agency_id="AG-999999", avoid0_reason="与业主存在关联关系"),
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    notice_id = re.search(r"/notices/([^?]+)", location).group(1)  # type: ignore[union-attr]
    page = (await owner.get(location)).text
    assert "草稿" in page and "¥300,000.00" in page and "AG-999999" in page and "某道路工程" in page

    # A draft is private.
    async with serve_in_process(owner._transport.app) as visitor:  # type: ignore[attr-defined]
        assert (await visitor.get(f"/notices/{notice_id}")).status_code == 404

    edit = (await owner.get(f"/owner/notices/{notice_id}/edit")).text
    assert 'value="300000"' in edit and 'value="AG-999999"' in edit
    response = await post_form(
        owner,
        f"/owner/notices/{notice_id}/edit",
        f"/owner/notices/{notice_id}/edit",
        notice_form(budget="250000.50", project_id=project_id),
    )
    assert response.status_code == 303, response.text
    page = (await owner.get(f"/notices/{notice_id}")).text
    assert "¥250,000.50" in page and "AG-999999" not in page

    confirm = (await owner.get(f"/owner/notices/{notice_id}/publish")).text
    assert "terms_sha256" in confirm
    response = await post_form(
        owner, f"/owner/notices/{notice_id}/publish", f"/owner/notices/{notice_id}/publish", {}
    )
    assert response.status_code == 303, response.text
    page = (await owner.get(response.headers["location"])).text
    assert "报名中" in page
    assert f"/api/v1/notices/{notice_id}/terms" in page and re.search(r"<code>[0-9a-f]{64}</code>", page)
    assert html.escape("“none”") not in page  # the fairness note is the translated one
    # Publishing twice is a conflict shown on the page, not a 500.
    again = await post_form(owner, f"/notices/{notice_id}", f"/owner/notices/{notice_id}/publish", {})
    assert again.status_code == 409 and "此公告已经发布" in again.text
    # Editing after publishing is refused.
    edited = await post_form(
        owner, f"/notices/{notice_id}", f"/owner/notices/{notice_id}/edit", notice_form()
    )
    assert edited.status_code == 409

    amend_page = (await owner.get(f"/owner/notices/{notice_id}/amend")).text
    current = re.search(r'name="bid_deadline" type="datetime-local" value="([^"]+)"', amend_page).group(1)  # type: ignore[union-attr]
    earlier = local(later(1))
    refused = await post_form(
        owner,
        f"/owner/notices/{notice_id}/amend",
        f"/owner/notices/{notice_id}/amend",
        {
            "title": "昆明市某道路工程环境影响评价",
            "description": "编制环境影响报告书",
            "budget": "250000.50",
            "bid_deadline": earlier,
            "service_days": "90",
            "reason": "提前",
        },
    )
    assert refused.status_code == 422 and error_beside(refused.text, "bid_deadline")
    moved = (datetime.fromisoformat(current) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = await post_form(
        owner,
        f"/owner/notices/{notice_id}/amend",
        f"/owner/notices/{notice_id}/amend",
        {
            "title": "昆明市某道路工程环境影响评价（更正）",
            "description": "编制环境影响报告书",
            "budget": "250000.50",
            "bid_deadline": moved,
            "service_days": "90",
            "reason": "延长报名时间",
        },
    )
    assert response.status_code == 303, response.text
    page = (await owner.get(response.headers["location"])).text
    assert "（更正）" in page, page
    assert "延长报名时间" in page, page[page.find("amend-h") - 200 :]
    assert re.search(
        r"已变更：\s*报名截止时间, 标题", page
    )  # the fields that changed, also in the amendment's table

    nothing = await post_form(
        owner, f"/owner/notices/{notice_id}/cancel", f"/owner/notices/{notice_id}/cancel", {"reason": ""}
    )
    assert nothing.status_code == 422 and error_beside(nothing.text, "reason")
    response = await post_form(
        owner,
        f"/owner/notices/{notice_id}/cancel",
        f"/owner/notices/{notice_id}/cancel",
        {"reason": "项目取消"},
    )
    assert response.status_code == 303, response.text
    page = (await owner.get(response.headers["location"])).text
    # a request, published with its reason; the notice stays open until a supervisor consents
    assert "项目取消" in page and "done=cancel_requested" in response.headers["location"]
    assert (await owner.get(f"/api/v1/notices/{notice_id}")).json()["status"] == "open"


async def test_publishing_without_an_organisation_leads_to_the_organisation_form(
    new_owner: AsyncClient,
) -> None:
    owner = new_owner
    new = (await owner.get("/owner/notices/new")).text
    assert 'href="/owner#org-h"' in new  # the draft form says so before anything is saved
    response = await post_form(owner, "/owner/notices/new", "/owner/notices", notice_form())
    assert response.status_code == 303, response.text
    notice_id = re.search(r"/notices/([^?]+)", response.headers["location"]).group(1)  # type: ignore[union-attr]
    confirm = (await owner.get(f"/owner/notices/{notice_id}/publish")).text
    assert 'id="no-org"' in confirm and 'href="/owner#org-h"' in confirm
    refused = await post_form(
        owner, f"/owner/notices/{notice_id}/publish", f"/owner/notices/{notice_id}/publish", {}
    )
    assert refused.status_code == 409
    assert "请先登记业主单位" in refused.text and 'href="/owner#org-h"' in refused.text
    home = (await owner.get("/owner")).text
    assert 'id="org-h"' in home and 'action="/owner/org"' in home

    from tests.integration.agencies.test_pages import credit_code

    registered = await post_form(
        owner,
        "/owner",
        "/owner/org",
        {"name": "昆明市五华区教育体育局", "credit_code": credit_code(), "region": "530102"},
    )
    assert registered.status_code == 303, registered.text
    # the draft saved before the organisation takes it at publication, with its hall
    confirm = (await owner.get(f"/owner/notices/{notice_id}/publish")).text
    assert 'id="no-org"' not in confirm
    published = await post_form(
        owner, f"/owner/notices/{notice_id}/publish", f"/owner/notices/{notice_id}/publish", {}
    )
    assert published.status_code == 303, published.text
    terms = (await owner.get(f"/api/v1/notices/{notice_id}")).json()
    assert terms["status"] == "open" and terms["owner"]["name"] == "昆明市五华区教育体育局"


async def test_owner_can_delete_a_draft(owner: AsyncClient) -> None:
    response = await post_form(
        owner, "/owner/notices/new", "/owner/notices", notice_form(title="待删除的草稿")
    )
    notice_id = re.search(r"/notices/([^?]+)", response.headers["location"]).group(1)  # type: ignore[union-attr]
    response = await post_form(owner, f"/notices/{notice_id}", f"/owner/notices/{notice_id}/delete", {})
    assert response.status_code == 303 and response.headers["location"] == "/owner?done=deleted"
    assert "待删除的草稿" not in (await owner.get("/owner")).text


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"bid_deadline": "2020-01-01T09:00"}, "bid_deadline", "已过"),
        ({"budget": "0"}, "budget", "大于零"),
        ({"budget": "1.234"}, "budget", "两位小数"),
        ({"winners": "3", "min_candidates": "3"}, "winners", "候选"),
        ({"required_level": "A"}, "required_level", "等级"),
        ({"title": ""}, "title", "必填"),
        ({"avoid0_agency_id": "not an id!", "avoid0_reason": "关联"}, "avoid0_agency_id", "机构"),
    ],
)
async def test_bad_notice_input_is_shown_beside_its_field_and_nothing_is_saved(
    owner: AsyncClient, overrides: dict[str, str], field: str, words: str
) -> None:
    response = await post_form(owner, "/owner/notices/new", "/owner/notices", notice_form(**overrides))
    assert response.status_code == 422, response.text
    message = error_beside(response.text, field)
    assert words in message, message
    assert "昆明市某道路工程环境影响评价" not in (await owner.get("/owner")).text


async def test_live_validation_returns_error_slots_out_of_band(owner: AsyncClient) -> None:
    token = csrf_from((await owner.get("/owner/notices/new")).text)
    response = await owner.post(
        "/owner/notices/validate", data=notice_form(budget="1.234"), headers={**HTMX, "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert 'id="e-budget" class="error" aria-live="polite" hx-swap-oob="true">' in response.text
    assert "两位小数" in error_beside(response.text, "budget")
    assert error_beside(response.text, "title") == ""
    levels = await owner.get("/owner/notices/levels?category=GEOHAZARD", headers=HTMX)
    assert levels.status_code == 200 and 'value="A"' in levels.text and "optgroup" not in levels.text


# -- the agency ----------------------------------------------------------------------------------


async def test_agency_sees_open_notices_with_reasons_bids_with_receipt_and_withdraws(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    eia, _ = await open_notice(client, title="环评：可以报名的公告")
    geo, _ = await open_notice(client, title="地灾：不能报名的公告", category="GEOHAZARD", required_level="A")
    priced, _ = await open_notice(
        client, title="最低价：报价公告", method="lowest_price", budget_fen=1_000_000
    )
    me = await approved_agency(client, db)
    cm, agency = await browser_for(app, me["email"])
    try:
        page = (await agency.get("/agency/notices")).text
        row_ok = page.split(f"<code>{eia['id']}</code>")[1].split("</tr>")[0]
        assert "可以报名" in row_ok and f'href="/notices/{eia["id"]}#bid"' in row_ok
        row_no = page.split(f"<code>{geo['id']}</code>")[1].split("</tr>")[0]
        assert "地质灾害危险性评估" in row_no  # the category reason, in Chinese

        response = await post_form(agency, f"/notices/{eia['id']}", f"/notices/{eia['id']}/bids", {})
        assert response.status_code == 303, response.text
        page = (await agency.get(response.headers["location"].split("#")[0])).text
        bid_id = re.search(r"<code>(B-[^<]+)</code>", page).group(1)  # type: ignore[union-attr]
        seq = int(re.search(r'href="/log/entries/(\d+)"', page).group(1))  # type: ignore[union-attr]
        assert re.search(
            r'<pre class="verbatim receipt">[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+</pre>', page
        )
        assert (
            len(re.findall(r"<code>[0-9a-f]{64}</code>", page)) >= 3
        )  # the commitment, the leaf hash and the salt
        assert (await agency.get(f"/log/entries/{seq}")).status_code == 200

        second = await post_form(agency, f"/notices/{eia['id']}", f"/notices/{eia['id']}/bids", {})
        assert second.status_code == 409 and "撤回" in second.text

        refused = await post_form(agency, f"/notices/{geo['id']}", f"/notices/{geo['id']}/bids", {})
        assert refused.status_code == 403 and "地质灾害危险性评估" in refused.text

        too_much = await post_form(
            agency, f"/notices/{priced['id']}", f"/notices/{priced['id']}/bids", {"price": "10000.01"}
        )
        assert too_much.status_code == 422 and error_beside(too_much.text, "price")
        odd = await post_form(
            agency, f"/notices/{priced['id']}", f"/notices/{priced['id']}/bids", {"price": "9999.999"}
        )
        assert odd.status_code == 422 and "两位小数" in error_beside(odd.text, "price")
        ok = await post_form(
            agency, f"/notices/{priced['id']}", f"/notices/{priced['id']}/bids", {"price": "9,999.99"}
        )
        assert ok.status_code == 303, ok.text
        mine = (await agency.get("/agency/bids")).text
        assert bid_id in mine and "¥9,999.99" in mine and mine.count('class="verbatim receipt"') == 2

        response = await post_form(
            agency, f"/notices/{eia['id']}", f"/notices/{eia['id']}/bids/{bid_id}/withdraw", {}
        )
        assert response.status_code == 303, response.text
        page = (await agency.get(f"/notices/{eia['id']}")).text
        assert "已撤回" in page and "提交密封报名" in page  # withdrawn, and free to bid again
        again = await post_form(
            agency, f"/notices/{eia['id']}", f"/notices/{eia['id']}/bids/{bid_id}/withdraw", {}
        )
        assert again.status_code == 409
    finally:
        await cm.__aexit__(None, None, None)


async def test_agency_account_without_agency_is_sent_to_register(app: Litestar, client: AsyncClient) -> None:
    user = await register(client, role="agency")
    cm, agency = await browser_for(app, user["email"])
    try:
        for path in ("/agency/notices", "/agency/bids"):
            page = (await agency.get(path)).text
            assert 'href="/agency"' in page and "登记" in page
    finally:
        await cm.__aexit__(None, None, None)


# -- the public list -----------------------------------------------------------------------------


async def test_public_list_filters_pages_and_updates_in_place(app: Litestar, client: AsyncClient) -> None:
    a, _ = await open_notice(client, title="甲公告：昆明环评", region="530100", budget_fen=10_000_000)
    b, _ = await open_notice(
        client, title="乙公告：大理最低价", region="532900", method="lowest_price", budget_fen=90_000_000
    )
    async with serve_in_process(app) as visitor:
        page = (await visitor.get("/notices")).text
        assert a["id"] in page and b["id"] in page and 'hx-push-url="true"' in page
        assert "¥100,000.00" in page
        only_b = (await visitor.get("/notices", params={"method": "lowest_price"})).text
        assert b["id"] in only_b and a["id"] not in only_b
        by_region = (await visitor.get("/notices", params={"region": "530100"})).text
        assert a["id"] in by_region and b["id"] not in by_region
        by_budget = (
            await visitor.get("/notices", params={"budget_min": "500000", "budget_max": "900000.00"})
        ).text
        assert b["id"] in by_budget and a["id"] not in by_budget
        by_id = (await visitor.get("/notices", params={"q": a["id"]})).text
        assert a["id"] in by_id and b["id"] not in by_id
        bad = await visitor.get("/notices", params={"budget_min": "1.234", "status": "draft"})
        assert bad.status_code == 200 and "两位小数" in bad.text and a["id"] in bad.text
        none = (await visitor.get("/notices", params={"q": "不存在的公告标题"})).text
        assert "没有符合" in none and 'href="/notices"' in none

        partial = await visitor.get("/notices", params={"method": "lowest_price"}, headers=HTMX)
        assert partial.status_code == 200 and "<html" not in partial.text and b["id"] in partial.text
        assert 'id="filter-fields"' in partial.text and 'hx-swap-oob="true"' in partial.text

        first = (await visitor.get("/notices", params={"limit": 1})).text
        more = re.search(r'href="(/notices\?[^"]*cursor=[^"]+)"', first)
        assert more, "no Show more link"
        rows = await visitor.get(html.unescape(more.group(1)), headers=HTMX)
        assert rows.status_code == 200 and "<tr" in rows.text and "<table" not in rows.text


# -- sealed --------------------------------------------------------------------------------------


async def test_no_page_reveals_bids_before_the_deadline(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    notice, owner_user = await open_notice(
        client, method="lowest_price", title="密封报价公告", budget_fen=80_000_000
    )
    nid = notice["id"]
    bidders = [await approved_agency(client, db), await approved_agency(client, db)]
    bystander = await approved_agency(client, db)
    prices = [12_345_678, 23_456_789]
    bids = []
    for who, price in zip(bidders, prices, strict=True):
        r = await client.post(
            f"/api/v1/notices/{nid}/bids", json={"price_fen": price}, headers=who["headers"]
        )
        assert r.status_code == 201, r.text
        bids.append(r.json())
    price_texts = ["123,456.78", "123456.78", "234,567.89", "234567.89", "12345678", "23456789"]

    def secrets_of(i: int) -> list[str]:
        return [
            bids[i]["bid_id"],
            bidders[i]["id"],
            bids[i]["commitment"],
            bids[i]["receipt"][-40:],
            bids[i]["salt"],
            *price_texts[2 * i : 2 * i + 2],
        ]

    viewers: dict[str, str | None] = {
        "public": None,
        "owner": owner_user["email"],
        "admin": await create_staff(db, role=Role.admin),
        "supervisor": await create_staff(db, role=Role.supervisor),
        "bystander": bystander["email"],
        "bidder0": bidders[0]["email"],
        "bidder1": bidders[1]["email"],
    }
    pages = [
        "/notices",
        f"/notices/{nid}",
        f"/notices?q={nid}",
        "/owner",
        f"/owner/notices/{nid}/amend",
        f"/owner/notices/{nid}/cancel",
        "/agency/notices",
        "/agency/bids",
    ]
    for role, email in viewers.items():
        async with serve_in_process(app) as c:
            if email:
                await login(c, email)
            own = {"bidder0": 0, "bidder1": 1}.get(role)
            for path in pages:
                response = await c.get(path)
                if response.status_code in (401, 403):
                    continue  # a page this role may not open tells it nothing
                text = response.text
                for i in (0, 1):
                    if i == own:
                        continue
                    for secret in secrets_of(i):
                        assert secret not in text, (role, path, secret)
                assert not re.search(
                    r"(\d+)\s*(家|个)?(机构|份)?(已报名|报名数|bids? (placed|received))", text
                ), (role, path)
            if own is not None:
                text = (await c.get(f"/notices/{nid}")).text
                for secret in secrets_of(own)[:4]:
                    assert secret in text, (role, secret)
