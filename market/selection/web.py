"""Pages of public selection: the draw page (live over Server-Sent Events), the winner's and
the owner's actions, objections (异议), the supervisors' queue and every user's messages.

The draw page is two parts. The *panel* is public and the same for every reader: the
state of the draw, everything it was computed from and how to check it. It is rendered
for the page and again, in a fresh transaction, each time the notice changes (the
service NOTIFYs ``market_selection`` with the notice id when it commits a step); the
events stream sends it to ``static/js/draw.js``, which swaps it in, after each new log
entry of the notice (its timeline, at the panel's foot), every message with the seq of the
newest entry it reflects as its id, so a reader that reconnects to any host gets what it
missed from the log. The *actions* (close,
decline, object, answer, decide) are ordinary forms outside the panel, rendered for the
viewer with the page, so a live update never wipes what someone is typing.

Writes run in a savepoint, so a refused request leaves nothing behind while the page that
says why is an ordinary response. Refusals of the person (401, 403, 404) are error pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import Subscriber
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession

from market import protocol
from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies import queries as agency_queries
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.core.db import is_unavailable
from market.core.errors import DomainError, NotFound
from market.core.i18n import N_
from market.core.sharing import EncodedOnce, SharedReadings
from market.halls import queries as halls_queries
from market.inbox import service as inbox
from market.inbox.models import Message
from market.log import present as log_present
from market.log import store as log_store
from market.notices import service as notices
from market.notices.models import Notice, NoticeStatus
from market.objections import queries as objection_queries
from market.objections import service as objection_service
from market.security.auth import requires_login, requires_role
from market.selection import queries, service
from market.selection.api import context as selection_context
from market.selection.models import OWNER_PARTY, AwardStatus, ObjectionStatus, Outcome, Selection
from market.selection.service import CHANNEL
from market.web.forms import FormErrors, errors_beside_fields
from market.web.templating import redirect, render, request_locale
from market.web.times import remaining

log = logging.getLogger("market.selection.web")

KEEPALIVE = 15.0  # seconds between comments on an idle events stream (proxies drop silent ones)
# A panel one stream read is handed to the process's other streams of the notice (in the
# same language) whose state is the same, while it is being read or for this long after.
SHARED_FOR = 1.0
POLL = 2.0  # seconds between looks at the database when there is no LISTEN/NOTIFY
ANIMATE_FOR = timedelta(minutes=2)  # a draw this recent shows its order one by one
# Log entries the page lists, and the most a reconnecting stream replays one by one: a reader
# further behind gets the panel, whose list replaces the page's.
TIMELINE_LIMIT = 200
SEQ = re.compile(r"[0-9]{1,19}")  # a Last-Event-ID that can be a seq (ASCII digits only)

# ?done=<code> after a redirect: only these codes show a message.
DONE = {
    "closed": N_("Bidding is closed; the state of the selection is below."),
    "declined": N_("You have declined the award. The first remaining alternate, if any, takes your place."),
    "objected": N_("Your objection is filed and published. The owner answers it and a supervisor decides."),
    "answered": N_("Your answer is published. A supervisor will decide the objection."),
    "decided": N_("The decision is published."),
}


# -- what the pages show ---------------------------------------------------------------------------


def base_url(request: Request[Any, Any, Any]) -> str:
    url: str = request.app.state.settings.base_url  # MARKET_PUBLIC_URL, never the Host header
    return url


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def panel_context(session: AsyncSession, notice: Notice, *, url: str) -> dict[str, Any]:
    """Everything the public panel shows, read in one transaction."""
    now = await notices.db_now(session)
    record = await queries.record(session, notice, base_url=url)
    selection = await session.get(Selection, notice.id)
    awards = await queries.awards(session, notice) if selection is not None else []
    objections = await objection_queries.objections(session, notice) if selection is not None else []
    bids = record["bids"] or []
    mentioned: list[str] = [notice.direct_agency_id or ""]
    mentioned += [b["agency_id"] for b in bids]
    mentioned += [e["agency_id"] for e in record["excluded"] or []]
    mentioned += [a.agency_public_id for a in awards] + [a.replaced_by or "" for a in awards]
    mentioned += [o.agency_public_id or "" for o in objections]
    prices = {b["agency_id"]: b["price_fen"] for b in bids}
    secret = record["secret"]
    commit_ok = None
    if secret and notice.commit:
        commit_ok = protocol.commitment(notice.public_id, bytes.fromhex(secret)).hex() == notice.commit
    outcome_at = selection.outcome_at if selection is not None else None
    beacon = record["beacon"] or None
    return {
        "n": notice,
        "timeline": await queries.timeline(session, notice.public_id, limit=TIMELINE_LIMIT),
        "timeline_limit": TIMELINE_LIMIT,
        **log_present.ENTRY_WORDS,
        "record": record,
        "sel": selection,
        "now": now,
        "left": remaining(notice.bid_deadline, now) if notice.status == NoticeStatus.open else None,
        "names_of": await agency_queries.names_by_public_id(session, mentioned),
        "prices": prices,
        "awards": awards,
        "objections": objections,
        "commit_ok": commit_ok,
        "animate": outcome_at is not None and now - outcome_at < ANIMATE_FOR,
        "operator_draw": record["fairness"] == "operator",
        "beacon": beacon,
        "candidates_json": _compact(record["candidates"]) if record["candidates"] is not None else "",
        "verify_commands": [
            f"python3 ops/verify_log.py --url {url or 'URL'} --notice {notice.public_id}",
            f"market log verify --notice {notice.public_id}",
        ],
    }


@dataclass
class ActionForm:
    """One of the page's forms, sent back with what was typed and the errors beside it."""

    name: str  # close, decline, objection, answer, decision
    target: str | None = None  # the objection id, for answer and decision
    values: dict[str, str] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)


