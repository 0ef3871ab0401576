"""Rating pages: the owner's form, the profile's credit score and ratings in both languages,
a supervisor's voiding, and the public /credit page."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.core.db import Database
from tests.conftest import serve_in_process
from tests.helpers import bearer, csrf_from, register, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.agencies.test_pages import login, login_staff
from tests.integration.notices.test_api import approved_agency
from tests.integration.ratings.helpers import contract_for, won
from tests.integration.selection.helpers import close

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
COMMENT = "报告扎实，沟通顺畅"


async def test_owner_rates_on_the_page_and_the_profile_shows_it_in_both_languages(
    client: AsyncClient, app: Litestar, db: Database
) -> None:
    staff = await admin(client, db)
    bidder = await approved_agency(client, staff)
    owner = await register(client, role="owner")
    r = await won(client, staff, bidder, owner=bearer(await token_for(client, owner["email"])))
    await close(client, r)
    contract_id = await contract_for(db, r.notice_id)
    agency_id = bidder[1]["id"]

    async with serve_in_process(app) as browser:
        await login(browser, owner["email"])
        page = await browser.get(f"/contracts/{contract_id}/rating", headers=ZH)
        assert page.status_code == 200 and "评价中介机构" in page.text and "服务质量" in page.text
        token = csrf_from(page.text)
        # A dimension left out: the form again, with the error beside it and the values kept.
        partial = {
            "_csrf_token": token,
            "quality": "5",
            "timeliness": "5",
            "attitude": "5",
            "fees": "5",
            "comment": COMMENT,
        }
        refused = await browser.post(
            f"/contracts/{contract_id}/rating", data=partial, headers=ZH, follow_redirects=False
        )
        assert refused.status_code == 422 and 'id="e-compliance"' in refused.text and COMMENT in refused.text
        done = await browser.post(
            f"/contracts/{contract_id}/rating", data={**partial, "compliance": "4"}, follow_redirects=False
        )
        assert done.status_code == 303 and done.headers["location"].startswith(f"/agencies/{agency_id}")
        again = await browser.get(f"/contracts/{contract_id}/rating", headers=EN)
        assert (
            "You rated this contract on" in again.text
            and '<form method="post" action="/contracts' not in again.text
        )

    # (4.8 - 3) * 5 = +9
    zh = await client.get(f"/agencies/{agency_id}", headers=ZH)
    assert zh.status_code == 200
    for text in ("信用分", "109.0", "计入事项", "评价", COMMENT, "服务质量", 'href="/credit"'):
        assert text in zh.text, text
    en = await client.get(f"/agencies/{agency_id}", headers=EN)
    for text in (
        "Credit score",
        "109.0",
        "What counts towards it",
        "Service quality",
        COMMENT,
        "1 ratings count; average 4.8 of 5.",
    ):
        assert text in en.text, text

    # A supervisor voids it on the page: the rating stays, marked with the reason.
    rating_id = (await client.get(f"/api/v1/agencies/{agency_id}/ratings")).json()[0]["id"]
    async with serve_in_process(app) as browser:
        await login_staff(browser, db, Role.supervisor)
        form = await browser.get(f"/ratings/{rating_id}/void", headers=EN)
        assert form.status_code == 200 and "Void a rating" in form.text
        short = await browser.post(
            f"/ratings/{rating_id}/void",
            data={"_csrf_token": csrf_from(form.text), "reason": "短"},
            headers=EN,
            follow_redirects=False,
        )
        assert short.status_code == 422 and 'id="e-reason"' in short.text
        voided = await browser.post(
            f"/ratings/{rating_id}/void",
            data={"_csrf_token": csrf_from(form.text), "reason": "评价与合同履行无关"},
            follow_redirects=False,
        )
        assert voided.status_code == 303, voided.text
    en = await client.get(f"/agencies/{agency_id}", headers=EN)
    assert "Voided by a supervisor" in en.text and "评价与合同履行无关" in en.text and "100.0" in en.text


async def test_rating_pages_refuse_the_wrong_people(client: AsyncClient, app: Litestar, db: Database) -> None:
    staff = await admin(client, db)
    r = await won(client, staff, await approved_agency(client, staff))
    await close(client, r)
    contract_id = await contract_for(db, r.notice_id)
    assert (await client.get(f"/contracts/{contract_id}/rating", follow_redirects=False)).status_code in (
        302,
        303,
        401,
    )
    stranger = await register(client, role="owner")
    async with serve_in_process(app) as browser:
        await login(browser, stranger["email"])
        assert (await browser.get(f"/contracts/{contract_id}/rating")).status_code == 403


async def test_the_credit_page_states_every_constant(client: AsyncClient) -> None:
    zh = await client.get("/credit", headers=ZH)
    assert zh.status_code == 200 and "信用分计算方法" in zh.text
    en = await client.get("/credit", headers=EN)
    assert en.status_code == 200
    for text in (
        "starts from 100 points",
        "× 5 points",
        "182 days",
        "730 days",
        "-5 points",
        "-10 points",
        "-15 points",
        "between 0 and 200",
        "credit/1",
    ):
        assert text in en.text, text
