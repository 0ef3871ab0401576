"""Closing, drawing and awarding (MSP/1 steps 3 to 7), and what follows the draw: publicity,
objections, declines and the final award.

Every step writes its log entry in the same transaction as the rows that mirror it, and
every step is idempotent on the notice's status, so a crash leaves either the step done
entirely or not at all, and whoever looks next (the scheduler, a second server process,
an owner pressing "close") finishes it exactly once.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.contracts.models import Contract, ContractStatus
from market.core.clock import today_in_china, utcnow
from market.core.config import Settings
from market.core.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.log import protocol
from market.log import store as log
from market.notices import service as notices
from market.notices.models import Bid, BidStatus, Method, Notice, NoticeSecret, NoticeStatus
from market.notices.secrets import SecretSealer
from market.ratings import service as ratings
from market.selection import rules
from market.selection.beacon import Beacon, BeaconRound, BeaconUnavailable, emitted_at
from market.selection.models import (
    OWNER_PARTY,
    PENDING_OBJECTIONS,
    Award,
    AwardStatus,
    Message,
    Objection,
    ObjectionStatus,
    Outcome,
    Selection,
)

CHANNEL = "market_selection"  # NOTIFY channel: every server process's live pages listen
OBJECTION_SEQUENCE = "objection_public_seq"
BEACON_RETRY = timedelta(seconds=10)
logger = logging.getLogger("market.selection")


@dataclass(frozen=True)
class Context:
    """What closing needs besides the database: settings, the secret sealer, the beacon."""

    settings: Settings
    sealer: SecretSealer
    beacon: Beacon


async def _notify(session: AsyncSession, notice: Notice) -> None:
    # Delivered at commit, to every process listening, and never for a rolled-back step.
    await session.execute(
        sa.text("SELECT pg_notify(:channel, :notice)"), {"channel": CHANNEL, "notice": notice.public_id}
    )


async def _message(session: AsyncSession, *, user_id: int, notice: Notice, kind: str, **params: Any) -> None:
    session.add(
        Message(
            user_id=user_id,
            notice_id=notice.id,
            kind=kind,
            params={"notice_id": notice.public_id, "title": notice.title, **params},
        )
    )


async def _agencies_by_public_id(session: AsyncSession, ids: list[str]) -> dict[str, Agency]:
    if not ids:
        return {}
    rows = (await session.execute(sa.select(Agency).where(col(Agency.public_id).in_(ids)))).scalars().all()
    return {a.public_id: a for a in rows}


# -- closing and drawing ---------------------------------------------------------------------


async def close(session: AsyncSession, *, user: AppUser, notice_id: str, ctx: Context) -> Notice:
    """``POST /close``: the owner or an administrator closes a notice after its deadline.
    Idempotent: a notice already closed (by anyone) is returned as it is."""
    notice = await notices.get_notice(session, notice_id, lock="update")
    if notice.status == NoticeStatus.draft:
        raise NotFound(N_("No such notice."))
    if not (user.role == Role.admin or notice.owner_id == user.id):
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
        await notices.open_bids(
            session, notice, ctx.sealer, signature=tlock_round.signature if tlock_round else None
        )
        if notice.protocol >= 2
        else None
    )
    documents = (
        {d["bid_id"]: d for d in opened.standing}
        if opened is not None
        else {bid.public_id: json.loads(bid.document) for bid, _ in rows if bid.document is not None}
    )
    # Every bidder as it stands now, in two queries however many bid.
    profiles = await agencies.load_profiles(session, [agency for _, agency in rows])
    standing = [
        rules.StandingBid(document=documents[bid.public_id], facts=profile.facts())
        for (bid, _), profile in zip(rows, profiles, strict=True)
    ]
    related = (
        await agencies.related_to_org(session, notice.org_id, [agency.public_id for _, agency in rows])
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
    closed = await log.append(session, version=notice.protocol, type="bidding.closed", fields=fields)
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
    await _notify(session, notice)
    if notice.status == NoticeStatus.failed:
        await _tell_owner(session, notice, "failed", reason=selection.failed_reason)
    elif notice.status == NoticeStatus.closed:
        await _tell_owner(session, notice, "waiting_for_beacon")


async def _tlock_round(session: AsyncSession, notice: Notice, ctx: Context) -> BeaconRound | None:
    """The verified signature of a tlock notice's deadline round, or None (the notice
    stays as it is, asked again after BEACON_RETRY) while it is not out or not reachable."""
    round_number = notices.tlock_round_of(notice.bid_deadline)
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
    opened = await notices.open_bids(session, notice, ctx.sealer, signature=tlock_round.signature)
    entry = await log.append(
        session,
        version=notice.protocol,
        type="bids.opened",
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


async def _tell_owner(session: AsyncSession, notice: Notice, kind: str, **params: Any) -> None:
    await _message(session, user_id=notice.owner_id, notice=notice, kind=kind, **params)


async def _fail(session: AsyncSession, notice: Notice, selection: Selection, reason: str) -> None:
    failed = await log.append(
        session,
        version=notice.protocol,
        type="selection.failed",
        fields={"notice_id": notice.public_id, "reason": reason},
    )
    selection.outcome = Outcome.failed.value
    selection.outcome_seq = failed.seq
    selection.outcome_at = protocol.parse_ts(failed.ts)
    selection.failed_reason = reason
    notice.status = NoticeStatus.failed.value
    await session.flush()


async def _select_directly(session: AsyncSession, notice: Notice, selection: Selection, ctx: Context) -> None:
    agency_id = selection.candidates[0][0]
    entry = await log.append(
        session,
        version=notice.protocol,
        type="selection.direct",
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
        type="selection.drawn",
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
        await _notify(session, notice)


async def _wait(session: AsyncSession, notice: Notice, selection: Selection, reason: str) -> None:
    """Keep waiting for the beacon; watchers of the draw page learn when the reason changes."""
    changed = reason != selection.waiting_reason
    selection.waiting_reason = reason
    await session.flush()
    if changed:
        await _notify(session, notice)


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
        session.add(
            Award(
                notice_id=notice.id, slot=slot, agency_id=agency.id, agency_public_id=agency_id, since_seq=seq
            )
        )  # type: ignore[arg-type]
        await _message(session, user_id=agency.owner_id, notice=notice, kind="won")
    selection.publicity_ends = utcnow() + timedelta(days=settings.publicity_days)
    notice.status = NoticeStatus.selected.value
    notice.updated_at = utcnow()
    await session.flush()
    await _tell_owner(session, notice, "selected")


# -- the scheduler ------------------------------------------------------------------------------


async def claim_due(session: AsyncSession, *, exclude: Sequence[str] = ()) -> Notice | None:
    """One notice with something due, locked for this transaction; notices another worker
    holds are skipped, so several workers and processes never do the same step twice.
    ``exclude``: notices whose last step failed here, set aside so they cannot starve the rest."""
    now = await notices.db_now(session)
    waiting = sa.select(col(Selection.notice_id)).where(
        col(Selection.outcome) == Outcome.waiting.value,
        sa.or_(
            col(Selection.beacon_checked_at).is_(None), col(Selection.beacon_checked_at) < now - BEACON_RETRY
        ),
    )
    publicity_over = sa.select(col(Selection.notice_id)).where(
        col(Selection.publicity_ends) <= now,
        ~sa.exists().where(
            col(Objection.notice_id) == Selection.notice_id, col(Objection.status).in_(PENDING_OBJECTIONS)
        ),
    )
    # A tlock notice's close (or a cancelled one's opening) waits for its deadline round,
    # asked for once per BEACON_RETRY.
    round_retry = sa.or_(
        col(Notice.tlock_checked_at).is_(None), col(Notice.tlock_checked_at) < now - BEACON_RETRY
    )
    stmt = (
        sa.select(Notice)
        .where(
            sa.or_(
                sa.and_(
                    col(Notice.status) == NoticeStatus.open.value,
                    col(Notice.bid_deadline) <= now,
                    round_retry,
                ),
                sa.and_(
                    col(Notice.status) == NoticeStatus.cancelled.value,
                    col(Notice.sealing) == "tlock",
                    col(Notice.opened_seq).is_(None),
                    col(Notice.bid_deadline) <= now,
                    round_retry,
                    sa.exists().where(col(Bid.notice_id) == Notice.id),
                ),
                sa.and_(col(Notice.status) == NoticeStatus.closed.value, col(Notice.id).in_(waiting)),
                sa.and_(
                    col(Notice.status) == NoticeStatus.selected.value, col(Notice.id).in_(publicity_over)
                ),
            )
        )
        .order_by(col(Notice.bid_deadline))
        .limit(1)
        .with_for_update(skip_locked=True, of=Notice)
    )
    if exclude:
        stmt = stmt.where(col(Notice.public_id).not_in(list(exclude)))
    return (await session.execute(stmt)).scalar_one_or_none()


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


async def _selection_of(session: AsyncSession, notice: Notice) -> Selection:
    selection = await session.get(Selection, notice.id)
    if selection is None:
        raise Conflict(N_("This notice has no result yet."))
    return selection


async def holders(session: AsyncSession, notice: Notice) -> list[Award]:
    stmt = (
        sa.select(Award)
        .where(col(Award.notice_id) == notice.id, col(Award.status) == AwardStatus.holding.value)
        .order_by(col(Award.slot))
    )
    return list((await session.execute(stmt)).scalars().all())


async def awards(session: AsyncSession, notice: Notice) -> list[Award]:
    return list(
        (
            await session.execute(
                sa.select(Award).where(col(Award.notice_id) == notice.id).order_by(col(Award.id))
            )
        )
        .scalars()
        .all()
    )


async def _replace(
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
    selection = await _selection_of(session, notice)
    used = [a.agency_public_id for a in await awards(session, notice)]
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
        session.add(
            Award(
                notice_id=notice.id,
                slot=award.slot,
                agency_id=agency.id,
                agency_public_id=replacement,
                since_seq=entry.seq,
            )
        )  # type: ignore[arg-type]
        await _message(
            session,
            user_id=agency.owner_id,
            notice=notice,
            kind="won_as_replacement",
            replaced=award.agency_public_id,
        )
        # The new holder's name is published afresh, so the public gets its own objection window.
        selection.publicity_ends = utcnow() + timedelta(days=settings.publicity_days)
        notice.status = NoticeStatus.selected.value
    await session.flush()
    if not await holders(session, notice):
        notice.status = NoticeStatus.failed.value
        selection.failed_reason = rules.NO_ALTERNATES
    notice.updated_at = utcnow()
    await session.flush()
    await _tell_owner(
        session, notice, status.value, agency_id=award.agency_public_id, replacement=replacement
    )
    await _notify(session, notice)
    return replacement


async def decline(
    session: AsyncSession, *, user: AppUser, notice_id: str, reason: str, settings: Settings
) -> Notice:
    """A winner declines before signing; the first remaining alternate takes its place."""
    notice = await notices.get_notice(session, notice_id, lock="update")
    agency = await agencies.agency_of(session, user) if user.role == Role.agency else None
    held = [a for a in await holders(session, notice) if agency is not None and a.agency_id == agency.id]
    if not held:
        raise Forbidden(N_("Only a winning agency can decline this award."))
    if notice.status not in (NoticeStatus.selected, NoticeStatus.awarded):
        raise Conflict(N_("This award can no longer be declined."))
    await pass_on_decline(
        session, notice=notice, award=held[0], agency=agency, reason=reason, settings=settings
    )  # type: ignore[arg-type]
    return notice


# Contracts on an award that go with it when it is declined: those not yet signed and not
# already over (declined, or set aside by a supervisor because their terms did not follow
# the award). A disputed one goes too: the agency gave up waiting for the decision.
UNSIGNED_CONTRACTS = (ContractStatus.proposed.value, ContractStatus.disputed.value)


async def pass_on_decline(
    session: AsyncSession, *, notice: Notice, award: Award, agency: Agency, reason: str, settings: Settings
) -> None:
    """The holder of a locked notice's ``award`` gives it up (``award.declined``); the first
    remaining alternate takes its place, and the decline counts toward the automatic
    suspension. Called for the agency's own decline, and for a disputed contract once a
    supervisor found its terms followed the award (docs/contracts.md)."""
    # MSP/1 step 7: a winner may decline before signing, not after; a contract still waiting
    # for its confirmation goes with the award.
    stmt = sa.select(Contract).where(
        col(Contract.award_id) == award.id,
        col(Contract.status).not_in((ContractStatus.declined.value, ContractStatus.set_aside.value)),
    )
    contracts = (await session.execute(stmt)).scalars().all()
    if any(c.status not in UNSIGNED_CONTRACTS for c in contracts):
        raise Conflict(N_("The contract is signed: the award can no longer be declined."))
    reason = agencies.check_publishable(reason.strip(), "reason")
    if not reason:
        raise InvalidInput(
            N_("Give a reason; it is published."),
            [FieldError("reason", N_("Give a reason; it is published."))],
        )
    for contract in contracts:
        contract.status, contract.declined_at = ContractStatus.declined.value, utcnow()
    await _replace(
        session,
        notice,
        award,
        status=AwardStatus.declined,
        reason=reason,
        settings=settings,
        log_type="award.declined",
        extra={"reason": reason},
    )
    await ratings.apply_automatic_rules(session, agency, settings, today_in_china())


async def finalize(session: AsyncSession, notice: Notice) -> None:
    """Publicity over with no objection pending: the award is final (``award.final``)."""
    selection = await _selection_of(session, notice)
    holding = [a.agency_public_id for a in await holders(session, notice)]
    entry = await log.append(
        session,
        version=notice.protocol,
        type="award.final",
        fields={"notice_id": notice.public_id, "winners": holding},
    )
    selection.final_seq = entry.seq
    notice.status = NoticeStatus.awarded.value
    notice.updated_at = utcnow()
    await session.flush()
    for award in await holders(session, notice):
        agency = await session.get(Agency, award.agency_id)
        if agency is not None:
            await _message(session, user_id=agency.owner_id, notice=notice, kind="final")
    await _tell_owner(session, notice, "final")
    await _notify(session, notice)


# -- objections (异议) ------------------------------------------------------------------------------


def _digest(text: str) -> str:
    return protocol.sha256_hex(text.encode("utf-8"))


async def objections(session: AsyncSession, notice: Notice) -> list[Objection]:
    return list(
        (
            await session.execute(
                sa.select(Objection).where(col(Objection.notice_id) == notice.id).order_by(col(Objection.id))
            )
        )
        .scalars()
        .all()
    )


async def get_objection(session: AsyncSession, notice: Notice, objection_id: str) -> Objection:
    stmt = (
        sa.select(Objection)
        .where(col(Objection.notice_id) == notice.id, col(Objection.public_id) == objection_id)
        .with_for_update()
    )
    objection = (await session.execute(stmt)).scalar_one_or_none()
    if objection is None:
        raise NotFound(N_("No such objection."))
    return objection


def objector_commitment(*, notice_id: str, objection_id: str, party: str, salt: str) -> str:
    """``objector_sha256`` of ``objection.filed``: binds the objection to its party without
    publishing it. Whoever is given the party and the salt (a supervisor, the filer) can
    open it and check the party's standing from the log (docs/selection.md)."""
    opened = {"notice_id": notice_id, "objection_id": objection_id, "party": party, "salt": salt}
    return protocol.sha256_hex(protocol.canonical_json(opened))


