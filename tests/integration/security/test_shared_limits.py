"""Issue 23: the log-in limits are counted in PostgreSQL, so every app host behind the
proxy shares one budget. Read from the side of a guesser who spreads attempts over the
hosts, or sends them all at once, and of an operator whose tables must not grow."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from market.core.db import Database
from market.security.ratelimit import (
    FailureBackoff,
    LimitStore,
    SlidingWindowLimiter,
    account_key,
    backoff_delay,
)
from tests.conftest import serve_in_process
from tests.helpers import PASSWORD, register
from tests.integration.security.shared_app import app_on, sql

pytestmark = pytest.mark.committing

LIMIT = 3


async def test_two_hosts_share_the_address_limit(committed_database_url: str, tmp_path: Path) -> None:
    """2 attempts on host A and 2 on host B: with a limit of 3 the fourth is refused, and
    A refuses the next one too. Each host alone has seen only two."""
    url = committed_database_url
    body = {"email": "nobody@example.cn", "password": "x" * 12}
    async with (
        app_on(url, tmp_path / "a", auth_rate_limit=LIMIT, auth_rate_window=60) as a,
        app_on(url, tmp_path / "b", auth_rate_limit=LIMIT, auth_rate_window=60) as b,
        serve_in_process(a) as host_a,
        serve_in_process(b) as host_b,
    ):
        statuses = [
            (await host.post("/api/v1/auth/token", json=body)).status_code
            for host in (host_a, host_a, host_b)
        ]
        fourth = await host_b.post("/api/v1/auth/token", json=body)
        fifth = await host_a.post("/api/v1/auth/token", json=body)
        # Registration is another action with its own budget.
        register_status = (await host_b.post("/api/v1/auth/register", json={})).status_code
    assert statuses == [401, 401, 401]
    assert fourth.status_code == 429 and 1 <= int(fourth.headers["retry-after"]) <= 60
    assert fifth.status_code == 429
    assert register_status == 422


async def test_two_hosts_share_an_accounts_backoff(committed_database_url: str, tmp_path: Path) -> None:
    """Failures on host A and on host B add up for the account: after the free ones both
    hosts make it wait, the right password included."""
    url = committed_database_url
    async with (
        app_on(url, tmp_path / "a", trusted_proxies=1) as a,
        app_on(url, tmp_path / "b", trusted_proxies=1) as b,
        serve_in_process(a) as host_a,
        serve_in_process(b) as host_b,
    ):
        for app in (a, b):
            app.state.login_backoff = FailureBackoff(app.state.limits, free=3)
        victim = await register(host_a, role="owner")

        async def attempt(host: object, password: str, i: int) -> int:
            response = await host.post(  # type: ignore[attr-defined]
                "/api/v1/auth/token",
                json={"email": victim["email"], "password": password},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            return int(response.status_code)

        statuses = [
            await attempt(host, f"guess-{i}-long-enough", i)
            for i, host in enumerate((host_a, host_b, host_a, host_b))
        ]
        right_on_a = await attempt(host_a, PASSWORD, 10)
    assert statuses == [401, 401, 401, 429], statuses
    assert right_on_a == 429


async def test_simultaneous_attempts_on_two_hosts_let_exactly_the_limit_through(
    committed_database_url: str,
) -> None:
    """20 attempts at once, from one address, through two hosts' connections (10 each, so
    all 20 statements run together): exactly the limit are allowed. The same for one
    account's backoff: exactly its free attempts go ahead."""
    hosts = [Database.from_url(committed_database_url) for _ in range(2)]
    stores = [LimitStore(lambda db=db: db, size=10) for db in hosts]  # type: ignore[misc]
    try:
        limiters = [SlidingWindowLimiter(store, limit=7, window=60) for store in stores]
        waits = await asyncio.gather(*(limiters[i % 2].hit("login:198.51.100.1") for i in range(20)))
        assert waits.count(None) == 7, waits
        assert all(w is not None and 1 <= w <= 60 for w in waits if w is not None)

        backoffs = [FailureBackoff(store, free=5) for store in stores]
        waits = await asyncio.gather(*(backoffs[i % 2].attempt("victim@example.cn") for i in range(20)))
        assert waits.count(None) == 5, waits
    finally:
        for db in hosts:
            await db.dispose()  # and the limits' pool with it


