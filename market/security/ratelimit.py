"""A sliding-window limiter for log-in and registration, per client address, and a
backoff per account for failed log-ins, both counted in PostgreSQL so that every app host
behind the proxy shares one budget (with the counts in each process, N hosts allowed N
times the limit).

Each attempt is one statement, one round trip: an INSERT ... ON CONFLICT DO UPDATE that
counts the attempt and answers whether it was allowed, under the row's lock, so that
simultaneous attempts on any hosts are counted one after the other and exactly the limit
get through. The clock is the database's (clock_timestamp(), read once per statement),
so hosts whose clocks disagree still agree on the window. Each statement also deletes a
few rows idle for longer than they matter, so the tables stay as small as the set of
clients active in the last window (or accounts failing in the last hour), with no task
to run. The tables are UNLOGGED (market/security/models.py says what that costs).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

if TYPE_CHECKING:
    from market.core.db import Database

PRUNE = 10  # idle rows each statement deletes (skipping any another statement holds)
LIMITS_POOL_SIZE = 2  # the limits' own connections per process


# -- pure ----------------------------------------------------------------------------------


def client_address(peer: str | None, forwarded_for: list[str], trusted_proxies: int) -> str:
    """The address to count attempts against (pure).

    By default the TCP peer: X-Forwarded-For is whatever the client wrote, so believing it
    would let anyone pick a fresh address per attempt. With ``trusted_proxies`` = N
    (MARKET_TRUSTED_PROXIES) the N proxies in front each appended the address they saw, so
    the N-th entry from the right is the client as the outermost proxy saw it; entries
    further left are the client's own claims and are ignored. A request with fewer entries
    did not pass all the proxies, and is counted against its peer."""
    host = peer or "unknown"
    if trusted_proxies <= 0:
        return host
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return host
    candidate = hops[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return host


def window_key(key: str) -> str:
    """``key`` as stored (pure): as it is when short, which it always is for an address,
    else its hash, so that no header can make a row too large to index."""
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def account_key(email: str) -> str:
    """The account an attempt is counted against (pure): the address as typed, trimmed and
    lower-cased, known or not, hashed so that the table holds no one's address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def window_wait(hits: list[datetime], now: datetime, window: float) -> int:
    """Seconds until the oldest of ``hits`` leaves the window (pure), at least 1."""
    if not hits:
        return max(1, math.ceil(window))
    return max(1, math.ceil((hits[0] - now).total_seconds() + window))


MAX_DOUBLINGS = 62  # 2**62 s is longer than any wait; a larger power would overflow


def backoff_delay(failures: int, *, free: int, longest: float) -> float | None:
    """How long after its ``failures``-th failure an account waits (pure): nothing for
    the first ``free`` - 1, then 1 s, 2 s, 4 s ... up to ``longest``. The statement in
    FailureBackoff computes the same in SQL; a unit test holds the two equal."""
    if failures < free:
        return None
    return min(longest, 2.0 ** min(failures - free, MAX_DOUBLINGS))


# -- where the counts live -----------------------------------------------------------------


async def _keep_session(connection: Any) -> None:
    """The pool's reset: nothing to undo (one statement, no session state), so releasing
    a connection costs no round trip (asyncpg's default reset sends four statements)."""