NO_STANDING = N_("Only the agencies that bid on this notice and its owner may object to its result.")


async def objection_party(session: AsyncSession, *, notice: Notice, user: AppUser) -> str:
    """The party ``user`` objects as on a notice in publicity (issue 19): ``OWNER_PARTY`` for
    the notice's owner, the agency's id for an agency whose bid stood at the close (a
    candidate or one excluded there: the result is about it). A bid withdrawn before the
    deadline gives no standing: the agency chose to stay out, and a bid placed and withdrawn
    unseen would otherwise buy anyone a right to hold the award back. Raises Forbidden for
    everyone else, and Conflict while the party already has an objection pending here."""
    selection = await _selection_of(session, notice)
    party: str | None = None
    if user.id == notice.owner_id:
        party = OWNER_PARTY
    elif user.role == Role.agency:
        agency = await agencies.agency_of(session, user)
        # ``bids`` are the bids standing at the close, as logged (MSP/1 and MSP/2 alike).
        if agency is not None and agency.public_id in {b["agency_id"] for b in selection.bids}:
            party = agency.public_id
    if party is None:
        raise Forbidden(NO_STANDING)
    pending = (
        await session.execute(
            sa.select(col(Objection.public_id)).where(
                col(Objection.notice_id) == notice.id,
                col(Objection.party) == party,
                col(Objection.status).in_(PENDING_OBJECTIONS),
            )
        )
    ).scalar_one_or_none()
    if pending is not None:
        refusal = Conflict(
            N_(
                "You already have an objection pending on this notice ({objection}); you may file another once it is decided."
            )
        )
        refusal.params = {"objection": pending}
        raise refusal
    return party


