"""Objections (异议) to a draw's result while it is in publicity (docs/selection.md): who may
object, filing, the owner's answer and a supervisor's decision. An upheld objection takes
the award from the winner objected to through selection's own replacement (MSP/1 step 7).

Every step writes its log entry in the same transaction as the row that mirrors it; the
free texts are on the pages and bound to the log by SHA-256. The ``Objection`` table stays
with the selection's models (one aggregate with the award it holds back).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import service as agencies
from market.core.clock import utcnow
from market.core.config import Settings
from market.core.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.halls import queries as halls_queries
from market.halls import rules
from market.halls import service as halls
from market.inbox import service as inbox
from market.log import store as log
from market.log.models import LogEntry
from market.notices import service as notices
from market.notices.models import Notice, NoticeStatus
from market.protocol import entry_types
from market.selection import queries as selection_queries
from market.selection import rules as selection_rules
from market.selection import service as selection_service
from market.selection.models import (
    OWNER_PARTY,
    PENDING_OBJECTIONS,
    AwardStatus,
    Objection,
    ObjectionStatus,
    Selection,
)
from market.supervision import alerts

OBJECTION_SEQUENCE = "objection_public_seq"


def may_answer_objections(notice: Notice, user: AppUser | None) -> bool:
    """The notice's owner answers the objections to it."""
    return user is not None and notice.owner_id == user.id


def may_decide_objections(user: AppUser | None, objection: Objection | None = None) -> bool:
    """A supervisor whose jurisdiction reaches the objection's current hall decides it
    (without an objection: whether the user decides objections at all). The hall is the
    notice's at filing and one level up at each escalation, so a county's supervisors lose
    an objection once it has gone to the prefecture (docs/selection.md)."""
    return (
        user is not None
        and user.role == Role.supervisor
        and (objection is None or rules.reaches(user.jurisdiction, objection.hall))
    )


def may_see_objector(user: AppUser | None) -> bool:
    """Supervisors and admins see who filed an objection (and the salt opening the log's
    commitment); the public sees the objection without its party."""
    return user is not None and user.role in (Role.supervisor, Role.admin)


def _digest(text: str) -> str:
    return protocol.sha256_hex(text.encode("utf-8"))


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
    selection = await selection_queries.selection_of(session, notice)
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
        party = await objection_party(session, notice=notice, user=user)
        holding = [a.agency_public_id for a in await selection_queries.holders(session, notice)]
        if not selection_rules.may_object_at_all(holding, party):
            raise Conflict(selection_rules.SOLE_HOLDER_MAY_NOT_OBJECT)
    except DomainError as exc:
        return exc
    return None


async def objection_choices(
    session: AsyncSession, *, notice: Notice, user: AppUser
) -> tuple[list[str], bool]:
    """What the draw page's objection form offers ``user`` (who has standing): the winners
    it may name, and whether it may object to the whole result (a holder may do neither
    about itself)."""
    party = await objection_party(session, notice=notice, user=user)
    holding = [a.agency_public_id for a in await selection_queries.holders(session, notice)]
    return selection_rules.objection_targets(holding, party), selection_rules.may_object_to_whole_result(
        holding, party
    )


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
    holding = [a.agency_public_id for a in await selection_queries.holders(session, notice)]
    if agency_id is not None and agency_id not in holding:
        raise InvalidInput(
            N_("Name one of the current winners, or none to object to the whole result."),
            [
                FieldError(
                    "agency_id", N_("Name one of the current winners, or none to object to the whole result.")
                )
            ],
        )
    if selection_rules.objects_to_itself(holding, party, agency_id):
        # Upheld, it would take the award from the filer without counting as a decline.
        message = selection_rules.HOLDER_OBJECTS_TO_ITSELF
        raise InvalidInput(message, [FieldError("agency_id", message)])
    public_id = await next_public_id(session, prefix="OB", sequence=OBJECTION_SEQUENCE)
    salt = secrets.token_hex(32)
    entry = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.OBJECTION_FILED,
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
    assert notice.id is not None and user.id is not None
    objection = Objection(
        public_id=public_id,
        notice_id=notice.id,
        filed_by=user.id,
        agency_public_id=agency_id,
        party=party,
        party_salt=salt,
        reasons=reasons,
        filed_seq=entry.seq,
        hall=notice.hall,
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
    await selection_service.tell_owner(session, notice, "objection_filed", objection_id=public_id)
    # The supervisors of the hall that decides it (or of the nearest hall above with any).
    await alerts.alert(
        session,
        hall=objection.hall or rules.PROVINCE,
        kind=alerts.OBJECTION_FILED,
        notice=notice,
        objection_id=public_id,
    )
    await selection_service.notify(session, notice)
    return objection


async def answer_objection(
    session: AsyncSession, *, user: AppUser, notice_id: str, objection_id: str, answer: str
) -> Objection:
    notice = await notices.get_notice(session, notice_id, lock="update")
    if not may_answer_objections(notice, user):
        raise Forbidden(N_("Only the notice's owner answers objections."))
    objection = await get_objection(session, notice, objection_id)
    if objection.status != ObjectionStatus.filed:
        raise Conflict(N_("This objection has already been answered or decided."))
    if objection.party == OWNER_PARTY:
        # An answer is the owner's side against an objector; to its own objection the
        # owner would only be agreeing with itself, and a supervisor decides it directly.
        raise Conflict(N_("You filed this objection yourself: it takes no answer, a supervisor decides it."))
    answer = agencies.check_publishable(answer.strip(), "answer")
    if not answer:
        raise InvalidInput(N_("Write an answer."), [FieldError("answer", N_("Write an answer."))])
    entry = await log.append(
        session,
        version=notice.protocol,
        type=entry_types.OBJECTION_ANSWERED,
        fields={
            "notice_id": notice.public_id,
            "objection_id": objection.public_id,
            "answer_sha256": _digest(answer),
        },
    )
    objection.status = ObjectionStatus.answered.value
    objection.answer, objection.answered_seq, objection.answered_at = answer, entry.seq, utcnow()
    await session.flush()
    await inbox.leave(
        session,
        user_id=objection.filed_by,
        notice=notice,
        kind="objection_answered",
        objection_id=objection.public_id,
    )
    await selection_service.notify(session, notice)
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
    if not may_decide_objections(user):
        raise Forbidden(N_("Only a supervisor decides objections."))
    notice = await notices.get_notice(session, notice_id, lock="update")
    objection = await get_objection(session, notice, objection_id)
    # The hall as it is now (the row is locked: an escalation cannot slip in between).
    halls.require_reach(user, objection.hall)
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
        type=entry_types.OBJECTION_DECIDED,
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
            for a in await selection_queries.holders(session, notice)
            if objection.agency_public_id in (None, a.agency_public_id)
        ]
        for award in targets:
            await selection_service.replace_holder(
                session,
                notice,
                award,
                status=AwardStatus.disqualified,
                reason=reason,
                settings=settings,
                log_type=entry_types.AWARD_DISQUALIFIED,
                extra={"objection_id": objection.public_id},
            )
    await inbox.leave(
        session,
        user_id=objection.filed_by,
        notice=notice,
        kind="objection_decided",
        objection_id=objection.public_id,
        decision=decision,
    )
    await selection_service.tell_owner(
        session, notice, "objection_decided", objection_id=objection.public_id, decision=decision
    )
    await selection_service.notify(session, notice)
    return objection