class LimitStore:
    """The connection each limit statement runs on.

    Its own small pool of bare asyncpg connections to the primary, not the engine's pool:
    the log-in counts its attempt while the request holds one of the engine's connections,
    and N simultaneous log-ins each holding one and waiting for a second would empty the
    pool for everyone (until POOL_TIMEOUT). Outside any request transaction, a failed
    log-in stays counted when the request's transaction rolls back. In tests, where the app
    is handed one connection whose transaction is rolled back at the end, that connection
    itself (a count made inside a request's savepoint then goes with the savepoint). The
    pool is kept on the Database: two apps handed one Database share it."""

    def __init__(self, database: Callable[[], Database], *, size: int = LIMITS_POOL_SIZE) -> None:
        self._database = database
        self._size = size
        self._opening = asyncio.Lock()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        from market.core.db import POOL_TIMEOUT

        db = self._database()
        if db.engine is None:  # tests: the outer, rolled-back connection
            bind = db.sessionmaker.kw["bind"]
            driver = (await bind.get_raw_connection()).driver_connection
            if not driver.is_in_transaction():  # SQLAlchemy sends its BEGIN with the first statement
                await bind.exec_driver_sql("SELECT 1")
            yield driver
            return
        pool = db.limits_pool or await self._open(db)
        try:
            connection = await pool.acquire(timeout=POOL_TIMEOUT)
        except TimeoutError as exc:  # as SQLAlchemy's pool says it: a 503, not a 500
            from sqlalchemy import exc as sa_exc

            raise sa_exc.TimeoutError("no connection for the log-in limits came free") from exc
        try:
            yield connection
        finally:
            await pool.release(connection)

    async def _open(self, db: Database) -> Any:
        import asyncpg

        from market.core.db import CONNECT_TIMEOUT, POOL_CONNECT, to_asyncpg_dsn

        async with self._opening:
            if db.limits_pool is None:
                assert db.engine is not None
                url = db.engine.url.render_as_string(hide_password=False)
                # Kept on the Database, whose dispose() closes it with the engine. min_size
                # 0: nothing is opened until an attempt needs it, so a host starts (and the
                # pool is made) while the database is away.
                db.limits_pool = await asyncpg.create_pool(
                    to_asyncpg_dsn(url),
                    connect=POOL_CONNECT,
                    min_size=0,
                    max_size=self._size,
                    timeout=CONNECT_TIMEOUT,
                    server_settings=db.timeouts.server_settings(),
                    reset=_keep_session,
                )
        return db.limits_pool

    async def close(self) -> None:
        """Close the pool now (the app's lifespan: before the engine it came with)."""
        db = self._database()
        if db.limits_pool is not None:
            pool, db.limits_pool = db.limits_pool, None
            await pool.close()


# -- per client address --------------------------------------------------------------------

# $1 key, $2 limit, $3 window (s), $4 rows to prune. The attempt is added to the key's
# hits when fewer than the limit are left in the window, else the hits stay as they are;
# either way the ones that left the window are dropped. The statement's own time, read
# once, is returned: the attempt was counted exactly when its last hit is that time.
HIT = """
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
idle AS (
    DELETE FROM rate_window WHERE key IN (
        SELECT key FROM rate_window
        WHERE last_at < (SELECT t FROM now) - make_interval(secs => $3) AND key <> $1
        ORDER BY last_at LIMIT $4 FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO rate_window AS w (key, hits, last_at)
SELECT $1, ARRAY[t], t FROM now
ON CONFLICT (key) DO UPDATE SET
    hits = CASE
        WHEN cardinality(ARRAY(
            SELECT h FROM unnest(w.hits) AS h WHERE h > excluded.last_at - make_interval(secs => $3)
        )) < $2
        THEN ARRAY(
            SELECT h FROM unnest(w.hits) AS h WHERE h > excluded.last_at - make_interval(secs => $3) ORDER BY h
        ) || excluded.last_at
        ELSE ARRAY(
            SELECT h FROM unnest(w.hits) AS h WHERE h > excluded.last_at - make_interval(secs => $3) ORDER BY h
        )
    END,
    last_at = excluded.last_at
RETURNING hits, (SELECT t FROM now) AS now
"""


class SlidingWindowLimiter:
    """At most ``limit`` attempts per key in any ``window`` seconds, on every host together."""

    def __init__(self, store: LimitStore, *, limit: int, window: float) -> None:
        self.store, self.limit, self.window = store, limit, window

    async def hit(self, key: str) -> int | None:
        """Count one attempt for ``key``; None if allowed, else the seconds to wait."""
        if self.limit <= 0:  # no attempt at all is allowed
            return max(1, math.ceil(self.window))
        async with self.store.connection() as connection:
            row = await connection.fetchrow(HIT, window_key(key), self.limit, float(self.window), PRUNE)
        hits, now = list(row["hits"]), row["now"]
        if hits and hits[-1] == now:
            return None
        return window_wait(hits, now, self.window)