def _in_publicity(notice: Notice, selection: Selection | None, now: Any) -> bool:
    return (
        notice.status == NoticeStatus.selected
        and selection is not None
        and selection.publicity_ends is not None
        and now < selection.publicity_ends
    )


async def objection_refusal(session: AsyncSession, *, notice: Notice, user: AppUser) -> DomainError | None:
    """Why ``user`` may not object to this notice now (for the draw page, which offers the
    form only when this is None): the same checks ``file_objection`` makes before reading
    what was typed."""
    try:
        selection = await session.get(Selection, notice.id)
        if not _in_publicity(notice, selection, await notices.db_now(session)):
            raise Conflict(N_("Objections can be filed only while the result is in publicity."))
        await objection_party(session, notice=notice, user=user)
    except DomainError as exc:
        return exc
    return None


async def file_objection(
    session: AsyncSession, *, user: AppUser, notice_id: str, reasons: str, agency_id: str | None
) -> Objection:
    notice = await notices.get_notice(session, notice_id, lock="update")
    if notice.status == NoticeStatus.draft:
        raise NotFound(N_("No such notice."))
    selection = await session.get(Selection, notice.id)
    if not _in_publicity(notice, selection, await notices.db_now(session)):
        raise Conflict(N_("Objections can be filed only while the result is in publicity."))
    # The notice is locked: two requests of one party are taken one after the other, and
    # the second finds the first pending (the unique index is the backstop).
    party = await objection_party(session, notice=notice, user=user)
    reasons = agencies.check_publishable(reasons.strip(), "reasons")
    if len(reasons) < 10:
        raise InvalidInput(
            N_("Explain the objection in at least 10 characters."),
            [FieldError("reasons", N_("Explain the objection in at least 10 characters."))],
        )
    holding = [a.agency_public_id for a in await holders(session, notice)]
    if agency_id is not None and agency_id not in holding:
        raise InvalidInput(
            N_("Name one of the current winners, or none to object to the whole result."),
            [
                FieldError(
                    "agency_id", N_("Name one of the current winners, or none to object to the whole result.")
                )
            ],
        )
    if party in holding and agency_id in (None, party):
        # Upheld, it would take the award from the filer without counting as a decline.
        message = N_(
            "Your agency holds this award: name another winner, or decline the award instead of objecting to it."
        )
        raise InvalidInput(message, [FieldError("agency_id", message)])
    public_id = await next_public_id(session, prefix="OB", sequence=OBJECTION_SEQUENCE)
    salt = secrets.token_hex(32)
    entry = await log.append(
        session,
        version=notice.protocol,
        type="objection.filed",
        fields={
            "notice_id": notice.public_id,
            "objection_id": public_id,
            "agency_id": agency_id,
            "reasons_sha256": _digest(reasons),
            "objector_sha256": objector_commitment(
                notice_id=notice.public_id, objection_id=public_id, party=party, salt=salt
            ),
        },
    )
    objection = Objection(
        public_id=public_id,
        notice_id=notice.id,
        filed_by=user.id,
        agency_public_id=agency_id,
        party=party,
        party_salt=salt,
        reasons=reasons,
        filed_seq=entry.seq,  # type: ignore[arg-type]
    )
    session.add(objection)
    try:
        await session.flush()
    except sa.exc.IntegrityError as exc:
        if "uq_objection_pending_party" not in str(exc):
            raise
        raise Conflict(
            N_(
                "You already have an objection pending on this notice; you may file another once it is decided."
            )
        ) from None
    await _tell_owner(session, notice, "objection_filed", objection_id=public_id)
    await _notify(session, notice)
    return objection


