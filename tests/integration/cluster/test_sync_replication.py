"""A 201 for a bid means the bid is on two machines (issue 23, item 3).

A primary with a synchronous standby (synchronous_commit = remote_apply,
synchronous_standby_names = 'FIRST 1 (standby)', ops/cluster.py) and a live app server.
Read from the side of the party who gains from breaking the promise, an operator whose
primary's disk dies after the answer went out:

- a bid acknowledged with a 201 can be read on the standby straight after the answer;
- while the synchronous standby is down, no bid is acknowledged: the bid's commit waits
  for the standby, and the client gets no 201 however long it waits (another bid, behind
  the first in the log's lock, is told 503 "busy" after the lock timeout), while reads go
  on being answered;
- when the standby is back, the waiting commit completes, its 201 goes out, and the bid
  is on the standby.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from ops.cluster import Node, start_primary, start_standby
from tests.integration.reliability.helpers import Phases, make_cast, open_notice, start_servers

WAIT = 6.0  # seconds a bid is left waiting for the stopped standby


def on(node: Node, bid: dict[str, object]) -> bool:
    """The bid's row and its log entry are both on ``node``."""
    row = node.sql(f"SELECT seq FROM bid WHERE public_id = '{bid['bid_id']}'")
    entry = node.sql(f"SELECT type FROM log_entry WHERE seq = {int(str(bid['seq']))}")
    return row == str(bid["seq"]) and entry == "bid.sealed"


@pytest.mark.committing
async def test_a_201_means_the_bid_is_on_the_synchronous_standby_and_none_is_given_without_it(
    tmp_path: Path,
) -> None:
    phases = Phases()
    with (
        start_primary(tmp_path / "primary", synchronous=True) as primary,
        start_standby(primary, tmp_path / "standby", synchronous=True) as standby,
    ):
        phases.mark("cluster")
        [server] = start_servers(primary.url, tmp_path / "data", [None], MARKET_SCHEDULER_INTERVAL="600")
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                cast = await make_cast(client, primary.url, 4)
                notice_id = await open_notice(client, cast.owner, seconds=600, title="同步复制测试")
                bids = f"/api/v1/notices/{notice_id}/bids"
                phases.mark("server and accounts")

                # -- acknowledged: already on the standby, replayed, readable there ---------
                first = await client.post(bids, json={}, headers=cast.agencies[0][0])
                assert first.status_code == 201, first.text
                assert on(standby, first.json()), "a 201 went out for a bid the standby does not hold"

                phases.mark("first bid")
                # -- the standby stopped: no 201, however long the client waits -------------
                await asyncio.to_thread(standby.stop, "fast")
                waiting = asyncio.create_task(
                    client.post(bids, json={}, headers=cast.agencies[1][0], timeout=120)
                )
                await asyncio.sleep(1.0)
                behind = await client.post(bids, json={}, headers=cast.agencies[2][0], timeout=WAIT + 10)
                # In line behind the waiting commit for the log's lock: a clean 503 (the
                # lock timeout, MARKET_DB_LOCK_TIMEOUT), never a 201 and never a 500.
                assert behind.status_code == 503, behind.text
                assert behind.headers.get("retry-after"), behind.headers
                await asyncio.sleep(max(0.0, WAIT - 1.0 - 5.0))
                assert not waiting.done(), f"answered without the standby: {waiting.result().status_code}"
                # The commit is written on the primary and waits for the standby there.
                waiters = primary.sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
                    " AND query ILIKE 'COMMIT%'"
                )
                assert int(waiters) >= 1, waiters
                # Reads do not wait for the standby.
                read = await client.get(f"/api/v1/notices/{notice_id}", timeout=5)
                assert read.status_code == 200, read.text

                phases.mark("standby down")
                # -- the standby back: the waiting commit completes and is acknowledged -----
                back = time.monotonic()
                await asyncio.to_thread(standby.start)
                answer = await asyncio.wait_for(waiting, timeout=30)
                assert answer.status_code == 201, answer.text
                assert on(standby, answer.json())
                print(
                    f"the waiting bid was acknowledged {time.monotonic() - back:.1f} s after the standby started"
                )
                # The bid refused as busy goes through now.
                again = await client.post(bids, json={}, headers=cast.agencies[2][0])
                assert again.status_code == 201, again.text
                assert on(standby, again.json())
        finally:
            server.stop()
    phases.mark("standby back")
    print(phases)
