"""Two server processes on one database, both running the scheduler, killed (kill -9) one
after the other while they close a batch of notices that fell due together (issue 9,
items 4b and 9). At the kill every notice is closed entirely or not at all; after both
are started again every notice is closed exactly once (one bidding.closed, one outcome),
the log is dense and it verifies. tests/integration/selection/test_crash.py does the same
with one process and kills at several moments; test_concurrency.py has two schedulers
race without kills."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from market.core.db import to_asyncpg_dsn
from tests.integration.reliability.helpers import Phases, make_cast, start_servers
from tests.integration.selection.helpers import assert_notices_ok, verify_log, wait_decided
from tests.integration.selection.test_crash import (
    assert_whole_or_nothing,
    opened_at_close,
    publish_batch,
    sleep_until,
    state_of,
)

ENV = {"MARKET_SCHEDULER_INTERVAL": "0.05"}
NOTICES = 10  # the one-process test closes twenty
KILL_A, KILL_B = 0.1, 0.4  # seconds after the deadline


async def log_seqs(database_url: str) -> list[int]:
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        return [r["seq"] for r in await conn.fetch("SELECT seq FROM log_entry ORDER BY seq")]
    finally:
        await conn.close()


@pytest.mark.committing
async def test_two_processes_killed_while_closing_close_each_notice_exactly_once(
    committed_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    phases = Phases()
    a, b = start_servers(committed_database_url, data_dir, [None, None], **ENV)
    phases.mark("start")
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as client:
            cast = await make_cast(client, committed_database_url, 3)
            window = 4.0
            while True:
                ids, deadline, in_time = await publish_batch(
                    client, cast.owner, [(h, {}) for h, _ in cast.agencies], seconds=window, count=NOTICES
                )
                if in_time:
                    break
                # Slower than the window (a loaded machine): let those close, try with more time.
                await wait_decided(client, ids, timeout=30)
                window *= 1.5
                assert window < 20, "the machine is too slow to publish ten notices within 13 s"
        phases.mark("notices")

        await sleep_until(deadline + timedelta(seconds=KILL_A))
        a.kill()
        await sleep_until(deadline + timedelta(seconds=KILL_B))
        b.kill()
        statuses, counts, bids = await state_of(committed_database_url, ids)
        assert_whole_or_nothing(statuses, counts, bids)
        left_open = sum(1 for s in statuses.values() if s == "open")
        seqs = await log_seqs(committed_database_url)
        assert seqs == list(range(len(seqs))), "the log has a gap"
        phases.mark("kills")

        a, b = start_servers(committed_database_url, data_dir, [a.port, b.port], **ENV)
        phases.mark("restart")
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as client:
            records = await wait_decided(client, ids, timeout=20)
        assert {r["status"] for r in records.values()} == {"selected"}, {
            n: r["status"] for n, r in records.items()
        }
        # Both schedulers keep looking; give them a moment to do anything twice, if they would.
        await asyncio.sleep(0.5)
        statuses, counts, bids = await state_of(committed_database_url, ids)
        assert_whole_or_nothing(statuses, counts, bids)
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as client:
            for notice_id in ids:
                await opened_at_close(client, notice_id, bids[notice_id])
        seqs = await log_seqs(committed_database_url)
        assert seqs == list(range(len(seqs))), "the log has a gap"
        code, report, output = verify_log(a.url)
        assert code == 0, output
        assert_notices_ok(report, ids)
        phases.mark("checks")
        print(
            f"two processes closing {NOTICES} notices, killed at deadline + {KILL_A} s and + {KILL_B} s: "
            f"{left_open} left open, all closed once after restart; {phases}"
        )
    finally:
        a.stop()
        b.stop()
