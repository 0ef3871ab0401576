"""Engine and sessions (made in the app lifespan), naming convention and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import SQLModel

logger = logging.getLogger("market.core.db")

# Alembic diffs and PostgreSQL errors are readable only when constraints have stable names.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROOT = Path(__file__).resolve().parent.parent.parent


def timestamp_column(**kwargs: Any) -> sa.Column[datetime]:
    """A timezone-aware timestamp; naive datetimes are a bug in this code base."""
    return sa.Column(sa.DateTime(timezone=True), **kwargs)


# Work that must commit with the transaction that made it necessary, run last inside it
# (market/ocds/models.py keeps every OCDS release a change makes).
BEFORE_COMMIT: list[Callable[[AsyncSession], Awaitable[None]]] = []


async def before_commit(session: AsyncSession) -> None:
    for hook in BEFORE_COMMIT:
        await hook(session)


# Where a request's database is kept when it is not the app's own (the read standby, which
# market/core/replica.py chooses for public reads, once per request).
REQUEST_DATABASE = "market.database"


def request_database(connection: Any) -> Database:
    """The database this request reads and writes: the app's (the primary), unless the
    request was sent to the read standby (market/core/replica.py)."""
    chosen: Database | None = connection.scope.get(REQUEST_DATABASE)
    return chosen if chosen is not None else connection.app.state.db


# -- how long a statement may run -----------------------------------------------------------

# A request's transaction left open and idle this long (ms) is ended by PostgreSQL: it
# would hold its locks (the log's, so every bid) for as long as its process hangs.
IDLE_IN_TRANSACTION = 60_000


@dataclass(frozen=True)
class Timeouts:
    """The limits (and the one planner setting, ``memoize``) each connection is given when
    it opens; limits in milliseconds: None leaves the database role's own setting (ALTER
    ROLE ... SET, docs/reliability.md "Timeouts"), 0 turns the limit off. Sent with the connection's start-up message (asyncpg's
    ``server_settings``), so they cost no round trip, ever; a value set here wins over the
    role's, as any session setting does."""

    statement: int | None = None
    lock: int | None = None
    idle_in_transaction: int | None = None
    # False: the planner's Memoize nodes off (enable_memoize), for the requests' connections.
    # A Memoize node sizes its hash table by the estimated distinct keys of the table it
    # caches, and builds it in every execution: on the notice list's page-sized joins (21
    # notices, their organisations and projects) that was 0.1 ms at 100,000 notices and
    # 0.8 ms at 1,000,000, four times the rest of the statement, and the list's throughput
    # at scale 10 was 0.6-0.7 of scale 1's with flat plans (issue 24). A request reads a
    # page, where Memoize can save a few index probes at most; the background tasks' joins
    # over whole tables keep it.
    memoize: bool = True

    @classmethod
    def of(
        cls, *, statement: int, lock: int, idle_in_transaction: int | None = None, memoize: bool = True
    ) -> Timeouts:
        """From the settings (MARKET_DB_*, MARKET_TASK_*), where 0 means the role's own."""
        return cls(
            statement=statement or None,
            lock=lock or None,
            idle_in_transaction=idle_in_transaction,
            memoize=memoize,
        )

    def server_settings(self) -> dict[str, str]:
        values = {
            "statement_timeout": self.statement,
            "lock_timeout": self.lock,
            "idle_in_transaction_session_timeout": self.idle_in_transaction,
        }
        out = {name: str(ms) for name, ms in values.items() if ms is not None}
        if not self.memoize:
            out["enable_memoize"] = "off"
        return out


def request_timeouts(settings: Any) -> Timeouts:
    """The requests' connections (MARKET_DB_STATEMENT_TIMEOUT, MARKET_DB_LOCK_TIMEOUT), with
    no Memoize (see Timeouts.memoize)."""
    return Timeouts.of(
        statement=settings.db_statement_timeout,
        lock=settings.db_lock_timeout,
        idle_in_transaction=IDLE_IN_TRANSACTION,
        memoize=False,
    )


