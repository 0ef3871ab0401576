"""Contracts through the JSON API (docs/contracts.md): recording after the award is final,
confirming, declining (the award passes on), milestones handed in, returned, handed in again
and accepted, completion, stopping, deliverables and who may open them, the daily overdue
flags, and every refusal on the way. Each flow ends with the notice's story still verifying.

Rounds run on an app with ``publicity_days=0`` so that an award is final as soon as the
scheduler's step runs (``service.run_due``), inside the test's rolled-back transaction."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.contracts import queries as contract_queries
from market.contracts import service as contracts
from market.contracts.scheduler import OverdueTask
from market.core.clock import today_in_china
from market.core.db import Database
from market.selection import service
from market.selection.api import context
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import PDF, admin
from tests.integration.notices.test_api import approved_agency, owner_user
from tests.integration.selection.helpers import (
    HEAD,
    Round,
    assert_story_verifies,
    close,
    entries_of,
    messages_of,
    open_round,
    selection_of,
)

CONTRACT_FIELDS = {
    "contract.recorded": {
        "notice_id",
        "contract_id",
        "agency_id",
        "amount_fen",
        "signed_on",
        "start_on",
        "due_on",
        "milestones",
    },
    "contract.signed": {
        "notice_id",
        "contract_id",
        "agency_id",
        "amount_fen",
        "signed_on",
        "start_on",
        "due_on",
    },
    "milestone.submitted": {"notice_id", "contract_id", "position", "sha256", "note_sha256"},
    "milestone.accepted": {"notice_id", "contract_id", "position"},
    "milestone.returned": {"notice_id", "contract_id", "position", "reason_sha256"},
    "milestone.overdue": {"notice_id", "contract_id", "position", "due_on"},
    "contract.completed": {"notice_id", "contract_id"},
    "contract.stopped": {"notice_id", "contract_id", "reason"},
    "award.declined": {"notice_id", "agency_id", "reason", "replacement"},
}
TODAY = today_in_china()


@pytest.fixture
async def quick(
    db: Database, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    """An app whose publicity lasts no time: a draw is final at the scheduler's next step."""
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0), database=db)
    async with serve_in_process(app) as c:
        yield app, c


async def finalize_due(app: Litestar, db: Database) -> list[str]:
    done = []
    while True:
        async with db.transaction() as session:
            worked = await service.run_due(session, context(app.state))
        if worked is None:
            return done
        done.append(worked)


async def awarded(
    app: Litestar, c: AsyncClient, db: Database, staff: dict[str, str], bidders: int = 3
) -> tuple[Round, dict[str, Any]]:
    r = await open_round(
        c, staff, bidders=bidders, method="lottery", winners=1, min_candidates=min(3, bidders)
    )
    await close(c, r)
    assert r.notice_id in await finalize_due(app, db)
    record = await selection_of(c, r.notice_id)
    assert record["status"] == "awarded", record["status"]
    return r, record


def headers_of(r: Round, agency_id: str) -> dict[str, str]:
    return next(h for h, a in r.bidders if a["id"] == agency_id)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def contract_body(agency_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "agency_id": agency_id,
        "amount_fen": 12_000_000,
        "signed_on": day(0),
        "start_on": day(1),
        "due_on": day(60),
        "milestones": [
            {"title": "环评报告初稿", "due_on": day(30)},
            {"title": "环评报告终稿", "due_on": day(60)},
        ],
    }
    return {**body, **overrides}


def assert_fields(entry: dict[str, Any]) -> None:
    assert set(entry) == HEAD | CONTRACT_FIELDS[entry["type"]], (entry["type"], sorted(entry))


def fields_of(response: Any) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


async def record(c: AsyncClient, r: Round, agency_id: str, **overrides: Any) -> dict[str, Any]:
    response = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=contract_body(agency_id, **overrides),
        headers=r.owner,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def submit(
    c: AsyncClient,
    contract_id: str,
    position: int,
    headers: dict[str, str],
    *,
    content: bytes = PDF,
    name: str = "report.pdf",
    note: str = "初稿已完成，请审阅",
) -> Any:
    return await c.post(
        f"/api/v1/contracts/{contract_id}/milestones/{position}/submit",
        files={"file": (name, content, "application/pdf")},
        data={"note": note},
        headers=headers,
    )


