"""Closing, drawing and awarding (MSP/1 steps 3 to 7), and what follows the draw: publicity,
declines, replacements and the final award. Objections, which may take an award away,
are their own domain (market/objections); read-only queries are in queries.py.

Every step writes its log entry in the same transaction as the rows that mirror it, and
every step is idempotent on the notice's status, so a crash leaves either the step done
entirely or not at all, and whoever looks next (the scheduler, a second server process,
an owner pressing "close") finishes it exactly once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import queries as agency_queries
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.bids.queries import open_bids
from market.core.clock import today_in_china, utcnow
from market.core.config import Settings
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.halls import rules as halls_rules
from market.halls import service as halls
from market.inbox import service as inbox
from market.log import store as log
from market.notices import service as notices
from market.notices.models import Bid, BidStatus, Method, Notice, NoticeSecret, NoticeStatus
from market.notices.rules import tlock_round_of
from market.notices.secrets import SecretSealer
from market.protocol import entry_types
from market.ratings import service as ratings
from market.selection import queries, rules
from market.selection.beacon import Beacon, BeaconRound, BeaconUnavailable, emitted_at
from market.selection.models import (
    PENDING_OBJECTIONS,
    Award,
    AwardStatus,
    Objection,
    Outcome,
    Selection,
)
from market.supervision import alerts

CHANNEL = "market_selection"  # NOTIFY channel: every server process's live pages listen
BEACON_RETRY = timedelta(seconds=10)
logger = logging.getLogger("market.selection")


@dataclass(frozen=True)
class Context:
    """What closing needs besides the database: settings, the secret sealer, the beacon."""

    settings: Settings
    sealer: SecretSealer
    beacon: Beacon


AwardStep = Callable[[AsyncSession, Award], Awaitable[None]]


@dataclass(frozen=True)
class DeclineListener:
    """Another domain's part in an award's decline. Selection may not import the services
    built on it (contracts.service imports this module), so they are registered here by the
    app factory (market.app.wire_services). ``check`` runs first and may refuse the decline
    with a domain error before anything is written; ``declined`` runs once it goes ahead, in
    the same transaction, before ``award.declined`` is appended."""

    check: AwardStep
    declined: AwardStep


DECLINE_LISTENERS: list[DeclineListener] = []


def on_award_declined(listener: DeclineListener) -> None:
    """Register ``listener`` once (the app factory may run more than once in a process)."""
    if listener not in DECLINE_LISTENERS:
        DECLINE_LISTENERS.append(listener)


async def notify(session: AsyncSession, notice: Notice) -> None:
    # Delivered at commit, to every process listening, and never for a rolled-back step.
    await session.execute(
        sa.text("SELECT pg_notify(:channel, :notice)"), {"channel": CHANNEL, "notice": notice.public_id}
    )


async def _agencies_by_public_id(session: AsyncSession, ids: list[str]) -> dict[str, Agency]:
    if not ids:
        return {}
    rows = (await session.execute(sa.select(Agency).where(col(Agency.public_id).in_(ids)))).scalars().all()
    return {a.public_id: a for a in rows}


# -- who may act -------------------------------------------------------------------------------------


def may_close(notice: Notice, user: AppUser | None) -> bool:
    """The notice's owner or an administrator whose jurisdiction reaches the notice's hall
    closes a notice after its deadline."""
    return user is not None and (
        (user.role == Role.admin and halls_rules.reaches(user.jurisdiction, notice.hall))
        or notice.owner_id == user.id
    )


# -- closing and drawing ---------------------------------------------------------------------


async def close(session: AsyncSession, *, user: AppUser, notice_id: str, ctx: Context) -> Notice:
    """``POST /close``: the owner or an administrator closes a notice after its deadline.
    Idempotent: a notice already closed (by anyone) is returned as it is."""
    notice = await notices.get_notice(session, notice_id, lock="update")
    if notice.status == NoticeStatus.draft:
        raise NotFound(N_("No such notice."))
    if not may_close(notice, user):
        if user.role == Role.admin:
            raise Forbidden(halls.OUTSIDE)
        raise Forbidden(N_("Only the notice's owner or an administrator can close it."))
    if notice.status == NoticeStatus.cancelled:
        raise Conflict(N_("This notice was cancelled; there is nothing to close."))
    if notice.status == NoticeStatus.open and await notices.db_now(session) < notice.bid_deadline:
        raise Conflict(N_("The bid deadline has not passed yet."))
    await advance(session, notice, ctx)
    return notice


async def advance(session: AsyncSession, notice: Notice, ctx: Context) -> None:
    """Take a locked notice as far as it can go now: close bidding once the deadline has
    passed, then draw once the beacon is there. Does nothing to a notice with nothing due."""
    now = await notices.db_now(session)
    if notice.status == NoticeStatus.open and now >= notice.bid_deadline:
        await _close_bidding(session, notice, ctx)
    elif notice.status == NoticeStatus.closed:
        selection = await session.get(Selection, notice.id)
        # The relays are asked at most once per BEACON_RETRY, however often "close" is pressed.
        recently = (
            selection is not None
            and selection.beacon_checked_at is not None
            and now - selection.beacon_checked_at < BEACON_RETRY
        )
        if selection is not None and selection.outcome == Outcome.waiting and not recently:
            await _draw(session, notice, selection, ctx)


async def _close_bidding(session: AsyncSession, notice: Notice, ctx: Context) -> None:
    """Step 3: reveal the secret, open the bids (MSP/2; MSP/1 published the standing
    documents), decide who is a candidate."""
    stmt = (
        sa.select(Bid, Agency)
        .join(Agency, col(Agency.id) == Bid.agency_id)
        .where(col(Bid.notice_id) == notice.id, col(Bid.status) == BidStatus.standing.value)
    )
    rows = list((await session.execute(stmt)).all())
    view = await notices.view(session, notice)
    requirements = notices.requirements(view)
    today = today_in_china()
    # MSP/2: the bids are opened now, every one ever placed (withdrawn ones too); MSP/1
    # kept the standing documents in the clear. Timelocked bids wait for their round.
    tlock_round: BeaconRound | None = None
    if notice.sealing == "tlock":
        tlock_round = await _tlock_round(session, notice, ctx)
        if tlock_round is None:
            return
    opened = (
        await open_bids(session, notice, ctx.sealer, signature=tlock_round.signature if tlock_round else None)
        if notice.protocol >= 2
        else None
    )
    documents = (
        {d["bid_id"]: d for d in opened.standing}
        if opened is not None
        else {bid.public_id: json.loads(bid.document) for bid, _ in rows if bid.document is not None}
    )
    # Every bidder as it stands now, in two queries however many bid.
    profiles = await agency_queries.load_profiles(session, [agency for _, agency in rows])
    standing = [
        rules.StandingBid(document=documents[bid.public_id], facts=profile.facts())
        for (bid, _), profile in zip(rows, profiles, strict=True)
    ]
    related = (
        await agency_queries.related_to_org(session, notice.org_id, [agency.public_id for _, agency in rows])
        if rows
        else set()
    )
    decided = rules.candidates_at_close(
        standing,
        requirements,
        today,
        direct_agency_id=notice.direct_agency_id,
        budget_fen=notice.budget_fen,
        related=frozenset(related),
    )
    secret = ctx.sealer.open(notice.public_id, (await _sealed(session, notice)))
    eligible = protocol.eligible_digest(decided.candidates)
    bids = sorted((s.document for s in standing), key=lambda d: d["bid_id"].encode("utf-8"))
    fields: dict[str, Any] = {"notice_id": notice.public_id, "secret": secret.hex()}
    if opened is not None:
        fields["openings"] = opened.openings
    else:
        fields["bids"] = bids
    fields.update(
        candidates=[[a, w] for a, w in decided.candidates], excluded=decided.excluded, eligible=eligible.hex()
    )
    if tlock_round is not None:
        fields["tlock"] = {"round": tlock_round.round, "signature": tlock_round.signature.hex()}
    closed = await log.append(
        session, version=notice.protocol, type=entry_types.BIDDING_CLOSED, fields=fields
    )
    if opened is not None:
        notice.opened_seq = closed.seq
    selection = Selection(
        notice_id=notice.id,  # type: ignore[arg-type]
        closed_seq=closed.seq,
        closed_at=protocol.parse_ts(closed.ts),
        secret=secret.hex(),
        bids=bids,
        openings=opened.openings if opened is not None else None,
        candidates=[[a, w] for a, w in decided.candidates],
        excluded=decided.excluded,
        eligible=eligible.hex(),
    )
    session.add(selection)
    notice.status = NoticeStatus.closed.value
    notice.updated_at = utcnow()
    await session.flush()
    if len(decided.candidates) < notice.min_candidates:
        await _fail(session, notice, selection, rules.TOO_FEW_CANDIDATES)
    elif notice.method == Method.direct:
        await _select_directly(session, notice, selection, ctx)
    else:
        await _draw(session, notice, selection, ctx)
    await notify(session, notice)
    if notice.status == NoticeStatus.failed:
        await tell_owner(session, notice, "failed", reason=selection.failed_reason)
    elif notice.status == NoticeStatus.closed:
        await tell_owner(session, notice, "waiting_for_beacon")


async def _tlock_round(session: AsyncSession, notice: Notice, ctx: Context) -> BeaconRound | None:
    """The verified signature of a tlock notice's deadline round, or None (the notice
    stays as it is, asked again after BEACON_RETRY) while it is not out or not reachable."""
    round_number = tlock_round_of(notice.bid_deadline)
    notice.tlock_checked_at = utcnow()
    if notice.tlock_checked_at < emitted_at(round_number):
        await session.flush()
        return None
    try:
        return await ctx.beacon.fetch(round_number)
    except BeaconUnavailable as exc:
        if exc.fault:
            logger.warning(
                "notice %s: timelock round %s refused: %s", notice.public_id, round_number, exc.reason
            )
        await session.flush()
        return None


async def open_cancelled(session: AsyncSession, notice: Notice, ctx: Context) -> None:
    """A tlock notice cancelled before its round: once the round is out, open its bids
    (``bids.opened``), so that every sealed entry is opened by exactly one notice."""
    tlock_round = await _tlock_round(session, notice, ctx)
    if tlock_round is None:
        return
    opened = await open_bids(session, notice, ctx.sealer, signature=tlock_round.signature)
    entry = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.BIDS_OPENED,
        fields={
            "notice_id": notice.public_id,
            "openings": opened.openings,
            "tlock": {"round": tlock_round.round, "signature": tlock_round.signature.hex()},
        },
    )
    notice.opened_seq = entry.seq
    await session.flush()


async def _sealed(session: AsyncSession, notice: Notice) -> bytes:
    row = await session.get(NoticeSecret, notice.id)
    if row is None:
        raise RuntimeError(f"notice {notice.public_id} has no sealed secret")
    return row.sealed


async def tell_owner(session: AsyncSession, notice: Notice, kind: str, **params: Any) -> None:
    await inbox.leave(session, user_id=notice.owner_id, notice=notice, kind=kind, **params)


async def _fail(session: AsyncSession, notice: Notice, selection: Selection, reason: str) -> None:
    failed = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.SELECTION_FAILED,
        fields={"notice_id": notice.public_id, "reason": reason},
    )
    selection.outcome = Outcome.failed.value
    selection.outcome_seq = failed.seq
    selection.outcome_at = protocol.parse_ts(failed.ts)
    selection.failed_reason = reason
    notice.status = NoticeStatus.failed.value
    await alerts.alert(session, hall=notice.hall, kind=alerts.SELECTION_FAILED, notice=notice, reason=reason)
    await session.flush()


async def _select_directly(session: AsyncSession, notice: Notice, selection: Selection, ctx: Context) -> None:
    agency_id = selection.candidates[0][0]
    entry = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.SELECTION_DIRECT,
        fields={
            "notice_id": notice.public_id,
            "agency_id": agency_id,
            "justification": notice.direct_justification or "",
        },
    )
    selection.outcome = Outcome.direct.value
    selection.outcome_seq = entry.seq
    selection.outcome_at = protocol.parse_ts(entry.ts)
    selection.winners, selection.alternates = [agency_id], []
    await _award(session, notice, selection, [agency_id], entry.seq, ctx.settings)


async def _draw(session: AsyncSession, notice: Notice, selection: Selection, ctx: Context) -> None:
    """MSP/1 steps 4 to 6, exactly once: with scheme ``none`` at once, with drand once the
    committed round is out and verified; until then the notice waits, with the reason."""
    scheme = notice.scheme or protocol.SCHEME_NONE
    round_number = protocol.scheme_round(scheme)
    beacon_entry: dict[str, Any] | None = None
    beacon_bytes = b""
    if round_number is not None:
        now = utcnow()
        selection.beacon_checked_at = now
        if now < emitted_at(round_number):
            await _wait(
                session, notice, selection, rules.waiting_for_round(round_number, emitted_at(round_number))
            )
            return
        try:
            got = await ctx.beacon.fetch(round_number)
        except BeaconUnavailable as exc:
            if exc.fault:
                logger.warning(
                    "notice %s: beacon round %s refused: %s", notice.public_id, round_number, exc.reason
                )
            await _wait(session, notice, selection, exc.reason)
            return
        beacon_entry, beacon_bytes = got.as_entry(), got.randomness
    result = rules.draw(
        notice_id=notice.public_id,
        method=notice.method,
        k=notice.winners,
        secret=bytes.fromhex(selection.secret),
        candidates=[(a, w) for a, w in selection.candidates],
        bids=selection.bids,
        scheme=scheme,
        beacon=beacon_bytes,
    )
    drawn = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.SELECTION_DRAWN,
        fields={
            "notice_id": notice.public_id,
            "attempt": rules.ATTEMPT,
            "scheme": scheme,
            "beacon": beacon_entry,
            "seed": result.seed.hex(),
            "order": result.order,
            "ranking": result.ranking,
            "winners": result.winners,
            "alternates": result.alternates,
        },
    )
    selection.outcome = Outcome.drawn.value
    selection.outcome_seq = drawn.seq
    selection.outcome_at = protocol.parse_ts(drawn.ts)
    selection.beacon = beacon_entry
    selection.seed = result.seed.hex()
    selection.order, selection.ranking = result.order, result.ranking
    selection.winners, selection.alternates = result.winners, result.alternates
    selection.waiting_reason = None
    await _award(session, notice, selection, result.winners, drawn.seq, ctx.settings)
    if notice.status == NoticeStatus.selected:
        await notify(session, notice)


async def _wait(session: AsyncSession, notice: Notice, selection: Selection, reason: str) -> None:
    """Keep waiting for the beacon; watchers of the draw page learn when the reason changes."""
    changed = reason != selection.waiting_reason
    selection.waiting_reason = reason
    await session.flush()
    if changed:
        await notify(session, notice)


async def _award(
    session: AsyncSession,
    notice: Notice,
    selection: Selection,
    winners: list[str],
    seq: int,
    settings: Settings,
) -> None:
    by_id = await _agencies_by_public_id(session, winners)
    for slot, agency_id in enumerate(winners):
        agency = by_id[agency_id]
        assert notice.id is not None and agency.id is not None
        session.add(
            Award(
                notice_id=notice.id, slot=slot, agency_id=agency.id, agency_public_id=agency_id, since_seq=seq
            )
        )
        await inbox.leave(session, user_id=agency.owner_id, notice=notice, kind="won")
    selection.publicity_ends = utcnow() + timedelta(days=settings.publicity_days)
    selection.final_pending = True
    notice.status = NoticeStatus.selected.value
    notice.updated_at = utcnow()
    await session.flush()
    await tell_owner(session, notice, "selected")


# -- the scheduler ------------------------------------------------------------------------------


async def claim_due(session: AsyncSession, *, exclude: Sequence[str] = ()) -> Notice | None:
    """One notice with something due, locked for this transaction; notices another worker
    holds are skipped, so several workers and processes never do the same step twice.
    ``exclude``: notices whose last step failed here, set aside so they cannot starve the rest.

    Every worker runs this every second, so each kind of step due is asked for by a query
    of its own that one partial index answers, in this order: closes, tlock openings of
    cancelled notices, draws waiting for a beacon, awards whose publicity is over (one OR
    over all four read every selection and thousands of notices: 0.5–1.1 s per look at
    100,000 notices, issue 24). Each query locks at most the one notice it returns."""
    now = await notices.db_now(session)
    # A tlock notice's close (or a cancelled one's opening) waits for its deadline round,
    # asked for once per BEACON_RETRY.
    round_retry = sa.or_(
        col(Notice.tlock_checked_at).is_(None), col(Notice.tlock_checked_at) < now - BEACON_RETRY
    )
    kept_out = [col(Notice.public_id).not_in(list(exclude))] if exclude else []
    branches = (
        # ix_notice_open_deadline
        sa.select(Notice)
        .where(
            col(Notice.status) == NoticeStatus.open.value,
            col(Notice.bid_deadline) <= now,
            round_retry,
            *kept_out,
        )
        .order_by(col(Notice.bid_deadline)),
        # ix_notice_tlock_unopened
        sa.select(Notice)
        .where(
            col(Notice.status) == NoticeStatus.cancelled.value,
            col(Notice.sealing) == "tlock",
            col(Notice.opened_seq).is_(None),
            col(Notice.bid_deadline) <= now,
            round_retry,
            sa.exists().where(col(Bid.notice_id) == Notice.id),
            *kept_out,
        )
        .order_by(col(Notice.bid_deadline)),
        # ix_selection_waiting, twice: the draws never asked for their beacon, then the one
        # asked for longest ago (one OR of the two would read every draw waiting, in order).
        *(
            sa.select(Notice)
            .join(Selection, col(Selection.notice_id) == Notice.id)
            .where(
                col(Selection.outcome) == Outcome.waiting.value,
                checked,
                col(Notice.status) == NoticeStatus.closed.value,
                *kept_out,
            )
            .order_by(col(Selection.beacon_checked_at))
            for checked in (
                col(Selection.beacon_checked_at).is_(None),
                col(Selection.beacon_checked_at) < now - BEACON_RETRY,
            )
        ),
        # ix_selection_final_pending
        sa.select(Notice)
        .join(Selection, col(Selection.notice_id) == Notice.id)
        .where(
            col(Selection.final_pending),
            col(Selection.publicity_ends) <= now,
            ~sa.exists().where(
                col(Objection.notice_id) == Selection.notice_id, col(Objection.status).in_(PENDING_OBJECTIONS)
            ),
            col(Notice.status) == NoticeStatus.selected.value,
            *kept_out,
        )
        .order_by(col(Selection.publicity_ends)),
    )
    for branch in branches:
        stmt = branch.limit(1).with_for_update(skip_locked=True, of=Notice)
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is not None:
            return found
    return None


async def next_deadline_in(session: AsyncSession) -> float | None:
    """Seconds from the database's clock to the next deadline of an open notice, None when
    no open notice has one to come (an index probe of ix_notice_open_deadline): the
    scheduler wakes then rather than at its next look, so a close starts at the deadline."""
    value = (
        await session.execute(
            # now() in the filter: a volatile clock_timestamp() could not bound the index scan.
            sa.select(
                sa.func.extract("epoch", sa.func.min(col(Notice.bid_deadline)) - sa.func.clock_timestamp())
            ).where(col(Notice.status) == NoticeStatus.open.value, col(Notice.bid_deadline) > sa.func.now())
        )
    ).scalar_one_or_none()
    return float(value) if value is not None else None


async def step(session: AsyncSession, notice: Notice, ctx: Context) -> None:
    """The step due for a claimed notice: close or draw, or make the award final."""
    if notice.status == NoticeStatus.selected:
        await finalize(session, notice)
    elif notice.status == NoticeStatus.cancelled:
        await open_cancelled(session, notice, ctx)
    else:
        await advance(session, notice, ctx)


async def run_due(session: AsyncSession, ctx: Context) -> str | None:
    """Do the next due step, if any; returns the notice id it worked on."""
    notice = await claim_due(session)
    if notice is None:
        return None
    await step(session, notice, ctx)
    return notice.public_id


# -- after the draw ------------------------------------------------------------------------------


async def replace_holder(
    session: AsyncSession,
    notice: Notice,
    award: Award,
    *,
    status: AwardStatus,
    reason: str,
    settings: Settings,
    log_type: str,
    extra: dict[str, Any],
) -> str | None:
    """Take the award from ``award``'s agency; the first alternate not yet used (MSP/1 step 7)
    takes its place. Returns the replacement's id, or None when no alternate is left."""
    selection = await queries.selection_of(session, notice)
    used = [a.agency_public_id for a in await queries.awards(session, notice)]
    replacement = rules.next_alternate(selection.alternates or [], used)
    entry = await log.append(
        session,
        version=notice.protocol,
        type=log_type,
        fields={
            "notice_id": notice.public_id,
            "agency_id": award.agency_public_id,
            **extra,
            "replacement": replacement,
        },
    )
    award.status = status.value
    award.ended_seq = entry.seq
    award.ended_at = utcnow()
    award.end_reason = reason
    award.replaced_by = replacement
    await session.flush()
    if replacement is not None:
        agency = (await _agencies_by_public_id(session, [replacement]))[replacement]
        assert notice.id is not None and agency.id is not None
        session.add(
            Award(
                notice_id=notice.id,
                slot=award.slot,
                agency_id=agency.id,
                agency_public_id=replacement,
                since_seq=entry.seq,
            )
        )
        await inbox.leave(
            session,
            user_id=agency.owner_id,
            notice=notice,
            kind="won_as_replacement",
            replaced=award.agency_public_id,
        )
        # The new holder's name is published afresh, so the public gets its own objection window.
        selection.publicity_ends = utcnow() + timedelta(days=settings.publicity_days)
        selection.final_pending = True  # final again when its publicity ends (claim_due)
        notice.status = NoticeStatus.selected.value
    await session.flush()
    if not await queries.holders(session, notice):
        notice.status = NoticeStatus.failed.value
        selection.failed_reason = rules.NO_ALTERNATES
        selection.final_pending = False
        await alerts.alert(
            session, hall=notice.hall, kind=alerts.SELECTION_FAILED, notice=notice, reason=rules.NO_ALTERNATES
        )
    notice.updated_at = utcnow()
    await session.flush()
    await tell_owner(session, notice, status.value, agency_id=award.agency_public_id, replacement=replacement)
    await notify(session, notice)
    return replacement


