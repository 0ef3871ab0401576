"""Public reads from a streaming standby (DATABASE_READ_URL): which requests may read there,
how far behind the standby is, and the one place where a request's database is chosen.

A request reads from the standby only when all of these hold; otherwise it reads from the
primary, as it does when no standby is configured (docs/reliability.md, "Read standby"):

- it is a GET or HEAD from nobody logged in (no valid cookie or bearer token): a user's
  own pages read from the primary, so an owner who has just published sees the notice;
- its route is in ``STANDBY_ROUTES``, the public read paths whose answer from a copy a few
  seconds old is late, never false, and that write nothing (the OCDS endpoints store
  releases on first serving them, so they are not there, nor the draw page and its stream,
  nor the log's checkpoints and proofs that witnesses compare);
- the standby was measured within the last seconds (``Standby.watch``, once a second per
  process) to hold everything the primary had committed ``read_max_lag`` seconds ago.

A standby's "not found" is not believed: a 404 (or a 400: "beyond the log"; a 500 or 503: the standby going away
between two measurements, a query it cancelled to go on replaying) served from the standby
is asked again of the primary, so a notice published a second ago is never reported
missing to a visitor who follows its link.

Pages say nothing false from a copy a few seconds old: what depends on time ("open for
bids", the time left) is computed from the notice's deadline and the clock when the page
is made (notices/rules.shown_status), so no page offers bidding after the deadline; what
people or the scheduler changed (a cancellation, a result) may show up to ``read_max_lag``
seconds late, as the home page's data already may (HOME_TTL).

Handlers know none of this: the request's session and reader dependencies (market/app.py)
and the few handlers that open their own transactions ask ``db.request_database``, which
returns what the middleware below chose, the primary unless it chose the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from market.core.db import (
    CONNECT_TIMEOUT,
    REQUEST_DATABASE,
    Database,
    Timeouts,
    connect,
    is_unavailable,
    to_asyncpg_dsn,
)

logger = logging.getLogger("market.core.replica")

# The public read paths that may read from the standby (route path templates). Listed
# here, in one place, rather than marked on each route: a route not listed reads from the
# primary, which is always correct, so a new route is safe until someone decides it may
# be served a few seconds late (and adds it with its reason).
STANDBY_ROUTES: frozenset[str] = frozenset(
    {
        # the home page (cached HOME_TTL seconds per process anyway), the notice list and
        # search, a notice's page: "bidding open" and the time left are computed from the
        # deadline and the clock at the moment of the request (notices/detail.py,
        # notices/present.py), never from a stored status alone, so a standby behind by a
        # few seconds cannot show a notice open after its deadline
        "/",
        "/notices",
        "/notices/{notice_id}",
        "/api/v1/notices",
        "/api/v1/notices/{notice_id}",
        "/api/v1/notices/{notice_id}/terms",
        "/feeds/notices.atom",
        # the agency directory, profiles and credit
        "/agencies",
        "/agencies/{agency_id}",
        "/api/v1/agencies",
        "/api/v1/agencies/{agency_id}",
        "/api/v1/agencies/{agency_id}/credit",
        "/api/v1/agencies/{agency_id}/ratings",
        # halls, statistics, results (contracts)
        "/halls",
        "/halls/{code}",
        "/api/v1/halls",
        "/api/v1/halls/{code}",
        "/stats",
        "/stats/{filename}",
        "/api/v1/stats",
        "/contracts/{contract_id}",
        "/api/v1/contracts",
        "/api/v1/contracts/{contract_id}",
        # the log's entries: never changed once written, so a copy has each one exactly as
        # the primary does, or not yet (a 404, asked again of the primary). Not the page
        # of one entry, /log/entries/{seq}: it signs a checkpoint if none covers the entry.
        "/api/v1/log/entries",
    }
)

READ_METHODS = frozenset({"GET", "HEAD"})
MEASURE_EVERY = 1.0  # seconds between two measurements of the lag (per process)
# A measurement older than this counts as none: the watcher is stuck waiting on a server
# that does not answer, and what it last saw may no longer be true.
TRUST_FOR = 3.0
QUERY_TIMEOUT = 2.0  # seconds a measuring query may take before the server counts as unreachable


def ask_primary_again(status: int) -> bool:
    """Whether an answer from the standby is thrown away and the primary asked instead:
    "not found" may only mean "not replayed yet"; a 503 is the standby going away between
    two measurements; a 500 may be a query the standby cancelled to go on replaying (a
    recovery conflict). A visitor never pays for the standby's trouble. Not a 504: a
    statement that ran out of time there would run as long on the primary. A 400 too: a
    request checked against what the standby has so far ("start is beyond the log, which
    has N entries", from a size learned on the primary) is not refused on its word."""
    return status in (400, 404, 500, 503)


@dataclass(frozen=True)
class ReadOnly(Timeouts):
    """The standby's connections: the requests' limits, and every transaction read-only.
    On a real standby PostgreSQL refuses writes anyway; this makes a read URL that names a
    writable server (a second database, a promoted standby) refuse them too, so a write
    that reached it by mistake fails instead of landing on the wrong server."""

    def server_settings(self) -> dict[str, str]:
        return {**super().server_settings(), "default_transaction_read_only": "on"}


@dataclass(frozen=True)
class Lag:
    """One measurement of the standby: how far behind it is, and what it said of itself."""

    at: float  # time.monotonic() of the measurement
    role: str  # "standby" (in recovery), "primary" (the primary itself), "other" or "unreachable"
    seconds: float | None  # at most this far behind the primary; None: not known
    receiver: str | None = None  # pg_stat_wal_receiver.status ("streaming", ...)
    replay_paused: bool | None = None
    error: str | None = None

    def fresh(self, now: float) -> bool:
        return now - self.at <= TRUST_FOR


# The standby's view of itself. The replayed position of a server that is not in
# recovery is its own current position: the read URL then names the primary itself (a
# second database on it, or the same one), and the identity check below says whether so.
STANDBY_STATE = """
SELECT pg_is_in_recovery() AS recovery,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
            ELSE pg_current_wal_insert_lsn() END AS replayed,
       pg_last_xact_replay_timestamp() AS replayed_at,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver,
       (SELECT system_identifier FROM pg_control_system()) AS system,
       pg_postmaster_start_time() AS started,
       clock_timestamp() AS now
"""
PRIMARY_STATE = """
SELECT pg_current_wal_insert_lsn() AS written,
       (SELECT system_identifier FROM pg_control_system()) AS system,
       pg_postmaster_start_time() AS started
"""


def lag_of(
    primary: dict[str, Any],
    standby: dict[str, Any],
    history: deque[tuple[float, int]],
    now: float,
) -> Lag:
    """How far behind the standby is, from one reading of each server (pure).

    ``history`` holds (monotonic time, the primary's WAL position) of earlier readings,
    newest last, this one included. Everything the primary had written at a reading is on
    the standby once the standby has replayed up to that position: the data it serves are
    then at most ``now - that time`` old. A second bound comes from the standby alone: what
    it lacks was committed after the last transaction it replayed, so it is at most
    ``now - pg_last_xact_replay_timestamp()`` behind. The smaller bound is the lag. A
    standby that stopped receiving (its primary away, replication broken) with replay
    caught up to what it received is therefore not "0 s behind": the primary's position
    moves on as soon as anything is written there, and the lag grows from that reading.
    """
    if standby["system"] != primary["system"]:
        # Not a copy of this primary (another cluster, or a standby of another one): its
        # positions say nothing about ours.
        return Lag(now, "other", None, error="the read server is not a copy of the primary")
    if not standby["recovery"]:
        if standby["started"] == primary["started"]:
            return Lag(now, "primary", 0.0)  # the primary itself: nothing to wait for
        # A writable server with the primary's identity is a promoted standby: it has
        # gone its own way and will never receive the primary's writes again.
        return Lag(now, "other", None, error="the read server was promoted: it no longer follows the primary")
    replayed = _lsn(standby["replayed"])
    bounds = []
    covered = [at for at, written in history if replayed is not None and written <= replayed]
    if covered:
        bounds.append(max(0.0, now - max(covered)))
    if standby["replayed_at"] is not None:
        bounds.append(max(0.0, (standby["now"] - standby["replayed_at"]).total_seconds()))
    seconds = min(bounds) if bounds else None
    if seconds is None and history:
        # Behind everything remembered and no transaction replayed yet: at least this far.
        seconds = now - history[0][0]
    return Lag(now, "standby", seconds, receiver=standby["receiver"], replay_paused=standby["paused"])


def _lsn(value: Any) -> int | None:
    """A WAL position as a number: asyncpg reads pg_lsn as one already, psql's text is
    "16/B374D848"."""
    if value is None or isinstance(value, int):
        return value
    high, _, low = str(value).partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class Standby:
    """The read standby: its own engine and readers' pool (read-only), and the watcher
    that measures its lag once a second and says whether public reads may go there."""

    def __init__(self, database: Database, *, primary_url: str, read_url: str, max_lag: float) -> None:
        self.database = database
        self.max_lag = max_lag
        self.read_url = read_url
        self._dsns = {"primary": to_asyncpg_dsn(primary_url), "standby": to_asyncpg_dsn(read_url)}
        self._connections: dict[str, Any] = {}
        # The primary's positions over a little more than the bound: enough to say "within
        # max_lag", and no more kept.
        self._history: deque[tuple[float, int]] = deque(maxlen=int(max_lag / MEASURE_EVERY) + 5)
        self.lag: Lag | None = None

    @classmethod
    def from_settings(cls, settings: Any, timeouts: Timeouts) -> Standby:
        """The standby of DATABASE_READ_URL, with pools as large as the primary's."""
        database = Database.from_url(
            settings.database_read_url,
            timeouts=ReadOnly(**asdict(timeouts)),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_overflow,
        )
        return cls(
            database,
            primary_url=settings.database_url,
            read_url=settings.database_read_url,
            max_lag=settings.read_max_lag,
        )

    async def open(self, read_pool_size: int) -> None:
        """The readers' pool (when the standby cannot be reached now, the readers use the
        engine, as on the primary) and a first measurement, so that reads may go to the
        standby from the first request. Nothing here stops the app from starting: the
        standby is optional, and while it is wrong or away the primary serves every read
        (the reason is logged and shown on /healthz?verbose)."""
        try:
            await self.database.open_reader_pool(self.read_url, read_pool_size)
        except Exception as exc:  # a wrong read URL (no such database, password refused)
            logger.error("opening the read standby's pool: %s: %s", type(exc).__name__, exc)
        await self.measure()

    def reads_here(self, now: float | None = None) -> bool:
        """True when public reads may go to the standby now."""
        lag = self.lag
        if lag is None or lag.seconds is None:
            return False
        return lag.fresh(time.monotonic() if now is None else now) and lag.seconds <= self.max_lag

    async def watch(self) -> None:
        """Measure every MEASURE_EVERY seconds until cancelled (a task of the lifespan)."""
        while True:
            await asyncio.sleep(MEASURE_EVERY)
            try:
                await self.measure()
            except Exception:  # a bug here must not stop the measuring: reads stay on the primary
                logger.exception("measuring the read standby's lag")

    async def measure(self) -> Lag:
        """Read the primary's position, then the standby's, and keep the lag they give."""
        was, before = self.reads_here(), self.lag
        which = "primary"
        try:
            primary = await self._fetch(which, PRIMARY_STATE)
            now = time.monotonic()
            written = _lsn(primary["written"])
            assert written is not None
            self._history.append((now, written))
            which = "standby"
            standby = await self._fetch(which, STANDBY_STATE)
            self.lag = lag_of(primary, standby, self._history, time.monotonic())
        except Exception as exc:
            # Unreachable, or refusing us (no such database, password): either way no reads
            # go there. Only the error's kind is kept: its text may hold a host name.
            self.lag = Lag(time.monotonic(), "unreachable", None, error=f"{which}: {type(exc).__name__}")
            if before is None or before.error != self.lag.error:
                if is_unavailable(exc) or isinstance(exc, TimeoutError):
                    logger.warning(
                        "measuring the read standby: the %s is unavailable (%s)", which, self.lag.error
                    )
                else:
                    logger.error("measuring the read standby: %s: %s", self.lag.error, exc)
        now_here = self.reads_here()
        if now_here != was:
            lag = self.lag
            logger.warning(
                "public reads now go to the %s (standby %s, lag %s s)",
                "standby" if now_here else "primary",
                lag.role,
                "unknown" if lag.seconds is None else f"{lag.seconds:.1f}",
            )
        return self.lag

    async def _fetch(self, which: str, query: str) -> dict[str, Any]:
        """One row from ``which`` server on the watcher's own connection (never a pool's:
        a burst that empties the pools must not make the standby look unreachable)."""

        connection: Any = self._connections.get(which)
        if connection is None or connection.is_closed():
            connection = self._connections[which] = await connect(
                self._dsns[which], timeout=min(CONNECT_TIMEOUT, QUERY_TIMEOUT)
            )
        try:
            row = await connection.fetchrow(query, timeout=QUERY_TIMEOUT)
        except BaseException:
            self._connections.pop(which, None)
            connection.terminate()  # whatever state it was left in, it is not used again
            raise
        return dict(row)

    async def close(self) -> None:
        for connection in self._connections.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), QUERY_TIMEOUT)
        self._connections.clear()
        await self.database.dispose()

    def report(self) -> dict[str, Any]:
        """What /healthz?verbose shows of the standby (never its URL)."""
        lag = self.lag
        now = time.monotonic()
        return {
            "role": lag.role if lag else None,
            "lag_seconds": None if lag is None or lag.seconds is None else round(lag.seconds, 3),
            "max_lag_seconds": self.max_lag,
            "measured_seconds_ago": None if lag is None else round(now - lag.at, 3),
            "receiver": lag.receiver if lag else None,
            "replay_paused": lag.replay_paused if lag else None,
            "error": lag.error if lag else None,
        }


