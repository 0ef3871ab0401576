"""The contract pages: the owner's record form (errors beside the fields), the contract page
as each role sees it, the agency's confirm and hand-in forms, the owner's return and stop
forms, the dashboards' links and the supervisors' list of what is overdue."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.app import create_app
from market.contracts import queries as contract_queries
from market.contracts import service as contracts
from market.core.clock import today_in_china
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import create_staff, csrf_from
from tests.integration.agencies.test_api import PDF, admin
from tests.integration.agencies.test_pages import login
from tests.integration.contracts.test_api import finalize_due
from tests.integration.selection.helpers import close, open_round, selection_of
from tests.integration.selection.test_pages import agency_accounts, owner_account

EN = {"Accept-Language": "en"}
TODAY = today_in_china()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
async def quick(db: Database, database_url: str, tmp_path: Path) -> Litestar:
    return create_app(make_settings(database_url, tmp_path, publicity_days=0), database=db)


@pytest.fixture
async def browsers(quick: Litestar) -> AsyncIterator[Any]:
    opened: list[Any] = []

    async def browser(email: str | None = None, **headers: str) -> AsyncClient:
        cm = serve_in_process(quick)
        c = await cm.__aenter__()
        opened.append(cm)
        c.headers.update(headers)
        if email:
            await login(c, email)
        return c

    yield browser
    for cm in reversed(opened):
        await cm.__aexit__(None, None, None)


def error_beside(page: str, key: str) -> str:
    match = re.search(rf'<small id="e-{re.escape(key)}" class="error"[^>]*>([^<]*)</small>', page)
    assert match, f"no error slot for {key}"
    return html.unescape(match.group(1)).strip()


async def post_form(
    c: AsyncClient, page: str, path: str, data: dict[str, Any], files: dict[str, Any] | None = None
) -> Any:
    token = csrf_from((await c.get(page)).text)
    return await c.post(path, data={"_csrf_token": token, **data}, files=files, follow_redirects=False)


def record_form(agency_id: str, **overrides: str) -> dict[str, str]:
    return {
        "agency_id": agency_id,
        "amount": "120,000.50",
        "signed_on": day(0),
        "start_on": day(1),
        "due_on": day(60),
        "m1_title": "环评报告初稿",
        "m1_due_on": day(30),
        "m2_title": "环评报告终稿",
        "m2_due_on": day(60),
        **overrides,
    }


async def awarded_round(quick: Litestar, db: Database, browsers: Any) -> dict[str, Any]:
    api = await browsers()
    staff = await admin(api, db)
    owner_headers, owner_email = await owner_account(api)
    bidders = await agency_accounts(api, staff, 3)
    r = await open_round(
        api, staff, bidders=bidders, owner=owner_headers, method="lottery", winners=1, min_candidates=3
    )
    await close(api, r)
    assert r.notice_id in await finalize_due(quick, db)
    record = await selection_of(api, r.notice_id)
    emails = {a["id"]: a["email"] for _, a in bidders}
    return {
        "api": api,
        "r": r,
        "owner_email": owner_email,
        "winner": record["winners"][0],
        "winner_email": emails[record["winners"][0]],
        "loser_email": emails[record["alternates"][0]],
    }


async def test_record_form_shows_errors_beside_fields_then_records(
    quick: Litestar, db: Database, browsers: Any
) -> None:
    w = await awarded_round(quick, db, browsers)
    notice_id, winner = w["r"].notice_id, w["winner"]
    owner = await browsers(w["owner_email"], **EN)

    home = (await owner.get("/owner")).text
    assert f'href="/notices/{notice_id}/contract"' in home and "Record the contract" in home
    page = f"/notices/{notice_id}/contract"
    form = (await owner.get(page)).text
    assert 'name="amount"' in form and 'name="m1_title"' in form and winner in form

    bad = await post_form(
        owner,
        page,
        page,
        record_form(winner, amount="12万", start_on=day(70), m1_due_on=day(90), m2_title="", m2_due_on=""),
    )
    assert bad.status_code == 422, bad.text
    assert "yuan" in error_beside(bad.text, "amount")
    assert 'id="e-signed_on"' not in bad.text and error_beside(bad.text, "m1_title") == ""
    assert 'value="12万"' in bad.text  # what was typed comes back
    out_of_order = await post_form(owner, page, page, record_form(winner, start_on=day(70)))
    assert out_of_order.status_code == 422
    assert "on or after" in error_beside(out_of_order.text, "due_on")
    outside = await post_form(owner, page, page, record_form(winner, m2_due_on=day(61)))
    assert outside.status_code == 422 and "between" in error_beside(outside.text, "m2_due_on")
    zero = await post_form(owner, page, page, record_form(winner, amount="0"))
    assert zero.status_code == 422 and "greater than zero" in error_beside(zero.text, "amount")
    assert await contracts_of(db, notice_id) == []

    done = await post_form(owner, page, page, record_form(winner))
    assert done.status_code == 303, done.text
    target = done.headers["location"]
    assert target.startswith("/contracts/C-") and target.endswith("?done=recorded")
    shown = (await owner.get(target)).text
    assert "¥120,000.50" in shown and "Waiting for the agency to confirm" in shown and "环评报告终稿" in shown
    assert "/confirm" not in shown  # the owner does not confirm
    again = (await owner.get(page)).text
    assert "Every agency holding the award has a contract recorded." in again


async def contracts_of(db: Database, notice_id: str) -> list[Any]:
    from market.notices import service as notices

    async with db.transaction() as session:
        return await contract_queries.contracts_of_notice(
            session, await notices.get_notice(session, notice_id)
        )


async def test_contract_page_per_role_and_the_actions_of_each(
    quick: Litestar, db: Database, browsers: Any
) -> None:
    w = await awarded_round(quick, db, browsers)
    notice_id, winner = w["r"].notice_id, w["winner"]
    owner = await browsers(w["owner_email"], **EN)
    page = f"/notices/{notice_id}/contract"
    cid = (
        (await post_form(owner, page, page, record_form(winner)))
        .headers["location"]
        .split("/")[2]
        .split("?")[0]
    )
    url = f"/contracts/{cid}"

    anonymous = await browsers(**EN)
    public = (await anonymous.get(url)).text
    assert cid in public and "¥120,000.50" in public and 'action="/contracts/' not in public
    loser = await browsers(w["loser_email"], **EN)
    assert "/confirm" not in (await loser.get(url)).text
    assert (await post_form(loser, url, f"{url}/confirm", {})).status_code == 403

    agency = await browsers(w["winner_email"], **EN)
    dash = (await agency.get("/agency")).text
    assert f'href="/contracts/{cid}"' in dash and f"Confirm or decline contract {cid}" in dash
    mine = (await agency.get(url)).text
    assert f'action="{url}/confirm"' in mine and f'action="{url}/decline"' in mine
    empty_decline = await post_form(agency, url, f"{url}/decline", {"reason": ""})
    assert empty_decline.status_code == 422 and error_beside(empty_decline.text, "decline-reason")
    confirmed = await post_form(agency, url, f"{url}/confirm", {})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == f"{url}?done=confirmed"
    in_service = (await agency.get(url)).text
    assert "In service (服务中)" in in_service and f'action="{url}/milestones/1/submit"' in in_service

    # A text file named .pdf is refused beside the file field; the note comes back.
    token = csrf_from(in_service)
    fake = await agency.post(
        f"{url}/milestones/1/submit",
        data={"_csrf_token": token, "note": "初稿请审阅"},
        files={"file": ("x.pdf", b"plain text", "application/pdf")},
        follow_redirects=False,
    )
    assert fake.status_code == 422 and "PDF, PNG and JPEG" in error_beside(fake.text, "submit-1-file")
    assert "初稿请审阅" in fake.text
    no_note = await agency.post(
        f"{url}/milestones/1/submit",
        data={"_csrf_token": token, "note": ""},
        files={"file": ("a.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert no_note.status_code == 422 and error_beside(no_note.text, "submit-1-note")
    handed = await agency.post(
        f"{url}/milestones/1/submit",
        data={"_csrf_token": token, "note": "初稿请审阅"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert handed.status_code == 303, handed.text

    # The deliverable link: the parties see it, the public sees only that something was handed in.
    assert f'href="{url}/milestones/1/deliverable"' in (await owner.get(url)).text
    assert f'href="{url}/milestones/1/deliverable"' not in (await anonymous.get(url)).text
    assert (await owner.get(f"{url}/milestones/1/deliverable")).content == PDF
    assert (await loser.get(f"{url}/milestones/1/deliverable")).status_code == 403

    owner_view = (await owner.get(url)).text
    assert (
        f'action="{url}/milestones/1/accept"' in owner_view
        and f'action="{url}/milestones/1/return"' in owner_view
        and f'action="{url}/stop"' in owner_view
    )
    short = await post_form(owner, url, f"{url}/milestones/1/return", {"reason": "短"})
    assert short.status_code == 422 and "5 characters" in error_beside(short.text, "return-1-reason")
    returned = await post_form(owner, url, f"{url}/milestones/1/return", {"reason": "请补充大气预测章节"})
    assert returned.status_code == 303
    assert "请补充大气预测章节" in (await agency.get(url)).text
    assert "请补充大气预测章节" not in (await anonymous.get(url)).text

    bad_stop = await post_form(owner, url, f"{url}/stop", {"reason": "短"})
    assert bad_stop.status_code == 422 and error_beside(bad_stop.text, "stop-reason")
    stopped = await post_form(owner, url, f"{url}/stop", {"reason": "项目取消，服务中止"})
    assert stopped.status_code == 303
    final = (await anonymous.get(url)).text
    assert "Stopped (服务中止)" in final and "项目取消，服务中止" in final
    owner_home = (await owner.get("/owner")).text
    assert f'href="/contracts/{cid}"' in owner_home


async def test_supervisors_see_overdue_unsigned_awards_and_milestones(
    quick: Litestar, db: Database, browsers: Any
) -> None:
    w = await awarded_round(quick, db, browsers)
    notice_id, winner = w["r"].notice_id, w["winner"]
    chief = await browsers(await create_staff(db, role=Role.supervisor), **EN)
    listing = await chief.get("/supervision/contracts")
    assert listing.status_code == 200 and notice_id not in listing.text  # not overdue yet
    agency = await browsers(w["winner_email"], **EN)
    assert (await agency.get("/supervision/contracts")).status_code == 403

    owner = await browsers(w["owner_email"], **EN)
    page = f"/notices/{notice_id}/contract"
    cid = (
        (await post_form(owner, page, page, record_form(winner)))
        .headers["location"]
        .split("/")[2]
        .split("?")[0]
    )
    assert (await post_form(agency, f"/contracts/{cid}", f"/contracts/{cid}/confirm", {})).status_code == 303
    async with db.transaction() as session:
        assert await contracts.flag_overdue_milestones(session, TODAY + timedelta(days=31)) == 1
    listing = (await chief.get("/supervision/contracts")).text
    assert f'href="/contracts/{cid}#milestone-1"' in listing and "环评报告初稿" in listing
    assert "Overdue" in (await agency.get(f"/contracts/{cid}")).text
    assert f"/contracts/{cid}#milestone-1" in (await agency.get("/agency")).text
    assert f"/contracts/{cid}#milestone-1" in (await owner.get("/owner")).text


async def test_unsigned_award_past_the_signing_window_is_listed(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0, contract_days=-1), database=db)
    async with serve_in_process(app) as api:
        staff = await admin(api, db)
        owner_headers, owner_email = await owner_account(api)
        bidders = await agency_accounts(api, staff, 3)
        r = await open_round(
            api, staff, bidders=bidders, owner=owner_headers, method="lottery", winners=1, min_candidates=3
        )
        await close(api, r)
        await finalize_due(app, db)
        chief_email = await create_staff(db, role=Role.supervisor)
    async with serve_in_process(app) as chief:
        chief.headers.update(EN)
        await login(chief, chief_email)
        listing = (await chief.get("/supervision/contracts")).text
        assert f'href="/notices/{r.notice_id}/draw"' in listing and "not recorded" in listing
    async with serve_in_process(app) as owner:
        owner.headers.update(EN)
        await login(owner, owner_email)
        assert "Overdue:" in (await owner.get("/owner")).text