# -- per account ---------------------------------------------------------------------------

# $1 account, $2 free, $3 longest (s), $4 forget (s), $5 rows to prune. An attempt while
# the account waits is refused and changes nothing; any other is counted as a failure
# before the password is checked (so that simultaneous guesses are counted one after the
# other, none of them before another's count), and a success deletes the row. A failure
# ``forget`` seconds after the last starts the count afresh. The delay is backoff_delay's.
ATTEMPT = """
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
idle AS (
    DELETE FROM login_failure WHERE account_key IN (
        SELECT account_key FROM login_failure
        WHERE last_at < (SELECT t FROM now) - make_interval(secs => $4) AND account_key <> $1
        ORDER BY last_at LIMIT $5 FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO login_failure AS f (account_key, failures, last_at)
SELECT $1, 1, t FROM now
ON CONFLICT (account_key) DO UPDATE SET
    failures = CASE
        WHEN excluded.last_at >= f.last_at + make_interval(secs => $4) THEN 1
        WHEN f.failures >= $2 AND excluded.last_at < f.last_at + make_interval(
            secs => least($3, power(2.0::float8, least(f.failures - $2, 62)))
        ) THEN f.failures
        ELSE f.failures + 1
    END,
    last_at = CASE
        WHEN excluded.last_at >= f.last_at + make_interval(secs => $4) THEN excluded.last_at
        WHEN f.failures >= $2 AND excluded.last_at < f.last_at + make_interval(
            secs => least($3, power(2.0::float8, least(f.failures - $2, 62)))
        ) THEN f.last_at
        ELSE excluded.last_at
    END
RETURNING failures, last_at, (SELECT t FROM now) AS now
"""


class FailureBackoff:
    """Per account (the e-mail address as typed, lower-cased, known or not, so the answer
    tells nothing about which exist): after ``free`` failed log-ins each further attempt
    waits twice as long as the one before (1 s, 2 s, 4 s ... up to ``longest``), however
    many addresses and hosts the attempts come from; a success, or ``forget`` seconds
    without a failure, starts the account afresh. Address limits alone let a botnet try
    one password per address against one account for ever."""

    def __init__(
        self, store: LimitStore, *, free: int = 5, longest: float = 900.0, forget: float = 3600.0
    ) -> None:
        self.store, self.free, self.longest, self.forget = store, free, longest, forget

    async def attempt(self, email: str) -> int | None:
        """Count an attempt on the account as a failure until it succeeds: None when it may
        go ahead, else the seconds it must wait (and it was not counted)."""
        async with self.store.connection() as connection:
            row = await connection.fetchrow(
                ATTEMPT, account_key(email), self.free, float(self.longest), float(self.forget), PRUNE
            )
        failures, last_at, now = row["failures"], row["last_at"], row["now"]
        if last_at == now:
            return None
        delay = backoff_delay(failures, free=self.free, longest=self.longest) or 0.0
        return max(1, math.ceil((last_at - now).total_seconds() + delay))

    async def succeeded(self, email: str) -> None:
        async with self.store.connection() as connection:
            await connection.execute("DELETE FROM login_failure WHERE account_key = $1", account_key(email))


# -- the guard -----------------------------------------------------------------------------


def client_key(request: object, action: str) -> str:
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None)
    forwarded = headers.getall("x-forwarded-for", []) if headers is not None else []
    settings = request.app.state.settings  # type: ignore[attr-defined]
    return f"{action}:{client_address(getattr(client, 'host', None), forwarded, settings.trusted_proxies)}"


def rate_limited(
    action: str,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A guard counting one ``action`` attempt per client address; 429 over the limit.
    A guard runs before the body is read, so malformed attempts count too; and before the
    request's session is opened, so the count holds no second connection."""
    from market.core.errors import TooManyRequests

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:  # a coroutine: no worker-thread hop (auth.py)
        limiter: SlidingWindowLimiter = connection.app.state.auth_limiter
        wait = await limiter.hit(client_key(connection, action))
        if wait is not None:
            raise TooManyRequests(wait)

    guard.__name__ = f"rate_limited_{action}"
    return guard