async def contract_entries(c: AsyncClient, notice_id: str) -> list[dict[str, Any]]:
    return [e for e in await entries_of(c, notice_id) if e["type"].startswith(("contract.", "milestone."))]


# -- recording ---------------------------------------------------------------------------------------


async def test_contract_before_the_publicity_period_ends_is_409(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    selected = await close(client, r)
    assert selected["status"] == "selected"
    response = await client.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=contract_body(selected["winners"][0]),
        headers=r.owner,
    )
    assert response.status_code == 409, response.text
    assert "publicity period has not ended" in response.json()["detail"]
    assert await contract_entries(client, r.notice_id) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_fen": 0}, "amount_fen"),
        ({"amount_fen": -100}, "amount_fen"),
        ({"start_on": day(70)}, "due_on"),
        ({"signed_on": day(5)}, "signed_on"),
        ({"milestones": [{"title": "初稿", "due_on": day(0)}]}, "milestones[0].due_on"),
        ({"milestones": [{"title": "初稿", "due_on": day(61)}]}, "milestones[0].due_on"),
        (
            {"milestones": [{"title": "终稿", "due_on": day(40)}, {"title": "初稿", "due_on": day(20)}]},
            "milestones[1].due_on",
        ),
        ({"milestones": []}, "milestones"),
    ],
)
async def test_bad_contract_input_is_422_naming_the_field(
    quick: tuple[Litestar, AsyncClient], db: Database, overrides: dict[str, Any], field: str
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    response = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=contract_body(rec["winners"][0], **overrides),
        headers=r.owner,
    )
    assert response.status_code == 422, response.text
    assert field in fields_of(response), response.json()
    assert await contract_entries(c, r.notice_id) == []


async def test_who_may_record_and_for_whom(quick: tuple[Litestar, AsyncClient], db: Database) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner, loser = rec["winners"][0], rec["alternates"][0]
    other_owner = await owner_user(c)
    assert (
        await c.post(
            f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(winner), headers=other_owner
        )
    ).status_code == 403
    assert (
        await c.post(
            f"/api/v1/notices/{r.notice_id}/contracts",
            json=contract_body(winner),
            headers=headers_of(r, winner),
        )
    ).status_code == 403
    not_holding = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(loser), headers=r.owner
    )
    assert not_holding.status_code == 422 and "agency_id" in fields_of(not_holding)
    unknown = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body("AG-999999"), headers=r.owner
    )
    assert unknown.status_code == 404
    assert (
        await c.post("/api/v1/notices/N-999999/contracts", json=contract_body(winner), headers=r.owner)
    ).status_code == 404
    await record(c, r, winner)
    twice = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(winner), headers=r.owner
    )
    assert twice.status_code == 409
    assert len(await entries_of(c, r.notice_id, "contract.recorded")) == 1


# -- the whole life of a contract ------------------------------------------------------------------------