def _known(names: Iterable[str]) -> Any:
    allowed = set(names)
    return lambda name: name if name in allowed else None


# -- the live panel --------------------------------------------------------------------------------
#
# The events stream (docs/selection.md, "The live draw page and its event stream"): every
# message carries as its ``id`` the seq of the newest log entry it reflects, so a browser
# that reconnects, to this host or any other behind the proxy, says with ``Last-Event-ID``
# where it stopped, and gets what it missed read from the log, not from this process's
# memory. The stream keeps the last seq it sent and, whatever wakes it (a NOTIFY, the
# listener's "I reconnected", the deadline, the keep-alive tick), sends the entries after it
# from the log: a NOTIFY lost while the listener was away costs a few seconds, never an entry.


@dataclass(frozen=True)
class Snapshot:
    """The panel as HTML and the notice's timeline, read in one transaction."""

    html: str
    deadline: datetime | None  # still to come (None once passed or the notice is not open)
    timeline: list[queries.TimelineEntry]
    # Bidding has ended and the result is not out yet: the moment people watch for. The
    # stream then looks at the log every POLL seconds, not every KEEPALIVE, so the result
    # comes within seconds even if its NOTIFY is lost (a listener reconnecting, a host
    # restarting under the page).
    awaiting: bool = False
    # What _fingerprint reads, as of this snapshot's transaction: another stream whose
    # fingerprint is the same may send this snapshot instead of reading its own.
    state: tuple[Any, ...] = ()

    @property
    def seq(self) -> int | None:
        return self.timeline[-1].seq if self.timeline else None

    @cached_property
    def update_message(self) -> EncodedOnce:
        """The panel as the stream's ``update`` message, one for every stream sending it.
        Litestar writes each line of ``data`` as its own ``data:`` line; EventSource joins them."""
        return EncodedOnce(event="update", data=self.html, id=self.seq)

    def entries_after(self, seq: int) -> list[queries.TimelineEntry]:
        """The entries after ``seq``; none when more were missed than the timeline holds
        (the panel that follows carries the timeline whole, and replaces the page's)."""
        if len(self.timeline) >= TIMELINE_LIMIT and self.timeline[0].seq > seq + 1:
            return []
        return [e for e in self.timeline if e.seq > seq]