async def answer_objection(
    session: AsyncSession, *, user: AppUser, notice_id: str, objection_id: str, answer: str
) -> Objection:
    notice = await notices.get_notice(session, notice_id, lock="update")
    if notice.owner_id != user.id:
        raise Forbidden(N_("Only the notice's owner answers objections."))
    objection = await get_objection(session, notice, objection_id)
    if objection.status != ObjectionStatus.filed:
        raise Conflict(N_("This objection has already been answered or decided."))
    answer = agencies.check_publishable(answer.strip(), "answer")
    if not answer:
        raise InvalidInput(N_("Write an answer."), [FieldError("answer", N_("Write an answer."))])
    entry = await log.append(
        session,
        version=notice.protocol,
        type="objection.answered",
        fields={
            "notice_id": notice.public_id,
            "objection_id": objection.public_id,
            "answer_sha256": _digest(answer),
        },
    )
    objection.status = ObjectionStatus.answered.value
    objection.answer, objection.answered_seq, objection.answered_at = answer, entry.seq, utcnow()
    await session.flush()
    await _message(
        session,
        user_id=objection.filed_by,
        notice=notice,
        kind="objection_answered",
        objection_id=objection.public_id,
    )
    await _notify(session, notice)
    return objection


async def decide_objection(
    session: AsyncSession,
    *,
    user: AppUser,
    notice_id: str,
    objection_id: str,
    decision: str,
    reason: str,
    settings: Settings,
) -> Objection:
    """A supervisor's decision. Upheld takes the award from the winner objected to (from
    every current winner when the objection was against the whole result)."""
    if user.role != Role.supervisor:
        raise Forbidden(N_("Only a supervisor decides objections."))
    notice = await notices.get_notice(session, notice_id, lock="update")
    objection = await get_objection(session, notice, objection_id)
    if objection.status not in PENDING_OBJECTIONS:
        raise Conflict(N_("This objection has already been decided."))
    if decision not in (ObjectionStatus.upheld, ObjectionStatus.rejected):
        raise InvalidInput(
            N_("Decide upheld or rejected."), [FieldError("decision", N_("Decide upheld or rejected."))]
        )
    reason = agencies.check_publishable(reason.strip(), "reason")
    if not reason:
        raise InvalidInput(
            N_("Give a reason; it is published."),
            [FieldError("reason", N_("Give a reason; it is published."))],
        )
    entry = await log.append(
        session,
        version=notice.protocol,
        type="objection.decided",
        fields={
            "notice_id": notice.public_id,
            "objection_id": objection.public_id,
            "decision": decision,
            "reason_sha256": _digest(reason),
        },
    )
    objection.status = decision
    objection.decision_reason, objection.decided_by, objection.decided_seq, objection.decided_at = (
        reason,
        user.id,
        entry.seq,
        utcnow(),
    )
    await session.flush()
    if decision == ObjectionStatus.upheld:
        targets = [
            a
            for a in await holders(session, notice)
            if objection.agency_public_id in (None, a.agency_public_id)
        ]
        for award in targets:
            await _replace(
                session,
                notice,
                award,
                status=AwardStatus.disqualified,
                reason=reason,
                settings=settings,
                log_type="award.disqualified",
                extra={"objection_id": objection.public_id},
            )
    await _message(
        session,
        user_id=objection.filed_by,
        notice=notice,
        kind="objection_decided",
        objection_id=objection.public_id,
        decision=decision,
    )
    await _tell_owner(
        session, notice, "objection_decided", objection_id=objection.public_id, decision=decision
    )
    await _notify(session, notice)
    return objection