async def test_record_confirm_submit_return_resubmit_accept_completes(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner, loser = rec["winners"][0], rec["alternates"][0]
    agency, other = headers_of(r, winner), headers_of(r, loser)

    body = await record(c, r, winner)
    cid = body["id"]
    assert cid.startswith("C-") and body["status"] == "proposed" and body["amount_fen"] == 12_000_000
    assert [m["position"] for m in body["milestones"]] == [1, 2] and all(
        m["status"] == "pending" for m in body["milestones"]
    )
    recorded = (await entries_of(c, r.notice_id, "contract.recorded"))[0]
    assert_fields(recorded)
    assert (
        recorded["contract_id"] == cid
        and recorded["agency_id"] == winner
        and recorded["amount_fen"] == 12_000_000
    )
    assert recorded["milestones"] == [
        {"position": 1, "title": "环评报告初稿", "due_on": day(30)},
        {"position": 2, "title": "环评报告终稿", "due_on": day(60)},
    ]
    assert "contract_recorded" in [m["kind"] for m in await messages_of(c, agency)]

    # Nothing can be handed in before the agency confirms; only the contract's agency confirms.
    assert (await submit(c, cid, 1, agency)).status_code == 409
    assert (await c.post(f"/api/v1/contracts/{cid}/confirm", headers=other)).status_code == 403
    assert (await c.post(f"/api/v1/contracts/{cid}/confirm", headers=r.owner)).status_code == 403
    confirmed = await c.post(f"/api/v1/contracts/{cid}/confirm", headers=agency)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "in_service" and confirmed.json()["seqs"]["signed"] is not None
    signed = (await entries_of(c, r.notice_id, "contract.signed"))[0]
    assert_fields(signed)
    assert (
        signed["amount_fen"] == 12_000_000 and signed["start_on"] == day(1) and signed["agency_id"] == winner
    )
    assert (await c.post(f"/api/v1/contracts/{cid}/confirm", headers=agency)).status_code == 409

    # A text file named .pdf is refused by its content; a real PDF is taken.
    fake = await submit(c, cid, 1, agency, content=b"just some text, not a PDF", name="x.pdf")
    assert fake.status_code == 422 and "file" in fields_of(fake)
    assert (await submit(c, cid, 1, other)).status_code == 403
    no_note = await submit(c, cid, 1, agency, note="  ")
    assert no_note.status_code == 422 and "note" in fields_of(no_note)
    handed = await submit(c, cid, 1, agency)
    assert handed.status_code == 200, handed.text
    assert handed.json()["milestones"][0]["status"] == "submitted"
    assert (await submit(c, cid, 1, agency)).status_code == 409  # waiting for the owner
    submitted = (await entries_of(c, r.notice_id, "milestone.submitted"))[0]
    assert_fields(submitted)
    assert submitted["sha256"] == hashlib.sha256(PDF).hexdigest() and submitted["position"] == 1
    assert submitted["note_sha256"] == hashlib.sha256("初稿已完成，请审阅".encode()).hexdigest()

    # The deliverable: the owner and the agency (and staff) only; the contract itself is public.
    path = f"/api/v1/contracts/{cid}/milestones/1/deliverable"
    for who in (r.owner, agency, staff):
        got = await c.get(path, headers=who)
        assert got.status_code == 200 and got.content == PDF, got.text
    assert (await c.get(path, headers=other)).status_code == 403
    assert (await c.get(path)).status_code == 401
    public = (await c.get(f"/api/v1/contracts/{cid}")).json()
    assert public["status"] == "in_service" and "note" not in public["milestones"][0]
    assert (
        public["milestones"][0]["deliverable"]["sha256"] == submitted["sha256"]
        and "filename" not in public["milestones"][0]["deliverable"]
    )
    assert (await c.get(f"/api/v1/contracts/{cid}", headers=r.owner)).json()["milestones"][0][
        "note"
    ] == "初稿已完成，请审阅"

    # Returned with reasons, handed in again, accepted.
    assert (
        await c.post(f"/api/v1/contracts/{cid}/milestones/1/return", json={"reason": "短"}, headers=r.owner)
    ).status_code == 422
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/milestones/1/return",
            json={"reason": "缺少大气环境影响预测章节"},
            headers=agency,
        )
    ).status_code == 403
    returned = await c.post(
        f"/api/v1/contracts/{cid}/milestones/1/return",
        json={"reason": "缺少大气环境影响预测章节"},
        headers=r.owner,
    )
    assert returned.status_code == 200 and returned.json()["milestones"][0]["status"] == "returned"
    returned_entry = (await entries_of(c, r.notice_id, "milestone.returned"))[0]
    assert_fields(returned_entry)
    assert returned_entry["reason_sha256"] == hashlib.sha256("缺少大气环境影响预测章节".encode()).hexdigest()
    assert (await c.post(f"/api/v1/contracts/{cid}/milestones/1/accept", headers=r.owner)).status_code == 409
    again = await submit(c, cid, 1, agency, content=PDF + b"% v2\n", note="已补充预测章节")
    assert again.status_code == 200, again.text
    accepted = await c.post(f"/api/v1/contracts/{cid}/milestones/1/accept", headers=r.owner)
    assert accepted.status_code == 200 and accepted.json()["milestones"][0]["status"] == "accepted"
    assert accepted.json()["status"] == "in_service"
    assert (await c.get(path, headers=r.owner)).content == PDF + b"% v2\n"  # the latest one

    assert (await c.post(f"/api/v1/contracts/{cid}/milestones/2/accept", headers=r.owner)).status_code == 409
    assert (await c.post(f"/api/v1/contracts/{cid}/milestones/3/accept", headers=r.owner)).status_code == 404
    assert (await submit(c, cid, 2, agency, name="final.pdf")).status_code == 200
    done = await c.post(f"/api/v1/contracts/{cid}/milestones/2/accept", headers=r.owner)
    assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["completed_at"]
    assert (
        await c.post(f"/api/v1/contracts/{cid}/stop", json={"reason": "业主单位项目取消"}, headers=r.owner)
    ).status_code == 409

    entries = await contract_entries(c, r.notice_id)
    assert [e["type"] for e in entries] == [
        "contract.recorded",
        "contract.signed",
        "milestone.submitted",
        "milestone.returned",
        "milestone.submitted",
        "milestone.accepted",
        "milestone.submitted",
        "milestone.accepted",
        "contract.completed",
    ]
    for entry in entries:
        assert_fields(entry)
        assert entry["notice_id"] == r.notice_id and entry["contract_id"] == cid
    kinds = [m["kind"] for m in await messages_of(c, agency)]
    for kind in ("contract_recorded", "milestone_returned", "milestone_accepted", "contract_completed"):
        assert kind in kinds, kinds
    owner_kinds = [m["kind"] for m in await messages_of(c, r.owner)]
    assert "contract_signed" in owner_kinds and "milestone_submitted" in owner_kinds

    listed = (await c.get(f"/api/v1/contracts?agency_id={winner}&status=completed")).json()
    assert [i["id"] for i in listed["items"]] == [cid]
    assert (await c.get(f"/api/v1/contracts?agency_id={winner}&status=in_service")).json()["items"] == []
    assert (await c.get("/api/v1/contracts?status=bogus")).status_code == 422
    await assert_story_verifies(c, r.notice_id, "awarded")


