"""The dashboards (issue 22): every role lands on its own after log-in (``next`` still
wins), the most urgent piece of work at the top with what happens next, by when and a link
to where it is done; empty states say what to start with; an agency's lists say which
notices it already bid on and what became of each bid."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from market.accounts.models import Role
from market.core.db import Database
from market.web.times import china_time
from tests.helpers import PASSWORD, bearer, create_staff, csrf_from, register, token_for
from tests.integration.agencies.test_api import admin, agency_body, agency_user, create
from tests.integration.notices.test_api import draft
from tests.integration.selection.helpers import Round, open_round, wait_until
from tests.integration.selection.test_pages import EN, browsers, owner_account  # noqa: F401 - a fixture
from tests.integration.supervision.test_scope_objections import REASONS


async def drawn_with_objection(
    client: AsyncClient, staff: dict[str, str], owner: dict[str, str]
) -> tuple[Round, str]:
    """A drawn notice in publicity with a loser's objection (supervision's helper, with a
    bid window wide enough for a busy machine)."""
    r = await open_round(
        client, staff, bidders=3, owner=owner, method="lottery", winners=1, min_candidates=3, due_in=6
    )
    await wait_until(r.deadline)
    closed = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=r.owner)
    assert closed.status_code == 200, closed.text
    loser = next(h for h, a in r.bidders if a["id"] not in closed.json()["winners"])
    filed = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections", json={"reasons": REASONS}, headers=loser
    )
    assert filed.status_code == 201, filed.text
    return r, filed.json()["id"]


async def log_in(c: AsyncClient, email: str, next: str | None = None) -> str:
    """Log in through the form; the redirect's target."""
    form = (await c.get("/login" + (f"?next={next}" if next else ""))).text
    data = {"_csrf_token": csrf_from(form), "email": email, "password": PASSWORD}
    if next is None:
        # What the form itself carries when no page asked for one.
        found = re.search(r'name="next" value="([^"]*)"', form)
        assert found is not None
        data["next"] = html.unescape(found.group(1))
    else:
        data["next"] = next
    response = await c.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def next_task(page: str) -> str:
    """The text of the top card (the one piece of work shown first)."""
    found = re.search(r'<section id="next-task".*?</section>', page, re.S)
    assert found is not None, "no next task on the page"
    return found.group(0)


def group(page: str, name: str) -> str:
    found = re.search(
        rf'<section class="dashboard-group" aria-labelledby="g-{name}">.*?</section>', page, re.S
    )
    assert found is not None, f"no group {name}"
    return found.group(0)


