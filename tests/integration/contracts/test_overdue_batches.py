"""The daily overdue task works in batches (market/contracts/scheduler.py): each batch of
milestones is a transaction of its own with its log entries, so no transaction grows with
the data. Read from the side of whoever gains from a milestone flagged twice or never (the
agency, the owner): every overdue milestone is flagged exactly once, whichever batch or
process claims it, and a milestone another transaction holds is neither waited for nor
flagged twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.contracts.scheduler import OverdueTask
from market.core.db import Database, to_asyncpg_dsn
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin
from tests.integration.contracts.test_api import TODAY, awarded, day, headers_of, record
from tests.integration.selection.helpers import assert_story_verifies, entries_of

LATE = TODAY + timedelta(days=90)  # every milestone below is overdue by then
MILESTONES = 5


class Counting:
    """The task's database, counting the transactions it opens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.transactions = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.transactions += 1
        async with self.db.transaction() as session:
            yield session


async def signed_contract(app: Litestar, c: AsyncClient, db: Database) -> tuple[str, str]:
    """A contract in service with MILESTONES milestones, all overdue on LATE: (notice, contract)."""
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    milestones = [{"title": f"第{i}阶段报告", "due_on": day(10 * i)} for i in range(1, MILESTONES + 1)]
    cid = (await record(c, r, winner, milestones=milestones))["id"]
    confirmed = await c.post(f"/api/v1/contracts/{cid}/confirm", headers=headers_of(r, winner))
    assert confirmed.status_code == 200, confirmed.text
    return r.notice_id, cid


async def overdue_positions(c: AsyncClient, notice_id: str) -> list[int]:
    return sorted(e["position"] for e in await entries_of(c, notice_id, "milestone.overdue"))


async def test_five_overdue_milestones_in_batches_of_two_are_flagged_once_in_three_transactions(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0), database=db)
    async with serve_in_process(app) as c:
        notice_id, cid = await signed_contract(app, c, db)
        counting = Counting(db)
        task = OverdueTask(counting, interval=60.0, today=lambda: LATE, batch=2)
        assert await task.run_once() == MILESTONES
        assert counting.transactions == 3  # 2 + 2 + 1
        assert await overdue_positions(c, notice_id) == [1, 2, 3, 4, 5]
        body = (await c.get(f"/api/v1/contracts/{cid}")).json()
        assert {m["overdue_on"] for m in body["milestones"]} == {LATE.isoformat()}
        # The next look finds nothing left, in one transaction, and logs nothing more.
        counting.transactions = 0
        assert await task.run_once() == 0
        assert counting.transactions == 1
        assert await overdue_positions(c, notice_id) == [1, 2, 3, 4, 5]
        await assert_story_verifies(c, notice_id, "awarded")


@pytest.mark.committing
async def test_two_processes_flagging_at_once_flag_each_milestone_once(
    committed_database_url: str, tmp_path: Path
) -> None:
    db = Database.from_url(committed_database_url)
    other = Database.from_url(committed_database_url)  # a second server process's engine
    try:
        app = create_app(make_settings(committed_database_url, tmp_path, publicity_days=0), database=db)
        async with serve_in_process(app) as c:
            notice_id, _ = await signed_contract(app, c, db)
            tasks = [OverdueTask(d, interval=60.0, today=lambda: LATE, batch=2) for d in (db, other)]
            flagged = await asyncio.gather(*(t.run_once() for t in tasks))
            assert sum(flagged) == MILESTONES, flagged
            assert await overdue_positions(c, notice_id) == [1, 2, 3, 4, 5]
            await assert_story_verifies(c, notice_id, "awarded")
    finally:
        await db.dispose()
        await other.dispose()


@pytest.mark.committing
async def test_milestones_another_transaction_holds_are_skipped_not_waited_for(
    committed_database_url: str, tmp_path: Path
) -> None:
    db = Database.from_url(committed_database_url)
    holder = await asyncpg.connect(to_asyncpg_dsn(committed_database_url))
    try:
        app = create_app(make_settings(committed_database_url, tmp_path, publicity_days=0), database=db)
        async with serve_in_process(app) as c:
            notice_id, _ = await signed_contract(app, c, db)
            # Another process is in the middle of a batch holding the first two milestones.
            held = holder.transaction()
            await held.start()
            await holder.execute("SELECT id FROM milestone ORDER BY id LIMIT 2 FOR UPDATE")
            task = OverdueTask(db, interval=60.0, today=lambda: LATE, batch=2)
            started = time.monotonic()
            async with asyncio.timeout(10):  # waiting for them would wait for good
                assert await task.run_once() == 3
            assert time.monotonic() - started < 5  # went past them, did not wait
            assert await overdue_positions(c, notice_id) == [3, 4, 5]
            # That process gives up (rolls back): the next look flags the two, once.
            await held.rollback()
            assert await task.run_once() == 2
            assert await overdue_positions(c, notice_id) == [1, 2, 3, 4, 5]
            await assert_story_verifies(c, notice_id, "awarded")
    finally:
        await holder.close()
        await db.dispose()
