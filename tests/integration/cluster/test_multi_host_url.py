"""A multi-host DATABASE_URL with target_session_attrs=read-write reaches the primary
whatever comes first in the list: a host that is down, or a standby (which would take the
connection, and then refuse every write). Each way the application connects is tried:
the engine, the readers' pool and asyncpg itself (LISTEN, log verify), and libpq (pg_dump,
pg_restore). With no host taking writes the failure is "unavailable" (a 503), not a bug."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from market.backup.pg import libpq_env
from market.core.config import normalize_database_url
from market.core.db import Database, is_unavailable, to_asyncpg_dsn
from market.core.pgembed import free_port
from ops.cluster import Node, start_primary, start_standby

WHO = "SELECT inet_server_port() || ' ' || pg_is_in_recovery()"


def url_listing(primary: Node, hosts: list[str], attrs: str = "read-write") -> str:
    url = normalize_database_url(
        f"postgresql://market:{primary.password}@{','.join(hosts)}/market?target_session_attrs={attrs}"
    )
    assert url is not None
    return url


async def reached(url: str, psql: Path) -> set[str]:
    """Which server (port, in recovery) each way of connecting reached."""
    seen = set()
    db = Database.from_url(url, pool_size=1, max_overflow=0)
    try:
        async with db.engine.connect() as connection:  # type: ignore[union-attr]
            seen.add(str((await connection.execute(sa.text(WHO))).scalar_one()))
        await db.open_reader_pool(url, 2)
        assert db.reader_pool is not None, "the readers' pool did not open"
        async with db.reader_pool.acquire() as connection:
            seen.add(await connection.fetchval(WHO))
    finally:
        await db.dispose()
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        seen.add(await conn.fetchval(WHO))
    finally:
        await conn.close()
    libpq = await asyncio.to_thread(
        subprocess.run,
        [str(psql), "-X", "-Atc", WHO],
        env=libpq_env(url),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    seen.add(libpq.stdout.strip())
    return seen


@pytest.mark.committing
async def test_the_url_finds_the_primary_past_a_dead_host_and_past_a_standby(tmp_path: Path) -> None:
    with (
        start_primary(tmp_path / "primary") as primary,
        start_standby(primary, tmp_path / "standby") as standby,
    ):
        psql = primary.pg.bindir / "psql"
        dead = f"127.0.0.1:{free_port()}"  # nothing listens there: refused
        on_primary = {f"{primary.port} false"}

        assert await reached(url_listing(primary, [dead, primary.host]), psql) == on_primary
        assert await reached(url_listing(primary, [standby.host, primary.host]), psql) == on_primary
        assert await reached(url_listing(primary, [dead, standby.host, primary.host]), psql) == on_primary
        # Without the attribute the first host that answers is taken: the standby, where
        # every bid would fail. This is what target_session_attrs=read-write is for.
        assert await reached(url_listing(primary, [standby.host, primary.host], "any"), psql) == {
            f"{standby.port} true"
        }

        # Only the standby up among the hosts: the connection fails as "unavailable",
        # which the app answers with a 503 and Retry-After, not a 500.
        with pytest.raises(Exception) as failed:
            await asyncpg.connect(to_asyncpg_dsn(url_listing(primary, [standby.host])))
        assert is_unavailable(failed.value), repr(failed.value)
        db = Database.from_url(url_listing(primary, [dead, standby.host]), pool_size=1, max_overflow=0)
        try:
            with pytest.raises(Exception) as failed:
                async with db.engine.connect() as connection:  # type: ignore[union-attr]
                    await connection.execute(sa.text("SELECT 1"))
            assert is_unavailable(failed.value), repr(failed.value)
        finally:
            await db.dispose()
        env = libpq_env(url_listing(primary, [standby.host]))
        refused = await asyncio.to_thread(
            subprocess.run, [str(psql), "-X", "-Atc", "SELECT 1"], env=env, capture_output=True, text=True
        )
        assert refused.returncode != 0 and "session is read-only" in refused.stderr, refused.stderr
        assert os.environ.get("PGTARGETSESSIONATTRS") is None  # nothing leaks into our own environment
