"""Objections climb the halls (issue 21, item 4): one left undecided for
MARKET_OBJECTION_ESCALATION_DAYS goes to the supervisors one level up, logged, and the
owner and the objector are told; the decision follows the current hall; the province's
never goes further; running the escalation twice escalates once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from market.notices import service as notices
from market.objections import service as objections
from market.objections.scheduler import EscalationTask
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.selection.helpers import Round, close, entries_of, messages_of, open_round
from tests.integration.selection.test_pages import EN, browsers  # noqa: F401 - browsers is a fixture

REASONS = "中选机构的资质证书已被吊销，不符合报名条件"
DAYS = 5
COUNTY, SIBLING, PREFECTURE, PROVINCE = "530102", "530103", "530100", "530000"


async def supervisor_at(client: AsyncClient, db: Database, hall: str) -> dict[str, str]:
    return bearer(await token_for(client, await create_staff(db, role=Role.supervisor, jurisdiction=hall)))


async def console_at(db: Database, browsers: Any, hall: str) -> AsyncClient:
    """A supervisor of ``hall`` logged in to the pages."""
    return await browsers(await create_staff(db, role=Role.supervisor, jurisdiction=hall), **EN)  # type: ignore[no-any-return]


async def objected(client: AsyncClient, db: Database) -> tuple[Round, str, dict[str, str]]:
    """A lottery drawn in the county of 五华区 (the test owner's organisation's hall), and a
    losing bidder's objection to it: (round, objection id, the objector's headers)."""
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    headers = next(h for h, a in r.bidders if a["id"] not in record["winners"])
    filed = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections", json={"reasons": REASONS}, headers=headers
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["hall"] == COUNTY
    return r, filed.json()["id"], headers


async def db_later(db: Database, days: float) -> datetime:
    """The database's clock moved ``days`` forward."""
    async with db.transaction() as session:
        return await notices.db_now(session) + timedelta(days=days)


async def escalate_at(db: Database, at: datetime) -> list[str]:
    """What the scheduler does at ``at``: escalate, one per transaction, until none is due."""
    done: list[str] = []
    while True:
        async with db.transaction() as session:
            escalated = await objections.escalate_one(session, days=DAYS, at=at)
        if escalated is None:
            return done
        done.append(escalated)


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [m["kind"] for m in messages]


async def decide(client: AsyncClient, r: Round, objection_id: str, headers: dict[str, str]) -> Any:
    return await client.post(
        f"/api/v1/notices/{r.notice_id}/objections/{objection_id}/decision",
        json={"decision": "rejected", "reason": "理由不成立"},
        headers=headers,
    )


async def test_an_undecided_objection_climbs_county_prefecture_province_and_stops(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    county = await supervisor_at(client, db, COUNTY)
    sibling = await supervisor_at(client, db, SIBLING)
    prefecture = await supervisor_at(client, db, PREFECTURE)
    province = await supervisor_at(client, db, PROVINCE)
    r, oid, objector = await objected(client, db)

    # Filing tells the county's supervisors only.
    assert "alert_objection_filed" in kinds(await messages_of(client, county))
    for other in (sibling, prefecture, province):
        assert "alert_objection_filed" not in kinds(await messages_of(client, other))

    # Not yet due: a day short of the setting, nothing moves.
    assert await escalate_at(db, await db_later(db, DAYS - 1)) == []

    # Due: to the prefecture, logged, the owner, the objector and the prefecture told.
    first = await db_later(db, DAYS + 0.01)
    assert await escalate_at(db, first) == [oid]
    assert await escalate_at(db, first) == []  # run again at the same moment: nothing more
    entries = await entries_of(client, r.notice_id, "objection.escalated")
    assert [(e["objection_id"], e["from"], e["to"]) for e in entries] == [(oid, COUNTY, PREFECTURE)]
    assert set(entries[0]) == {"v", "seq", "type", "ts", "notice_id", "objection_id", "from", "to"}
    for party in (r.owner, objector):
        told = [m for m in await messages_of(client, party) if m["kind"] == "objection_escalated"]
        assert len(told) == 1 and told[0]["params"]["objection_id"] == oid, told
    assert kinds(await messages_of(client, prefecture)).count("alert_objection_escalated") == 1
    for other in (county, sibling, province):
        assert "alert_objection_escalated" not in kinds(await messages_of(client, other))

    # The county has lost it.
    refused = await decide(client, r, oid, county)
    assert refused.status_code == 403 and "outside your jurisdiction" in refused.json()["detail"]

    # Another DAYS undecided (counted from the escalation): to the province.
    second = first + timedelta(days=DAYS, seconds=1)
    assert await escalate_at(db, second - timedelta(seconds=2)) == []
    assert await escalate_at(db, second) == [oid]
    entries = await entries_of(client, r.notice_id, "objection.escalated")
    assert [(e["from"], e["to"]) for e in entries] == [(COUNTY, PREFECTURE), (PREFECTURE, PROVINCE)]
    assert kinds(await messages_of(client, province)).count("alert_objection_escalated") == 1

    # The province's never goes further, however long it waits.
    assert await escalate_at(db, second + timedelta(days=10 * DAYS)) == []
    assert len(await entries_of(client, r.notice_id, "objection.escalated")) == 2
    listed = (await client.get(f"/api/v1/notices/{r.notice_id}/objections", headers=province)).json()
    assert [(o["id"], o["hall"]) for o in listed] == [(oid, PROVINCE)] and listed[0]["escalated_at"]

    # As supervisors see it: its current hall and each step up, on the console and the queue.
    page = (await (await console_at(db, browsers, PROVINCE)).get(f"/supervision/notices/{r.notice_id}")).text
    assert "Decided by the supervisors of" in page and f'id="decide-{oid}"' in page
    assert "Escalated from 五华区 to 昆明市" in page and "Escalated from 昆明市 to 云南省" in page
    county_console = await console_at(db, browsers, COUNTY)
    page = (await county_console.get(f"/supervision/notices/{r.notice_id}")).text
    assert f'id="decide-{oid}"' not in page and "gone up to another hall" in page
    assert oid not in (await county_console.get("/supervision/objections")).text

    # Now only the province decides it.
    for lower in (county, prefecture):
        assert (await decide(client, r, oid, lower)).status_code == 403
    decided = await decide(client, r, oid, province)
    assert decided.status_code == 200, decided.text
    assert await escalate_at(db, second + timedelta(days=100)) == []  # decided: never again


async def test_the_scheduler_escalates_by_the_database_clock_once(client: AsyncClient, db: Database) -> None:
    prefecture = await supervisor_at(client, db, PREFECTURE)
    r, oid, _ = await objected(client, db)
    task = EscalationTask(db, days=DAYS, interval=60)
    assert await task.run_once() == []  # just filed
    # The database's clock, as the objection sees it, moves DAYS forward.
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "UPDATE objection SET filed_at = filed_at - make_interval(days => :d) WHERE public_id = :id"
            ),
            {"d": DAYS, "id": oid},
        )
    assert await task.run_once() == [oid]
    assert await task.run_once() == []  # idempotent: escalated_at is now, not DAYS ago
    entries = await entries_of(client, r.notice_id, "objection.escalated")
    assert [(e["from"], e["to"]) for e in entries] == [(COUNTY, PREFECTURE)]
    decided = await decide(client, r, oid, prefecture)
    assert decided.status_code == 200, decided.text
