"""An app in this process on a database where commits are real (``committed_database_url``)
and with its own engine, as a served host has: what the log-in limits count goes through
their own connections (market/security/ratelimit.py), so it outlives a request's rolled-back
transaction, and two such apps on one database are two hosts sharing the counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from litestar import Litestar

from market.app import create_app
from market.core.db import Database, to_asyncpg_dsn
from tests.conftest import make_settings


@asynccontextmanager
async def app_on(url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Litestar]:
    db = Database.from_url(url)
    app = create_app(make_settings(url, tmp_path, **overrides), database=db)
    try:
        yield app
    finally:
        await app.state.limits.close()
        await db.dispose()


async def sql(url: str, statement: str, *args: Any) -> Any:
    """One statement on its own connection, committed; the rows it returns."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return await conn.fetch(statement, *args)
    finally:
        await conn.close()
