"""The supervision console, live: the header's badge of unread alerts, and the day's board.

- ``GET /supervision/live``: Server-Sent Events for the staff header's badge
  (``static/js/live.js``): a ``count`` event with the viewer's unread alerts at connect, and
  again whenever an alert is left for the viewer (``supervision.alerts`` NOTIFYs
  ``market_alerts`` with the user's id when the alert's transaction commits).
- ``GET /supervision/board``: today's deadlines and draws (China's date) in the viewer's
  jurisdiction; ``GET /supervision/board/events`` re-sends the board whenever a notice
  takes a selection step (``market_selection``), and at least every ``BOARD_TICK`` seconds
  (a publication or an amendment sends no NOTIFY; the tick keeps the board within a
  minute of the truth without a listener of its own).

Both send whole states, each message with an id that names the state (a digest): a
reader that reconnects, to any host, gets the current state first, which is all it missed.

Without a started LISTEN/NOTIFY plugin (tests without the app's lifespan) both streams
poll every ``POLL`` seconds instead. Staff only: 401 logged out, 403 for other roles.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from typing import Any

import anyio
import sqlalchemy as sa
from litestar import Controller, Request, Response, get
from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import Subscriber
from litestar.di import NamedDependency
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.core.clock import CHINA
from market.core.db import is_unavailable
from market.halls import queries as halls
from market.halls import rules as hall_rules
from market.notices.models import Notice, NoticeStatus
from market.security.auth import requires_role
from market.selection.models import Selection
from market.selection.service import CHANNEL as SELECTION_CHANNEL
from market.supervision import alerts
from market.web.templating import render

log = logging.getLogger("market.supervision.web_live")

STAFF = requires_role(Role.supervisor, Role.admin)
KEEPALIVE = 15.0  # seconds between comments on an idle stream (proxies drop silent ones)
POLL = 2.0  # seconds between looks when there is no LISTEN/NOTIFY
BOARD_TICK = 30.0  # the board is re-sent at least this often
LIVE_STATUSES = (NoticeStatus.open.value, NoticeStatus.closed.value, NoticeStatus.selected.value)
KEEP_ALIVE = ServerSentEventMessage(comment="keep-alive", data=None)


def live_channels(request: Request[Any, Any, Any]) -> ChannelsPlugin | None:
    """The LISTEN/NOTIFY plugin, when the app has one and its lifespan started it."""
    try:
        plugin = request.app.plugins.get(ChannelsPlugin)
    except KeyError:
        return None
    return plugin if getattr(plugin, "_sub_task", "started") is not None else None


@asynccontextmanager
async def listening(channels: ChannelsPlugin, channel: str) -> AsyncIterator[Subscriber]:
    """``start_subscription`` with its exit shielded (a stream ends by being cancelled)."""
    subscription = channels.start_subscription([channel])
    subscriber = await subscription.__aenter__()
    try:
        yield subscriber
    finally:
        with anyio.CancelScope(shield=True):
            await subscription.__aexit__(None, None, None)


async def notified(
    channels: ChannelsPlugin,
    channel: str,
    render_now: Callable[[], Awaitable[ServerSentEventMessage]],
    *,
    wanted: Callable[[bytes], bool],
    tick: float | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """Subscribe first, render second (nothing committed in between is missed); then render
    again on each wanted NOTIFY (an empty payload: the listener came back and may have
    missed one), and every ``tick`` seconds if given."""
    async with listening(channels, channel) as subscriber:
        yield await render_now()
        events = subscriber.iter_events()

        async def next_event() -> bytes:
            return await events.__anext__()

        pending: asyncio.Task[bytes] = asyncio.ensure_future(next_event())
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while True:
                timeout = KEEPALIVE if tick is None else max(0.0, min(KEEPALIVE, last + tick - loop.time()))
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                if pending in done:
                    try:
                        payload = pending.result()
                    except StopAsyncIteration:
                        return  # the plugin is shutting down
                    pending = asyncio.ensure_future(next_event())
                    if payload and not wanted(payload):
                        continue
                elif tick is None or loop.time() < last + tick:
                    yield KEEP_ALIVE
                    continue
                last = loop.time()
                yield await render_now()
        finally:
            pending.cancel()


async def polled(
    render_now: Callable[[], Awaitable[ServerSentEventMessage]],
) -> AsyncIterator[ServerSentEventMessage]:
    """Without LISTEN/NOTIFY: look every POLL seconds, send what changed."""
    seen: str | None = None
    quiet = 0.0
    while True:
        message = await render_now()
        if message.data != seen:
            seen = str(message.data)
            yield message
            quiet = 0.0
        elif quiet >= KEEPALIVE:
            yield KEEP_ALIVE
            quiet = 0.0
        await asyncio.sleep(POLL)
        quiet += POLL


def snapshot_message(event: str, data: str, *, state: str) -> ServerSentEventMessage:
    """A message that is the whole state (a count, the board), with an id naming that state
    (a digest of what it shows, not of its HTML, which says when it was rendered). Nothing
    is replayed on reconnect, whatever ``Last-Event-ID`` says: the first message on every
    connection is the current state, which holds everything missed (docs/selection.md)."""
    return ServerSentEventMessage(event=event, data=data, id=hashlib.sha256(state.encode()).hexdigest()[:16])


async def ending_quietly(stream: AsyncIterator[ServerSentEventMessage], what: str) -> AsyncIterator[Any]:
    try:
        async for message in stream:
            yield message
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # The browser's EventSource reconnects by itself once the database is back.
        log.warning("%s ended: the database is unavailable", what)


# -- the badge ------------------------------------------------------------------------------------


def badge_stream(request: Request[Any, Any, Any], user_id: int) -> AsyncIterator[Any]:
    async def count() -> ServerSentEventMessage:
        async with request.app.state.db.transaction() as session:
            n = await alerts.unread_alerts(session, user_id)
        return snapshot_message("count", str(n), state=str(n))

    mine = str(user_id).encode()
    channels = live_channels(request)
    stream = (
        notified(channels, alerts.CHANNEL, count, wanted=lambda payload: payload == mine)
        if channels is not None
        else polled(count)
    )
    return ending_quietly(stream, "the alert badge's events")


# -- the board ------------------------------------------------------------------------------------


def today_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Today in China's time, as the UTC instants it starts and ends at."""
    day = (now or datetime.now(CHINA)).astimezone(CHINA).date()
    start = datetime.combine(day, time.min, tzinfo=CHINA)
    return start, start + timedelta(days=1)