async def test_decline_passes_the_award_to_the_next_alternate_who_gets_its_own_contract(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner, alternate = rec["winners"][0], rec["alternates"][0]
    first = await record(c, r, winner)
    assert (
        await c.post(
            f"/api/v1/contracts/{first['id']}/decline",
            json={"reason": "无法签订合同"},
            headers=headers_of(r, alternate),
        )
    ).status_code == 403
    empty = await c.post(
        f"/api/v1/contracts/{first['id']}/decline", json={"reason": " "}, headers=headers_of(r, winner)
    )
    assert empty.status_code == 422
    declined = await c.post(
        f"/api/v1/contracts/{first['id']}/decline",
        json={"reason": "项目负责人离职，无法按期履约"},
        headers=headers_of(r, winner),
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined" and declined.json()["declined_at"]
    entry = (await entries_of(c, r.notice_id, "award.declined"))[0]
    assert_fields(entry)
    assert (
        entry["agency_id"] == winner
        and entry["replacement"] == alternate
        and entry["reason"] == "项目负责人离职，无法按期履约"
    )
    after = await selection_of(c, r.notice_id)
    assert after["holders"] == [alternate] and after["status"] == "selected"
    assert (
        await c.post(f"/api/v1/contracts/{first['id']}/confirm", headers=headers_of(r, winner))
    ).status_code == 409
    await assert_story_verifies(c, r.notice_id, "selected")

    # The replacement's own publicity (none here) ends; then it gets its own contract.
    early = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(alternate), headers=r.owner
    )
    assert early.status_code == 409
    assert r.notice_id in await finalize_due(app, db)
    second = await record(c, r, alternate)
    assert second["id"] != first["id"] and second["agency_id"] == alternate
    confirmed = await c.post(f"/api/v1/contracts/{second['id']}/confirm", headers=headers_of(r, alternate))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "in_service"
    await assert_story_verifies(c, r.notice_id, "awarded")


async def test_owner_stops_a_contract_in_service_with_a_published_reason(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    agency = headers_of(r, winner)
    cid = (await record(c, r, winner))["id"]
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/stop", json={"reason": "项目已取消，服务中止"}, headers=r.owner
        )
    ).status_code == 409  # not yet signed
    assert (await c.post(f"/api/v1/contracts/{cid}/confirm", headers=agency)).status_code == 200
    assert (
        await c.post(f"/api/v1/contracts/{cid}/stop", json={"reason": "短"}, headers=r.owner)
    ).status_code == 422
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/stop",
            json={"reason": "联系 someone@example.com 了解详情"},
            headers=r.owner,
        )
    ).status_code == 422
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/stop",
            json={"reason": "项目已取消，服务中止"},
            headers=await owner_user(c),
        )
    ).status_code == 403
    stopped = await c.post(
        f"/api/v1/contracts/{cid}/stop", json={"reason": "项目已取消，服务中止"}, headers=r.owner
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped" and stopped.json()["stop_reason"] == "项目已取消，服务中止"
    entry = (await entries_of(c, r.notice_id, "contract.stopped"))[0]
    assert_fields(entry)
    assert entry["reason"] == "项目已取消，服务中止" and entry["contract_id"] == cid
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/stop", json={"reason": "项目已取消，服务中止"}, headers=r.owner
        )
    ).status_code == 409
    assert (await submit(c, cid, 1, agency)).status_code == 409
    assert "contract_stopped" in [m["kind"] for m in await messages_of(c, agency)]
    await assert_story_verifies(c, r.notice_id, "awarded")