# -- choosing, per request ----------------------------------------------------------------


def may_read_from_standby(scope: Any) -> bool:
    """A GET or HEAD from nobody logged in, on a route of STANDBY_ROUTES (the auth
    middleware, which runs first, has set ``user`` and ``auth``)."""
    return (
        scope.get("method") in READ_METHODS
        and scope.get("user") is None
        and scope.get("auth") is None
        and scope.get("path_template") in STANDBY_ROUTES
    )


def read_routing_middleware_factory(app: Any) -> Any:
    """Sends a public read to the standby when it may go there (see the module's
    docstring), and asks the primary again when the standby answered 404 or 503."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        standby: Standby | None = (
            scope["litestar_app"].state.get("standby") if scope["type"] == "http" else None
        )
        if standby is None or not may_read_from_standby(scope) or not standby.reads_here():
            await app(scope, receive, send)
            return
        scope[REQUEST_DATABASE] = standby.database
        received: list[Any] = []
        status: list[int] = []

        async def recording() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                received.append(message)
            return message

        async def holding(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            if status and ask_primary_again(status[0]):
                return  # not sent: the primary answers instead
            await send(message)

        await app(scope, recording, holding)
        if not status or not ask_primary_again(status[0]):
            return
        del scope[REQUEST_DATABASE]

        async def replaying() -> Any:
            return received.pop(0) if received else await receive()

        await app(scope, replaying, send)

    return middleware


async def health_report(state: Any) -> dict[str, Any]:
    """/healthz?verbose: the role of the server this host writes to, and the read standby's
    state. Never a URL (they may carry a password)."""
    role: str | None = None
    try:
        async with state.db.single_statement() as driver:
            recovery = await asyncio.wait_for(driver.fetchval("SELECT pg_is_in_recovery()"), QUERY_TIMEOUT)
        role = "standby" if recovery else "primary"
    except Exception:  # an unreachable database is reported, not raised
        role = None
    standby: Standby | None = state.get("standby")
    return {
        "database": {"role": role},
        "read_standby": {
            "read_url": standby is not None,
            "reads_from": "standby" if standby is not None and standby.reads_here() else "primary",
            **(standby.report() if standby is not None else {}),
        },
    }