async def test_the_window_slides_on_the_databases_clock(committed_database_url: str) -> None:
    """The hits are the database's times: moved back past the window, they no longer count."""
    url = committed_database_url
    db = Database.from_url(url)
    store = LimitStore(lambda: db)
    try:
        limiter = SlidingWindowLimiter(store, limit=2, window=60)
        assert [await limiter.hit("login:a"), await limiter.hit("login:a")] == [None, None]
        wait = await limiter.hit("login:a")
        assert wait is not None and 59 <= wait <= 60
        assert await limiter.hit("login:b") is None  # clients are counted apart
        # The first hit 61 s ago, the second 30 s ago: one is left in the window.
        await sql(
            url,
            "UPDATE rate_window SET hits = ARRAY[hits[1] - interval '61 s', hits[2] - interval '30 s'] "
            "WHERE key = 'login:a'",
        )
        assert await limiter.hit("login:a") is None
        wait = await limiter.hit("login:a")
        assert wait is not None and 29 <= wait <= 31
    finally:
        await store.close()
        await db.dispose()


async def test_idle_rows_are_pruned_by_the_attempts_themselves(committed_database_url: str) -> None:
    """Rows idle for longer than the window (addresses) or the hour (accounts) are deleted
    a few at a time by every attempt, so the tables hold about the clients active lately;
    rows still in use stay."""
    url = committed_database_url
    await sql(
        url,
        "INSERT INTO rate_window (key, hits, last_at) SELECT 'login:10.0.0.' || n, "
        "ARRAY[now() - interval '2 min'], now() - interval '2 min' FROM generate_series(1, 25) n",
    )
    await sql(
        url, "INSERT INTO rate_window (key, hits, last_at) VALUES ('login:10.1.1.1', ARRAY[now()], now())"
    )
    await sql(
        url,
        "INSERT INTO login_failure (account_key, failures, last_at) SELECT md5(n::text) || md5(n::text), 3, "
        "now() - interval '2 h' FROM generate_series(1, 25) n",
    )
    await sql(
        url,
        "INSERT INTO login_failure (account_key, failures, last_at) VALUES ($1, 2, now() - interval '10 min')",
        account_key("recent@example.cn"),
    )
    db = Database.from_url(url)
    store = LimitStore(lambda: db)
    try:
        limiter, backoff = SlidingWindowLimiter(store, limit=10, window=60), FailureBackoff(store)
        for _ in range(3):  # ten idle rows each
            await limiter.hit("login:192.0.2.1")
            await backoff.attempt("someone@example.cn")
    finally:
        await store.close()
        await db.dispose()
    windows = {r["key"] for r in await sql(url, "SELECT key FROM rate_window")}
    accounts = {r["account_key"] for r in await sql(url, "SELECT account_key FROM login_failure")}
    assert windows == {"login:10.1.1.1", "login:192.0.2.1"}
    assert accounts == {account_key("recent@example.cn"), account_key("someone@example.cn")}


async def test_the_databases_backoff_is_the_pure_rule(committed_database_url: str) -> None:
    """The statement's delay after each number of failures equals backoff_delay's (the
    doubling, the cap, no overflow after thousands), and a failure an hour after the last
    starts afresh."""
    url = committed_database_url
    db = Database.from_url(url)
    store = LimitStore(lambda: db)
    backoff = FailureBackoff(store, free=5, longest=900.0, forget=3600.0)
    key = account_key("victim@example.cn")
    try:
        for failures in [*range(1, 18), 5000]:
            await sql(
                url,
                "INSERT INTO login_failure VALUES ($1, $2, clock_timestamp() - interval '100 ms') "
                "ON CONFLICT (account_key) DO UPDATE SET failures = $2, last_at = excluded.last_at",
                key,
                failures,
            )
            delay = backoff_delay(failures, free=5, longest=900.0)
            expected = None if delay is None else math.ceil(delay - 0.1)
            got = await backoff.attempt("Victim@example.cn")
            assert got == expected, (failures, got, expected)
        await sql(url, "UPDATE login_failure SET last_at = last_at - interval '3601 s'")
        assert await backoff.attempt("victim@example.cn") is None
        assert [r["failures"] for r in await sql(url, "SELECT failures FROM login_failure")] == [1]
        await backoff.succeeded("victim@example.cn")
        assert await sql(url, "SELECT 1 FROM login_failure") == []
    finally:
        await store.close()
        await db.dispose()


async def test_connections_cut_under_the_limits_are_replaced(committed_database_url: str) -> None:
    """After a restart or a failover every connection of the limits' pool is dead; the
    next attempt counts on a new one, with no error (a restart test of its own would need
    a private cluster: pg_terminate_backend cuts them the same way)."""
    url = committed_database_url
    db = Database.from_url(url)
    store = LimitStore(lambda: db)
    try:
        limiter = SlidingWindowLimiter(store, limit=5, window=60)
        assert await limiter.hit("login:a") is None
        cut = await sql(
            url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        assert cut  # the pool's connection was there, and is gone
        await asyncio.sleep(0.2)  # the goodbye reaches the client
        assert await limiter.hit("login:a") is None
        rows = await sql(url, "SELECT cardinality(hits) AS n FROM rate_window WHERE key = 'login:a'")
        assert rows[0]["n"] == 2
    finally:
        await store.close()
        await db.dispose()
