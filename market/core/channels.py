"""LISTEN/NOTIFY for the live draw pages, on a listener connection that comes back.

Litestar's ``AsyncPgChannelsBackend`` opens one connection at start-up and listens on it for
the life of the process: when PostgreSQL restarts, that connection is gone, every later
LISTEN fails and no page in the process hears of a draw again until the server is
restarted. This backend notices the loss (asyncpg's termination callback, and a ping every
``check_interval`` seconds for a silently dead socket), reconnects with backoff, listens
again on every channel it had, and then hands each channel an empty message: a NOTIFY sent
while it was away is lost for good, so the pages must look again (the draw page's stream
re-renders on an empty payload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from functools import partial

import asyncpg
from litestar.channels import ChannelsBackend

from market.core.db import connect

logger = logging.getLogger("market.core.channels")

RECONNECTED = b""  # the payload that says "something may have changed while we were away"
# The listener sits idle for hours by design: a role's idle_session_timeout must not end it
# (statement_timeout never does: it bounds a running statement, and LISTEN's are instant).
LISTENER_SETTINGS = {"idle_session_timeout": "0"}
# Named in pg_stat_activity, so an operator (or a test) finds the listener: its last query
# is the watchdog's "SELECT 1" most of the time, not a LISTEN.
LISTENER_SETTINGS["application_name"] = "market-listener"


class ReconnectingAsyncPgChannelsBackend(ChannelsBackend):
    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = 5.0,
        check_interval: float = 10.0,
        max_backoff: float = 2.0,
        make_connection: Callable[[], Awaitable[asyncpg.Connection]] | None = None,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        # ``server_settings``: the requests' limits (market/core/db.Timeouts), sent at connect.
        settings = {**(server_settings or {}), **LISTENER_SETTINGS}
        self._connect = make_connection or partial(
            connect, dsn, timeout=connect_timeout, server_settings=settings
        )
        self._check_interval = check_interval
        self._max_backoff = max_backoff
        self._subscribed: set[str] = set()  # what we mean to listen on, connected or not
        self._conn: asyncpg.Connection | None = None
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self.reconnects = 0  # how many times the listener came back (for tests and logs)

    # -- life cycle ----------------------------------------------------------------------

    async def on_startup(self) -> None:
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._queue = asyncio.Queue()
        async with self._lock:
            await self._open()
        self._watch = asyncio.create_task(self._watchdog(), name="channels-listener")

    async def on_shutdown(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
            self._subscribed.clear()
            self._queue = None

    async def _open(self) -> None:
        """Connect and listen on every channel wanted (the lock is held)."""
        conn = await self._connect()
        try:
            for channel in self._subscribed:
                await conn.add_listener(channel, self._listener)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._terminated)
        self._conn = conn

    def _terminated(self, connection: object) -> None:
        if connection is self._conn:
            self._lost.set()

    async def _alive(self) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            async with self._lock:
                await conn.fetchval("SELECT 1", timeout=self._check_interval / 2)
        except Exception:
            return False
        return True

    async def _watchdog(self) -> None:
        """Wait for the connection to be lost (or fail a ping), then bring it back."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), timeout=self._check_interval)
            self._lost.clear()
            if await self._alive():
                continue
            logger.warning("the LISTEN connection was lost; reconnecting")
            await self._reconnect()

    async def _reconnect(self) -> None:
        delay = 0.1
        while True:
            async with self._lock:
                old, self._conn = self._conn, None
                if old is not None:
                    old.terminate()
                try:
                    await self._open()
                except Exception as exc:  # PostgreSQL still away: wait, then try again
                    logger.info("LISTEN reconnect failed (%s); next try in %.1f s", type(exc).__name__, delay)
                else:
                    self.reconnects += 1
                    channels = list(self._subscribed)
                    break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
        logger.warning(
            "the LISTEN connection is back, listening on %s", ", ".join(sorted(channels)) or "nothing"
        )
        if self._queue is not None:
            for channel in channels:
                self._queue.put_nowait((channel, RECONNECTED))

    # -- the ChannelsBackend interface ---------------------------------------------------------

    async def subscribe(self, channels: Iterable[str]) -> None:
        async with self._lock:
            for channel in set(channels) - self._subscribed:
                self._subscribed.add(channel)  # listened on again by the reconnect if this fails
                if self._conn is None or self._conn.is_closed():
                    continue
                try:
                    await self._conn.add_listener(channel, self._listener)
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    self._lost.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._lock:
            for channel in set(channels) & self._subscribed:
                self._subscribed.discard(channel)
                if self._conn is None or self._conn.is_closed():
                    continue
                try:
                    await self._conn.remove_listener(channel, self._listener)
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    self._lost.set()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        conn = await self._connect()
        try:
            for channel in channels:
                await conn.execute("SELECT pg_notify($1, $2)", channel, data.decode("utf-8"))
        finally:
            await conn.close()

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        if self._queue is None:
            raise RuntimeError("the channels backend was not started")
        queue = self._queue
        while True:
            channel, message = await queue.get()
            queue.task_done()
            if channel in self._subscribed:  # an UNLISTEN may have crossed this message
                yield channel, message

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        """Always empty: NOTIFY delivers to whoever listens at that moment and keeps
        nothing, so no earlier message exists to replay. (Litestar's own asyncpg backend
        raises instead; a subscriber asking for history here simply gets none.) The live
        pages need none: a page redraws itself from the database when it (re)connects."""
        return []

    def _listener(self, connection: object, pid: int, channel: str, payload: object) -> None:
        if isinstance(payload, str) and self._queue is not None:
            self._queue.put_nowait((channel, payload.encode("utf-8")))
