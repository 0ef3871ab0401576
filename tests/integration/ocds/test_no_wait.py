"""No read of the open data can make a log append wait (issue 22, review): a release row
held uncommitted by another transaction, as a slow bulk download's transaction once held
them, costs a change to that notice at most the commit hook's lock_timeout, and the rest
of the site nothing; the bulk download holds no transaction while a chunk is sent; and
``market ocds backfill`` stores what was never kept."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.core.db import Database, to_asyncpg_dsn
from market.ocds.web import bulk_package
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin
from tests.integration.cli.test_cli import market
from tests.integration.contracts.test_api import awarded, headers_of, record
from tests.integration.notices.test_api import draft, owner_user, published

COLUMNS = "key, notice_id, stage, seq, date, body, kept_at"
BOUND = 3.0  # seconds: the hook gives up after 0.5 s; a loaded 2-core machine gets the rest


@pytest.fixture
async def site(
    committed_database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Litestar, AsyncClient, Database]]:
    """The app on real commits: each request its own transaction on its own connection."""
    db = Database.from_url(committed_database_url)
    try:
        app = create_app(make_settings(committed_database_url, tmp_path, publicity_days=0), database=db)
        async with serve_in_process(app) as c:
            yield app, c, db
    finally:
        await db.dispose()


async def forget(conn: asyncpg.Connection, notice_id: str) -> list[asyncpg.Record]:
    """Take a process's stored releases away, as for a process from before the upgrade; the
    rows taken (the append-only trigger is off for this connection's statement alone)."""
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        return list(
            await conn.fetch(
                f"DELETE FROM ocds_release WHERE notice_id = (SELECT id FROM notice WHERE public_id = $1) "
                f"RETURNING {COLUMNS}",
                notice_id,
            )
        )


async def keys_of(conn: asyncpg.Connection, notice_id: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT key FROM ocds_release WHERE notice_id = (SELECT id FROM notice WHERE public_id = $1)",
        notice_id,
    )
    return {r["key"] for r in rows}


@pytest.mark.committing
async def test_a_release_row_held_by_a_reader_makes_no_log_append_wait(
    site: tuple[Litestar, AsyncClient, Database], committed_database_url: str
) -> None:
    app, c, db = site
    staff = await admin(c, db)
    r, rec = await awarded(app, c, db, staff)
    winner = rec["winners"][0]
    contract = await record(c, r, winner)
    other = await draft(c, r.owner)

    holder = await asyncpg.connect(to_asyncpg_dsn(committed_database_url))
    try:
        held = await forget(holder, r.notice_id)
        assert held
        # A reader's transaction holds the process's releases inserted and not committed.
        reader = holder.transaction()
        await reader.start()
        await holder.executemany(
            f"INSERT INTO ocds_release ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [tuple(row) for row in held],
        )
        start = time.monotonic()
        # A change to that notice (its commit hook builds the same rows) and, meanwhile, one
        # to another notice, which queues behind the first one's log lock.
        confirm = asyncio.create_task(
            c.post(f"/api/v1/contracts/{contract['id']}/confirm", headers=headers_of(r, winner))
        )
        await asyncio.sleep(0.1)
        publish = asyncio.create_task(c.post(f"/api/v1/notices/{other['id']}/publish", headers=r.owner))
        done, _ = await asyncio.wait({confirm, publish}, timeout=BOUND)
        waited = time.monotonic() - start
        await reader.commit()  # the reader finishes: its releases are stored
        confirmed, publishing = await asyncio.gather(confirm, publish)
        assert len(done) == 2, f"log appends waited on a reader's release rows ({waited:.1f} s and more)"
        assert confirmed.status_code == 200, confirmed.text
        assert publishing.status_code == 200, publishing.text

        stored = await keys_of(holder, r.notice_id)
        assert {row["key"] for row in held} <= stored  # the held releases are kept
        # The confirmation committed without its release (its hook gave up): it is kept
        # when first served, and served meanwhile.
        pkg = (await c.get("/api/v1/ocds/releases", params={"ocid": f"ocds-mkt000-{r.notice_id}"})).json()
        served = {x["id"].removeprefix("ocds-mkt000-") for x in pkg["releases"]}
        assert served - stored, "the confirmation made no new release"
        assert await keys_of(holder, r.notice_id) == served
        signed = [x for x in pkg["releases"] if x.get("contracts") and x["contracts"][0].get("dateSigned")]
        assert signed, "the release of the confirmation is not served"
        assert await keys_of(holder, other["id"])  # the other notice's release was kept at commit
    finally:
        await holder.close()


@pytest.mark.committing
async def test_the_bulk_download_holds_no_transaction_between_chunks_and_backfill_keeps_the_rest(
    site: tuple[Litestar, AsyncClient, Database], committed_database_url: str, tmp_path: Path
) -> None:
    app, c, db = site
    owner = await owner_user(c)
    first = await published(c, owner)
    second = await published(c, owner)
    conn = await asyncpg.connect(to_asyncpg_dsn(committed_database_url))
    try:
        taken = await forget(conn, first["id"])
        assert taken
        # A slow reader: the download stopped right after its page of releases went out.
        chunks = bulk_package(SimpleNamespace(app=app))  # type: ignore[arg-type]
        gzip = zlib.decompressobj(31)
        text = gzip.decompress(await anext(chunks)) + gzip.decompress(await anext(chunks))
        assert first["id"].encode() in text
        # Nothing of it is left uncommitted: the releases it kept are there for all, and
        # no connection of the site sits in a transaction.
        assert await keys_of(conn, first["id"]) == {row["key"] for row in taken}
        idle = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        )
        assert idle == 0
        # A change meanwhile is not held up either.
        start = time.monotonic()
        third = await asyncio.wait_for(published(c, owner), timeout=BOUND)
        assert time.monotonic() - start < BOUND and await keys_of(conn, third["id"])
        rest = b"".join([gzip.decompress(chunk) async for chunk in chunks]) + gzip.flush()
        pkg: dict[str, Any] = json.loads(text + rest)
        assert any(x["ocid"].endswith(first["id"]) for x in pkg["releases"])

        # The backfill stores the releases of processes never served nor changed since.
        taken = await forget(conn, second["id"])
        env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path / "data")}
        done = market("ocds", "backfill", env=env)
        assert done.returncode == 0, done.stderr
        assert f"{len(taken)} releases stored for 3 contracting processes" in done.stdout
        assert await keys_of(conn, second["id"]) == {row["key"] for row in taken}
        again = market("ocds", "backfill", env=env)
        assert again.returncode == 0 and "0 releases stored" in again.stdout
    finally:
        await conn.close()
