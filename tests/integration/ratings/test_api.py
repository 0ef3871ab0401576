"""Ratings, replies, voiding and the credit score over JSON; the automatic suspension after
repeated declines (docs/contracts.md)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.agencies.models import Agency, AgencyReview
from market.core.db import Database
from tests.integration.agencies.test_api import admin, log_entries
from tests.integration.notices.test_api import approved_agency, fields_of, owner_user, published
from tests.integration.ratings.helpers import deal, set_status, won
from tests.integration.selection.helpers import HEAD, close
from tests.integration.selection.test_api import supervisor

GOOD = {
    "quality": 5,
    "timeliness": 4,
    "attitude": 5,
    "fees": 4,
    "compliance": 5,
    "comment": "报告质量高，按期完成",
}
# docs/contracts.md, "Log entries", and the suspension entry agencies.service.transition writes.
FIELDS = {
    "rating.given": {"notice_id", "contract_id", "rating_id", "agency_id", "scores", "comment_sha256"},
    "rating.replied": {"rating_id", "agency_id", "reply_sha256"},
    "rating.voided": {"rating_id", "agency_id", "reason"},
    "agency.suspended": {"agency_id", "name", "credit_code", "reason", "until"},
}


async def entries(client: AsyncClient, type: str) -> list[dict[str, Any]]:
    found = [e for e in await log_entries(client) if e["type"] == type]
    for e in found:
        assert set(e) == HEAD | FIELDS[type], (type, sorted(e))
    return found


async def credit_of(client: AsyncClient, agency_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/agencies/{agency_id}/credit")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_rating_reply_void_and_the_credit_score(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    bidder = await approved_agency(client, staff)
    d = await deal(client, db, staff, bidder)
    owner, agency_id = d.round.owner, d.agency["id"]
    path = f"/api/v1/contracts/{d.contract_id}/rating"
    assert (await credit_of(client, agency_id))["score"] == 100.0

    # Only the owner, and only with whole numbers from 1 to 5.
    assert (await client.post(path, json=GOOD)).status_code == 401
    assert (await client.post(path, json=GOOD, headers=await owner_user(client))).status_code == 403
    assert (await client.post(path, json=GOOD, headers=d.agency_headers)).status_code == 403
    for field, bad in (("quality", 0), ("timeliness", 6), ("fees", "5"), ("compliance", 4.5)):
        response = await client.post(path, json={**GOOD, field: bad}, headers=owner)
        assert response.status_code == 422, (field, bad, response.text)
        assert field in fields_of(response), (field, response.text)
    leaky = await client.post(path, json={**GOOD, "comment": "联系 someone@example.cn"}, headers=owner)
    assert leaky.status_code == 422 and "comment" in fields_of(leaky)

    given = await client.post(path, json=GOOD, headers=owner)
    assert given.status_code == 201, given.text
    rating = given.json()
    assert rating["scores"] == {k: v for k, v in GOOD.items() if k != "comment"} and rating["voided"] is False
    again = await client.post(path, json=GOOD, headers=owner)
    assert again.status_code == 409, again.text
    [entry] = await entries(client, "rating.given")
    assert (
        entry["rating_id"] == rating["id"]
        and entry["contract_id"] == d.contract_id
        and entry["agency_id"] == agency_id
    )
    assert (
        entry["notice_id"] == d.round.notice_id
        and entry["scores"] == rating["scores"]
        and len(entry["comment_sha256"]) == 64
    )

    # (4.6 - 3) * 5 = +8, full weight today
    scored = await credit_of(client, agency_id)
    assert scored["score"] == 108.0 and scored["version"] == "credit/1"
    assert [(c["kind"], c["ref"], c["points"]) for c in scored["contributions"]] == [
        ("rating", rating["id"], 8.0)
    ]
    assert scored["history"][-1]["score"] == 108.0 and scored["rating"]["count"] == 1
    listed = (await client.get("/api/v1/agencies", params={"q": d.agency["name"]})).json()["items"]
    mine = next(a for a in listed if a["id"] == agency_id)
    assert (
        mine["credit"]["score"] == 108.0
        and mine["rating"]["count"] == 1
        and mine["rating"]["averages"]["quality"] == 5.0
    )
    assert (await client.get(f"/api/v1/agencies/{agency_id}")).json()["rating"]["average"] == 4.6

    # The agency replies once.
    reply_path = f"/api/v1/ratings/{rating['id']}/reply"
    assert (await client.post(reply_path, json={"reply": "感谢评价"}, headers=owner)).status_code == 403
    other_h, _ = await approved_agency(client, staff)
    assert (await client.post(reply_path, json={"reply": "感谢评价"}, headers=other_h)).status_code == 403
    replied = await client.post(reply_path, json={"reply": "感谢业主的认可"}, headers=d.agency_headers)
    assert replied.status_code == 200 and replied.json()["reply"] == "感谢业主的认可", replied.text
    assert (
        await client.post(reply_path, json={"reply": "再次回复"}, headers=d.agency_headers)
    ).status_code == 409
    [entry] = await entries(client, "rating.replied")
    assert entry["rating_id"] == rating["id"] and entry["agency_id"] == agency_id

    # A supervisor voids it: it stays listed, marked, and the score falls back.
    void_path = f"/api/v1/ratings/{rating['id']}/void"
    reason = "评价人与机构存在利害关系"
    assert (await client.post(void_path, json={"reason": reason}, headers=staff)).status_code == 403
    assert (await client.post(void_path, json={"reason": reason}, headers=owner)).status_code == 403
    sup = await supervisor(client, db)
    assert (await client.post(void_path, json={"reason": "短"}, headers=sup)).status_code == 422
    voided = await client.post(void_path, json={"reason": reason}, headers=sup)
    assert voided.status_code == 200 and voided.json()["voided"] is True, voided.text
    assert (await client.post(void_path, json={"reason": reason}, headers=sup)).status_code == 409
    [entry] = await entries(client, "rating.voided")
    assert entry == {**entry, "rating_id": rating["id"], "agency_id": agency_id, "reason": reason}
    listed_ratings = (await client.get(f"/api/v1/agencies/{agency_id}/ratings")).json()
    assert [(r["id"], r["voided"], r["void_reason"]) for r in listed_ratings] == [
        (rating["id"], True, reason)
    ]
    scored = await credit_of(client, agency_id)
    assert (
        scored["score"] == 100.0
        and scored["contributions"] == []
        and scored["rating"] == {**scored["rating"], "count": 0, "voided": 1}
    )


async def test_a_contract_is_rated_only_once_it_is_completed_or_stopped(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    d = await deal(client, db, staff, await approved_agency(client, staff), status="in_service")
    path = f"/api/v1/contracts/{d.contract_id}/rating"
    early = await client.post(path, json=GOOD, headers=d.round.owner)
    assert early.status_code == 409, early.text
    await set_status(db, d.contract_id, "stopped")
    assert (await client.post(path, json={**GOOD, "quality": 1}, headers=d.round.owner)).status_code == 201
    assert (
        await client.post("/api/v1/contracts/CT-999999/rating", json=GOOD, headers=d.round.owner)
    ).status_code == 404


async def test_two_declines_within_a_year_suspend_the_agency(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    bidder = await approved_agency(client, staff)
    headers, agency = bidder
    first = await won(client, staff, bidder)
    second = await won(client, staff, bidder)
    await close(client, first)
    await close(client, second)

    response = await client.post(
        f"/api/v1/notices/{first.notice_id}/decline", json={"reason": "人手不足"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/api/v1/agencies/{agency['id']}")).json()[
        "status"
    ] == "approved"  # one is not enough
    assert await entries(client, "agency.suspended") == []
    assert (await credit_of(client, agency["id"]))["score"] == 95.0

    response = await client.post(
        f"/api/v1/notices/{second.notice_id}/decline", json={"reason": "项目冲突"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = (await client.get(f"/api/v1/agencies/{agency['id']}")).json()
    assert body["status"] == "suspended" and body["status_reason"] == "automatic: 2 declines within 12 months"
    assert body["status_until"] is not None and body["credit"]["score"] == 90.0
    [entry] = await entries(client, "agency.suspended")
    assert entry["agency_id"] == agency["id"] and entry["reason"] == "automatic: 2 declines within 12 months"
    assert entry["until"] == body["status_until"]
    scored = await credit_of(client, agency["id"])
    assert [c["kind"] for c in scored["contributions"]] == ["decline", "decline"]

    # Suspended: its bids are refused now, it is told why, and the history shows the rule.
    notice = await published(client, await owner_user(client))
    refused = await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=headers)
    assert refused.status_code == 403 and "suspended" in fields_of(refused), refused.text
    messages = (await client.get("/api/v1/me/messages", headers=headers)).json()
    assert (
        messages[0]["kind"] == "suspended_automatically"
        and messages[0]["params"]["until"] == body["status_until"]
    )
    async with db.transaction() as session:
        history = (
            (
                await session.execute(
                    sa.select(AgencyReview)
                    .join(Agency, Agency.id == AgencyReview.agency_id)
                    .where(Agency.public_id == agency["id"])
                )
            )
            .scalars()
            .all()
        )
    assert [(h.action, h.actor_id) for h in history if h.to_status == "suspended"] == [("suspend", None)]

    # Reinstated by an administrator, the spent declines no longer count: one more decline
    # within the same year does not suspend it again.
    reinstated = await client.post(
        f"/api/v1/agencies/{agency['id']}/reinstate", json={"reason": "已整改"}, headers=staff
    )
    assert reinstated.status_code == 200, reinstated.text
    third = await won(client, staff, bidder)
    await close(client, third)
    response = await client.post(
        f"/api/v1/notices/{third.notice_id}/decline", json={"reason": "人手不足"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/api/v1/agencies/{agency['id']}")).json()["status"] == "approved"
