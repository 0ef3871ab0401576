"""The bid deadline, enforced by the database's clock in the transaction that stores the bid:
a bid arriving around the deadline is either fully accepted (row, log entry stamped before
the deadline, receipt) or refused with nothing left behind, never half."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import AsyncClient, Response

from market import protocol
from market.app import create_app
from market.bids.receipts import verify_receipt
from market.core.db import Database
from market.notices.models import Bid, Notice
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin, log_entries
from tests.integration.notices.test_api import approved_agency, draft, owner_user

# When each bidder sends, in seconds relative to the deadline: a burst from 300 ms before to
# 250 ms after, thickest in the last few milliseconds, where a bid can pass the first check
# and still have its log entry stamped at or after the deadline.
OFFSETS = [-0.300, -0.200, -0.100, -0.050, -0.020, -0.010, -0.005, -0.002, 0.0, 0.002, 0.050, 0.250]
BIDDERS = len(OFFSETS)


async def sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def publish_due_in(
    client: AsyncClient, owner: dict[str, str], seconds: float, **overrides: Any
) -> tuple[str, datetime]:
    notice = await draft(
        client, owner, bid_deadline=(datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(), **overrides
    )
    response = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)
    assert response.status_code == 200, response.text
    return notice["id"], datetime.fromisoformat(response.json()["bid_deadline"])


@pytest.mark.committing
async def test_bids_around_the_deadline_are_accepted_whole_or_refused_whole(
    committed_database_url: str, tmp_path: Path
) -> None:
    db = Database.from_url(committed_database_url, pool_size=BIDDERS + 4, max_overflow=0)
    app = create_app(make_settings(committed_database_url, tmp_path, min_bid_window=0), database=db)
    try:
        async with serve_in_process(app) as client:
            staff = await admin(client, db)
            owner = await owner_user(client)
            bidders = [await approved_agency(client, staff) for _ in range(BIDDERS)]
            notice_id, deadline = await publish_due_in(client, owner, 1.5)
            assert deadline > datetime.now(UTC) + timedelta(seconds=0.5), "setup was too slow for the burst"

            async def bid_at(offset: float, headers: dict[str, str]) -> Response:
                await sleep_until(deadline + timedelta(seconds=offset))
                return await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=headers)

            responses = await asyncio.gather(
                *(bid_at(offset, headers) for offset, (headers, _) in zip(OFFSETS, bidders, strict=True))
            )
            await sleep_until(deadline + timedelta(seconds=0.05))

            statuses = [r.status_code for r in responses]
            assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in responses]
            assert 409 in statuses  # the burst ends after the deadline
            assert 201 in statuses, "not even the bid sent 300 ms before the deadline got in"
            entries = await log_entries(client)
            assert [e["seq"] for e in entries] == list(range(len(entries)))
            of_notice = [e for e in entries if e.get("notice_id") == notice_id]
            # MSP/2: a bid's entry is bid.sealed and names nothing but its commitment, so a
            # refused bid leaving nothing behind is: no sealed entry in this test's log but
            # those of the accepted bids (the database is this test's alone).
            sealed = {e["seq"]: e for e in entries if e["type"] == "bid.sealed"}
            assert [e["type"] for e in of_notice] == ["notice.published"]
            jwk = (await client.get("/api/v1/log/receipt-key")).json()
            claimed: set[int] = set()
            for response, (agency_h, agency) in zip(responses, bidders, strict=True):
                if response.status_code == 201:
                    bid = response.json()
                    assert bid["protocol"] == 2
                    claims = verify_receipt(bid["receipt"], jwk)
                    assert (
                        claims is not None
                        and claims["agency_id"] == agency["id"]
                        and claims["bid_id"] == bid["bid_id"]
                    )
                    assert (
                        claims["v"] == 2
                        and claims["notice_id"] == notice_id
                        and claims["salt"] == bid["salt"]
                    )
                    document = bid["bid_document"].encode()
                    assert document == protocol.bid_document_v2(notice_id, bid["bid_id"], agency["id"], None)
                    commitment = protocol.bid_commitment(bytes.fromhex(bid["salt"]), document).hex()
                    assert commitment == bid["commitment"] == claims["commitment"]
                    entry = sealed[claims["seq"]]
                    assert entry["seq"] == bid["seq"] and entry["commitment"] == commitment
                    assert set(entry) == {"v", "seq", "type", "ts", "commitment"}
                    raw = (
                        await client.get(f"/api/v1/log/entries?start={entry['seq']}&end={entry['seq'] + 1}")
                    ).content.rstrip(b"\n")
                    assert protocol.leaf_hash(raw).hex() == claims["leaf_hash"] == bid["leaf_hash"]
                    assert protocol.parse_ts(entry["ts"]) < deadline
                    claimed.add(entry["seq"])
                else:
                    assert response.headers["content-type"].startswith("application/problem+json")
                    mine = await client.get(f"/api/v1/notices/{notice_id}/bids/mine", headers=agency_h)
                    assert mine.status_code == 200 and mine.json() == [], response.text
            assert set(sealed) == claimed, (
                "a sealed entry that no accepted bid's receipt names (a refused bid left its entry)"
            )
            for entry in [*of_notice, *sealed.values()]:
                if entry["type"] != "notice.published":
                    assert protocol.parse_ts(entry["ts"]) < deadline, entry
            async with db.sessionmaker() as session:
                rows = (
                    await session.execute(
                        sa.select(sa.func.count())
                        .select_from(Bid)
                        .join(Notice, Notice.id == Bid.notice_id)
                        .where(Notice.public_id == notice_id)
                    )
                ).scalar_one()
            assert rows == statuses.count(201) == len(sealed)
    finally:
        await db.dispose()


async def test_bid_withdraw_and_amend_after_the_deadline_are_409(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    early_h, _ = await approved_agency(client, staff)
    late_h, late = await approved_agency(client, staff)
    notice_id, deadline = await publish_due_in(client, owner, 1.0)
    bid = await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=early_h)
    assert bid.status_code == 201, bid.text
    await sleep_until(deadline + timedelta(seconds=0.05))

    too_late = await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=late_h)
    assert too_late.status_code == 409, too_late.text
    withdraw = await client.delete(
        f"/api/v1/notices/{notice_id}/bids/{bid.json()['bid_id']}", headers=early_h
    )
    assert withdraw.status_code == 409, withdraw.text
    later = (deadline + timedelta(days=1)).isoformat()
    amend = await client.post(
        f"/api/v1/notices/{notice_id}/amend", json={"bid_deadline": later}, headers=owner
    )
    assert amend.status_code == 409, amend.text

    mine = (await client.get(f"/api/v1/notices/{notice_id}/bids/mine", headers=early_h)).json()
    assert [b["status"] for b in mine] == ["standing"]
    assert (await client.get(f"/api/v1/notices/{notice_id}/bids/mine", headers=late_h)).json() == []
    # Nothing of the refused bid, withdrawal or amendment was logged: the notice's story is
    # its publication alone, and the log's one sealed entry (MSP/2 sealed entries name no
    # notice; this log is the test's own) is the early bid's.
    entries = await log_entries(client)
    assert [e["type"] for e in entries if e.get("notice_id") == notice_id] == ["notice.published"]
    assert [(e["seq"], e["commitment"]) for e in entries if e["type"] == "bid.sealed"] == [
        (bid.json()["seq"], bid.json()["commitment"])
    ]
    assert json.loads(bid.json()["bid_document"])["agency_id"] != late["id"]
    notice = (await client.get(f"/api/v1/notices/{notice_id}")).json()
    assert notice["bidding_open"] is False


@pytest.mark.committing
async def test_cancel_after_the_deadline_is_refused(committed_database_url: str, tmp_path: Path) -> None:
    from tests.helpers import bearer, register, token_for

    db = Database.from_url(committed_database_url)
    app = create_app(make_settings(committed_database_url, tmp_path), database=db)
    try:
        async with serve_in_process(app) as client:
            owner = await register(client, role="owner")
            headers = bearer(await token_for(client, owner["email"]))
            deadline = (datetime.now(UTC) + timedelta(seconds=1.2)).isoformat()
            body = {
                "title": "截止后撤销",
                "description": "",
                "category": "EIA",
                "region": "530000",
                "budget_fen": 100_000,
                "method": "lottery",
                "winners": 1,
                "min_candidates": 3,
                "bid_deadline": deadline,
            }
            notice = (await client.post("/api/v1/notices", json=body, headers=headers)).json()
            assert (
                await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=headers)
            ).status_code == 200
            await asyncio.sleep(1.5)
            late = await client.post(
                f"/api/v1/notices/{notice['id']}/cancel", json={"reason": "不想要这个结果"}, headers=headers
            )
            assert late.status_code == 409
    finally:
        await db.dispose()
