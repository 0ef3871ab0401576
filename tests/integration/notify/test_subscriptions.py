"""Agencies hear of new notices (issue 22): an agency subscribed to a notice's category and
to a region containing the notice's (or to none: the whole province) gets an inbox message
when the notice is published, and an e-mail if it wants one; the others get nothing. The
statement that finds them is one, whatever the number of agencies."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from market.core.db import Database
from market.notify import rules
from market.notify.sender import MailSender
from tests.conftest import serve_in_process
from tests.helpers import bearer, register, token_for
from tests.integration.agencies.test_api import admin, create
from tests.integration.notices.test_api import owner_user, published
from tests.integration.notify.conftest import PUBLIC_URL, MailCatcher
from tests.integration.selection.helpers import messages_of

TITLE = "五华区某建设项目环境影响评价"
NOTICE = {"category": "EIA", "region": "530102"}  # 五华区, inside 昆明市 (530100)


async def subscribed(
    client: AsyncClient,
    staff: dict[str, str],
    categories: list[str],
    regions: list[str],
    *,
    approve: bool = True,
) -> tuple[str, dict[str, str]]:
    """An agency user (approved unless told) subscribed so: (e-mail, headers)."""
    user = await register(client, role="agency")
    headers = bearer(await token_for(client, user["email"]))
    agency = await create(client, headers)
    if approve:
        review = await client.post(
            f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=staff
        )
        assert review.status_code == 200, review.text
    put = await client.put(
        "/api/v1/me/subscriptions", json={"categories": categories, "regions": regions}, headers=headers
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"categories": sorted(categories), "regions": sorted(regions)}
    return user["email"], headers


def matched(messages: list[dict[str, Any]]) -> list[str]:
    return [m["params"]["notice_id"] for m in messages if m["kind"] == rules.NOTICE_MATCHED]


async def test_a_published_notice_reaches_the_subscribers_that_match_and_no_other(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    app, settings = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        staff = await admin(client, db)
        cases = {  # (categories, regions, approved) -> hears of the notice
            "kunming": (["EIA", "SAFETY_ASSESSMENT"], ["530100"], True),
            "wuhua": (["EIA"], ["530102"], True),
            "province": (["EIA"], [], True),
            "qujing": (["EIA"], ["530300"], True),
            "other_category": (["GEOHAZARD"], [], True),
            "not_approved": (["EIA"], [], False),
        }
        agencies = {
            name: await subscribed(client, staff, c, r, approve=a) for name, (c, r, a) in cases.items()
        }
        no_subscription = await subscribed(client, staff, [], [])
        # One of the matching agencies wants no e-mail for this kind.
        off = await client.put(
            "/api/v1/me/notifications",
            json={"email": {rules.NOTICE_MATCHED: False}},
            headers=agencies["province"][1],
        )
        assert off.status_code == 200 and off.json()["email"][rules.NOTICE_MATCHED] is False

        owner = await owner_user(client)
        notice = await published(client, owner, title=TITLE, **NOTICE)
        expected = {"kunming", "wuhua", "province"}
        for name, (_, headers) in agencies.items():
            got = matched(await messages_of(client, headers))
            assert got == ([notice["id"]] if name in expected else []), name
            # The pure rule says the same as the statement (and approval is the SQL's).
            categories, regions, approved = cases[name]
            prefixes = [rules.region_prefix(r, "530000") for r in regions]
            rule = rules.matches(category="EIA", region="530102", categories=categories, prefixes=prefixes)
            assert (rule and approved) == (name in expected), name
        assert matched(await messages_of(client, no_subscription[1])) == []

        # A direct selection is open to its one agency: nobody hears of it.
        await published_direct(client, owner, staff)
        for name in expected:
            assert len(matched(await messages_of(client, agencies[name][1]))) == 1

        assert await MailSender(db, settings, interval=1.0).run_once() == (2, 0)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(
        agencies[n][0] for n in ("kunming", "wuhua")
    )
    body = smtp.received[0].message.get_content()
    assert (
        TITLE in str(smtp.received[0].message["Subject"]) and f"{PUBLIC_URL}/notices/{notice['id']}" in body
    )


async def published_direct(client: AsyncClient, owner: dict[str, str], staff: dict[str, str]) -> None:
    user = await register(client, role="agency")
    headers = bearer(await token_for(client, user["email"]))
    agency = await create(client, headers)
    review = await client.post(
        f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=staff
    )
    assert review.status_code == 200, review.text
    await published(
        client,
        owner,
        method="direct",
        winners=1,
        min_candidates=1,
        direct_agency_id=agency["id"],
        direct_justification="应急抢险项目，依规直接选取",
        **NOTICE,
    )


async def test_subscriptions_are_checked(mail_app_for: Any, smtp: MailCatcher, db: Database) -> None:
    app, _ = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        staff = await admin(client, db)
        _, headers = await subscribed(client, staff, ["EIA"], ["530100"])
        for body, field in (
            ({"categories": ["NOPE"], "regions": []}, "categories"),
            ({"categories": ["EIA"], "regions": ["110000"]}, "regions"),  # Beijing: outside the province
            ({"categories": ["EIA"], "regions": ["999999"]}, "regions"),
        ):
            refused = await client.put("/api/v1/me/subscriptions", json=body, headers=headers)
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0]["field"] == field
        # Nothing changed by a refusal.
        assert (await client.get("/api/v1/me/subscriptions", headers=headers)).json() == {
            "categories": ["EIA"],
            "regions": ["530100"],
        }
        owner = await owner_user(client)
        assert (await client.get("/api/v1/me/subscriptions", headers=owner)).status_code == 403


async def test_without_mail_the_subscribers_still_get_the_inbox_message(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    _, headers = await subscribed(client, staff, ["EIA"], [])
    owner = await owner_user(client)
    notice = await published(client, owner, title=TITLE, **NOTICE)
    assert matched(await messages_of(client, headers)) == [notice["id"]]
    async with db.transaction() as session:
        assert (await session.execute(sa.text("SELECT count(*) FROM mail_outbox"))).scalar_one() == 0
    page = (await client.get("/messages", headers={**headers, "Accept-Language": "en"})).text
    assert re.search(
        rf"A new notice matches your subscriptions: “<bdi[^>]*>{TITLE}</bdi>” \({notice['id']}\)", page
    )


async def test_finding_the_subscribers_is_one_statement_whatever_their_number(
    client: AsyncClient, db: Database, connection: AsyncConnection
) -> None:
    staff = await admin(client, db)
    for _ in range(4):
        await subscribed(client, staff, ["EIA"], ["530100"])
    await subscribed(client, staff, ["GEOHAZARD"], [])
    owner = await owner_user(client)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "subscription_" in statement or "inbox_message" in statement:
            statements.append(statement)

    sa.event.listen(connection.sync_connection, "before_cursor_execute", seen)
    try:
        notice = await published(client, owner, **NOTICE)
    finally:
        sa.event.remove(connection.sync_connection, "before_cursor_execute", seen)
    assert len(statements) == 1, statements  # the messages and the e-mails in it too
    async with db.transaction() as session:
        told = await session.execute(
            sa.text(
                "SELECT count(*) FROM inbox_message WHERE kind = 'notice_matched' AND params->>'notice_id' = :n"
            ),
            {"n": notice["id"]},
        )
        assert told.scalar_one() == 4


async def test_an_agency_the_owner_avoids_hears_nothing_of_the_notice(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    """The avoided agency (回避) may not bid, so the notice is not announced to it either: it
    would otherwise learn from its inbox which owners avoid it. Its neighbour, subscribed the
    same way, hears of it."""
    app, _ = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        staff = await admin(client, db)
        _, avoided = await subscribed(client, staff, ["EIA"], [])
        _, neighbour = await subscribed(client, staff, ["EIA"], [])
        avoided_id = (await client.get("/api/v1/agencies/mine", headers=avoided)).json()["id"]
        owner = await owner_user(client)
        notice = await published(
            client,
            owner,
            title=TITLE,
            avoid=[{"agency_id": avoided_id, "reason": "与业主存在关联关系"}],
            **NOTICE,
        )
        assert matched(await messages_of(client, avoided)) == []
        assert matched(await messages_of(client, neighbour)) == [notice["id"]]
