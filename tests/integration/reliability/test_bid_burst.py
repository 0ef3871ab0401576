"""kill -9 during a burst of bids (issue 9, items 4a and 9).

Many agencies bid at once on one open notice; the server (or one of two servers on one
database) is killed while bids are in flight, then started again on the same database and
data dir. Afterwards:

- every bid answered 201 with a receipt is in the log: the receipt verifies under the
  published ES256 key, and its seq and leaf hash are those of the bid's log entry;
- every bid is all or nothing: a bid row exactly when a bid.sealed entry, never one
  without the other, and no bid refused or never delivered is in either;
- a bid cut off by the kill can be sent again: it is accepted, or (if it had committed
  before the kill) refused as a duplicate while the agency's own list shows its receipt;
- the log is dense and `ops/verify_log.py` passes over it;
- with two processes, a live draw page served by one hears of a change made through the other.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.integration.reliability.helpers import (
    ENV,
    Burst,
    Cast,
    Phases,
    assert_all_or_nothing,
    assert_receipt_in_log,
    bid_burst,
    draw_events,
    make_cast,
    next_update,
    notice_with_bids,
    open_notice,
    start_servers,
    stored,
)
from tests.integration.selection.helpers import assert_notices_ok, verify_log, wait_decided, wait_until

AGENCIES = 40
KILL_AFTER = 12  # acknowledgements before the kill: the rest of the burst is in flight
# The scheduler looks once at start and then rarely: the draw-page check below closes by hand.
QUIET = {**ENV, "MARKET_SCHEDULER_INTERVAL": "600"}


async def check_after_restart(
    database_url: str, data_dir: Path, url: str, notice_id: str, burst: Burst, cast: Cast
) -> dict[str, int]:
    """The checks of the module docstring, against a running server ``url``; returns figures."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        jwk = (await client.get("/api/v1/log/receipt-key")).json()
        s = await stored(database_url, notice_id, data_dir)
        assert_all_or_nothing(s)
        by_agency = {e["agency_id"]: e for e in s.entries.values()}

        acked = burst.where(lambda o: o.acknowledged)
        for o in acked:
            assert_receipt_in_log(o.body, jwk, s, o.agency_id)
        # Every bid on a fresh notice is valid: an answer is a 201 or none at all (never a
        # 5xx while the process dies); a request the server never saw left nothing behind.
        refused = burst.where(lambda o: o.status is not None and o.status != 201)
        assert not refused, Counter(o.status for o in refused)
        for o in burst.where(lambda o: not o.sent):
            assert o.agency_id not in by_agency, o.error

        cut = burst.where(lambda o: o.cut_off)
        committed_unanswered = [o for o in cut if o.agency_id in by_agency]
        # Everything that did not get its receipt is sent again, now that the server is back.
        retried = [o for o in burst.outcomes if not o.acknowledged]
        answers = await asyncio.gather(
            *(client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=o.headers) for o in retried)
        )
        for o, answer in zip(retried, answers, strict=True):
            if o.agency_id in by_agency:  # it had committed before the kill: a duplicate now
                assert answer.status_code == 409, answer.text
                mine = await client.get(f"/api/v1/notices/{notice_id}/bids/mine", headers=o.headers)
                assert mine.status_code == 200, mine.text
                [own] = mine.json()
                assert own["bid_id"] == by_agency[o.agency_id]["bid_id"]
                assert_receipt_in_log(own, jwk, s, o.agency_id)
            else:
                assert answer.status_code == 201, answer.text
        after = await stored(database_url, notice_id, data_dir)
        assert_all_or_nothing(after)
        for o, answer in zip(retried, answers, strict=True):
            if answer.status_code == 201:
                assert_receipt_in_log(answer.json(), jwk, after, o.agency_id)
        # Exactly one standing bid per agency: nothing lost, nothing doubled.
        assert sorted(e["agency_id"] for e in after.entries.values()) == sorted(a for _, a in cast.agencies)
    return {
        "acknowledged": len(acked),
        "in_log_at_restart": len(s.entries),
        "cut_off": len(cut),
        "cut_off_but_committed": len(committed_unanswered),
        "refused_connection": len(burst.where(lambda o: not o.sent)),
        "resent_accepted": sum(1 for a in answers if a.status_code == 201),
    }