def _state(notice: Notice, selection: Selection | None, newest: int | None, now: datetime) -> tuple[Any, ...]:
    """What a stream compares to know whether the panel may have changed."""
    return (
        notice.status,
        newest,
        selection.waiting_reason if selection is not None else None,
        now >= notice.bid_deadline,
    )


async def read_snapshot(request: Request[Any, Any, Any], notice_id: str) -> Snapshot:
    async with request.app.state.db.transaction() as session:
        notice = await notices.get_notice(session, notice_id)
        ctx = await panel_context(session, notice, url=base_url(request))
    html = render(request, "selection/partials/panel.html", **ctx).content
    upcoming = (
        notice.bid_deadline
        if notice.status == NoticeStatus.open and ctx["now"] < notice.bid_deadline
        else None
    )
    awaiting = notice.status == NoticeStatus.closed or (
        notice.status == NoticeStatus.open and ctx["now"] >= notice.bid_deadline
    )
    timeline = ctx["timeline"]
    # The timeline's entries are LAST_SEQ's (queries.py): its newest is _fingerprint's seq.
    state = _state(notice, ctx["sel"], timeline[-1].seq if timeline else None, ctx["now"])
    return Snapshot(html=str(html), deadline=upcoming, timeline=timeline, awaiting=awaiting, state=state)


async def snapshot(request: Request[Any, Any, Any], notice_id: str) -> Snapshot:
    """The panel as it is now, shared between this process's streams of the notice.

    When a result is logged, every page watching the notice wakes at once (one NOTIFY),
    and each reading and rendering the panel by itself cost 50 watchers of a notice with
    1,000 bids several seconds of CPU before the last one was told (issue 24: deadline to
    result). Each stream still reads the notice's state itself after it woke (a few index
    probes), and takes the panel another stream is reading, or read less than SHARED_FOR
    ago, only when that panel's own state is the same: so it never sends a panel older
    than what woke it (market/core/sharing.py)."""
    readings: SharedReadings[Snapshot] | None = request.app.state.get("draw_readings")
    if readings is None:
        readings = request.app.state.draw_readings = SharedReadings(SHARED_FOR)
    state: tuple[Any, ...] | None = None

    async def same_state(shared: Snapshot) -> bool:
        nonlocal state
        if state is None:
            state = await _fingerprint(request, notice_id)
        return shared.state == state

    key = (notice_id, request_locale(request))
    return await readings.get(key, lambda: read_snapshot(request, notice_id), same_state)


async def _fingerprint(request: Request[Any, Any, Any], notice_id: str) -> tuple[Any, ...]:
    async with request.app.state.db.transaction() as session:
        notice = await notices.get_notice(session, notice_id)
        selection = await session.get(Selection, notice.id)
        now = await notices.db_now(session)
        return _state(notice, selection, await queries.last_seq(session, notice), now)


async def _newer_than(request: Request[Any, Any, Any], notice_id: str, seq: int | None) -> bool:
    """Whether the log holds an entry of the notice after ``seq`` (one index probe); False
    while the database is away: the stream stays open, and the listener's return wakes it."""
    try:
        async with request.app.state.db.transaction() as session:
            newest = await queries.newest_seq(session, notice_id)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return False
    return newest is not None and (seq is None or newest > seq)


def last_event_id(request: Request[Any, Any, Any]) -> str | None:
    """Where the reader stopped: the ``Last-Event-ID`` header an EventSource sends when it
    reconnects, else ``?last_event_id=`` (the page's first connection, and clients that
    cannot set headers)."""
    return request.headers.get("last-event-id") or request.query_params.get("last_event_id") or None


async def replay_from(request: Request[Any, Any, Any], raw: str | None) -> int | None:
    """``raw`` as a seq of this log, or None: anything but a plain non-negative integer
    below the log's size is treated as absent (the reader gets the panel afresh), since a
    seq beyond the log would hold back every entry to come."""
    if raw is None or not SEQ.fullmatch(raw.strip()):
        return None
    seq = int(raw.strip())
    async with request.app.state.db.transaction() as session:
        size = await log_store.committed_size(session)
    return seq if seq < size else None


