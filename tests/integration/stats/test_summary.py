"""The statistics' summary (issue 24): what the pages and the API read from it equals what
the records say, for every jurisdiction and every table, to the fen; a change shows after
the next refresh, which recomputes only the halls the log names; one process refreshes at
a time; and the figures' time is on the page, the hall's page and in the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from market.core.clock import CHINA, utcnow
from market.core.db import Database
from market.notices.models import Notice
from market.stats import queries, summary
from market.web.times import china_time
from tests.helpers import bearer, org_credit_code, register, token_for
from tests.integration.cli.test_cli import market
from tests.integration.notices.test_api import published
from tests.integration.stats.helpers import refresh
from tests.integration.stats.test_stats import signed_round
from tests.integration.stats.test_stats_halls import NOTICES, crafted

SCOPES = (None, *NOTICES)  # the province, a prefecture, two counties, a park, another prefecture


async def varied(client: AsyncClient, db: Database) -> None:
    """Notices in every kind of hall, three signed rounds (one completed on time, one late,
    one at the province's level), and publications spread over months, one of them at a
    month's edge that UTC and China time put in different months."""
    await crafted(client, db)
    await signed_round(client, db, budget_fen=1_000_001, amount_fen=800_003, completed_late=False)
    await signed_round(client, db, budget_fen=3_000_007, amount_fen=2_400_011, completed_late=True)
    await signed_round(client, db, budget_fen=500_000, amount_fen=500_000, region="530000")
    async with db.sessionmaker() as session:
        ids = (await session.execute(sa.select(Notice.id).order_by(Notice.id))).scalars().all()
        local = datetime.now(CHINA)
        edge = datetime(local.year, local.month, 1, tzinfo=CHINA) - timedelta(hours=1)  # 23:00 the last day
        for months, notice_id in enumerate(ids[:6]):
            when = edge - timedelta(days=31 * months)
            await session.execute(sa.update(Notice).where(Notice.id == notice_id).values(published_at=when))
        await session.commit()


async def both(db: Database, code: str | None) -> tuple[queries.Stats, queries.Stats]:
    """The figures of ``code`` from the summary and computed from the records, now."""
    async with db.sessionmaker() as session:
        scope = await queries.scope_of(session, code)
        now = utcnow()
        return (
            await queries.load(session, now=now, scope=scope),
            await queries.load(session, now=now, scope=scope, live=True),
        )


def assert_same(read: queries.Stats, live: queries.Stats, code: str | None) -> None:
    assert read.total == live.total, code
    for table in ("category", "region", "month"):
        assert read.table(table) == live.table(table), (code, table)


async def test_the_summary_equals_the_records_for_every_scope_and_table(
    client: AsyncClient, db: Database
) -> None:
    await varied(client, db)
    done = await refresh(db, full=True)
    assert done.full
    for code in SCOPES:
        read, live = await both(db, code)
        assert_same(read, live, code)
        assert read.as_of == done.as_of
    read, _ = await both(db, None)
    # not an empty comparison: money to the fen, months apart, every kind of hall counted
    assert read.total.amount_fen == 800_003 + 2_400_011 + 500_000
    assert read.total.budget_fen == 1_000_001 + 3_000_007 + 500_000
    assert read.total.on_time == 1 and read.total.completed == 2 and read.total.agencies == 6
    assert sum(1 for row in read.by_month if row.figures.notices) >= 4
    park, _ = await both(db, "530100KF")
    assert park.total.notices == NOTICES["530100KF"]


async def test_a_change_shows_after_the_next_refresh_of_its_hall_only(
    client: AsyncClient, db: Database
) -> None:
    await varied(client, db)
    await refresh(db, full=True)
    before, _ = await both(db, "530102")
    owner = await crafted_owner(client, db, "530102")
    await published(client, owner, budget_fen=2_345_678)
    stale, live = await both(db, "530102")
    assert stale.total == before.total and live.total.notices == before.total.notices + 1
    done = await refresh(db)
    assert not done.full and done.halls == 1 and not done.agencies  # its hall, nothing else
    for code in SCOPES:
        read, live = await both(db, code)
        assert_same(read, live, code)
    after, _ = await both(db, "530102")
    assert after.total.notices == before.total.notices + 1
    assert (await refresh(db)).halls == 0  # nothing new in the log: nothing recomputed


async def crafted_owner(client: AsyncClient, db: Database, hall: str) -> dict[str, str]:
    """An owner whose organisation belongs to ``hall``."""
    user = await register(client, role="owner", org=None)
    headers = bearer(await token_for(client, user["email"]))
    body = {"name": f"又一业主单位{hall}", "region": hall[:6], "hall": hall, "credit_code": org_credit_code()}
    response = await client.post("/api/v1/owners/org", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def test_a_new_china_day_or_a_shorter_log_computes_everything(
    client: AsyncClient, db: Database
) -> None:
    await crafted(client, db)  # ends with the first refresh: everything
    first = await refresh(db)
    assert not first.full
    assert (await refresh(db, now=first.as_of + timedelta(days=1))).full  # the daily pass
    async with db.sessionmaker() as session:
        await session.execute(sa.text("UPDATE stats_refresh SET log_seq = log_seq + 1000"))
        await session.commit()
    assert (await refresh(db, now=first.as_of + timedelta(days=1, seconds=5))).full  # a restored database


async def test_the_figures_time_is_on_the_page_and_in_the_api(client: AsyncClient, db: Database) -> None:
    never = (await client.get("/api/v1/stats")).json()
    assert never["as_of"] is None and never["summary"]["notices_published"] == 0
    page = await client.get("/stats", headers={"Accept-Language": "en"})
    assert "have not been computed yet" in page.text
    await crafted(client, db)
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    await refresh(db, full=True, now=when)
    body = (await client.get("/api/v1/stats", params={"jurisdiction": "530100"})).json()
    assert body["as_of"] == when.isoformat() and body["summary"]["notices_published"] == 6
    for lang in ("en", "zh-Hans"):
        page = await client.get(
            "/stats", params={"jurisdiction": "530100"}, headers={"Accept-Language": lang}
        )
        assert page.status_code == 200
        assert '<p id="stats-as-of">' in page.text and china_time(when) in page.text  # 2026-03-04 13:06
    hall = await client.get("/halls/530100", headers={"Accept-Language": "en"})
    assert 'id="hall-stats-as-of"' in hall.text and china_time(when) in hall.text
    api = (await client.get("/api/v1/halls/530100")).json()
    assert api["statistics_as_of"] == when.isoformat() and api["statistics"]["notices_published"] == 6


async def test_one_process_refreshes_at_a_time(committed_database_url: str) -> None:
    engine = create_async_engine(committed_database_url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as first, AsyncSession(engine) as second:
            done = await summary.refresh(first, now=utcnow())  # holds the lock until it commits
            assert done is not None and done.full  # never computed before: everything
            assert await summary.refresh(second, now=utcnow()) is None  # skips its turn, waits for nothing
            await second.rollback()
            await first.commit()
            again = await summary.refresh(second, now=utcnow())
            assert again is not None and not again.full
            await second.commit()
            as_of = (await first.execute(sa.text("SELECT as_of FROM stats_refresh"))).scalar_one()
            assert as_of == again.as_of
    finally:
        await engine.dispose()


def test_the_command_refreshes_now(committed_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path)}
    first = market("stats", "refresh", env=env)
    assert first.returncode == 0 and "statistics refreshed (everything)" in first.stdout, first.stderr
    again = market("stats", "refresh", env=env)
    assert again.returncode == 0 and "statistics refreshed (0 hall(s))" in again.stdout, again.stderr
    full = market("stats", "refresh", "--full", env=env)
    assert full.returncode == 0 and "(everything)" in full.stdout, full.stderr