def verify_whole_log(url: str, notice_ids: list[str] | None = None) -> None:
    code, report, output = verify_log(url)
    assert code == 0, output
    assert report["ok"] is True
    if notice_ids:
        assert_notices_ok(report, notice_ids)


@pytest.mark.committing
async def test_servers_killed_during_bursts_of_bids_lose_no_acknowledged_bid(
    committed_database_url: str, tmp_path: Path
) -> None:
    """One process killed mid-burst; then two processes on one database with the bids split
    between them, one killed mid-burst while the other carries on. One test, since the
    accounts are the slow part to make and both rounds use them (on two notices)."""
    data_dir = tmp_path / "data"
    phases = Phases()
    a, b = start_servers(committed_database_url, data_dir, [None, None], **QUIET)
    phases.mark("start")
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as client:
            cast = await make_cast(client, committed_database_url, AGENCIES)
            first = await open_notice(client, cast.owner, seconds=600, title="并发投标崩溃测试")
            second = await open_notice(client, cast.owner, seconds=600, title="双进程并发投标崩溃测试")
        phases.mark("accounts")

        # -- every bid to A, which is killed mid-burst -----------------------------------------
        burst = await bid_burst(first, cast.agencies, [a], kill_at=[(KILL_AFTER, a)])
        assert burst.kills == [(a.url, KILL_AFTER)]
        # The kill landed mid-burst: some bids were cut off or never reached the server.
        assert burst.where(lambda o: not o.acknowledged), "the whole burst was answered before the kill"
        phases.mark("burst 1")
        [a] = start_servers(committed_database_url, data_dir, [a.port], **QUIET)
        phases.mark("restart A")
        one = await check_after_restart(committed_database_url, data_dir, a.url, first, burst, cast)
        phases.mark("checks 1")

        # -- bids alternate between A and B; A is killed mid-burst, B carries on --------------
        burst = await bid_burst(second, cast.agencies, [a, b], kill_at=[(KILL_AFTER, a)])
        assert burst.kills == [(a.url, KILL_AFTER)]
        assert burst.where(lambda o: o.server == a.url and not o.acknowledged), (
            "A answered all its bids before it was killed"
        )
        served_by_b = burst.where(lambda o: o.server == b.url and o.acknowledged)
        assert len(served_by_b) == len(cast.agencies) // 2, "B, never killed, failed some of its bids"
        phases.mark("burst 2")
        # While A is still down, B takes the bids that A dropped.
        two = await check_after_restart(committed_database_url, data_dir, b.url, second, burst, cast)
        phases.mark("checks 2")
        [a] = start_servers(committed_database_url, data_dir, [a.port], **QUIET)
        phases.mark("restart A")

        # -- the draw page watched through B hears of what is done through A -----------------
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as client:
            # Made after the restarts, whose schedulers look once at start and then sleep.
            small, deadline = await notice_with_bids(
                client, cast.owner, cast.agencies[:3], seconds=1.5, title="双进程实时页面测试"
            )
            await wait_until(deadline)
            async with draw_events(b.url, small) as updates:
                await next_update(updates, containing="closing", timeout=10)  # due, not yet closed
                closed = await client.post(f"/api/v1/notices/{small}/close", headers=cast.owner)
                assert closed.status_code == 200, closed.text
                await next_update(updates, containing="In publicity", timeout=10)
                objection = await client.post(
                    f"/api/v1/notices/{small}/objections",
                    json={"reasons": "对抽取结果有异议，请核实。"},
                    headers=cast.owner,  # a party: the owner
                )
                assert objection.status_code == 201, objection.text
                await next_update(updates, containing=f'id="objection-{objection.json()["id"]}"', timeout=10)
            await wait_decided(client, [small])
        phases.mark("live page")
        verify_whole_log(b.url, [small])
        phases.mark("verify")
        print(f"one process, {AGENCIES} bids, killed after {KILL_AFTER} receipts: {one}")
        print(
            f"two processes, A killed after {KILL_AFTER} receipts, B acknowledged {len(served_by_b)}: {two}"
        )
        print(phases)
    finally:
        a.stop()
        b.stop()