async def test_overdue_milestones_are_flagged_and_logged_once(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    cid = (await record(c, r, winner))["id"]
    async with db.transaction() as session:
        assert (
            await contracts.flag_overdue_milestones(session, TODAY + timedelta(days=90)) == 0
        )  # not signed: nothing to flag
    assert (
        await c.post(f"/api/v1/contracts/{cid}/confirm", headers=headers_of(r, winner))
    ).status_code == 200
    async with db.transaction() as session:
        assert (
            await contracts.flag_overdue_milestones(session, TODAY + timedelta(days=30)) == 0
        )  # due today is not late
        assert await contracts.flag_overdue_milestones(session, TODAY + timedelta(days=31)) == 1
        assert await contracts.flag_overdue_milestones(session, TODAY + timedelta(days=32)) == 0
    entries = await entries_of(c, r.notice_id, "milestone.overdue")
    assert len(entries) == 1
    assert_fields(entries[0])
    assert entries[0]["position"] == 1 and entries[0]["due_on"] == day(30)
    body = (await c.get(f"/api/v1/contracts/{cid}")).json()
    assert body["milestones"][0]["overdue_on"] == day(31) and body["milestones"][1]["overdue_on"] is None
    # Handed in late and returned: still flagged once only.
    assert (await submit(c, cid, 1, headers_of(r, winner))).status_code == 200
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/milestones/1/return",
            json={"reason": "请按审查意见修改"},
            headers=r.owner,
        )
    ).status_code == 200
    # The server's daily task does the same, once a day.
    nudged: list[bool] = []
    task = OverdueTask(
        db, interval=60, on_step=lambda: nudged.append(True), today=lambda: TODAY + timedelta(days=61)
    )
    assert await task.run_once() == 1 and nudged == [True]  # milestone 2 only
    assert await task.run_once() == 0 and task.last_day == TODAY + timedelta(days=61)
    assert [e["position"] for e in await entries_of(c, r.notice_id, "milestone.overdue")] == [1, 2]
    await assert_story_verifies(c, r.notice_id, "awarded")