def live_channels(request: Request[Any, Any, Any]) -> ChannelsPlugin | None:
    """The LISTEN/NOTIFY plugin, when the app has one and its lifespan started it."""
    try:
        plugin = request.app.plugins.get(ChannelsPlugin)
    except KeyError:
        return None
    # Started by the app's lifespan; an app served without it (tests) has no listener.
    return plugin if getattr(plugin, "_sub_task", "started") is not None else None


@asynccontextmanager
async def listening(channels: ChannelsPlugin) -> AsyncIterator[Subscriber]:
    """``start_subscription``, with its exit shielded: a stream ends by being cancelled (the
    browser went away), and an UNLISTEN cut half-way would leave the shared listener
    believing it still listens, so that no page in this process heard anything again."""
    subscription = channels.start_subscription([CHANNEL])
    subscriber = await subscription.__aenter__()
    try:
        yield subscriber
    finally:
        with anyio.CancelScope(shield=True):
            await subscription.__aexit__(None, None, None)


def _entry(request: Request[Any, Any, Any], entry: queries.TimelineEntry) -> ServerSentEventMessage:
    html = render(request, "selection/partials/timeline_entry.html", e=entry, **log_present.ENTRY_WORDS)
    # One line: a reader of the raw stream finds data-seq on the data line itself.
    return ServerSentEventMessage(
        event="entry", data=str(html.content).strip().replace("\n", " "), id=entry.seq
    )


def _update(snap: Snapshot) -> ServerSentEventMessage:
    return snap.update_message


KEEP_ALIVE = ServerSentEventMessage(comment="keep-alive", data=None)


class Sender:
    """What one stream has sent: the newest seq and the last panel."""

    def __init__(self, request: Request[Any, Any, Any], after: int | None) -> None:
        self.request = request
        self.sent = after  # None: nothing yet, the first panel carries the timeline
        self.shown: str | None = None

    def catch_up(self, snap: Snapshot, *, panel: bool = False) -> list[ServerSentEventMessage]:
        """The entries after the last one sent, in order, then the panel if it changed (or
        if ``panel``)."""
        out = (
            [_entry(self.request, e) for e in snap.entries_after(self.sent)] if self.sent is not None else []
        )
        if out or panel or snap.html != self.shown:
            out.append(_update(snap))
            self.shown = snap.html
        if snap.seq is not None:
            self.sent = snap.seq
        return out


def _until(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds()) + 0.25


async def notified_stream(
    request: Request[Any, Any, Any], notice_id: str, channels: ChannelsPlugin, after: int | None
) -> AsyncIterator[ServerSentEventMessage]:
    sender = Sender(request, after)
    async with listening(channels) as subscriber:
        # Subscribed first, read second: a step committed in between is not missed.
        snap = await snapshot(request, notice_id)
        for message in sender.catch_up(snap):
            yield message
        deadline = snap.deadline
        events = subscriber.iter_events()

        async def next_event() -> bytes:
            return await events.__anext__()

        pending: asyncio.Task[bytes] = asyncio.ensure_future(next_event())
        # When the log is looked at next (the keep-alive tick), kept across other notices'
        # NOTIFYs: on a busy site they come more often than the tick, which must still come.
        loop = asyncio.get_running_loop()
        look_every = POLL if snap.awaiting else KEEPALIVE
        look_at = loop.time() + look_every
        try:
            while True:
                wait = _until(deadline)
                tick = max(0.0, look_at - loop.time())
                timeout = tick if wait is None else min(tick, wait)
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                reconnected = False
                if pending in done:
                    try:
                        payload = pending.result()
                    except StopAsyncIteration:
                        return  # the plugin is shutting down
                    pending = asyncio.ensure_future(next_event())
                    # An empty payload: the listener reconnected and may have missed this
                    # notice's NOTIFY (market/core/channels.py), so look again, and send
                    # the panel even if unchanged: the page hears that the host is back.
                    if payload and payload.decode("utf-8", "replace") != notice_id:
                        continue
                    reconnected = not payload
                elif deadline is not None and datetime.now(deadline.tzinfo) >= deadline:
                    # The deadline passed while the page watched: say "closing"; the
                    # scheduler's NOTIFY brings the result within seconds.
                    pass
                elif not await _newer_than(request, notice_id, sender.sent):
                    # Steps that send no NOTIFY (an amendment, a contract's) and NOTIFYs
                    # lost with the listener are found here, at the latest.
                    look_at = loop.time() + look_every
                    yield KEEP_ALIVE
                    continue
                snap = await snapshot(request, notice_id)
                deadline = snap.deadline
                look_every = POLL if snap.awaiting else KEEPALIVE
                look_at = loop.time() + look_every
                for message in sender.catch_up(snap, panel=reconnected):
                    yield message
        finally:
            pending.cancel()