async def test_every_role_lands_on_its_dashboard_and_next_still_wins(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    owner = await register(client, role="owner")
    agency = await register(client, role="agency")
    supervisor = await create_staff(db, role=Role.supervisor)
    administrator = await create_staff(db, role=Role.admin)
    for email, shown in (
        (owner["email"], "Create a notice"),
        (agency["email"], "Register your agency"),
        (supervisor, "Open the supervision console"),
        (administrator, "Open the supervision console"),
    ):
        c = await browsers(**EN)
        assert await log_in(c, email) == "/dashboard", email
        page = await c.get("/dashboard")
        assert page.status_code == 200 and "My work" in page.text
        assert shown in next_task(page.text), email
        # The nav links to it from every page.
        assert 'href="/dashboard"' in (await c.get("/notices")).text
        other = await browsers(**EN)
        assert await log_in(other, email, next="/account") == "/account"
    anonymous = await browsers()
    refused = await anonymous.get("/dashboard", follow_redirects=False)
    assert refused.status_code in (303, 401) and "/login" in refused.headers.get("location", "/login")


async def test_owner_empty_states_then_the_draft_to_publish_first(client: AsyncClient, browsers: Any) -> None:
    bare = await register(client, role="owner", org=None)
    c = await browsers(bare["email"], **EN)
    top = next_task((await c.get("/dashboard")).text)
    assert "Register your organisation" in top and 'href="/owner"' in top

    user = await register(client, role="owner")
    c = await browsers(user["email"], **EN)
    top = next_task((await c.get("/dashboard")).text)
    assert "Create a notice" in top and 'href="/owner/notices/new"' in top

    headers = bearer(await token_for(client, user["email"]))
    notice = await draft(client, headers, title="滇池东岸湿地公园环境影响评价")
    page = (await c.get("/dashboard")).text
    top = next_task(page)
    assert "滇池东岸湿地公园环境影响评价" in top and notice["id"] in top
    assert f'href="/owner/notices/{notice["id"]}/publish"' in top
    assert "Publish it before its bid deadline." in top and "China time" in top
    # Chinese too, through the language the browser asks for.
    zh = await browsers(user["email"], **{"Accept-Language": "zh-CN"})
    shown = await zh.get("/dashboard")
    assert shown.status_code == 200 and '<html lang="zh-Hans"' in shown.text
    assert f'href="/owner/notices/{notice["id"]}/publish"' in next_task(shown.text)


async def test_an_objection_comes_first_for_the_owner_and_the_supervisor_in_reach(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    county = await create_staff(db, role=Role.supervisor, jurisdiction="530102")
    beside = await create_staff(db, role=Role.supervisor, jurisdiction="530103")
    owner_headers, owner_email = await owner_account(client)
    r, objection_id = await drawn_with_objection(client, staff, owner_headers)

    owner = await browsers(owner_email, **EN)
    top = next_task((await owner.get("/dashboard")).text)
    assert r.notice_id in top and f'href="/notices/{r.notice_id}/draw#objections"' in top
    assert "Answer the objections" in top and "<time" in top

    supervisor = await browsers(county, **EN)
    page = (await supervisor.get("/dashboard")).text
    objections = group(page, "objections")
    assert objection_id in objections and f'href="/supervision/notices/{r.notice_id}"' in objections
    found = (await client.get(f"/api/v1/notices/{r.notice_id}/objections")).json()
    filed = next(o for o in (found["items"] if isinstance(found, dict) else found) if o["id"] == objection_id)
    escalates = datetime.fromisoformat(filed["filed_at"].replace("Z", "+00:00")) + timedelta(days=5)
    assert china_time(escalates) in objections  # when it goes to the hall above, China time
    assert objection_id not in (await (await browsers(beside, **EN)).get("/dashboard")).text


async def test_admin_sees_agencies_to_review_in_reach_and_failed_emails(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    # One agency registered in 昆明市 (530100), one in 曲靖市 (530300): 昆明市's
    # administrator reaches the first only; the province's reaches both.
    near = await create(client, await agency_user(client), **agency_body(region="530100"))
    far = await create(client, await agency_user(client), **agency_body(region="530300"))
    kunming = await create_staff(db, role=Role.admin, jurisdiction="530100")
    province = await create_staff(db, role=Role.admin)

    page = (await (await browsers(kunming, **EN)).get("/dashboard")).text
    review = group(page, "review")
    assert near["id"] in review and far["id"] not in review
    top = next_task(page)
    assert near["id"] in top and f'href="/admin/agencies?q={near["id"]}"' in top
    page = (await (await browsers(province, **EN)).get("/dashboard")).text
    assert near["id"] in group(page, "review") and far["id"] in group(page, "review")
    assert 'aria-labelledby="g-mail"' not in page

    # An e-mail the queue gave up on shows, with the way to the queue.
    async with db.transaction() as session:
        user_id = (await session.execute(text("SELECT id FROM app_user ORDER BY id LIMIT 1"))).scalar_one()
        await session.execute(
            text(
                "INSERT INTO mail_outbox (user_id, to_addr, kind, subject, body, status, attempts, last_error, created_at)"
                " VALUES (:u, 'x@example.cn', 'won', 's', 'b', 'failed', 8, 'refused', now())"
            ),
            {"u": user_id},
        )
    page = (await (await browsers(province, **EN)).get("/dashboard")).text
    mail = group(page, "mail")
    assert "E-mails not sent" in mail and 'href="/admin/mail"' in mail


async def test_a_county_admin_sees_its_own_agency_however_many_wait_elsewhere(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    # 200 agencies of 曲靖市 (530300) registered first, then one of 五华区 (530102): the
    # county's administrator still finds its own in its queue.
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at)"
                " SELECT 'UQ' || lpad(g::text, 6, '0'), 'queue' || g || '@example.cn', 'q', 'agency', 'x',"
                " true, now() FROM generate_series(1, 200) g"
            )
        )
        await session.execute(
            text(
                "INSERT INTO agency (public_id, owner_id, name, credit_code, region, status, created_at, updated_at)"
                " SELECT 'AGQ' || lpad(g::text, 6, '0'), u.id, '曲靖测试机构' || g, 'Q' || lpad(g::text, 17, '0'),"
                " '530300', 'pending', now(), now()"
                " FROM generate_series(1, 200) g JOIN app_user u ON u.public_id = 'UQ' || lpad(g::text, 6, '0')"
            )
        )
    mine = await create(client, await agency_user(client), **agency_body(region="530102"))
    county = await create_staff(db, role=Role.admin, jurisdiction="530102")
    page = (await (await browsers(county, **EN)).get("/dashboard")).text
    review = group(page, "review")
    assert mine["id"] in review and "AGQ" not in review
    province = await create_staff(db, role=Role.admin)
    assert "AGQ000001" in group((await (await browsers(province, **EN)).get("/dashboard")).text, "review")