async def test_awards_not_signed_in_time_are_overdue(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    settings = app.state.settings
    async with db.transaction() as session:
        assert (
            await contract_queries.overdue_unsigned(
                session, settings, TODAY + timedelta(days=settings.contract_days)
            )
            == []
        )
        late = await contract_queries.overdue_unsigned(
            session, settings, TODAY + timedelta(days=settings.contract_days + 1)
        )
        assert [(u.notice.public_id, u.award.agency_public_id, u.proposed) for u in late] == [
            (r.notice_id, winner, None)
        ]
    cid = (await record(c, r, winner))["id"]
    async with db.transaction() as session:
        late = await contract_queries.overdue_unsigned(
            session, settings, TODAY + timedelta(days=settings.contract_days + 1)
        )
        assert [u.proposed.public_id for u in late if u.proposed] == [
            cid
        ]  # recorded but not confirmed: still unsigned
    assert (
        await c.post(f"/api/v1/contracts/{cid}/confirm", headers=headers_of(r, winner))
    ).status_code == 200
    async with db.transaction() as session:
        assert await contract_queries.overdue_unsigned(session, settings, TODAY + timedelta(days=365)) == []


async def test_an_owner_who_records_no_contract_cannot_dent_the_winners_credit(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """Issue 19: an award left unsigned counts against the agency only when the owner's
    contract waited for the agency past the window (and at least 7 days after it was
    recorded); an owner who records nothing, or records on the last day, cannot make a fair
    winner look overdue."""
    from sqlalchemy import select

    from market.agencies.models import Agency
    from market.ratings import service as ratings

    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    days = app.state.settings.contract_days

    async def overdue_on(day: int) -> list[str]:
        async with db.transaction() as session:
            agency = (await session.execute(select(Agency).where(Agency.public_id == winner))).scalar_one()
            events = await ratings.credit_events(
                session, agency, TODAY + timedelta(days=day), contract_days=days
            )
            return [e.ref for e in events if e.kind == "overdue"]

    assert await overdue_on(days + 60) == []  # nothing recorded: the delay is the owner's
    await record(c, r, winner)  # recorded today, well inside the window
    assert await overdue_on(days) == []
    assert await overdue_on(days + 1) == [f"{r.notice_id}/0"]  # the agency let it wait (slot 0)


async def test_contract_list_is_public_and_paginated(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    shared = [await approved_agency(c, staff) for _ in range(3)]
    ids = []
    for _ in range(2):
        r = await open_round(c, staff, bidders=shared, method="lottery", winners=1, min_candidates=3)
        await close(c, r)
        await finalize_due(app, db)
        ids.append((await record(c, r, (await selection_of(c, r.notice_id))["winners"][0]))["id"])
    first = (await c.get("/api/v1/contracts?limit=1")).json()
    assert [i["id"] for i in first["items"]] == [ids[1]] and first["next_cursor"]
    second = (await c.get(f"/api/v1/contracts?limit=1&cursor={first['next_cursor']}")).json()
    assert [i["id"] for i in second["items"]] == [ids[0]] and second["next_cursor"] is None
    assert (await c.get("/api/v1/contracts?limit=0")).status_code == 422
    assert (await c.get("/api/v1/contracts/C-999999")).status_code == 404
    assert (await c.get("/api/v1/contracts?agency_id=AG-999999")).status_code == 404


async def test_a_winner_cannot_decline_the_award_after_signing_and_a_waiting_contract_goes_with_it(
    quick: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = quick
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff, bidders=4)
    winner, alternate = rec["winners"][0], rec["alternates"][0]
    contract = await record(c, r, winner)
    # Declining the award itself (not the contract) while the contract waits: both go.
    declined = await c.post(
        f"/api/v1/notices/{r.notice_id}/decline",
        json={"reason": "人员调整，无法承接"},
        headers=headers_of(r, winner),
    )
    assert declined.status_code == 200, declined.text
    assert (await c.get(f"/api/v1/contracts/{contract['id']}")).json()["status"] == "declined"
    assert r.notice_id in await finalize_due(app, db)
    signed = await record(c, r, alternate)
    assert (
        await c.post(f"/api/v1/contracts/{signed['id']}/confirm", headers=headers_of(r, alternate))
    ).status_code == 200
    late = await c.post(
        f"/api/v1/notices/{r.notice_id}/decline",
        json={"reason": "签约后反悔"},
        headers=headers_of(r, alternate),
    )
    assert late.status_code == 409
    assert (await selection_of(c, r.notice_id))["holders"] == [alternate]
    await assert_story_verifies(c, r.notice_id, "awarded")
