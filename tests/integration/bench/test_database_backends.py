"""The benchmarks' database CPU (ops/load/bids.database_backends): a backend is found by
its database's name, and only by it, so scale.py charges each data set its own backends."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from market.core.db import to_asyncpg_dsn
from ops.load.bids import _process_cpu, database_backends


async def test_a_connection_s_backend_is_found_by_its_database_and_its_cpu_read(database_url: str) -> None:
    name = make_url(database_url).database
    assert name
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        # work the backend can be seen to have done
        await conn.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        assert pid in database_backends(name)
        assert pid not in database_backends(name + "_other")
        assert _process_cpu(pid) > 0
    finally:
        await conn.close()
    assert pid not in database_backends(name)