def task_timeouts(settings: Any) -> Timeouts:
    """The background tasks' connections (MARKET_TASK_*): their own small engine, so no
    statement of theirs pays a SET, and a task's batch may take longer than a request."""
    return Timeouts.of(
        statement=settings.task_statement_timeout,
        lock=settings.task_lock_timeout,
        idle_in_transaction=IDLE_IN_TRANSACTION,
    )


# The background tasks' engine: they run one at a time or nearly (ops: a handful per host).
TASK_POOL_SIZE, TASK_POOL_OVERFLOW = 2, 4

# The commands (backup, demo, log verify, OCDS backfill, imports) may rightly run for long,
# watched by the operator who started them: no statement or idle limit, whatever the role
# says; the role's lock_timeout still applies.
COMMAND = Timeouts(statement=0, idle_in_transaction=0)
# The migrations: no limit at all. A second server starting waits for the first one's
# migration on a lock, and a migration's own lock waits are bounded by the requests' limits.
MIGRATIONS = Timeouts(statement=0, lock=0, idle_in_transaction=0)


@dataclass
class Database:
    """What the app holds for its lifetime: an engine (or, in tests, one outer
    connection whose transaction is rolled back) and a session factory."""

    sessionmaker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine | None = None
    # The hot read paths' own pool of bare asyncpg connections (open_reader_pool): no ORM
    # pool bookkeeping per request, and connections kept rather than opened per burst.
    reader_pool: Any = None
    # Hands the readers' connections out in the order they were asked for (see reading).
    reader_queue: asyncio.Semaphore | None = None
    # The log-in limits' own small pool (market/security/ratelimit.py LimitStore), opened
    # on first use and closed with the engine.
    limits_pool: Any = None
    # What every connection opened here is given (the readers' pool's too).
    timeouts: Timeouts = COMMAND

    @classmethod
    def from_url(cls, url: str, *, timeouts: Timeouts = COMMAND, **engine_kwargs: Any) -> Database:
        # Bounded waits: a request asking for a connection while PostgreSQL is unreachable
        # gets a 503 (market/web/problems.py) at once when the connection is refused, within
        # CONNECT_TIMEOUT when nothing answers (asyncpg's own is 60 s), and within
        # POOL_TIMEOUT when the pool stays exhausted.
        if "poolclass" not in engine_kwargs:  # NullPool and friends take no pool timeout
            engine_kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
        engine_kwargs["connect_args"] = {
            "timeout": CONNECT_TIMEOUT,
            "server_settings": timeouts.server_settings(),
            **engine_kwargs.get("connect_args", {}),
        }
        if len(host_dsns(to_asyncpg_dsn(url))) > 1:
            # Several hosts: each is given a time of its own (connect); the URL's other
            # parameters are in the DSN, the connect arguments passed here.
            engine_kwargs["async_creator"] = partial(
                connect, to_asyncpg_dsn(url), **engine_kwargs.pop("connect_args")
            )
        engine = create_async_engine(url, **engine_kwargs)
        if not engine_kwargs.get("pool_pre_ping"):
            sa.event.listen(engine.sync_engine, "checkout", _replace_closed)
        return cls(
            sessionmaker=async_sessionmaker(engine, expire_on_commit=False), engine=engine, timeouts=timeouts
        )

    @classmethod
    def bound_to(cls, connection: AsyncConnection) -> Database:
        """Sessions that join ``connection``'s transaction through savepoints (tests)."""
        maker = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        return cls(sessionmaker=maker)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back when it raises.

        The connection owns the transaction and the session only joins it: the ORM's own
        begin/commit bookkeeping cost a fifth of the log's append throughput (ops/bench)."""
        if self.engine is None:  # tests: savepoints inside the outer, rolled-back transaction
            async with self.sessionmaker() as session, session.begin():
                yield session
                await before_commit(session)
            return
        async with self.engine.connect() as connection:
            session = AsyncSession(bind=connection, expire_on_commit=False)
            try:
                async with connection.begin():
                    yield session
                    await session.flush()  # what was added but not yet sent goes in before the commit
                    await before_commit(session)
            finally:
                await session.close()  # after the commit: nothing more runs while locks are held

    async def open_reader_pool(self, url: str, size: int) -> None:
        """The readers' pool: ``size`` connections at most, two opened now."""
        import asyncpg

        if self.engine is None or size <= 0:
            return
        self.reader_pool = asyncpg.create_pool(
            to_asyncpg_dsn(url),
            connect=POOL_CONNECT,
            min_size=min(2, size),
            max_size=size,
            timeout=CONNECT_TIMEOUT,
            server_settings=self.timeouts.server_settings(),
        )
        self.reader_queue = asyncio.Semaphore(size)
        try:
            await self.reader_pool
        except Exception as exc:
            self.reader_pool = self.reader_queue = None  # the readers share the engine's pool instead
            if not is_unavailable(exc):
                raise
            log_failure(logger, "opening the readers' pool", exc)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Any]:
        """A pooled asyncpg connection for a hot read: no transaction (one SELECT is
        consistent by itself), no ORM. In tests, the session's connection inside the outer
        rolled-back transaction, so reads see what the test wrote.

        First in, first served: asyncpg's pool waits on an asyncio.Queue, where a request
        that arrives just as a connection comes back takes it ahead of those woken for it,
        and a woken waiter that finds it gone queues again at the back. Under saturation
        that made a few requests wait four times the median (ops/bench/diagnose.py: the
        slowest 1 % of the list spent 520-720 ms of 570-760 in Pool.acquire against 130-190
        for the median), the p99 of docs/performance.md. The semaphore (FIFO since Python
        3.11.1) lets a request into the pool only when a connection is free for it or being
        reset for it, so that no later request can take it first."""
        if self.reader_pool is not None:
            assert self.reader_queue is not None
            try:
                async with asyncio.timeout(POOL_TIMEOUT):
                    await self.reader_queue.acquire()
                    try:
                        connection = await self.reader_pool.acquire()
                    except BaseException:
                        self.reader_queue.release()
                        raise
            except TimeoutError as exc:  # as SQLAlchemy's pool says it: a 503, not a 500
                raise sa_exc.TimeoutError("no readers' connection came free") from exc
            try:
                yield connection
            finally:
                # The next in line goes on now and waits in the pool for this connection,
                # which it gets as the reset below ends. Let in only after the reset, it
                # started one more turn of a busy event loop later (asyncpg's release is a
                # task of its own): the bare list lost 29 % of its throughput that way.
                self.reader_queue.release()
                # A bounded reset, as when the acquire named the timeout (asyncpg's default).
                await self.reader_pool.release(connection, timeout=POOL_TIMEOUT)
            return
        if self.engine is None:
            async with self.sessionmaker() as session:
                connection = await session.connection()
                yield (await connection.get_raw_connection()).driver_connection
            return
        async with self.engine.connect() as connection:
            yield (await connection.get_raw_connection()).driver_connection

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[Any]:
        """An asyncpg connection from the engine's pool for one statement sent alone: no
        transaction around it, so it costs one round trip rather than a session's BEGIN,
        SELECT and ROLLBACK (the auth middleware's look-up, ops/load). Bound to one
        connection, the session's connection inside the outer, rolled-back transaction."""
        if self.engine is None:
            async with self.sessionmaker() as session:
                connection = await session.connection()
                yield (await connection.get_raw_connection()).driver_connection
            return
        async with self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            try:
                yield driver
            except BaseException:
                # SQLAlchemy never sees the driver's own errors, so it would pool the
                # connection again even when the error left it mid-operation (PostgreSQL
                # shutting down under the query): the next request then got a 500.
                await connection.invalidate()
                raise

    async def fill_pool(self, size: int) -> None:
        """Open ``size`` pooled connections now rather than during the first burst. When
        the database cannot be reached, the pool fills on demand later, as it always can."""
        if self.engine is None or size <= 0:
            return
        async with contextlib.AsyncExitStack() as stack:
            try:
                await asyncio.gather(*(stack.enter_async_context(self.engine.connect()) for _ in range(size)))
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                log_failure(logger, "filling the connection pool", exc)

    async def dispose(self) -> None:
        if self.limits_pool is not None:
            pool, self.limits_pool = self.limits_pool, None
            await pool.close()
        if self.reader_pool is not None:
            await self.reader_pool.close()
            self.reader_pool = self.reader_queue = None
        if self.engine is not None:
            await self.engine.dispose()

    async def ping(self) -> bool:
        async with self.sessionmaker() as session:
            return (await session.execute(sa.text("SELECT 1"))).scalar_one() == 1