# -- escalation --------------------------------------------------------------------------------------


def _escalation_due(days: int, at: datetime) -> sa.ColumnElement[bool]:
    """Pending, below the province, and undecided ``days`` days after filing or after its
    last escalation."""
    return sa.and_(
        col(Objection.status).in_(PENDING_OBJECTIONS),
        col(Objection.hall).is_not(None),
        col(Objection.hall) != rules.PROVINCE,
        sa.func.coalesce(col(Objection.escalated_at), col(Objection.filed_at)) <= at - timedelta(days=days),
    )


async def claim_due_escalation(session: AsyncSession, *, days: int, at: datetime) -> Objection | None:
    """One objection due to go one hall up at ``at``, locked (``SKIP LOCKED``: several
    server processes may look at once, and a row being decided is left to its decision)."""
    stmt = (
        sa.select(Objection)
        .where(_escalation_due(days, at))
        .order_by(col(Objection.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def escalate(session: AsyncSession, objection: Objection, *, at: datetime) -> str:
    """Move a pending objection to the hall above its current one (``objection.escalated``),
    and tell the notice's owner, the objector and the new hall's supervisors. Returns the
    new hall."""
    assert objection.hall is not None
    up = rules.parent_of(objection.hall)
    if up is None:
        raise Conflict(N_("An objection at the province goes no further."))
    notice = await session.get(Notice, objection.notice_id)
    assert notice is not None
    from_hall = objection.hall
    await log.append(
        session,
        version=notice.protocol,
        type=entry_types.OBJECTION_ESCALATED,
        fields={
            "notice_id": notice.public_id,
            "objection_id": objection.public_id,
            "from": from_hall,
            "to": up,
        },
    )
    objection.hall, objection.escalated_at = up, at
    await session.flush()
    names = await halls_queries.hall_names(session)
    params = {
        "objection_id": objection.public_id,
        "from_hall": names.get(from_hall, from_hall),
        "to_hall": names.get(up, up),
    }
    for user_id in dict.fromkeys((notice.owner_id, objection.filed_by)):
        await inbox.leave(session, user_id=user_id, notice=notice, kind="objection_escalated", **params)
    await alerts.alert(session, hall=up, kind=alerts.OBJECTION_ESCALATED, notice=notice, **params)
    await selection_service.notify(session, notice)
    return up


async def escalate_one(session: AsyncSession, *, days: int, at: datetime | None = None) -> str | None:
    """Escalate the next objection due (by the database's clock unless ``at`` is given);
    its public id, or None when none is due. One per transaction: the caller commits."""
    when = at if at is not None else await notices.db_now(session)
    objection = await claim_due_escalation(session, days=days, at=when)
    if objection is None:
        return None
    await escalate(session, objection, at=when)
    return objection.public_id


async def escalation_history(session: AsyncSession, notice: Notice) -> dict[str, list[dict[str, Any]]]:
    """Objection id -> its ``objection.escalated`` entries (seq, at, from, to), oldest first,
    as supervisors see them beside the objection."""
    stmt = (
        sa.select(col(LogEntry.seq), col(LogEntry.entry))
        .where(
            col(LogEntry.notice_id) == notice.public_id, col(LogEntry.type) == entry_types.OBJECTION_ESCALATED
        )
        .order_by(col(LogEntry.seq))
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for seq, raw in (await session.execute(stmt)).all():
        e = json.loads(raw)
        out.setdefault(str(e.get("objection_id")), []).append(
            {"seq": seq, "at": protocol.parse_ts(str(e.get("ts"))), "from": e.get("from"), "to": e.get("to")}
        )
    return out
