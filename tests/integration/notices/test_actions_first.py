"""The notice pages put the viewer's action first (issue 22): the agency's bid form above
the draw, the terms and the folded commitment; errors summarised on top and linked to their
fields; a fresh form without an error bar; fields that keep ``required`` and say
``aria-invalid`` after a failed submit; a failed notice re-issued as a new draft."""

from __future__ import annotations

import re

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import text

from market.core.db import Database
from tests.conftest import serve_in_process
from tests.helpers import bearer, register, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.agencies.test_pages import login
from tests.integration.notices.test_pages import (
    approved_agency,
    error_beside,
    notice_form,
    open_notice,
    owner,  # noqa: F401  (a fixture)
    post_form,
)
from tests.integration.selection.helpers import close, open_round

EN = {"Accept-Language": "en"}


def summary_of(page: str) -> str:
    match = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no error summary"
    return match.group(1)


async def test_a_fresh_notice_form_has_no_error_bar(owner: AsyncClient) -> None:
    page = (await owner.get("/owner/notices/new")).text
    form = page[page.index('id="notice-form"') :]
    assert 'role="alert"' not in form and "error-summary" not in form
    assert not re.search(r'<p[^>]*class="error"', form)


async def test_a_refused_notice_keeps_required_marks_fields_invalid_and_links_them_on_top(
    owner: AsyncClient,
) -> None:
    response = await post_form(
        owner, "/owner/notices/new", "/owner/notices", notice_form(title="", budget="1.234")
    )
    assert response.status_code == 422
    page = response.text
    assert "requiredaria-invalid" not in page
    title = re.search(r'<input id="f-title"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert re.search(r"\srequired\s", title) and 'aria-invalid="true"' in title
    budget = re.search(r'<input id="f-budget"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert re.search(r"\srequired\s", budget) and 'aria-invalid="true"' in budget
    summary = summary_of(page)
    assert 'href="#f-title"' in summary and 'href="#f-budget"' in summary
    assert error_beside(page, "budget") in re.sub(r"<[^>]+>", "", summary)
    assert page.index('class="error-summary"') < page.index('id="f-title"')


async def test_an_agency_sees_its_bid_form_first_and_a_bad_price_summarised_on_top(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    notice, _ = await open_notice(client, method="lowest_price")
    agency = await approved_agency(client, db)
    async with serve_in_process(app) as c:
        c.headers.update(EN)
        await login(c, agency["email"])
        path = f"/notices/{notice['id']}"
        page = (await c.get(path)).text
        bid_at = page.index('action="/notices/%s/bids"' % notice["id"])
        for later in ('id="draw-link-h"', 'id="deadline-h"', 'id="terms-h"', 'id="commit-h"'):
            assert bid_at < page.index(later), later
        # The live view is a secondary action while bidding is open.
        assert re.search(r'class="button secondary" href="%s/draw"' % path, page)
        # The commitment's hashes are folded below.
        assert page.index('<details class="proofs"') < page.index('id="commit-h"')

        refused = await post_form(c, path, f"{path}/bids", {"price": "12.345"})
        assert refused.status_code == 422
        summary = summary_of(refused.text)
        assert 'href="#f-price"' in summary
        assert refused.text.index('class="error-summary"') < refused.text.index('id="f-price"')
        assert error_beside(refused.text, "price")


async def test_the_owner_re_issues_a_failed_notice_as_a_new_draft(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    user = await register(client, role="owner")
    headers = bearer(await token_for(client, user["email"]))
    r = await open_round(
        client,
        staff,
        bidders=1,
        due_in=4,
        owner=headers,
        method="lottery",
        winners=1,
        min_candidates=3,
        title="楚雄州某园区规划环评",
    )
    assert (await close(client, r))["status"] == "failed"
    async with serve_in_process(app) as c:
        c.headers.update(EN)
        await login(c, user["email"])
        page = (await c.get(f"/notices/{r.notice_id}")).text
        assert f'action="/owner/notices/{r.notice_id}/reissue"' in page
        assert page.index("/reissue") < page.index('id="terms-h"')
        done = await post_form(c, f"/notices/{r.notice_id}", f"/owner/notices/{r.notice_id}/reissue", {})
        assert done.status_code == 303, done.text
        new_id = re.match(r"/notices/([^?]+)\?done=reissued", done.headers["location"]).group(1)  # type: ignore[union-attr]
        assert new_id != r.notice_id
        draft = (await client.get(f"/api/v1/notices/{new_id}", headers=headers)).json()
        failed = (await client.get(f"/api/v1/notices/{r.notice_id}", headers=headers)).json()
        assert draft["status"] == "draft" and failed["status"] == "failed"
        for key in ("title", "category", "region", "budget_fen", "method", "winners", "min_candidates"):
            assert draft[key] == failed[key], key
        assert draft["bid_deadline"] > failed["bid_deadline"]
        shown = (await c.get(done.headers["location"])).text
        assert "A new draft is made from the failed notice" in shown

        # Asked again (a double click, a resent form): the same draft, no second one.
        twice = await post_form(c, f"/notices/{r.notice_id}", f"/owner/notices/{r.notice_id}/reissue", {})
        assert twice.status_code == 303, twice.text
        assert twice.headers["location"] == f"/notices/{new_id}?done=reissued_before"
        assert "already re-issued" in (await c.get(twice.headers["location"])).text
        # The failed notice now points its owner to the re-issued one instead of offering it again.
        page = (await c.get(f"/notices/{r.notice_id}")).text
        assert f'action="/owner/notices/{r.notice_id}/reissue"' not in page
        assert f"re-issued this notice as {new_id} (Draft)" in page and f'href="/notices/{new_id}"' in page
        async with db.transaction() as session:
            drafts = await session.execute(
                text(
                    "SELECT count(*) FROM notice n JOIN app_user u ON u.id = n.owner_id WHERE u.public_id = :u"
                ),
                {"u": user["id"]},
            )
            assert drafts.scalar_one() == 2  # the failed notice and its one draft

        # Only a failed notice, and only its owner.
        again = await post_form(c, f"/notices/{new_id}", f"/owner/notices/{new_id}/reissue", {})
        assert again.status_code == 409 and "Only a notice whose selection failed" in again.text
    other = await register(client, role="owner")
    async with serve_in_process(app) as c:
        await login(c, other["email"])
        refused = await post_form(c, "/owner", f"/owner/notices/{r.notice_id}/reissue", {})
        assert refused.status_code == 403


@pytest.mark.parametrize("path", ["/login", "/register"])
async def test_account_forms_keep_their_attributes_apart(client: AsyncClient, path: str) -> None:
    page = (await client.get(path)).text
    assert not re.search(r'"(required|autocomplete)[a-z]', page)
    assert not re.search(r"required(autocomplete|aria)", page)