async def polled_stream(
    request: Request[Any, Any, Any], notice_id: str, after: int | None
) -> AsyncIterator[ServerSentEventMessage]:
    """Without LISTEN/NOTIFY: look every POLL seconds and send what changed, by seq."""
    sender = Sender(request, after)
    seen = await _fingerprint(request, notice_id)
    for message in sender.catch_up(await snapshot(request, notice_id)):
        yield message
    quiet = 0.0
    while True:
        await asyncio.sleep(POLL)
        quiet += POLL
        now_seen = await _fingerprint(request, notice_id)
        messages = sender.catch_up(await snapshot(request, notice_id)) if now_seen != seen else []
        seen = now_seen
        for message in messages:
            yield message
        if messages:
            quiet = 0.0
        elif quiet >= KEEPALIVE:
            yield KEEP_ALIVE
            quiet = 0.0


async def draw_events(
    request: Request[Any, Any, Any], notice_id: str, last_seen: str | None = None
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        after = await replay_from(request, last_seen)
        channels = live_channels(request)
        stream = (
            notified_stream(request, notice_id, channels, after)
            if channels is not None
            else polled_stream(request, notice_id, after)
        )
        async for message in stream:
            yield message
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # The database went away mid-stream: end it; the browser's EventSource reconnects
        # by itself, with Last-Event-ID, and gets what it missed (a 503 until the database
        # is back).
        log.warning("draw events for %s ended: the database is unavailable", notice_id)


# -- the pages ---------------------------------------------------------------------------------------


def _holding(awards: list[Any], agency: Agency | None) -> bool:
    return agency is not None and any(
        a.agency_id == agency.id and a.status == AwardStatus.holding for a in awards
    )


class SelectionPages(Controller):
    include_in_schema = False

    async def _draw_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        notice: Notice,
        viewer: AppUser | None,
        *,
        status_code: int = 200,
        done: str | None = None,
        form: ActionForm | None = None,
    ) -> Response[str]:
        ctx = await panel_context(session, notice, url=base_url(request))
        now, selection = ctx["now"], ctx["sel"]
        agency = (
            await agencies.agency_of(session, viewer)
            if viewer is not None and viewer.role == Role.agency
            else None
        )
        in_publicity = (
            notice.status == NoticeStatus.selected
            and selection is not None
            and selection.publicity_ends is not None
            and now < selection.publicity_ends
        )
        # In publicity, a logged-in viewer is offered the objection form only with standing,
        # and told why not otherwise (issue 19): the service says which.
        objection_refusal = (
            await objection_service.objection_refusal(session, notice=notice, user=viewer)
            if viewer is not None and in_publicity
            else None
        )
        may_object = viewer is not None and in_publicity and objection_refusal is None
        targets, whole_result = (
            await objection_service.objection_choices(session, notice=notice, user=viewer)
            if may_object and viewer is not None
            else ([], False)
        )
        return render(
            request,
            "selection/draw.html",
            status_code=status_code,
            v=await notices.view(session, notice),
            viewer_user=viewer,
            message=DONE.get(done or ""),
            form=form,
            may_close=service.may_close(notice, viewer)
            and (
                (notice.status == NoticeStatus.open and now >= notice.bid_deadline)
                or (
                    notice.status == NoticeStatus.closed
                    and selection is not None
                    and selection.outcome == Outcome.waiting
                )
            ),
            may_decline=_holding(ctx["awards"], agency)
            and notice.status in (NoticeStatus.selected, NoticeStatus.awarded),
            may_object=may_object,
            # The owner objects too (issue 19: e.g. forged evidence from a winner), but as
            # a report to the supervisors: it is not answered, and the form says so.
            owner_objects=may_object and viewer is not None and viewer.id == notice.owner_id,
            objection_refusal=objection_refusal,
            objection_targets=[(h, ctx["names_of"].get(h, h)) for h in targets],
            object_to_whole_result=whole_result,
            to_answer=[
                o for o in ctx["objections"] if o.status == ObjectionStatus.filed and o.party != OWNER_PARTY
            ]
            if objection_service.may_answer_objections(notice, viewer)
            else [],
            to_decide=[
                o
                for o in ctx["objections"]
                if o.status in (ObjectionStatus.filed, ObjectionStatus.answered)
                and objection_service.may_decide_objections(viewer, o)
            ],
            **ctx,
        )

    async def _notice(self, session: AsyncSession, notice_id: str, viewer: AppUser | None) -> Notice:
        notice = await notices.visible_notice(session, notice_id, viewer)
        if notice.status == NoticeStatus.draft:
            raise NotFound(N_("This notice is a draft: it has no draw yet."))
        return notice

    @get("/notices/{notice_id:str}/draw")
    async def draw(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await optional_viewer(request, session)
        notice = await self._notice(session, notice_id, viewer)
        return await self._draw_page(request, session, notice, viewer, done=done)

    @get("/notices/{notice_id:str}/draw/events")
    async def events(self, request: Request[Any, Any, Any], notice_id: FromPath[str]) -> ServerSentEvent:
        """The notice's log entries and its panel as Server-Sent Events: what the reader missed
        (``Last-Event-ID``) and the panel at connect, then each entry and the panel as they
        come (docs/selection.md, "The live draw page and its event stream")."""
        async with request.app.state.db.transaction() as session:
            notice = await self._notice(session, notice_id, await optional_viewer(request, session))
            public_id = notice.public_id
        return ServerSentEvent(
            draw_events(request, public_id, last_event_id(request)), headers={"Cache-Control": "no-store"}
        )

    async def _act(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        notice_id: str,
        form: ActionForm,
        call: Any,
        done: str,
        on_page: tuple[int, ...] = (),
    ) -> Response[Any]:
        """Run one service call in a savepoint: redirect on success; the page again with the
        errors beside the form on a refusal about the input or the state; an error page when
        the person may not do this at all, unless its status is in ``on_page`` (a refusal
        the page itself explains)."""
        user = await load_viewer(request, session)
        notice = await self._notice(session, notice_id, user)
        try:
            async with session.begin_nested():
                await call(user, notice)
        except DomainError as exc:
            if exc.status in (401, 403, 404) and exc.status not in on_page:
                raise
            form.errors = errors_beside_fields(exc, _known(form.values))
            await session.refresh(notice)
            return await self._draw_page(request, session, notice, user, status_code=exc.status, form=form)
        return redirect(f"/notices/{notice.public_id}/draw?done={done}")

    @staticmethod
    async def _values(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
        raw = await request.form()
        return {name: str(raw.get(name) or "").strip() for name in names}

    @post("/notices/{notice_id:str}/close", guards=[requires_login])
    async def close(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        async def call(user: AppUser, notice: Notice) -> None:
            await service.close(
                session, user=user, notice_id=notice.public_id, ctx=selection_context(request.app.state)
            )

        return await self._act(request, session, notice_id, ActionForm("close"), call, "closed")

    @post("/notices/{notice_id:str}/decline", guards=[requires_login])
    async def decline(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        form = ActionForm("decline", values=await self._values(request, "reason"))

        async def call(user: AppUser, notice: Notice) -> None:
            await service.decline(
                session,
                user=user,
                notice_id=notice.public_id,
                reason=form.values["reason"],
                settings=request.app.state.settings,
            )

        return await self._act(request, session, notice_id, form, call, "declined")

    @post("/notices/{notice_id:str}/objections", guards=[requires_login])
    async def object(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        form = ActionForm("objection", values=await self._values(request, "reasons", "agency_id"))

        async def call(user: AppUser, notice: Notice) -> None:
            await objection_service.file_objection(
                session,
                user=user,
                notice_id=notice.public_id,
                reasons=form.values["reasons"],
                agency_id=form.values["agency_id"] or None,
            )

        # No standing (403) is said on the draw page, where the form would have been.
        return await self._act(request, session, notice_id, form, call, "objected", on_page=(403,))

    @post("/notices/{notice_id:str}/objections/{objection_id:str}/answer", guards=[requires_role(Role.owner)])
    async def answer(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        objection_id: FromPath[str],
    ) -> Response[Any]:
        form = ActionForm("answer", target=objection_id, values=await self._values(request, "answer"))

        async def call(user: AppUser, notice: Notice) -> None:
            await objection_service.answer_objection(
                session,
                user=user,
                notice_id=notice.public_id,
                objection_id=objection_id,
                answer=form.values["answer"],
            )

        return await self._act(request, session, notice_id, form, call, "answered")

    @post(
        "/notices/{notice_id:str}/objections/{objection_id:str}/decision",
        guards=[requires_role(Role.supervisor)],
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        objection_id: FromPath[str],
    ) -> Response[Any]:
        form = ActionForm(
            "decision", target=objection_id, values=await self._values(request, "decision", "reason")
        )

        async def call(user: AppUser, notice: Notice) -> None:
            await objection_service.decide_objection(
                session,
                user=user,
                notice_id=notice.public_id,
                objection_id=objection_id,
                decision=form.values["decision"],
                reason=form.values["reason"],
                settings=request.app.state.settings,
            )

        return await self._act(request, session, notice_id, form, call, "decided")

    # -- supervisors and messages ------------------------------------------------------------------

    @get("/supervision/objections", guards=[requires_role(Role.supervisor)])
    async def pending(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        # Only the objections the viewer decides: those whose current hall it reaches.
        codes = await halls_queries.codes_under(session, viewer.jurisdiction) if viewer.jurisdiction else []
        rows = await objection_queries.pending_objections(session, codes=codes)
        names = await agency_queries.names_by_public_id(
            session, [o.agency_public_id or "" for o, _ in rows] + [o.party or "" for o, _ in rows]
        )
        return render(
            request,
            "selection/objections.html",
            rows=rows,
            names_of=names,
            hall_names=await halls_queries.hall_names(session),
            escalation_days=request.app.state.settings.objection_escalation_days,
        )

    @get("/messages", guards=[requires_login])
    async def messages(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        rows = await inbox.messages_for(session, user)
        unread = {m.id for m, _ in rows if m.read_at is None}
        mentioned = [
            str(m.params.get(k) or "") for m, _ in rows for k in ("agency_id", "replacement", "replaced")
        ]
        schemes = {n.id: n.scheme for _, n in rows if n is not None}
        await inbox.mark_read(session, user, [m.id for m, _ in rows if m.id is not None])
        return render(
            request,
            "selection/messages.html",
            rows=rows,
            unread=unread,
            names_of=await agency_queries.names_by_public_id(session, mentioned),
            # The fairness caveat belongs to the draw it is about: said beside each message
            # about a draw without a beacon, never over the whole inbox (issue 22).
            operator_draws={
                m.id
                for m, _ in rows
                if _is_draw_message(m) and schemes.get(m.notice_id) == protocol.SCHEME_NONE
            },
        )


DRAW_KINDS = {"won", "won_as_replacement", "final", "selected", "declined", "disqualified"}


def _is_draw_message(m: Message) -> bool:
    return m.kind in DRAW_KINDS