async def decline(
    session: AsyncSession, *, user: AppUser, notice_id: str, reason: str, settings: Settings
) -> Notice:
    """A winner declines before signing; the first remaining alternate takes its place."""
    notice = await notices.get_notice(session, notice_id, lock="update")
    agency = await agencies.agency_of(session, user) if user.role == Role.agency else None
    held = [
        a for a in await queries.holders(session, notice) if agency is not None and a.agency_id == agency.id
    ]
    if not held or agency is None:
        raise Forbidden(N_("Only a winning agency can decline this award."))
    if notice.status not in (NoticeStatus.selected, NoticeStatus.awarded):
        raise Conflict(N_("This award can no longer be declined."))
    await pass_on_decline(
        session, notice=notice, award=held[0], agency=agency, reason=reason, settings=settings
    )
    return notice


async def pass_on_decline(
    session: AsyncSession, *, notice: Notice, award: Award, agency: Agency, reason: str, settings: Settings
) -> None:
    """The holder of a locked notice's ``award`` gives it up (``award.declined``); the first
    remaining alternate takes its place, and the decline counts toward the automatic
    suspension. Called for the agency's own decline, and for a disputed contract once a
    supervisor found its terms followed the award (docs/contracts.md)."""
    # MSP/1 step 7: a winner may decline before signing, not after (the contracts service
    # refuses it once its contract is signed); a contract still waiting for its confirmation
    # goes with the award.
    if not DECLINE_LISTENERS:
        # Without the contracts' listener a decline would leave a contract in force for an
        # award given up: refuse to run half-wired rather than lose that.
        raise RuntimeError("market.app.wire_services() has not run: a decline cannot reach its contract")
    for listener in DECLINE_LISTENERS:
        await listener.check(session, award)
    reason = agencies.check_publishable(reason.strip(), "reason")
    if not reason:
        raise InvalidInput(
            N_("Give a reason; it is published."),
            [FieldError("reason", N_("Give a reason; it is published."))],
        )
    for listener in DECLINE_LISTENERS:
        await listener.declined(session, award)
    await replace_holder(
        session,
        notice,
        award,
        status=AwardStatus.declined,
        reason=reason,
        settings=settings,
        log_type=entry_types.AWARD_DECLINED,
        extra={"reason": reason},
    )
    await ratings.apply_automatic_rules(session, agency, settings, today_in_china())


async def finalize(session: AsyncSession, notice: Notice) -> None:
    """Publicity over with no objection pending: the award is final (``award.final``)."""
    selection = await queries.selection_of(session, notice)
    holding = [a.agency_public_id for a in await queries.holders(session, notice)]
    entry = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.AWARD_FINAL,
        fields={"notice_id": notice.public_id, "winners": holding},
    )
    selection.final_seq = entry.seq
    selection.final_pending = False
    notice.status = NoticeStatus.awarded.value
    notice.updated_at = utcnow()
    await session.flush()
    for award in await queries.holders(session, notice):
        agency = await session.get(Agency, award.agency_id)
        if agency is not None:
            await inbox.leave(session, user_id=agency.owner_id, notice=notice, kind="final")
    await tell_owner(session, notice, "final")
    await notify(session, notice)
