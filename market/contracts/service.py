"""Contracts after an award (docs/contracts.md): the owner records, the agency confirms or
declines, milestones are handed in and accepted or returned, the contract completes or is
stopped; and the daily look for milestones past their due date.

Each step writes its log entry in the same transaction as the rows that mirror it, after
taking its row locks (the notice before the contract, whenever both are locked). Free texts
written by people are bound to the log by SHA-256, except a stop's reason, which the log
carries in clear (docs/contracts.md), and so must be publishable.

When the signing window starts: the China date of the notice's latest ``award.final``
entry (``Selection.final_seq``). A replacement's own final award restarts it, and the
award rows' ``created_at`` (the draw) would start it before the publicity even ended.
"""

from __future__ import annotations

import asyncio
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.contracts import queries, rules
from market.contracts.models import (
    LIVE_CONTRACTS,
    Contract,
    ContractCreate,
    ContractStatus,
    Deliverable,
    DisputeDecision,
    Milestone,
    MilestoneStatus,
)
from market.core import text
from market.core.clock import today_in_china, utcnow
from market.core.config import Settings
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.files import store as files
from market.files.models import StoredFile
from market.halls import rules as halls_rules
from market.halls import service as halls
from market.inbox import service as inbox
from market.log import store as log
from market.notices import service as notices
from market.notices.models import Method, Notice, NoticeStatus
from market.protocol import entry_types
from market.selection import queries as selection_queries
from market.selection import service as selection
from market.selection.models import Award, AwardStatus, Selection
from market.supervision import alerts

CONTRACT_SEQUENCE = "contract_public_seq"
MAX_NOTE = 2000


def _digest(text: str) -> str:
    return protocol.sha256_hex(text.encode("utf-8"))


