"""Two closers at once: many notices due at the same moment, closed concurrently by two
schedulers on separate database engines (as two server processes would), and by owners
and an administrator pressing "close" together while a scheduler runs. Every notice gets
exactly one bidding.closed and one outcome, and the log verifies."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import AsyncClient

from market.app import create_app
from market.core.config import Settings
from market.core.db import Database
from market.log.signer import LogSigner
from market.log.verify_db import DatabaseSource
from market.protocol import verifier
from market.selection.api import context
from market.selection.scheduler import Scheduler
from tests.conftest import in_thread, make_settings, serve_in_process
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency, draft, owner_user
from tests.integration.selection.helpers import assert_notices_ok, recompute, selection_of, wait_until

NOTICES = 12
OUTCOMES = ("selection.drawn", "selection.direct", "selection.failed")


async def due_together(
    client: AsyncClient, staff: dict[str, str], n: int
) -> tuple[list[str], datetime, dict[str, str]]:
    """``n`` notices with one deadline four seconds away; most get three bids (a
    draw), every fourth two (too few: it fails). Returns their ids, the deadline, the owner."""
    owner = await owner_user(client)
    bidders = [await approved_agency(client, staff) for _ in range(3)]
    deadline = datetime.now(UTC) + timedelta(seconds=4)
    ids = []
    for i in range(n):
        method = "lowest_price" if i % 3 == 1 else "lottery"
        body = await draft(
            client,
            owner,
            method=method,
            winners=1,
            min_candidates=3,
            bid_deadline=deadline.isoformat(),
            title=f"并发关闭测试 {i}",
        )
        assert (await client.post(f"/api/v1/notices/{body['id']}/publish", headers=owner)).status_code == 200
        ids.append(body["id"])

    async def bid(notice_id: str, method_priced: bool, who: int) -> None:
        payload = {"price_fen": 100_000 + 1_000 * (who % 2)} if method_priced else {}  # two tie
        response = await client.post(
            f"/api/v1/notices/{notice_id}/bids", json=payload, headers=bidders[who][0]
        )
        assert response.status_code == 201, response.text

    await asyncio.gather(
        *(bid(nid, i % 3 == 1, who) for i, nid in enumerate(ids) for who in range(2 if i % 4 == 3 else 3))
    )
    assert datetime.now(UTC) < deadline, "setup took longer than the bid window"
    return ids, deadline, owner


async def counts_by_notice(db: Database, notice_ids: list[str]) -> dict[str, Counter[str]]:
    async with db.transaction() as session:
        rows = (
            await session.execute(
                sa.text(
                    "SELECT notice_id, type, count(*) FROM log_entry WHERE notice_id = ANY(:ids) GROUP BY notice_id, type"
                ),
                {"ids": notice_ids},
            )
        ).all()
    counts: dict[str, Counter[str]] = {n: Counter() for n in notice_ids}
    for notice_id, type_, count in rows:
        counts[notice_id][type_] = count
    return counts


def assert_closed_once(counts: dict[str, Counter[str]]) -> None:
    for notice_id, c in counts.items():
        assert c["bidding.closed"] == 1, (notice_id, dict(c))
        assert sum(c[t] for t in OUTCOMES) == 1, (notice_id, dict(c))


def verify_database(url: str, settings: Settings, notice_ids: list[str]) -> dict[str, Any]:
    """`market log verify`'s check, straight over the database (in a thread of its own:
    the database source runs its own event loop)."""

    def run() -> dict[str, Any]:
        source = DatabaseSource(url, LogSigner.from_data_dir(settings.log_origin, settings.data_dir))
        try:
            return verifier.verify(source).as_dict()
        finally:
            source.close()

    report: dict[str, Any] = in_thread(run)
    assert report["ok"] is True, report["problems"]
    assert_notices_ok(report, notice_ids)
    return report


async def check_records(client: AsyncClient, notice_ids: list[str]) -> None:
    for i, notice_id in enumerate(notice_ids):
        record = await selection_of(client, notice_id)
        if i % 4 == 3:
            assert record["status"] == "failed" and record["failed_reason"] == "too_few_candidates", record
        else:
            assert record["status"] == "selected", record
            expected = recompute(record)
            assert {k: record[k] for k in expected} == expected
            assert record["holders"] == record["winners"]


@pytest.mark.committing
async def test_two_schedulers_on_two_engines_close_each_notice_once(
    committed_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(committed_database_url, tmp_path)
    db = Database.from_url(committed_database_url, pool_size=12, max_overflow=0)
    app = create_app(settings, database=db)
    engines = [Database.from_url(committed_database_url, pool_size=2, max_overflow=0) for _ in range(2)]
    try:
        async with serve_in_process(app) as client:
            staff = await admin(client, db)
            ids, deadline, _ = await due_together(client, staff, NOTICES)
            schedulers = [Scheduler(engine, context(app.state), interval=1.0) for engine in engines]
            assert [await s.run_once() for s in schedulers] == [[], []]  # nothing is due yet
            await wait_until(deadline)

            done = await asyncio.gather(*(s.run_once() for s in schedulers))
            assert sorted(done[0] + done[1]) == sorted(ids), done  # each notice by one of them
            assert not set(done[0]) & set(done[1])
            assert await asyncio.gather(*(s.run_once() for s in schedulers)) == [[], []]

            assert_closed_once(await counts_by_notice(db, ids))
            await check_records(client, ids)
        verify_database(committed_database_url, settings, ids)
    finally:
        for engine in engines:
            await engine.dispose()
        await db.dispose()


@pytest.mark.committing
async def test_concurrent_close_requests_and_a_scheduler_close_each_notice_once(
    committed_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(committed_database_url, tmp_path)
    db = Database.from_url(committed_database_url, pool_size=24, max_overflow=0)
    app = create_app(settings, database=db)
    engine = Database.from_url(committed_database_url, pool_size=2, max_overflow=0)
    try:
        async with serve_in_process(app) as client:
            staff = await admin(client, db)
            ids, deadline, owner = await due_together(client, staff, NOTICES)
            await wait_until(deadline)

            async def press(notice_id: str, headers: dict[str, str]) -> tuple[int, Any]:
                response = await client.post(f"/api/v1/notices/{notice_id}/close", headers=headers)
                return response.status_code, response.json()

            scheduler = Scheduler(engine, context(app.state), interval=1.0)
            presses = [press(nid, h) for nid in ids for h in (owner, staff, owner)]
            *answers, by_scheduler = await asyncio.gather(*presses, scheduler.run_once())
            assert [status for status, _ in answers] == [200] * len(presses), [
                a for a in answers if a[0] != 200
            ][:3]
            for i, notice_id in enumerate(ids):
                three = [body for _, body in answers[3 * i : 3 * i + 3]]
                assert three[0] == three[1] == three[2], notice_id  # the same record, whoever closed it
                assert three[0]["notice_id"] == notice_id and three[0]["status"] in ("selected", "failed")
            assert set(by_scheduler) <= set(ids)

            assert_closed_once(await counts_by_notice(db, ids))
            await check_records(client, ids)
        verify_database(committed_database_url, settings, ids)
    finally:
        await engine.dispose()
        await db.dispose()
