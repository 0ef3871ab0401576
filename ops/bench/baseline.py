"""The bare baseline of the HTTP benchmarks (ops/bench/endpoints.py, issue 10 item 2).

A Litestar app with none of market's middleware, dependencies, ORM or templates: the
handler takes a connection from a raw ``asyncpg.create_pool``, sized and reset as market's
readers' pool, sends the very statements market's endpoint sends (captured with
``log_statement = all``; the SQL itself is imported from market.notices.queries), and
returns the same JSON body, byte for byte (ops/bench/endpoints.py checks it). What remains
between the two is what market adds around the query: its middleware, security headers,
dependency wiring and validation.

The public notice list is the one endpoint with a bare twin: the issue compares the HTML
pages (list, detail, directory) with this same bare JSON list. It is served on market's
path, so one list of URLs drives both servers.

Served by ops/bench/endpoints.py as ``uvicorn --factory ops.bench.baseline:create_app`` with
BENCH_DATABASE_URL set (a plain ``postgresql://`` DSN). With BENCH_READER_QUEUE=1
(endpoints.py ``--baseline-queue``) the handler waits for a connection in a first-come
queue in front of the pool, as market's readers do since issue 24 (market.core.db
Database.reading): the same handler with and without it shows what the queue does to the
tail, apart from everything else market adds.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

from market.core.config import Settings
from market.core.pagination import decode_cursor, encode_cursor
from market.notices import queries
from market.notices.present import notice_public_row
from market.reference.regions import scope_prefix

DATABASE_VAR = "BENCH_DATABASE_URL"
QUEUE_VAR = "BENCH_READER_QUEUE"

# -- GET /api/v1/notices ---------------------------------------------------------------------


def notice_list_sql(
    *, category: str | None, region: str | None, after: int | None, limit: int
) -> tuple[str, list[Any]]:
    """The one statement market's public list sends (``market.notices.queries.notice_list``,
    imported so the two cannot drift apart), for the filters the benchmark varies."""
    filters = queries.NoticeFilters(
        category=category or None, region_prefix=scope_prefix(region) if region else None
    )
    return queries.notice_list(filters, after=after, limit=limit)


async def notice_list(
    conn: asyncpg.Connection, *, category: str | None, region: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """The public notice list: one statement, outside a transaction as market sends it,
    ``limit + 1`` rows to know whether a next page exists; the rows shaped by market's own
    pure function, so that the bodies are equal and what differs is everything around it."""
    sql, args = notice_list_sql(category=category, region=region, after=decode_cursor(cursor), limit=limit)
    rows = await conn.fetch(sql, *args)
    next_cursor = encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    return {"items": [notice_public_row(r) for r in rows[:limit]], "next_cursor": next_cursor}


# -- the app ---------------------------------------------------------------------------------


@get("/api/v1/notices")
async def notices(
    state: State,
    category: str | None = None,
    region: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    if state.queue is None:
        async with state.pool.acquire() as conn:
            return await notice_list(conn, category=category, region=region, cursor=cursor, limit=limit)
    # As market.core.db.Database.reading: the next in line is let go before the reset.
    await state.queue.acquire()
    try:
        conn = await state.pool.acquire()
    except BaseException:
        state.queue.release()
        raise
    try:
        return await notice_list(conn, category=category, region=region, cursor=cursor, limit=limit)
    finally:
        state.queue.release()
        await state.pool.release(conn)


@get("/healthz")
async def healthz() -> dict[str, str]:
    """What ops/load/bids.py's wait_healthy asks every server for."""
    return {"status": "ok"}


def reader_pool_size() -> int:
    """The size of market's readers' pool (MARKET_DB_READ_POOL_SIZE, else its default),
    which serves the list: with as many connections on both sides, requests queue alike."""
    default = next(f.default for f in fields(Settings) if f.name == "db_read_pool_size")
    return int(os.environ.get("MARKET_DB_READ_POOL_SIZE", str(default)))


@asynccontextmanager
async def _pool(app: Litestar) -> AsyncIterator[None]:
    # As market.core.db opens its readers' pool: two connections at once, the rest on demand, and
    # asyncpg's reset on every release (a statement of its own, which market sends too).
    size = reader_pool_size()
    app.state.pool = await asyncpg.create_pool(os.environ[DATABASE_VAR], min_size=min(2, size), max_size=size)
    app.state.queue = asyncio.Semaphore(size) if os.environ.get(QUEUE_VAR) == "1" else None
    try:
        yield
    finally:
        await app.state.pool.close()


def create_app() -> Litestar:
    return Litestar(
        route_handlers=[notices, healthz],
        lifespan=[_pool],
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