def _replace_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """At checkout, a pooled connection whose server has gone is replaced by a new one.

    After PostgreSQL restarts every pooled connection is dead, and asyncpg knows it: the
    server said goodbye, or the socket closed, while the connection sat in the pool. So
    asking the driver costs nothing, where SQLAlchemy's pre-ping costs two round trips
    (BEGIN and ROLLBACK) on every checkout, a sixth of the bid path's (ops/load/bids.py).
    DisconnectionError makes the pool discard this one and connect afresh."""
    if dbapi_connection.driver_connection.is_closed():
        raise sa_exc.DisconnectionError("the pooled connection was closed by the server")


# -- when the database is away -------------------------------------------------------------

POOL_TIMEOUT = 30.0  # seconds a request waits for a free pooled connection (a burst may queue)
CONNECT_TIMEOUT = 10.0  # seconds to open a new connection (refused at once when PostgreSQL is down)
# Seconds each host of a multi-host DATABASE_URL is given before the next is tried (connect).
PER_HOST_TIMEOUT = 3.0
RETRY_AFTER = 5  # seconds a client is told to wait when the database is unavailable


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means "the database cannot be reached right now" (refused or lost
    connection, PostgreSQL shutting down or starting up, too many connections, timed out
    waiting for the pool or a connection), not a bug: such a request deserves a 503 with
    Retry-After, and a background task should wait and try again. SQLAlchemy wraps some
    asyncpg errors and lets others (those raised while connecting) through, so the whole
    chain of causes is looked at."""
    import asyncpg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError | sa_exc.OperationalError | sa_exc.DisconnectionError):
            return True  # TimeoutError: no pooled connection came free within POOL_TIMEOUT
        if isinstance(
            current,
            asyncpg.PostgresConnectionError  # class 08: connection exceptions
            | asyncpg.CannotConnectNowError  # 57P03: starting up, shutting down, recovering
            | asyncpg.AdminShutdownError  # 57P01: pg_ctl stop -m fast
            | asyncpg.CrashShutdownError  # 57P02: another backend crashed
            | asyncpg.TooManyConnectionsError  # 53300
            # a multi-host DATABASE_URL with target_session_attrs=read-write, every host up
            # and none taking writes: a failover under way (the standby not yet promoted)
            | asyncpg.TargetServerAttributeNotMatched,
        ):
            return True
        # asyncpg's interface errors are mostly misuse (a bug), except a closed connection.
        if isinstance(current, asyncpg.InterfaceError | sa_exc.InterfaceError) and "closed" in str(current):
            return True
        # PostgreSQL's goodbye when it shuts down (57P01) can reach a pooled connection that
        # sits idle, before its socket closes: its protocol is then stuck consuming that
        # error (state 2, PROTOCOL_ERROR_CONSUME) and refuses the next query with this.
        # Two queries at once on one connection (a bug) raise InterfaceError instead.
        if isinstance(current, asyncpg.InternalClientError) and "another operation (2) is in progress" in str(
            current
        ):
            return True
        # Raised by the socket while connecting; TimeoutError is asyncpg's connect timeout.
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            current = orig
        else:
            current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


# query_canceled (statement_timeout, or an operator's pg_cancel_backend) and
# lock_not_available (lock_timeout), as PostgreSQL reports them.
STATEMENT_TIMEOUT, LOCK_TIMEOUT = "57014", "55P03"


def timed_out(exc: BaseException) -> str | None:
    """ "statement" when ``exc`` is a statement cancelled by statement_timeout, "lock" when
    one gave up waiting for a lock (lock_timeout), else None. Not a bug: the transaction
    rolled back whole, and the same work may succeed a moment later. asyncpg's own error
    (raised where the driver is used directly, as by the log's append) or SQLAlchemy's
    wrapping of it."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        code = getattr(candidate, "sqlstate", None)
        if code == STATEMENT_TIMEOUT:
            return "statement"
        if code == LOCK_TIMEOUT:
            return "lock"
    return None


def log_failure(logger: Any, what: str, exc: BaseException) -> None:
    """How a background loop reports a failed round: one line while the database is away
    or a statement ran out of time (expected, and no traceback to read), the traceback for
    anything else (a bug)."""
    if is_unavailable(exc):
        logger.warning("%s: the database is unavailable (%s)", what, type(exc).__name__)
    elif kind := timed_out(exc):
        logger.warning("%s: the %s timeout ran out (%s)", what, kind, type(exc).__name__)
    else:
        logger.exception(what)


def to_asyncpg_dsn(url: str) -> str:
    """A DSN for asyncpg (and libpq): the driver name dropped, and several hosts, which
    SQLAlchemy takes as ``?host=h1:p1&host=h2:p2`` (market/core/config.normalize_database_url),
    written as ``h1:p1,h2:p2`` before the database name: asyncpg would keep only the last
    of repeated ``host`` parameters."""
    parsed = make_url(url).set(drivername="postgresql")
    hosts = parsed.query.get("host")
    if not isinstance(hosts, tuple):
        return parsed.render_as_string(hide_password=False)
    mark = "hosts-" + "x" * 16
    rendered = parsed.difference_update_query(["host"]).set(host=mark, port=None)
    return rendered.render_as_string(hide_password=False).replace(mark, ",".join(hosts), 1)


def host_dsns(dsn: str) -> list[str]:
    """An asyncpg DSN naming several hosts (``h1:p1,h2:p2``) as one DSN per host, in order,
    each with the rest of the DSN (user, database, ``target_session_attrs``) unchanged."""
    scheme, rest = dsn.split("://", 1)
    netloc, slash, tail = rest.partition("/")
    user, at, hosts = netloc.rpartition("@")
    return [f"{scheme}://{user}{at}{host}{slash}{tail}" for host in hosts.split(",")]


async def connect(dsn: str, *, timeout: float = CONNECT_TIMEOUT, **kwargs: Any) -> Any:
    """``asyncpg.connect``, giving each host of a multi-host DSN a time of its own.

    asyncpg tries the hosts in turn within one timeout for them all, so an old primary that
    takes the TCP connection and then says nothing (a hung machine after a failover) used
    the whole of it and the promoted server listed next was never tried: every new
    connection failed while the database was there. Here each host gets PER_HOST_TIMEOUT
    (its own check of ``target_session_attrs`` included) and the next is tried after it.
    Also the readers' and limits' pools' ``connect`` and the engine's ``async_creator``."""
    import asyncpg

    hosts = host_dsns(dsn)
    if len(hosts) == 1:
        return await asyncpg.connect(dsn, timeout=timeout, **kwargs)
    failure: BaseException | None = None
    for one in hosts:
        try:
            return await asyncpg.connect(one, timeout=min(timeout, PER_HOST_TIMEOUT), **kwargs)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            failure = exc
    assert failure is not None
    raise failure


# ``connect`` as asyncpg.create_pool's ``connect`` hook: the stubs ask for asyncpg.connect's
# whole signature, every argument of which connect passes on.
POOL_CONNECT: Any = connect


async def run_on_server(url: str, sql: str) -> None:
    """Run ``sql`` (CREATE or DROP DATABASE) on the maintenance database of ``url``'s server."""
    import asyncpg

    conn = await asyncpg.connect(
        to_asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` through ``admin_url`` unless it exists (blocking)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (blocking; call outside a running loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
