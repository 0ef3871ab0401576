"""After a failover the old primary may hang rather than refuse: its machine takes the TCP
connection and then says nothing (a stuck disk, a frozen PostgreSQL). asyncpg spends its
one connect timeout on the first host of a multi-host URL and never tries the next, so
with the hung host listed first every new connection failed after 10 s although the
promoted server answered. Each way the application connects gives every host a time of
its own (market/core/db.connect): the engine, the readers' pool, the log-in limits' pool,
the LISTEN connection, and asyncpg itself."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from market.core import db as dbmod
from market.core.channels import ReconnectingAsyncPgChannelsBackend
from market.core.config import normalize_database_url
from market.core.db import CONNECT_TIMEOUT, PER_HOST_TIMEOUT, Database, connect, host_dsns, to_asyncpg_dsn


@contextlib.contextmanager
def silent_host() -> Iterator[int]:
    """A port whose kernel accepts connections (the backlog) that nobody ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


def hung_first(database_url: str, port: int) -> str:
    live = make_url(database_url)
    url = normalize_database_url(
        f"postgresql://{live.username}{':' + live.password if live.password else ''}"
        f"@127.0.0.1:{port},{live.host}:{live.port or 5432}/{live.database}"
        "?target_session_attrs=read-write"
    )
    assert url is not None
    return url


def test_a_multi_host_dsn_is_split_into_one_per_host_in_order() -> None:
    dsn = "postgresql://u:p%40ss@10.0.0.31:5432,[::1]:5433/market?target_session_attrs=read-write"
    assert host_dsns(dsn) == [
        "postgresql://u:p%40ss@10.0.0.31:5432/market?target_session_attrs=read-write",
        "postgresql://u:p%40ss@[::1]:5433/market?target_session_attrs=read-write",
    ]
    assert host_dsns("postgresql://u@h:5432/market") == ["postgresql://u@h:5432/market"]


@pytest.fixture(autouse=True)
def _quick_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PER_HOST_TIMEOUT * 2 < CONNECT_TIMEOUT  # as shipped: a hung host costs 3 s of 10
    monkeypatch.setattr(dbmod, "PER_HOST_TIMEOUT", 1.0)


async def test_every_way_of_connecting_passes_a_hung_first_host(database_url: str) -> None:
    with silent_host() as port:
        url = hung_first(database_url, port)
        # What asyncpg does alone: the hung host uses the whole timeout, the next is never tried.
        with pytest.raises(TimeoutError):
            await asyncpg.connect(to_asyncpg_dsn(url), timeout=2.0)
        began = time.monotonic()
        conn = await connect(to_asyncpg_dsn(url))
        try:
            assert await conn.fetchval("SELECT NOT pg_is_in_recovery()")
        finally:
            await conn.close()
        assert time.monotonic() - began < CONNECT_TIMEOUT - 1

        db = Database.from_url(url, timeouts=dbmod.Timeouts(statement=1234), pool_size=1, max_overflow=0)
        try:
            began = time.monotonic()
            async with db.engine.connect() as connection:  # type: ignore[union-attr]
                assert (await connection.execute(sa.text("SHOW statement_timeout"))).scalar_one() == "1234ms"
            await db.open_reader_pool(url, 1)
            assert db.reader_pool is not None, "the readers' pool did not open"
            async with db.reader_pool.acquire() as connection:
                assert await connection.fetchval("SHOW statement_timeout") == "1234ms"
            assert time.monotonic() - began < 2 * CONNECT_TIMEOUT - 2
        finally:
            await db.dispose()

        backend = ReconnectingAsyncPgChannelsBackend(to_asyncpg_dsn(url), connect_timeout=CONNECT_TIMEOUT)
        began = time.monotonic()
        listener = await backend._connect()
        try:
            assert await listener.fetchval("SELECT 1") == 1
        finally:
            await listener.close()
        assert time.monotonic() - began < CONNECT_TIMEOUT - 1


async def test_with_no_host_answering_the_failure_is_unavailable_not_a_bug() -> None:
    with silent_host() as one, silent_host() as two:
        dsn = f"postgresql://postgres@127.0.0.1:{one},127.0.0.1:{two}/postgres"
        began = time.monotonic()
        with pytest.raises(Exception) as caught:
            await connect(dsn)
        assert dbmod.is_unavailable(caught.value)
        assert time.monotonic() - began < 2 * dbmod.PER_HOST_TIMEOUT + 2