async def board_context(session: AsyncSession, viewer: AppUser) -> dict[str, Any]:
    """Notices in the viewer's reach whose bid deadline is today, and those closed or
    drawn today (Beijing time), each list in time order."""
    codes = await halls.codes_under(session, viewer.jurisdiction or hall_rules.PROVINCE)
    start, end = today_bounds()

    def scoped(stmt: sa.Select[Any]) -> sa.Select[Any]:
        return stmt if codes is None else stmt.where(halls.in_halls(col(Notice.hall), codes))

    deadlines_stmt = scoped(
        sa.select(Notice)
        .where(
            col(Notice.status).in_(LIVE_STATUSES),
            col(Notice.bid_deadline) >= start,
            col(Notice.bid_deadline) < end,
        )
        .order_by(col(Notice.bid_deadline), col(Notice.id))
        .limit(200)
    )
    # Closed or decided today: a selection's outcome comes at or after its closing, so its
    # latest step is today exactly when either was (one that closed today and is decided
    # later is not decided yet). Read in this order from ix_selection_latest_step, the
    # board's 200 end the read however many draws a day has.
    latest = sa.func.coalesce(col(Selection.outcome_at), col(Selection.closed_at))
    draws_stmt = scoped(
        sa.select(Notice, Selection)
        .join(Selection, col(Selection.notice_id) == col(Notice.id))
        .where(latest >= start, latest < end)
        .order_by(latest, col(Selection.notice_id))
        .limit(200)
    )
    return {
        "day": start.date(),
        "deadlines": list((await session.execute(deadlines_stmt)).scalars()),
        "draws": [(n, s) for n, s in (await session.execute(draws_stmt)).all()],
        "rendered_at": datetime.now(CHINA),
    }


def board_state(ctx: dict[str, Any]) -> str:
    """What the board shows, in words that change when it does: the day and each notice's
    place on it."""
    deadlines = [(n.public_id, n.status, n.title, n.bid_deadline.isoformat()) for n in ctx["deadlines"]]
    draws = [(n.public_id, n.status, n.title, str(s.closed_at), s.outcome) for n, s in ctx["draws"]]
    return repr((str(ctx["day"]), deadlines, draws))


def board_stream(request: Request[Any, Any, Any], user_id: int) -> AsyncIterator[Any]:
    async def board() -> ServerSentEventMessage:
        async with request.app.state.db.transaction() as session:
            viewer = await session.get(AppUser, user_id)
            assert viewer is not None
            ctx = await board_context(session, viewer)
        html = render(request, "supervision/board/partials/board.html", **ctx).content
        return snapshot_message("update", str(html), state=board_state(ctx))

    channels = live_channels(request)
    stream = (
        notified(channels, SELECTION_CHANNEL, board, wanted=lambda _payload: True, tick=BOARD_TICK)
        if channels is not None
        else polled(board)
    )
    return ending_quietly(stream, "the board's events")


NO_STORE = {"Cache-Control": "no-store"}


async def _viewer_id(request: Request[Any, Any, Any]) -> int:
    async with request.app.state.db.transaction() as session:
        viewer = await load_viewer(request, session)
    assert viewer.id is not None
    return viewer.id


class LivePages(Controller):
    path = "/supervision"
    include_in_schema = False
    guards = [STAFF]

    @get("/live")
    async def live(self, request: Request[Any, Any, Any]) -> ServerSentEvent:
        """The viewer's unread alerts, as a ``count`` event at connect and on each new alert.
        (No request session: a stream must not hold a database connection while it lasts.)"""
        return ServerSentEvent(badge_stream(request, await _viewer_id(request)), headers=NO_STORE)

    @get("/board")
    async def board(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        hall = await halls.get_hall(session, viewer.jurisdiction or hall_rules.PROVINCE)
        return render(
            request, "supervision/board/index.html", hall=hall, **await board_context(session, viewer)
        )

    @get("/board/events")
    async def board_events(self, request: Request[Any, Any, Any]) -> ServerSentEvent:
        return ServerSentEvent(board_stream(request, await _viewer_id(request)), headers=NO_STORE)