def _invalid(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(message, [FieldError(field_name, message)])


# -- reading ----------------------------------------------------------------------------------------


def may_record(notice: Notice, user: AppUser) -> bool:
    """Only the notice's owner records its contracts."""
    return notice.owner_id == user.id


def may_decide_dispute(user: AppUser, notice: Notice | None = None) -> bool:
    """Only a supervisor decides a contract declined because its terms do not follow the
    award, and only one whose jurisdiction reaches the contract's notice's hall (without a
    notice: whether the user decides disputes at all)."""
    return user.role == Role.supervisor and (
        notice is None or halls_rules.reaches(user.jurisdiction, notice.hall)
    )


def require_may_decide_dispute(user: AppUser, notice: Notice) -> None:
    if user.role != Role.supervisor:
        raise Forbidden(N_("Only a supervisor decides a disputed contract."))
    halls.require_reach(user, notice.hall)


# -- recording, confirming, declining -------------------------------------------------------------------


async def _holding_award(session: AsyncSession, notice: Notice, agency_id: str) -> Award:
    agency = (
        await session.execute(sa.select(Agency).where(col(Agency.public_id) == agency_id))
    ).scalar_one_or_none()
    if agency is None:
        raise NotFound(N_("No such agency."))
    held = [a for a in await selection_queries.holders(session, notice) if a.agency_id == agency.id]
    if not held:
        raise _invalid("agency_id", N_("This agency does not hold the award of this notice."))
    return held[0]


async def _live_contract(session: AsyncSession, award: Award) -> Contract | None:
    stmt = sa.select(Contract).where(
        col(Contract.award_id) == award.id, col(Contract.status).in_(LIVE_CONTRACTS)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def award_terms(session: AsyncSession, notice: Notice, award: Award) -> rules.AwardTerms:
    """What a contract on ``award`` must follow (docs/contracts.md, "Contracts follow the
    award"): the notice's budget and service period, the day the award became final, and
    the awarded bid's price on a lowest-price notice, read from the bids the close opened
    (``Selection.bids``, the standing bid documents ``bidding.closed`` published)."""
    selection_row = await session.get(Selection, notice.id)
    price: int | None = None
    if notice.method == Method.lowest_price and selection_row is not None:
        for document in selection_row.bids:
            if document.get("agency_id") == award.agency_public_id and isinstance(
                document.get("price_fen"), int
            ):
                price = int(document["price_fen"])
        if price is None:  # the draw ranked by these prices: a holder without one is a broken record
            raise RuntimeError(f"notice {notice.public_id}: no opened price for {award.agency_public_id}")
    assert notice.id is not None
    final_on = (await queries.final_dates(session, [notice.id])).get(notice.id)
    if final_on is None:
        raise Conflict(N_("Contracts are recorded only for a notice whose award is final."))
    return rules.AwardTerms(
        budget_fen=notice.budget_fen, price_fen=price, service_days=notice.service_days, final_on=final_on
    )


def check_contract(
    data: ContractCreate, terms: rules.AwardTerms | None = None, today: date | None = None
) -> None:
    """The contract's own consistency and, given ``terms``, that it follows the award; every
    error at once, each beside its field."""
    errors = rules.contract_errors(
        amount_fen=data.amount_fen,
        signed_on=data.signed_on,
        start_on=data.start_on,
        due_on=data.due_on,
        milestones=[rules.MilestoneDates(title=m.title, due_on=m.due_on) for m in data.milestones],
    )
    if terms is not None:
        taken = {e.field for e in errors}
        follows = rules.award_errors(
            terms,
            amount_fen=data.amount_fen,
            signed_on=data.signed_on,
            start_on=data.start_on,
            due_on=data.due_on,
            today=today or today_in_china(),
        )
        errors += [e for e in follows if e.field not in taken]
    if errors:
        raise InvalidInput(errors[0].message, errors)
    for i, m in enumerate(data.milestones):
        agencies.check_publishable(m.title.strip(), f"milestones[{i}].title")


async def record_contract(
    session: AsyncSession,
    *,
    owner: AppUser,
    notice_id: str,
    agency_id: str,
    data: ContractCreate,
    settings: Settings,
) -> Contract:
    """The owner records the contract with one agency holding the award (``proposed``), on
    terms that follow the award (``award_terms``; refused with the fields named otherwise)."""
    notice = await notices.get_notice(session, notice_id, lock="update")
    if notice.status == NoticeStatus.draft:
        raise NotFound(N_("No such notice."))
    if not may_record(notice, owner):
        raise Forbidden(N_("Only the notice's owner records its contracts."))
    if notice.status == NoticeStatus.selected:
        raise Conflict(
            N_("The publicity period has not ended: a contract is recorded once the award is final.")
        )
    if notice.status != NoticeStatus.awarded:
        raise Conflict(N_("Contracts are recorded only for a notice whose award is final."))
    award = await _holding_award(session, notice, agency_id)
    live = await _live_contract(session, award)
    if live is not None and live.status == ContractStatus.disputed:
        raise Conflict(
            N_(
                "The agency disputes the contract recorded for this award: a supervisor decides before another is recorded."
            )
        )
    if live is not None:
        raise Conflict(N_("A contract with this agency is already recorded for this award."))
    check_contract(data, await award_terms(session, notice, award))
    agency = await session.get(Agency, award.agency_id)
    assert agency is not None
    public_id = await next_public_id(session, prefix="C", sequence=CONTRACT_SEQUENCE)
    milestones = [(i + 1, m.title.strip(), m.due_on) for i, m in enumerate(data.milestones)]
    entry = await log.append(
        session,
        type=entry_types.CONTRACT_RECORDED,
        fields={
            "notice_id": notice.public_id,
            "contract_id": public_id,
            "agency_id": agency.public_id,
            "amount_fen": data.amount_fen,
            "signed_on": data.signed_on.isoformat(),
            "start_on": data.start_on.isoformat(),
            "due_on": data.due_on.isoformat(),
            "milestones": [{"position": p, "title": t, "due_on": d.isoformat()} for p, t, d in milestones],
        },
    )
    assert notice.id is not None and award.id is not None and agency.id is not None and owner.id is not None
    contract = Contract(
        public_id=public_id,
        notice_id=notice.id,
        award_id=award.id,
        agency_id=agency.id,
        owner_id=owner.id,
        amount_fen=data.amount_fen,
        signed_on=data.signed_on,
        start_on=data.start_on,
        due_on=data.due_on,
        recorded_seq=entry.seq,
    )
    session.add(contract)
    await session.flush()
    assert notice.hall is not None  # a published notice has its hall
    for position, title, due in milestones:
        session.add(
            Milestone(contract_id=contract.id, hall=notice.hall, position=position, title=title, due_on=due)  # type: ignore[arg-type]
        )
    await session.flush()
    await inbox.leave(
        session,
        user_id=agency.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="contract_recorded",
    )
    return contract


async def _contract_for_agency(
    session: AsyncSession, user: AppUser, contract_id: str
) -> tuple[Contract, Agency]:
    contract = await queries.get_contract(session, contract_id, lock=True)
    agency = await session.get(Agency, contract.agency_id)
    if agency is None or agency.owner_id != user.id:
        raise Forbidden(N_("Only the contract's agency can do this."))
    return contract, agency


async def _contract_for_owner(
    session: AsyncSession, user: AppUser, contract_id: str
) -> tuple[Contract, Notice]:
    contract = await queries.get_contract(session, contract_id, lock=True)
    if contract.owner_id != user.id:
        raise Forbidden(N_("Only the owner who recorded the contract can do this."))
    notice = await session.get(Notice, contract.notice_id)
    assert notice is not None
    return contract, notice


async def confirm(session: AsyncSession, *, user: AppUser, contract_id: str) -> Contract:
    """The agency confirms: the contract is signed and in service (服务中)."""
    contract, agency = await _contract_for_agency(session, user, contract_id)
    if contract.status != ContractStatus.proposed:
        raise Conflict(N_("Only a contract waiting for the agency's confirmation can be confirmed."))
    award = await session.get(Award, contract.award_id)
    if award is None or award.status != AwardStatus.holding:
        raise Conflict(N_("Your agency no longer holds this award."))
    notice = await session.get(Notice, contract.notice_id)
    assert notice is not None
    entry = await log.append(
        session,
        type=entry_types.CONTRACT_SIGNED,
        fields={
            "notice_id": notice.public_id,
            "contract_id": contract.public_id,
            "agency_id": agency.public_id,
            "amount_fen": contract.amount_fen,
            "signed_on": contract.signed_on.isoformat(),
            "start_on": contract.start_on.isoformat(),
            "due_on": contract.due_on.isoformat(),
        },
    )
    contract.status = ContractStatus.in_service.value
    contract.signed_seq, contract.confirmed_at = entry.seq, utcnow()
    await session.flush()
    await inbox.leave(
        session,
        user_id=contract.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="contract_signed",
        agency_id=agency.public_id,
    )
    return contract


async def _notice_locked_first(session: AsyncSession, contract_id: str) -> Notice:
    found = await queries.get_contract(session, contract_id)
    base = await session.get(Notice, found.notice_id)
    assert base is not None
    return await notices.get_notice(
        session, base.public_id, lock="update"
    )  # the notice first, as selection locks it


async def decline_contract(
    session: AsyncSession,
    *,
    user: AppUser,
    contract_id: str,
    reason: str,
    settings: Settings,
    terms_mismatch: bool = False,
) -> Contract:
    """The agency declines to sign: the award passes to the next alternate exactly as a
    decline after the draw (``award.declined``), and the contract stays as ``declined``.

    With ``terms_mismatch`` the agency declines *because the terms do not follow the award*:
    no ``award.declined`` (so nothing counts toward the automatic suspension), the award is
    kept, the contract waits as ``disputed`` for a supervisor (``contract.disputed``), and
    supervisors and the owner are told."""
    notice = await _notice_locked_first(session, contract_id)
    contract, agency = await _contract_for_agency(session, user, contract_id)
    if contract.status != ContractStatus.proposed:
        raise Conflict(N_("Only a contract waiting for the agency's confirmation can be declined."))
    award = await session.get(Award, contract.award_id)
    if award is None or award.status != AwardStatus.holding:
        raise Conflict(N_("Your agency no longer holds this award."))
    if terms_mismatch:
        return await _dispute(session, notice=notice, contract=contract, agency=agency, reason=reason)
    await selection.decline(session, user=user, notice_id=notice.public_id, reason=reason, settings=settings)
    contract.status = ContractStatus.declined.value
    contract.declined_at = utcnow()
    await session.flush()  # selection's decline has told the owner (message "declined")
    return contract


# -- an award declined ------------------------------------------------------------------------------

# Contracts on an award that go with it when it is declined: those not yet signed and not
# already over (declined, or set aside by a supervisor because their terms did not follow
# the award). A disputed one goes too: the agency gave up waiting for the decision.
UNSIGNED_CONTRACTS = (ContractStatus.proposed.value, ContractStatus.disputed.value)


async def _contracts_on(session: AsyncSession, award: Award) -> list[Contract]:
    """The award's contracts not already over (declined or set aside)."""
    stmt = sa.select(Contract).where(
        col(Contract.award_id) == award.id,
        col(Contract.status).not_in((ContractStatus.declined.value, ContractStatus.set_aside.value)),
    )
    return list((await session.execute(stmt)).scalars().all())


async def check_award_declinable(session: AsyncSession, award: Award) -> None:
    """MSP/1 step 7: a winner may decline before signing, not after."""
    if any(c.status not in UNSIGNED_CONTRACTS for c in await _contracts_on(session, award)):
        raise Conflict(N_("The contract is signed: the award can no longer be declined."))


async def decline_with_award(session: AsyncSession, award: Award) -> None:
    """The award is declined: its contracts still waiting for a signature go with it."""
    for contract in await _contracts_on(session, award):
        contract.status, contract.declined_at = ContractStatus.declined.value, utcnow()


# Registered on selection's declines by the app factory (market.app.wire_services).
AWARD_DECLINED = selection.DeclineListener(check=check_award_declinable, declined=decline_with_award)


async def _dispute(
    session: AsyncSession, *, notice: Notice, contract: Contract, agency: Agency, reason: str
) -> Contract:
    reason = agencies.check_publishable(reason.strip(), "reason")
    if len(reason) < 5:
        raise _invalid(
            "reason",
            N_("Say in at least 5 characters which terms do not follow the award; a supervisor reads it."),
        )
    entry = await log.append(
        session,
        type=entry_types.CONTRACT_DISPUTED,
        fields={
            "notice_id": notice.public_id,
            "contract_id": contract.public_id,
            "agency_id": agency.public_id,
            "reason_sha256": _digest(reason),
        },
    )
    contract.status = ContractStatus.disputed.value
    contract.dispute_reason, contract.disputed_seq, contract.disputed_at = reason, entry.seq, utcnow()
    await session.flush()
    for supervisor in await halls.supervisors_for(session, notice.hall):
        assert supervisor.id is not None
        await inbox.leave(
            session,
            user_id=supervisor.id,
            notice=notice,
            contract_id=contract.public_id,
            kind="contract_disputed",
            agency_id=agency.public_id,
        )
    await inbox.leave(
        session,
        user_id=contract.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="contract_disputed",
        agency_id=agency.public_id,
    )
    return contract


async def decide_dispute(
    session: AsyncSession, *, user: AppUser, contract_id: str, decision: str, reason: str, settings: Settings
) -> Contract:
    """A supervisor decides a decline for terms that do not follow the award
    (``contract.dispute_decided``), as objections are decided: a decision and a published
    reason. ``terms_wrong``: the contract is set aside, the award stands and the owner
    records matching terms. ``terms_fine``: the decline counts as any other, with the
    agency's reason (``award.declined``, the next alternate, the automatic rule)."""
    notice = await _notice_locked_first(session, contract_id)
    require_may_decide_dispute(user, notice)
    contract = await queries.get_contract(session, contract_id, lock=True)
    if contract.status != ContractStatus.disputed:
        raise Conflict(N_("This contract is not waiting for a supervisor's decision."))
    if decision not in (DisputeDecision.terms_fine, DisputeDecision.terms_wrong):
        raise _invalid("decision", N_("Decide whether the terms follow the award or not."))
    reason = agencies.check_publishable(reason.strip(), "reason")
    if not reason:
        raise _invalid("reason", N_("Give a reason; it is published."))
    agency = await session.get(Agency, contract.agency_id)
    award = await session.get(Award, contract.award_id)
    assert agency is not None and award is not None
    if award.status != AwardStatus.holding:  # the agency gave the award up meanwhile
        raise Conflict(N_("This contract is not waiting for a supervisor's decision."))
    entry = await log.append(
        session,
        type=entry_types.CONTRACT_DISPUTE_DECIDED,
        fields={
            "notice_id": notice.public_id,
            "contract_id": contract.public_id,
            "agency_id": agency.public_id,
            "decision": decision,
            "reason_sha256": _digest(reason),
        },
    )
    contract.dispute_decision, contract.dispute_decision_reason = decision, reason
    contract.dispute_decided_by, contract.dispute_decided_seq, contract.dispute_decided_at = (
        user.id,
        entry.seq,
        utcnow(),
    )
    if decision == DisputeDecision.terms_wrong:
        contract.status = ContractStatus.set_aside.value
    await session.flush()
    if decision == DisputeDecision.terms_fine:
        # The decline the agency asked for, now counted: selection's own path declines the
        # disputed contract with the award and applies the automatic rule.
        await selection.pass_on_decline(
            session,
            notice=notice,
            award=award,
            agency=agency,
            reason=contract.dispute_reason or reason,
            settings=settings,
        )
        await session.refresh(contract)
    for user_id in (contract.owner_id, agency.owner_id):
        await inbox.leave(
            session,
            user_id=user_id,
            notice=notice,
            contract_id=contract.public_id,
            kind="contract_dispute_decided",
            decision=decision,
        )
    await session.flush()
    return contract


# -- milestones -----------------------------------------------------------------------------------------


def _milestone(milestones: list[Milestone], position: int) -> Milestone:
    for m in milestones:
        if m.position == position:
            return m
    raise NotFound(N_("No such milestone."))


async def submit_milestone(
    session: AsyncSession,
    *,
    user: AppUser,
    contract_id: str,
    position: int,
    filename: str,
    content: bytes,
    note: str,
) -> Milestone:
    """The agency hands in a deliverable (PDF, PNG or JPEG by content, 10 MB) with a note."""
    contract, agency = await _contract_for_agency(session, user, contract_id)
    milestone = _milestone(await queries.milestones_of(session, contract, lock=True), position)
    if contract.status != ContractStatus.in_service:
        raise Conflict(N_("Deliverables are handed in only while the contract is in service."))
    if milestone.status not in (MilestoneStatus.pending, MilestoneStatus.returned):
        raise Conflict(N_("This milestone is not waiting for a deliverable."))
    note = note.strip()
    if not note:
        raise _invalid("note", N_("Write a note for the owner about this deliverable."))
    if len(note) > MAX_NOTE:
        raise _invalid("note", N_("The note is longer than 2000 characters."))
    content_type = await asyncio.to_thread(
        agencies.sniff, filename, content
    )  # a PDF is parsed (seconds for a big one): off the event loop
    name = text.upload_name(filename, "deliverable")  # refused before anything is written
    # In the database, in this transaction: a rolled-back hand-in leaves nothing behind.
    digest = await files.store(session, content=content, content_type=content_type)
    notice = await session.get(Notice, contract.notice_id)
    assert notice is not None
    assert milestone.id is not None
    session.add(
        Deliverable(
            milestone_id=milestone.id,
            filename=name if name != "deliverable" else f"deliverable{agencies.SUFFIXES[content_type]}",
            content_type=content_type,
            size=len(content),
            sha256=digest,
        )
    )
    milestone.status = MilestoneStatus.submitted.value
    milestone.note, milestone.submitted_at = note, utcnow()
    await session.flush()
    await log.append(
        session,
        type=entry_types.MILESTONE_SUBMITTED,
        fields={
            "notice_id": notice.public_id,
            "contract_id": contract.public_id,
            "position": position,
            "sha256": digest,
            "note_sha256": _digest(note),
        },
    )
    await inbox.leave(
        session,
        user_id=contract.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="milestone_submitted",
        position=position,
    )
    return milestone


async def _submitted(session: AsyncSession, contract: Contract, position: int) -> Milestone:
    milestone = _milestone(await queries.milestones_of(session, contract, lock=True), position)
    if contract.status != ContractStatus.in_service:
        raise Conflict(N_("This contract is not in service."))
    if milestone.status != MilestoneStatus.submitted:
        raise Conflict(N_("This milestone has no deliverable waiting for your decision."))
    return milestone


async def accept_milestone(
    session: AsyncSession, *, user: AppUser, contract_id: str, position: int
) -> Milestone:
    """The owner accepts a deliverable; the last acceptance completes the contract (服务完成)."""
    contract, notice = await _contract_for_owner(session, user, contract_id)
    milestone = await _submitted(session, contract, position)
    agency = await session.get(Agency, contract.agency_id)
    assert agency is not None
    await log.append(
        session,
        type=entry_types.MILESTONE_ACCEPTED,
        fields={"notice_id": notice.public_id, "contract_id": contract.public_id, "position": position},
    )
    milestone.status = MilestoneStatus.accepted.value
    milestone.accepted_at = utcnow()
    await session.flush()
    await inbox.leave(
        session,
        user_id=agency.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="milestone_accepted",
        position=position,
    )
    if rules.all_accepted(m.status for m in await queries.milestones_of(session, contract)):
        await log.append(
            session,
            type=entry_types.CONTRACT_COMPLETED,
            fields={"notice_id": notice.public_id, "contract_id": contract.public_id},
        )
        contract.status = ContractStatus.completed.value
        contract.completed_at = utcnow()
        await session.flush()
        await inbox.leave(
            session,
            user_id=agency.owner_id,
            notice=notice,
            contract_id=contract.public_id,
            kind="contract_completed",
        )
    return milestone


async def return_milestone(
    session: AsyncSession, *, user: AppUser, contract_id: str, position: int, reason: str
) -> Milestone:
    """The owner returns a deliverable with reasons; the agency hands in again."""
    contract, notice = await _contract_for_owner(session, user, contract_id)
    milestone = await _submitted(session, contract, position)
    reason = reason.strip()
    if len(reason) < 5:
        raise _invalid("reason", N_("Explain in at least 5 characters what must change."))
    agency = await session.get(Agency, contract.agency_id)
    assert agency is not None
    await log.append(
        session,
        type=entry_types.MILESTONE_RETURNED,
        fields={
            "notice_id": notice.public_id,
            "contract_id": contract.public_id,
            "position": position,
            "reason_sha256": _digest(reason),
        },
    )
    milestone.status = MilestoneStatus.returned.value
    milestone.return_reason = reason
    await session.flush()
    await inbox.leave(
        session,
        user_id=agency.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="milestone_returned",
        position=position,
    )
    return milestone


async def stop_contract(session: AsyncSession, *, user: AppUser, contract_id: str, reason: str) -> Contract:
    """The owner stops a contract in service (服务中止); the reason is published in the log."""
    contract, notice = await _contract_for_owner(session, user, contract_id)
    if contract.status != ContractStatus.in_service:
        raise Conflict(N_("Only a contract in service can be stopped."))
    reason = agencies.check_publishable(reason.strip(), "reason")
    if len(reason) < 5:
        raise _invalid("reason", N_("Give the reason in at least 5 characters; it is published."))
    agency = await session.get(Agency, contract.agency_id)
    assert agency is not None
    await log.append(
        session,
        type=entry_types.CONTRACT_STOPPED,
        fields={"notice_id": notice.public_id, "contract_id": contract.public_id, "reason": reason},
    )
    contract.status = ContractStatus.stopped.value
    contract.stop_reason, contract.stopped_at = reason, utcnow()
    await session.flush()
    await inbox.leave(
        session,
        user_id=agency.owner_id,
        notice=notice,
        contract_id=contract.public_id,
        kind="contract_stopped",
    )
    return contract


async def read_deliverable(
    session: AsyncSession, *, viewer: AppUser | None, contract_id: str, position: int
) -> tuple[Deliverable, StoredFile]:
    """The latest deliverable of a milestone: its owner, its agency, admins and supervisors only."""
    contract = await queries.get_contract(session, contract_id)
    v = await queries.view(session, contract)
    if viewer is not None and viewer.role in (Role.admin, Role.supervisor):
        halls.require_reach(viewer, v.notice.hall)
    if not v.may_see_deliverables(viewer):
        raise Forbidden(
            N_(
                "Only the contract's owner and agency, administrators and supervisors may open its deliverables."
            )
        )
    milestone = _milestone(v.milestones, position)
    deliverable = v.deliverables.get(milestone.id)  # type: ignore[arg-type]
    if deliverable is None:
        raise NotFound(N_("Nothing has been handed in for this milestone."))
    stored = await files.find(session, deliverable.sha256)
    if stored is None:  # on the disk of an older version, not imported (market files import)
        raise NotFound(N_("The stored file is missing."))
    return deliverable, stored


# -- what is overdue -------------------------------------------------------------------------------------


async def flag_overdue_milestones(session: AsyncSession, today: date) -> int:
    """Flag, once, each milestone of a contract in service still waiting for the agency
    past its due date (``milestone.overdue``), all in the caller's transaction. Returns how
    many were flagged. The daily task works in batches instead (flag_overdue_batch)."""
    flagged, after = 0, 0
    while True:
        count, last = await flag_overdue_batch(session, today, after=after, limit=OVERDUE_BATCH)
        flagged += count
        if last is None:
            return flagged
        after = last


# Milestones per transaction of the daily task (market/contracts/scheduler.py). Small: the
# log's lock is held from a batch's first entry to its commit, and the commit keeps the
# OCDS releases of every notice in the batch meanwhile (market/ocds/store.keep_changed), so
# a bid arriving then waits for that long.
OVERDUE_BATCH = 100


async def flag_overdue_batch(
    session: AsyncSession, today: date, *, after: int = 0, limit: int = OVERDUE_BATCH
) -> tuple[int, int | None]:
    """Flag, once, the overdue milestones (see flag_overdue_milestones) among the next
    ``limit`` with an id above ``after``: (how many were flagged, the id to go on after,
    or None when none is left). Claimed with FOR UPDATE SKIP LOCKED: a milestone another
    transaction is flagging is skipped (it flags it), and one flagged is never flagged again."""
    stmt = (
        sa.select(Milestone, Contract, Notice)
        .join(Contract, col(Contract.id) == Milestone.contract_id)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .where(
            col(Milestone.id) > after,
            col(Contract.status) == ContractStatus.in_service.value,
            col(Milestone.status).in_(rules.WAITING_FOR_AGENCY),
            col(Milestone.due_on) < today,
            col(Milestone.overdue_on).is_(None),
        )
        .order_by(col(Milestone.id))
        .limit(limit)
        .with_for_update(of=Milestone, skip_locked=True)
    )
    found = (await session.execute(stmt)).all()
    flagged = []
    for milestone, contract, notice in found:
        if not rules.milestone_overdue(
            status=milestone.status, due_on=milestone.due_on, overdue_on=milestone.overdue_on, today=today
        ):
            continue
        milestone.overdue_on = today
        await alerts.alert(
            session,
            hall=notice.hall,
            kind=alerts.MILESTONE_OVERDUE,
            notice=notice,
            contract_id=contract.public_id,
            position=milestone.position,
            due_on=milestone.due_on.isoformat(),
        )
        flagged.append((milestone, contract, notice))
    await session.flush()
    # The entries last, after every row lock and write: the log's lock is held from the
    # first append to the commit (market/log/store.py).
    for milestone, contract, notice in flagged:
        await log.append(
            session,
            type=entry_types.MILESTONE_OVERDUE,
            fields={
                "notice_id": notice.public_id,
                "contract_id": contract.public_id,
                "position": milestone.position,
                "due_on": milestone.due_on.isoformat(),
            },
        )
    last = found[-1][0].id if len(found) == limit else None
    return len(flagged), last
