"""The notification pages (issue 22): /account links to /account/notifications, where a
user ticks the kinds of message to get by e-mail and an agency chooses its categories and
regions; a refused choice is shown beside its field and in the summary on top; admins
see the e-mail queue at /admin/mail."""

from __future__ import annotations

import re
from typing import Any

from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from market.notify import rules
from tests.helpers import bearer, create_staff, register, token_for
from tests.integration.agencies.test_api import create
from tests.integration.selection.test_pages import EN, browsers, error_beside, post_form  # noqa: F401 - browsers is a fixture


def checked(page: str, name: str) -> set[str]:
    return set(re.findall(rf'<input type="checkbox" name="{name}" value="([^"]+)" checked>', page))


async def test_an_agency_chooses_its_emails_and_subscriptions_on_the_page(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    user = await register(client, role="agency")
    await create(client, bearer(await token_for(client, user["email"])))
    page_client: AsyncClient = await browsers(user["email"], **EN)

    account = (await page_client.get("/account")).text
    assert 'href="/account/notifications"' in account
    page = (await page_client.get("/account/notifications")).text
    agency_kinds = {k.code for k in rules.kinds_for("agency")}
    assert set(re.findall(r'name="email" value="([^"]+)"', page)) == agency_kinds
    assert checked(page, "email") == {k.code for k in rules.kinds_for("agency") if k.email}
    assert 'id="mail-off"' in page  # no SMTP in this app: it says so
    assert 'name="categories" value="EIA"' in page and '<option value="530100"' in page
    assert '<option value="110000"' not in page  # the province's regions only

    saved = await post_form(
        page_client,
        "/account/notifications",
        "/account/notifications",
        {"email": ["won", rules.NOTICE_MATCHED], "categories": ["EIA", "SURVEYING"], "regions": ["530100"]},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/account/notifications?done=saved"
    api = (await page_client.get("/api/v1/me/notifications")).json()["email"]
    assert {k for k, on in api.items() if on} == {"won", rules.NOTICE_MATCHED}
    assert (await page_client.get("/api/v1/me/subscriptions")).json() == {
        "categories": ["EIA", "SURVEYING"],
        "regions": ["530100"],
    }
    page = (await page_client.get("/account/notifications?done=saved")).text
    assert "Your notification settings are saved." in page
    assert checked(page, "email") == {"won", rules.NOTICE_MATCHED}
    assert checked(page, "categories") == {"EIA", "SURVEYING"}
    assert '<option value="530100" selected>' in page

    # A region outside the province: refused beside the field and on top, nothing changed.
    refused = await post_form(
        page_client,
        "/account/notifications",
        "/account/notifications",
        {"categories": ["EIA"], "regions": ["110000"]},
    )
    assert refused.status_code == 422
    assert "outside it" in error_beside(refused.text, "regions")
    summary = refused.text[refused.text.index('class="error-summary"') :]
    assert 'href="#f-regions"' in summary[: summary.index("</div>")]
    assert '<option value="110000"' not in refused.text
    assert (await page_client.get("/api/v1/me/subscriptions")).json()["categories"] == ["EIA", "SURVEYING"]
    assert {
        k for k, on in (await page_client.get("/api/v1/me/notifications")).json()["email"].items() if on
    } == {
        "won",
        rules.NOTICE_MATCHED,
    }


async def test_an_owner_sees_only_its_kinds_and_no_subscriptions(client: AsyncClient, browsers: Any) -> None:
    user = await register(client, role="owner")
    page_client: AsyncClient = await browsers(user["email"], **EN)
    page = (await page_client.get("/account/notifications")).text
    assert set(re.findall(r'name="email" value="([^"]+)"', page)) == {
        k.code for k in rules.kinds_for("owner")
    }
    assert 'name="categories"' not in page
    saved = await post_form(
        page_client, "/account/notifications", "/account/notifications", {"email": ["selected"]}
    )
    assert saved.status_code == 303
    email = (await page_client.get("/api/v1/me/notifications")).json()["email"]
    assert {k for k, on in email.items() if on} == {"selected"}
    # A kind of another role sent by hand: refused on the page, not a 500.
    refused = await post_form(
        page_client, "/account/notifications", "/account/notifications", {"email": ["won"]}
    )
    assert refused.status_code == 422 and 'id="e-email"' in refused.text


async def test_admins_see_the_email_queue(client: AsyncClient, db: Database, browsers: Any) -> None:
    admin_email = await create_staff(db, role=Role.admin)
    page = (await (await browsers(admin_email, **EN)).get("/admin/mail")).text
    assert re.search(r'<dd data-status="failed">0</dd>', page)
    assert "No mail server is configured" in page
    supervisor = await browsers(await create_staff(db, role=Role.supervisor), **EN)
    assert (await supervisor.get("/admin/mail")).status_code == 403
