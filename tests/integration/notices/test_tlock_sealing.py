"""tlock sealing (MARKET_BEACON=drand, docs/protocol/msp.md section 3): each sealed entry
carries a drand timelock ciphertext of its opening, the server keeps no other copy (no
document, no salt: nothing in any column opens a bid), the close waits for the deadline's
round and opens every sealed entry from the public log with that round's signature, and a
cancelled notice's bids are opened (``bids.opened``) once the round is out.

Offline: the notices here are locked to quicknet round 657413 (long emitted), whose
recorded signature the fake beacon serves; ``protocol.tlock_round`` is pointed at it for
the server and the verifier alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar

from market import protocol
from market.core.db import Database
from market.notices import service as notices_service
from market.protocol import tlock
from market.protocol.notice_checks import notice_report
from market.selection import service
from market.selection.api import context
from tests.helpers import cancel_notice
from tests.integration.agencies.test_api import admin, log_entries
from tests.integration.notices.test_api import approved_agency, published
from tests.integration.selection.helpers import close, entries_of, open_round, selection_of, wait_until
from tests.integration.selection.test_beacon import ROUND, SIGNATURE, FakeBeacon

pytestmark = pytest.mark.skipif(
    not tlock.available(), reason="py-arkworks-bls12381 is a dependency; its absence fails test_tlock"
)


@pytest.fixture
def timelocked(monkeypatch: pytest.MonkeyPatch, app: Litestar) -> FakeBeacon:
    monkeypatch.setattr(notices_service, "sealing_mode", lambda settings: "tlock")
    monkeypatch.setattr(protocol, "tlock_round", lambda deadline_unix: ROUND)
    beacon = FakeBeacon()
    app.state.beacon = beacon
    return beacon


async def test_timelocked_bids_are_kept_nowhere_but_the_log_and_opened_with_the_round(
    client: AsyncClient, app: Litestar, db: Database, timelocked: FakeBeacon
) -> None:
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=3,
        method="lowest_price",
        prices=[610_000, 620_000, 630_000],
        budget_fen=700_000,
        min_candidates=1,
    )
    assert (await entries_of(client, r.notice_id, "notice.published"))[0]["sealing"] == "tlock"
    # one bidder withdraws: its withdrawal is a timelocked sealed entry too
    headers, _ = r.bidders[2]
    assert (
        await client.delete(f"/api/v1/notices/{r.notice_id}/bids/{r.bids[2]['bid_id']}", headers=headers)
    ).status_code == 200

    sealed = [e for e in await log_entries(client) if e["type"] == "bid.sealed"]
    assert len(sealed) == 4 and all(
        set(e) == {"v", "seq", "type", "ts", "commitment", "tlock"} for e in sealed
    )
    assert {len(e["tlock"]) for e in sealed} == {940}  # one size for bids and withdrawals alike
    # The server kept nothing that opens them; only the bidder got its salt (in its answer).
    async with db.transaction() as session:
        rows = (
            await session.execute(
                sa.text("SELECT sealed, withdrawal_sealed, document, price_fen, receipt FROM bid")
            )
        ).all()
    assert rows and all(row == (None, None, None, None, None) for row in rows)
    mine = (await client.get(f"/api/v1/notices/{r.notice_id}/bids/mine", headers=r.bidders[0][0])).json()
    assert (
        mine[0]["price_fen"] is None
        and mine[0]["salt"] is None
        and mine[0]["commitment"] == r.bids[0]["commitment"]
    )
    assert r.bids[0]["salt"] and r.bids[0]["receipt"]  # given once, when it bid

    # With the round's signature anyone opens them, before the server does.
    opened = tlock.open_sealed(sealed[0]["tlock"], ROUND, SIGNATURE)
    assert opened == protocol.tlock_plaintext(
        bytes.fromhex(r.bids[0]["salt"]), document=r.bids[0]["bid_document"].encode()
    )

    record = await close(client, r)
    assert timelocked.asked == [ROUND]
    assert (
        record["status"] == "selected"
        and record["sealing"] == "tlock"
        and record["winners"] == [r.bidders[0][1]["id"]]
    )
    assert record["sealed"] == sorted(e["seq"] for e in sealed) and len(record["openings"]) == 3
    [closed] = await entries_of(client, r.notice_id, "bidding.closed")
    assert closed["tlock"] == {"round": ROUND, "signature": SIGNATURE}
    report = notice_report(r.notice_id, [(e["seq"], e) for e in await entries_of(client, r.notice_id)])
    assert report.problems == [], [(p.seq, p.message) for p in report.problems]


async def test_the_close_waits_for_the_round_and_a_cancellation_is_opened_after_it(
    client: AsyncClient, app: Litestar, db: Database, timelocked: FakeBeacon
) -> None:
    staff = await admin(client, db)
    timelocked.failures = 1  # the relays are unreachable once
    r = await open_round(client, staff, bidders=2, method="lottery", min_candidates=2)
    waiting = await close(client, r)
    assert waiting["status"] == "open" and waiting["seqs"]["closed"] is None  # not closed without the round
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "UPDATE notice SET tlock_checked_at = clock_timestamp() - interval '1 minute' WHERE public_id = :n"
            ),
            {"n": r.notice_id},
        )
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) == r.notice_id
    assert (await selection_of(client, r.notice_id))["status"] == "selected"

    # A notice cancelled while bids stand: nothing can be opened then...
    owner_notice = await published(client, r.owner)
    agency_h, _ = await approved_agency(client, staff)
    bid = (await client.post(f"/api/v1/notices/{owner_notice['id']}/bids", json={}, headers=agency_h)).json()
    moved = await client.post(
        f"/api/v1/notices/{owner_notice['id']}/amend",
        json={"bid_deadline": (datetime.now(UTC) + timedelta(days=10)).isoformat(), "reason": "延期"},
        headers=r.owner,
    )
    assert moved.status_code == 409 and "timelocked" in moved.text  # its bids would open at the old round
    assert (await cancel_notice(client, db, owner_notice["id"], r.owner)).status_code == 200
    [cancelled] = await entries_of(client, owner_notice["id"], "notice.cancelled")
    assert cancelled["openings"] is None
    # ...so once the deadline (and its round) has passed, the scheduler opens them.
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "UPDATE notice SET bid_deadline = clock_timestamp() - interval '1 second' WHERE public_id = :n"
            ),
            {"n": owner_notice["id"]},
        )
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) == owner_notice["id"]
    [opened] = await entries_of(client, owner_notice["id"], "bids.opened")
    assert opened["tlock"] == {"round": ROUND, "signature": SIGNATURE} and opened["v"] == 2
    [opening] = opened["openings"]
    assert (
        opening["seq"] == bid["seq"]
        and opening["salt"] == bid["salt"]
        and json.dumps(opening["bid"], sort_keys=True, separators=(",", ":")) == bid["bid_document"]
    )
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) is None  # opened once
    await wait_until(r.deadline)


async def test_the_bid_page_hands_a_timelocked_receipt_over_once(
    app: Litestar, client: AsyncClient, db: Database, timelocked: FakeBeacon
) -> None:
    """The server keeps no copy: the answer to the bid form is the bidder's only chance to
    take its receipt, so it is shown (and offered for download) right there."""
    from tests.integration.notices.test_pages import approved_agency as page_agency
    from tests.integration.notices.test_pages import browser_for, open_notice, post_form

    notice, _ = await open_notice(client, title="时间锁：报名回执")
    me = await page_agency(client, db)
    cm, agency = await browser_for(app, me["email"])
    try:
        response = await post_form(agency, f"/notices/{notice['id']}", f"/notices/{notice['id']}/bids", {})
        assert response.status_code == 201, response.text
        assert "market-bid-receipt/2" in response.text and 'download="receipt-B-' in response.text
        assert 'href="data:application/json;base64,' in response.text
        assert response.headers["cache-control"] == "no-store"
        # Later pages cannot show it again: the salt is nowhere on the server.
        page = (await agency.get(f"/notices/{notice['id']}")).text
        assert "market-bid-receipt/2" not in page and 'class="verbatim receipt"' not in page
    finally:
        await cm.__aexit__(None, None, None)
