"""The engine's pool: connections the server closed are replaced at checkout for free (no
pre-ping round trip), and the pool can be filled before the first burst."""

from __future__ import annotations

import asyncio

import asyncpg
import sqlalchemy as sa

from market.core.db import Database, to_asyncpg_dsn


async def backend_pid(db: Database) -> int:
    assert db.engine is not None
    async with db.engine.connect() as connection:
        return int((await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_the_server_closed_is_replaced_at_checkout(database_url: str) -> None:
    db = Database.from_url(database_url, pool_size=1, max_overflow=0)
    admin = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        first = await backend_pid(db)
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.3)  # the pooled connection's socket sees the server go
        second = await backend_pid(db)  # no error: the dead one was discarded at checkout
        assert second != first
        assert await backend_pid(db) == second  # and the new one is pooled in its place
    finally:
        await admin.close()
        await db.dispose()


async def test_fill_pool_opens_the_connections_up_front(database_url: str) -> None:
    db = Database.from_url(database_url, pool_size=3, max_overflow=0)
    try:
        await db.fill_pool(3)
        assert db.engine is not None
        assert db.engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def test_fill_pool_without_a_database_leaves_the_pool_to_fill_later() -> None:
    db = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", pool_size=2, max_overflow=0)
    try:
        await db.fill_pool(2)  # refused at once: logged, not raised
        assert db.engine is not None and db.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def test_a_readers_connection_the_server_closed_is_not_handed_out_again(database_url: str) -> None:
    """The readers' pool keeps asyncpg's reset on release: besides clearing session state,
    its round trip is what finds a connection left broken (PostgreSQL shutting down under a
    query), so that the next page does not get it. A pool without it (tried for speed)
    handed such connections out and a page answered 500 in the PostgreSQL-restart test."""
    db = Database.from_url(database_url, pool_size=1, max_overflow=0)
    admin = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        await db.open_reader_pool(database_url, 1)
        async with db.reading() as reader:
            first = await reader.fetchval("SELECT pg_backend_pid()")
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
            await asyncio.sleep(0.3)
        async with db.reading() as reader:
            assert await reader.fetchval("SELECT pg_backend_pid()") != first
    finally:
        await admin.close()
        if db.reader_pool is not None:
            await db.reader_pool.close()
        await db.dispose()
