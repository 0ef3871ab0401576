"""Alerts for supervisors: an inbox message for the supervisors of the hall concerned (or
of the nearest hall above that has any) and a live count for their consoles; new red flags
alerted once per view by the periodic task; the badge's events stream and the day's board,
staff only, each showing only what the viewer reaches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.core.config import Settings
from market.core.db import Database
from market.inbox.models import Message
from market.supervision import alerts
from market.supervision.flags.alerting import FlagAlertTask
from market.supervision.web_live import today_bounds
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import owner_user
from tests.integration.selection.helpers import close, open_round
from tests.integration.supervision.test_flags_jurisdiction import (
    COUNTY,
    PREFECTURE,
    SIBLING,
    copy_notice,
    county_concentration,
    template_notice,
)


async def staff(db: Database, jurisdiction: str, role: Role = Role.supervisor) -> str:
    return await create_staff(db, role=role, jurisdiction=jurisdiction)


async def user_id(db: Database, email: str) -> int:
    async with db.transaction() as session:
        found = (await session.execute(sa.select(AppUser).where(col(AppUser.email) == email))).scalar_one()
        assert found.id is not None
        return found.id


async def alerts_of(db: Database, email: str, kind: str | None = None) -> list[Message]:
    uid = await user_id(db, email)
    async with db.transaction() as session:
        stmt = sa.select(Message).where(col(Message.user_id) == uid, col(Message.kind).like("alert_%"))
        if kind is not None:
            stmt = stmt.where(col(Message.kind) == kind)
        return list((await session.execute(stmt.order_by(col(Message.id)))).scalars())


async def test_an_alert_goes_to_the_halls_supervisors_or_the_nearest_above(db: Database) -> None:
    county, sibling, prefecture = [await staff(db, h) for h in (COUNTY, SIBLING, PREFECTURE)]
    admin_here = await staff(db, COUNTY, Role.admin)
    async with db.transaction() as session:
        await alerts.alert(session, hall=COUNTY, kind=alerts.RED_FLAG, flag_kind="win_share", subject="A1")
        await alerts.alert(session, hall="530111", kind=alerts.RED_FLAG, flag_kind="win_share", subject="A2")
    assert [m.params["subject"] for m in await alerts_of(db, county)] == ["A1"]
    assert [m.params["subject"] for m in await alerts_of(db, prefecture)] == ["A2"]  # 530111 has none
    assert await alerts_of(db, sibling) == [] and await alerts_of(db, admin_here) == []
    async with db.transaction() as session:
        assert await alerts.unread_alerts(session, await user_id(db, county)) == 1


async def test_a_failed_selection_alerts_its_halls_supervisors(client: AsyncClient, db: Database) -> None:
    county = await staff(db, COUNTY)
    sibling = await staff(db, SIBLING)
    r = await open_round(client, await admin(client, db), bidders=1, min_candidates=2)
    record = await close(client, r)
    assert record["status"] == "failed", record
    got = await alerts_of(db, county, alerts.SELECTION_FAILED)
    assert [m.params["notice_id"] for m in got] == [r.notice_id]
    assert await alerts_of(db, sibling) == []


async def test_the_flag_task_alerts_a_new_flag_once_and_only_in_its_view(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    county, sibling, province = await staff(db, COUNTY), await staff(db, SIBLING), await staff(db, "530000")
    # The first computation of each view is its baseline; the county's finds nothing yet.
    assert await FlagAlertTask(db, settings).run_once() == 0
    world = await county_concentration(client, db)
    task = FlagAlertTask(db, settings)
    assert await task.run_once() >= 1
    mine = await alerts_of(db, county, alerts.RED_FLAG)
    assert world["a"] in {m.params["subject"] for m in mine}
    assert all(m.params["hall"] == COUNTY for m in mine)
    for other in (sibling, province):
        assert world["a"] not in {m.params["subject"] for m in await alerts_of(db, other, alerts.RED_FLAG)}
    # Once: nothing new since, and a full look again alerts nothing either.
    assert await task.run_once() == 0
    task.last_day = None
    assert await task.run_once() == 0
    assert len(await alerts_of(db, county, alerts.RED_FLAG)) == len(mine)

    page = await client.get(
        "/messages", headers={**bearer(await token_for(client, county)), "Accept-Language": "en"}
    )
    assert (
        "a new red flag in your jurisdiction" in page.text and "/supervision/flags?jurisdiction=" in page.text
    )


async def first_event(app: Litestar, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """The status of an events stream and its first event (or the body of a refusal)."""
    body = bytearray()
    done = asyncio.Event()
    start: dict[str, Any] = {}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            if message["status"] != 200:
                done.set()
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if b"\r\n\r\n" in body or not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver.local"),
            (b"accept", b"text/event-stream"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=20)  # type: ignore[arg-type]
    return int(start["status"]), bytes(body).decode().split("\r\n\r\n")[0]


async def test_the_badge_stream_is_staff_only_and_starts_with_the_unread_count(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    county = await staff(db, COUNTY)
    async with db.transaction() as session:
        await alerts.alert(session, hall=COUNTY, kind=alerts.RED_FLAG, flag_kind="win_share", subject="A1")
        await alerts.alert(session, hall=COUNTY, kind=alerts.RED_FLAG, flag_kind="win_share", subject="A2")
    status, event = await first_event(app, "/supervision/live", bearer(await token_for(client, county)))
    assert status == 200 and event.split("\r\n")[1:] == ["event: count", "data: 2"]

    assert (await first_event(app, "/supervision/live", {}))[0] == 401
    assert (await first_event(app, "/supervision/live", await owner_user(client)))[0] == 403
    assert (await first_event(app, "/supervision/board/events", await owner_user(client)))[0] == 403
    assert (await client.get("/supervision/board", headers=await owner_user(client))).status_code == 403

    # Reading the messages clears the badge.
    await client.get("/messages", headers=bearer(await token_for(client, county)))
    assert (await first_event(app, "/supervision/live", bearer(await token_for(client, county))))[1].endswith(
        "data: 0"
    )


async def test_the_board_shows_only_todays_notices_in_reach(
    app: Litestar, client: AsyncClient, db: Database
) -> None:
    source = await template_notice(client)
    start, end = today_bounds()
    soon = min(datetime.now(UTC) + timedelta(minutes=5), end - timedelta(seconds=1))
    mine = await copy_notice(db, source, hall=COUNTY, status="open", bid_deadline=soon, title="本县今日截止")
    beside = await copy_notice(
        db, source, hall=SIBLING, status="open", bid_deadline=soon, title="邻县今日截止"
    )
    later = await copy_notice(
        db, source, hall=COUNTY, status="open", bid_deadline=end + timedelta(hours=1), title="明日截止"
    )
    county = bearer(await token_for(client, await staff(db, COUNTY)))
    page = await client.get("/supervision/board", headers=county)
    assert page.status_code == 200, page.text
    assert mine in page.text and beside not in page.text and later not in page.text
    assert 'data-events="/supervision/board/events"' in page.text
    status, event = await first_event(app, "/supervision/board/events", county)
    assert (
        status == 200 and event.split("\r\n")[1] == "event: update" and mine in event and beside not in event
    )

    province = bearer(await token_for(client, await staff(db, "530000", Role.admin)))
    everything = (await client.get("/supervision/board", headers=province)).text
    assert mine in everything and beside in everything and later not in everything