# -- messages ------------------------------------------------------------------------------------------


async def messages_for(
    session: AsyncSession, user: AppUser, *, limit: int = 50
) -> list[tuple[Message, Notice | None]]:
    stmt = (
        sa.select(Message, Notice)
        .outerjoin(Notice, col(Notice.id) == Message.notice_id)
        .where(col(Message.user_id) == user.id)
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    return [(m, n) for m, n in (await session.execute(stmt)).all()]


async def unread_count(session: AsyncSession, user: AppUser) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(Message)
        .where(col(Message.user_id) == user.id, col(Message.read_at).is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(session: AsyncSession, user: AppUser, message_ids: Sequence[int]) -> None:
    """Mark the messages the user has been shown as read (not those beyond the page)."""
    if not message_ids:
        return
    stmt = (
        sa.update(Message)
        .where(
            col(Message.user_id) == user.id,
            col(Message.id).in_(list(message_ids)),
            col(Message.read_at).is_(None),
        )
        .values(read_at=utcnow())
    )
    await session.execute(stmt)


async def pending_objections(session: AsyncSession, *, limit: int = 100) -> list[tuple[Objection, Notice]]:
    """For supervisors: objections waiting for a decision, oldest first."""
    stmt = (
        sa.select(Objection, Notice)
        .join(Notice, col(Notice.id) == Objection.notice_id)
        .where(col(Objection.status).in_(PENDING_OBJECTIONS))
        .order_by(col(Objection.id))
        .limit(limit)
    )
    return [(o, n) for o, n in (await session.execute(stmt)).all()]


async def awards_of(session: AsyncSession, agency: Agency) -> list[tuple[Award, Notice]]:
    """An agency's awards, held or ended, newest first (its dashboard)."""
    stmt = (
        sa.select(Award, Notice)
        .join(Notice, col(Notice.id) == Award.notice_id)
        .where(col(Award.agency_id) == agency.id)
        .order_by(col(Award.id).desc())
    )
    return [(a, n) for a, n in (await session.execute(stmt)).all()]


# -- the selection record ------------------------------------------------------------------------------


async def entry_seqs(session: AsyncSession, notice: Notice) -> dict[str, list[int]]:
    rows = await session.execute(
        sa.text("SELECT type, seq FROM log_entry WHERE notice_id = :n ORDER BY seq"), {"n": notice.public_id}
    )
    seqs: dict[str, list[int]] = {}
    for type_, seq in rows.all():
        seqs.setdefault(type_, []).append(int(seq))
    return seqs


async def record(session: AsyncSession, notice: Notice, *, base_url: str = "") -> dict[str, Any]:
    """The selection record (docs/selection.md): every seq the verifier's checks use and
    the values they produce. Before closing, only what publication made public."""
    selection = await session.get(Selection, notice.id)
    seqs = await entry_seqs(session, notice)
    holding = [a.agency_public_id for a in await holders(session, notice)] if selection else []
    return rules.selection_record(
        notice=notice,
        selection=selection,
        seqs=seqs,
        holders=holding,
        base_url=base_url,
    )
