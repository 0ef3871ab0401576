"""The supervisor console: search, a notice's timeline, an agency's and an owner's history,
and the decisions taken from there (objection, voiding a rating, suspension)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.core.db import Database
from tests.conftest import serve_in_process
from tests.helpers import create_staff, csrf_from, register
from tests.integration.agencies.test_api import admin, credit_code, log_entries
from tests.integration.agencies.test_pages import login
from tests.integration.notices.test_api import approved_agency, owner_user
from tests.integration.ratings.helpers import deal
from tests.integration.selection.helpers import Round, close, entries_of, open_round
from tests.integration.selection.test_api import supervisor

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
GOOD_RATING = {
    "quality": 5,
    "timeliness": 4,
    "attitude": 5,
    "fees": 4,
    "compliance": 5,
    "comment": "报告质量高，按期完成",
}


@pytest.fixture
async def browsers(app: Litestar) -> AsyncIterator[Any]:
    """Logged-in page clients, one per email, each with its own cookies."""
    opened: list[Any] = []

    async def browser(email: str | None = None, **headers: str) -> AsyncClient:
        cm = serve_in_process(app)
        c = await cm.__aenter__()
        opened.append(cm)
        c.headers.update(headers)
        if email:
            await login(c, email)
        return c

    yield browser
    for cm in reversed(opened):
        await cm.__aexit__(None, None, None)


async def staff_browser(browsers: Any, db: Database, role: Role, **headers: str) -> AsyncClient:
    return await browsers(await create_staff(db, role=role), **headers)  # type: ignore[no-any-return]


def error_beside(page: str, key: str) -> str:
    match = re.search(rf'<small id="e-{re.escape(key)}" class="error"[^>]*>([^<]*)</small>', page)
    assert match, f"no error slot for {key}"
    return html.unescape(match.group(1)).strip()


async def post_form(c: AsyncClient, page: str, path: str, data: dict[str, Any]) -> Any:
    token = csrf_from((await c.get(page)).text)
    return await c.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)


async def drawn(client: AsyncClient, db: Database) -> tuple[Round, dict[str, Any], dict[str, Any]]:
    """A lottery of three bidders for an owner with an organisation, closed and drawn."""
    staff = await admin(client, db)
    owner = await owner_user(client, org=None)
    org = await client.post(
        "/api/v1/owners/org",
        json={"name": "大理州自然资源局", "credit_code": credit_code(), "region": "530100"},
        headers=owner,
    )
    assert org.status_code == 201, org.text
    r = await open_round(client, staff, bidders=3, owner=owner, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    assert record["status"] == "selected", record
    return r, record, org.json()


async def test_timeline_history_search_and_owner_pages(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, org = await drawn(client, db)
    winner = record["winners"][0]
    winner_agency = next(a for _, a in r.bidders if a["id"] == winner)
    chief = await staff_browser(browsers, db, Role.supervisor, **EN)

    # The notice's timeline: every entry of the notice, in seq order, described.
    # MSP/2: the three sealed bid entries name no notice; the close's opening claims them,
    # so from then on they are part of the notice's timeline.
    seqs = sorted([e["seq"] for e in await entries_of(client, r.notice_id)] + record["sealed"])
    assert len(seqs) == 6 and len(record["sealed"]) == 3  # published, three bids, closed, drawn
    page = await chief.get(f"/supervision/notices/{r.notice_id}")
    assert page.status_code == 200
    positions = [page.text.index(f'href="/log/entries/{seq}"') for seq in seqs]
    assert positions == sorted(positions)
    text = html.unescape(page.text)
    assert text.count("A sealed bid or withdrawal") == 3
    assert "Bidding closed: 3 bid(s), 3 candidate(s), 0 excluded." in text
    assert f"Drawn: winner(s) {winner}" in text and "Published: Lottery (random draw)" in text
    assert "China time" in text and "Selected, in publicity" in text
    assert f'href="/notices/{r.notice_id}/draw"' in text and f'href="/supervision/owners/{org["id"]}"' in text
    zh = html.unescape((await chief.get(f"/supervision/notices/{r.notice_id}", headers=ZH)).text)
    assert (
        "北京时间" in zh
        and "报名截止：共 3 个报名，3 个候选，0 个被排除。" in zh
        and "监督台" in zh
        and "已发布：随机抽取" in zh
    )

    # The agency's history: its bid and its award.
    page = await chief.get(f"/supervision/agencies/{winner}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    # (its bid is named first by the close that opened it)
    assert "Bidding closed: 3 bid(s), 3 candidate(s), 0 excluded." in text
    assert f"Drawn: winner(s) {winner}" in text and "Holds the award" in text and r.notice_id in text
    assert "Credit score" in text and winner_agency["credit_code"] in text
    assert "A sealed bid or withdrawal" not in text  # sealed entries name no agency

    # Search: by notice id, agency name, credit code, owner organisation and log seq.
    found = html.unescape((await chief.get("/supervision", params={"q": r.notice_id.lower()})).text)
    assert f'href="/supervision/notices/{r.notice_id}"' in found
    found = (await chief.get("/supervision", params={"q": winner_agency["name"]})).text
    assert f'href="/supervision/agencies/{winner}"' in found
    found = (await chief.get("/supervision", params={"q": winner_agency["credit_code"].lower()})).text
    assert f'href="/supervision/agencies/{winner}"' in found
    found = (await chief.get("/supervision", params={"q": org["name"]})).text
    assert f'href="/supervision/owners/{org["id"]}"' in found
    found = html.unescape((await chief.get("/supervision", params={"q": f"#{seqs[-1]}"})).text)
    assert f'href="/log/entries/{seqs[-1]}"' in found and "Drawn: winner(s)" in found
    nothing = await chief.get("/supervision", params={"q": "没有这样的东西"})
    assert nothing.status_code == 200 and "Nothing matches" in nothing.text
    home = (await chief.get("/supervision")).text
    for link in (
        "/supervision/objections",
        "/supervision/contracts",
        "/supervision/flags",
        'href="/supervision"',
    ):
        assert link in home, link

    # The owner organisation: its notice and its log entries.
    page = html.unescape((await chief.get(f"/supervision/owners/{org['id']}")).text)
    assert (
        r.notice_id in page
        and "Selected, in publicity" in page
        and 'Owner organisation <bdi lang="zh-Hans">大理州自然资源局</bdi>' in page
    )
    assert f'href="/log/entries/{seqs[-1]}"' in page

    # Unknown ids are 404 pages.
    for path in (
        "/supervision/notices/N-999999",
        "/supervision/agencies/AG-999999",
        "/supervision/owners/OW-999999",
    ):
        assert (await chief.get(path)).status_code == 404, path


async def test_only_staff_open_the_console(client: AsyncClient, db: Database, browsers: Any) -> None:
    for path in (
        "/supervision",
        "/supervision/notices/N-1",
        "/supervision/agencies/AG-1",
        "/supervision/owners/OW-1",
    ):
        anonymous = await client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login"), path
    owner = await browsers((await register(client, role="owner"))["email"])
    agency = await browsers((await register(client, role="agency"))["email"])
    for who in (owner, agency):
        assert (await who.get("/supervision")).status_code == 403
        assert 'href="/supervision"' not in (await who.get("/")).text
    administrator = await staff_browser(browsers, db, Role.admin, **EN)
    page = await administrator.get("/supervision")
    assert page.status_code == 200 and 'href="/supervision"' in page.text


async def test_supervisor_decides_an_objection_from_the_console(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, _ = await drawn(client, db)
    winner, alternate = record["winners"][0], record["alternates"][0]
    filer = r.owner  # the notice's owner has standing; the console names it to staff
    filed = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections",
        json={"reasons": "中选机构的资质证书已被吊销，不符合报名条件", "agency_id": winner},
        headers=filer,
    )
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["id"]
    page = f"/supervision/notices/{r.notice_id}"
    action = f"/supervision/notices/{r.notice_id}/objections/{objection_id}/decision"

    administrator = await staff_browser(browsers, db, Role.admin, **EN)
    shown = (await administrator.get(page)).text
    assert f'id="decide-{objection_id}"' not in shown and "Only a supervisor decides objections" in shown
    assert (
        await post_form(administrator, page, action, {"decision": "upheld", "reason": "证据充分"})
    ).status_code == 403

    chief = await staff_browser(browsers, db, Role.supervisor, **EN)
    shown = (await chief.get(page)).text
    assert (
        f'id="decide-{objection_id}"' in shown
        and "中选机构的资质证书已被吊销" in shown
        and "The owner has not answered." in shown
    )
    assert "Filed by: the notice&#39;s owner" in shown or "Filed by: the notice's owner" in shown
    vague = await post_form(chief, page, action, {"decision": "", "reason": "证据充分"})
    assert vague.status_code == 422 and error_beside(vague.text, f"decision-{objection_id}-decision")
    assert "证据充分" in vague.text  # what was typed stays
    silent = await post_form(chief, page, action, {"decision": "upheld", "reason": ""})
    assert silent.status_code == 422 and error_beside(silent.text, f"decision-{objection_id}-reason")
    done = await post_form(chief, page, action, {"decision": "upheld", "reason": "经核实，资质证书已吊销"})
    assert done.status_code == 303 and done.headers["location"].startswith(page)

    decided = await entries_of(client, r.notice_id, "objection.decided")
    assert [e["decision"] for e in decided] == ["upheld"]
    assert [
        (e["agency_id"], e["replacement"])
        for e in await entries_of(client, r.notice_id, "award.disqualified")
    ] == [(winner, alternate)]
    text = html.unescape((await chief.get(done.headers["location"])).text)
    assert "The decision is published." in text
    assert f"A supervisor decided objection {objection_id}: upheld." in text
    assert f"Agency {winner} disqualified by objection {objection_id}; replacement: {alternate}." in text
    again = await post_form(chief, page, action, {"decision": "rejected", "reason": "再议"})
    assert again.status_code in (303, 409)  # the form is gone; a replayed post is refused by the service
    assert len(await entries_of(client, r.notice_id, "objection.decided")) == 1


async def test_supervisor_voids_a_rating_from_the_console_and_it_is_logged(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    bidder = await approved_agency(client, staff)
    d = await deal(client, db, staff, bidder)
    rated = await client.post(
        f"/api/v1/contracts/{d.contract_id}/rating", json=GOOD_RATING, headers=d.round.owner
    )
    assert rated.status_code == 201, rated.text
    rating_id = rated.json()["id"]
    agency_id = bidder[1]["id"]
    page = f"/supervision/agencies/{agency_id}"
    action = f"/supervision/agencies/{agency_id}/ratings/{rating_id}/void"

    administrator = await staff_browser(browsers, db, Role.admin, **EN)
    shown = (await administrator.get(page)).text
    assert f'id="void-{rating_id}"' not in shown and "Only a supervisor may void a rating." in shown
    assert (await post_form(administrator, page, action, {"reason": "评价与合同履行无关"})).status_code == 403

    chief = await staff_browser(browsers, db, Role.supervisor, **EN)
    shown = (await chief.get(page)).text
    assert f'id="void-{rating_id}"' in shown and d.contract_id in shown and "报告质量高" in shown
    short = await post_form(chief, page, action, {"reason": "短"})
    assert short.status_code == 422 and "at least 5 characters" in error_beside(
        short.text, f"void-{rating_id}-reason"
    )
    done = await post_form(chief, page, action, {"reason": "评价与合同履行无关"})
    assert done.status_code == 303, done.text

    voided = [e for e in await log_entries(client) if e["type"] == "rating.voided"]
    assert [(e["rating_id"], e["agency_id"], e["reason"]) for e in voided] == [
        (rating_id, agency_id, "评价与合同履行无关")
    ]
    text = html.unescape((await chief.get(done.headers["location"])).text)
    assert "Voided by a supervisor" in text and f'id="void-{rating_id}"' not in text
    assert f"A supervisor voided rating {rating_id} of agency {agency_id}" in text
    assert (await chief.get(f"/supervision/agencies/{agency_id}", headers=ZH)).status_code == 200


async def test_supervisors_and_administrators_suspend_from_the_console(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    _, agency = await approved_agency(client, staff)
    _, other = await approved_agency(client, staff)

    # A supervisor suspends one agency; an owner may not.
    chief = await staff_browser(browsers, db, Role.supervisor, **EN)
    other_page = f"/supervision/agencies/{other['id']}"
    assert 'id="suspend"' in (await chief.get(other_page)).text
    by_supervisor = await post_form(
        chief,
        other_page,
        f"{other_page}/suspend",
        {"reason": "报告抄袭，暂停承接业务", "until": "2099-01-01"},
    )
    assert by_supervisor.status_code == 303, by_supervisor.text
    assert (await client.get(f"/api/v1/agencies/{other['id']}")).json()["status"] == "suspended"
    # ...but reinstating stays an administrator's decision.
    reinstate = await client.post(
        f"/api/v1/agencies/{other['id']}/reinstate",
        json={"reason": "已整改"},
        headers=await supervisor(client, db),
    )
    assert reinstate.status_code == 403

    page = f"/supervision/agencies/{agency['id']}"
    action = f"{page}/suspend"
    administrator = await staff_browser(browsers, db, Role.admin, **EN)
    assert 'id="suspend"' in (await administrator.get(page)).text
    undated = await post_form(administrator, page, action, {"reason": "多次放弃中选", "until": ""})
    assert (
        undated.status_code == 422
        and error_beside(undated.text, "suspend-until")
        and "多次放弃中选" in undated.text
    )
    unreasoned = await post_form(administrator, page, action, {"reason": "", "until": "2099-01-01"})
    assert unreasoned.status_code == 422 and error_beside(unreasoned.text, "suspend-reason")
    done = await post_form(administrator, page, action, {"reason": "多次放弃中选", "until": "2099-01-01"})
    assert done.status_code == 303, done.text
    text = html.unescape((await administrator.get(done.headers["location"])).text)
    assert (
        "The agency is suspended" in text
        and "suspended until 2099-01-01" in text
        and 'id="suspend"' not in text
    )
