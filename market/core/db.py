"""Engine and sessions (made in the app lifespan), naming convention and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
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


@dataclass
class Database:
    """What the app holds for its lifetime: an engine (or, in tests, one outer
    connection whose transaction is rolled back) and a session factory."""

    sessionmaker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine | None = None
    # The hot read paths' own pool of bare asyncpg connections (open_reader_pool): no ORM
    # pool bookkeeping per request, and connections kept rather than opened per burst.
    reader_pool: Any = None

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Database:
        # Bounded waits: a request asking for a connection while PostgreSQL is unreachable
        # gets a 503 (market/web/problems.py) at once when the connection is refused, within
        # CONNECT_TIMEOUT when nothing answers (asyncpg's own is 60 s), and within
        # POOL_TIMEOUT when the pool stays exhausted.
        if "poolclass" not in engine_kwargs:  # NullPool and friends take no pool timeout
            engine_kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
        engine_kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT, **engine_kwargs.get("connect_args", {})}
        engine = create_async_engine(url, **engine_kwargs)
        if not engine_kwargs.get("pool_pre_ping"):
            sa.event.listen(engine.sync_engine, "checkout", _replace_closed)
        return cls(sessionmaker=async_sessionmaker(engine, expire_on_commit=False), engine=engine)

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
            to_asyncpg_dsn(url), min_size=min(2, size), max_size=size, timeout=CONNECT_TIMEOUT
        )
        try:
            await self.reader_pool
        except Exception as exc:
            self.reader_pool = None  # the readers share the engine's pool instead
            if not is_unavailable(exc):
                raise
            log_failure(logger, "opening the readers' pool", exc)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Any]:
        """A pooled asyncpg connection for a hot read: no transaction (one SELECT is
        consistent by itself), no ORM. In tests, the session's connection inside the outer
        rolled-back transaction, so reads see what the test wrote."""
        if self.reader_pool is not None:
            try:
                connection = await self.reader_pool.acquire(timeout=POOL_TIMEOUT)
            except TimeoutError as exc:  # as SQLAlchemy's pool says it: a 503, not a 500
                raise sa_exc.TimeoutError("no readers' connection came free") from exc
            try:
                yield connection
            finally:
                await self.reader_pool.release(connection)
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
        if self.reader_pool is not None:
            await self.reader_pool.close()
            self.reader_pool = None
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
            | asyncpg.TooManyConnectionsError,  # 53300
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


def log_failure(logger: Any, what: str, exc: BaseException) -> None:
    """How a background loop reports a failed round: one line while the database is away
    (expected, and no traceback to read), the traceback for anything else (a bug)."""
    if is_unavailable(exc):
        logger.warning("%s: the database is unavailable (%s)", what, type(exc).__name__)
    else:
        logger.exception(what)


def to_asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


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
