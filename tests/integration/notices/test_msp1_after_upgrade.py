"""A notice published under MSP/1 and still open at the upgrade finishes under MSP/1: its
bidders were told the rules it was published with, so its bids, withdrawals, close and draw
are logged as MSP/1 defines them (``v`` 1, ``bid.accepted`` naming the bidder), while every
other entry of the log is MSP/2; and a verifier checks each notice by its own version's
rules. (tests/integration/db/test_upgrade_msp2.py: the migration keeps such notices on
protocol 1.)"""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from market import protocol
from market.core.db import Database
from market.protocol import entry_types
from tests.integration.agencies.test_api import admin, log_entries
from tests.integration.selection.helpers import (
    assert_story_verifies,
    close,
    entries_of,
    open_round,
    selection_of,
)


async def test_an_msp1_notice_open_at_the_upgrade_finishes_under_msp1(
    client: AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = await admin(client, db)
    with monkeypatch.context() as before_the_upgrade:
        # What publishing did before MSP/2: the notice is protocol 1 for life.
        before_the_upgrade.setattr(protocol, "VERSION", 1)
        r = await open_round(
            client,
            staff,
            bidders=4,
            method="lowest_price",
            prices=[900_000, 800_000, 800_000, 950_000],
            budget_fen=1_000_000,
        )
    # One bidder changes its price after the upgrade: MSP/1's withdrawal and bid again.
    headers, _ = r.bidders[0]
    path = f"/api/v1/notices/{r.notice_id}/bids"
    assert (await client.delete(f"{path}/{r.bids[0]['bid_id']}", headers=headers)).status_code == 200
    again = await client.post(path, json={"price_fen": 700_000}, headers=headers)
    assert again.status_code == 201, again.text
    bid = again.json()
    assert bid["protocol"] == 1 and bid["nonce"] and bid["bid_sha256"] and "salt" not in bid

    record = await close(client, r)
    assert record["status"] == "selected" and record["protocol"] == 1 and record["sealing"] is None
    assert (
        record["openings"] is None
        and len(record["seqs"]["bids_accepted"]) == 5
        and len(record["seqs"]["bids_withdrawn"]) == 1
        and record["sealed"] is None
    )
    assert record["winners"] == [r.bidders[0][1]["id"]]  # its new price, 700,000, is the lowest

    story = await entries_of(client, r.notice_id)
    assert {e["v"] for e in story} == {1}
    assert [e["type"] for e in story if e["type"].startswith("bid")] == ["bid.accepted"] * 4 + [
        "bid.withdrawn",
        "bid.accepted",
        "bidding.closed",
    ]
    closed = next(e for e in story if e["type"] == "bidding.closed")
    assert "bids" in closed and "openings" not in closed
    # No sealed entries: an MSP/1 notice's bids were never sealed that way.
    everything = await log_entries(client)
    assert not [e for e in everything if e["type"] == entry_types.BID_SEALED]
    # The rest of the log (accounts, agencies) is written under MSP/2.
    assert {e["v"] for e in everything if e.get("notice_id") != r.notice_id} == {2}
    await assert_story_verifies(client, r.notice_id, "selected")
    assert (await selection_of(client, r.notice_id))["winners"] == record["winners"]
