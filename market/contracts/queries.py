"""Read-only queries of contracts: one contract by its id, the lists pages and dashboards
show, views with their milestones and deliverables, the public list, and what is overdue
(milestones flagged, awards left unsigned). service.py changes state; this module only reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.contracts import rules
from market.contracts.models import Contract, ContractStatus, Deliverable, Milestone
from market.core.clock import CHINA
from market.core.config import Settings
from market.core.errors import FieldError, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.pagination import decode_cursor, encode_cursor
from market.halls import queries as halls_queries
from market.log.models import LogEntry
from market.notices.models import Notice, NoticeStatus
from market.selection.models import Award, AwardStatus, Selection

SIGNED = (ContractStatus.in_service.value, ContractStatus.completed.value, ContractStatus.stopped.value)


STAFF = (Role.admin, Role.supervisor)


async def get_contract(session: AsyncSession, public_id: str, *, lock: bool = False) -> Contract:
    stmt = sa.select(Contract).where(col(Contract.public_id) == public_id)
    if lock:
        stmt = stmt.with_for_update()
    contract = (await session.execute(stmt)).scalar_one_or_none()
    if contract is None:
        raise NotFound(N_("No such contract."))
    return contract


async def milestones_of(session: AsyncSession, contract: Contract, *, lock: bool = False) -> list[Milestone]:
    stmt = (
        sa.select(Milestone)
        .where(col(Milestone.contract_id) == contract.id)
        .order_by(col(Milestone.position))
    )
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars().all())


async def contracts_of_agency(session: AsyncSession, agency: Agency) -> list[tuple[Contract, Notice]]:
    """An agency's contracts, declined ones included, newest first."""
    stmt = (
        sa.select(Contract, Notice)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .where(col(Contract.agency_id) == agency.id)
        .order_by(col(Contract.id).desc())
    )
    return [(c, n) for c, n in (await session.execute(stmt)).all()]


async def contracts_of_owner(session: AsyncSession, user: AppUser) -> list[tuple[Contract, Notice]]:
    """The contracts an owner recorded, newest first."""
    stmt = (
        sa.select(Contract, Notice)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .where(col(Contract.owner_id) == user.id)
        .order_by(col(Contract.id).desc())
    )
    return [(c, n) for c, n in (await session.execute(stmt)).all()]


async def contracts_of_notice(session: AsyncSession, notice: Notice) -> list[Contract]:
    stmt = sa.select(Contract).where(col(Contract.notice_id) == notice.id).order_by(col(Contract.id))
    return list((await session.execute(stmt)).scalars().all())


@dataclass
class ContractView:
    """A contract with what its pages and API answers show."""

    contract: Contract
    notice: Notice
    agency: Agency
    milestones: list[Milestone] = field(default_factory=list)
    deliverables: dict[int, Deliverable] = field(default_factory=dict)  # milestone id -> latest

    def is_owner(self, user: AppUser | None) -> bool:
        return user is not None and user.id == self.contract.owner_id

    def is_agency(self, user: AppUser | None) -> bool:
        return user is not None and user.id == self.agency.owner_id

    def may_see_deliverables(self, user: AppUser | None) -> bool:
        return user is not None and (self.is_owner(user) or self.is_agency(user) or user.role in STAFF)

    # What the contract page offers the viewer (the actions below check the same and more).
    def may_confirm(self, user: AppUser | None) -> bool:
        return self.is_agency(user) and self.contract.status == ContractStatus.proposed

    def may_submit(self, user: AppUser | None) -> bool:
        return self.is_agency(user) and self.contract.status == ContractStatus.in_service

    def may_decide_milestones(self, user: AppUser | None) -> bool:
        return self.is_owner(user) and self.contract.status == ContractStatus.in_service

    def may_stop(self, user: AppUser | None) -> bool:
        return self.is_owner(user) and self.contract.status == ContractStatus.in_service


async def views(session: AsyncSession, contracts: Sequence[Contract]) -> list[ContractView]:
    """Views of many contracts in four queries."""
    if not contracts:
        return []
    ids = [c.id for c in contracts]
    notice_rows = await session.execute(
        sa.select(Notice).where(col(Notice.id).in_({c.notice_id for c in contracts}))
    )
    by_notice = {n.id: n for n in notice_rows.scalars().all()}
    agency_rows = await session.execute(
        sa.select(Agency).where(col(Agency.id).in_({c.agency_id for c in contracts}))
    )
    by_agency = {a.id: a for a in agency_rows.scalars().all()}
    milestones: dict[int, list[Milestone]] = {}
    for m in (
        (
            await session.execute(
                sa.select(Milestone)
                .where(col(Milestone.contract_id).in_(ids))
                .order_by(col(Milestone.position))
            )
        )
        .scalars()
        .all()
    ):
        milestones.setdefault(m.contract_id, []).append(m)
    milestone_ids = [m.id for ms in milestones.values() for m in ms]
    latest: dict[int, Deliverable] = {}
    if milestone_ids:
        stmt = (
            sa.select(Deliverable)
            .where(col(Deliverable.milestone_id).in_(milestone_ids))
            .order_by(col(Deliverable.id))
        )
        for d in (await session.execute(stmt)).scalars().all():
            latest[d.milestone_id] = d
    return [
        ContractView(
            contract=c,
            notice=by_notice[c.notice_id],
            agency=by_agency[c.agency_id],
            milestones=milestones.get(c.id or 0, []),
            deliverables={
                m.id: latest[m.id]
                for m in milestones.get(c.id or 0, [])
                if m.id is not None and m.id in latest
            },
        )
        for c in contracts
    ]


async def view(session: AsyncSession, contract: Contract) -> ContractView:
    return (await views(session, [contract]))[0]


async def list_contracts(
    session: AsyncSession,
    *,
    agency_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Contract], str | None]:
    """Contracts are public (deliverables are not): newest first, with cursor pagination."""
    after = decode_cursor(cursor)
    stmt = sa.select(Contract).order_by(col(Contract.id).desc()).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(col(Contract.id) < after)
    if status:
        if status not in [s.value for s in ContractStatus]:
            message = N_("Unknown contract status.")
            raise InvalidInput(message, [FieldError("status", message)])
        stmt = stmt.where(col(Contract.status) == status)
    if agency_id:
        agency = await agencies.get_agency(session, agency_id)
        stmt = stmt.where(col(Contract.agency_id) == agency.id)
    rows = list((await session.execute(stmt)).scalars().all())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None  # type: ignore[arg-type]
    return rows[:limit], next_cursor


async def pending_disputes(
    session: AsyncSession, codes: list[str] | None = None
) -> list[tuple[Contract, Notice, Agency]]:
    """For supervisors: contracts declined because their terms do not follow the award, oldest
    first; only those of notices in the halls ``codes`` unless it is None (the province)."""
    stmt = (
        sa.select(Contract, Notice, Agency)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .join(Agency, col(Agency.id) == Contract.agency_id)
        .where(col(Contract.status) == ContractStatus.disputed.value)
        .order_by(col(Contract.disputed_at), col(Contract.id))
    )
    if codes is not None:
        stmt = stmt.where(halls_queries.in_halls(col(Notice.hall), codes))
    return [(c, n, a) for c, n, a in (await session.execute(stmt)).all()]


async def overdue_milestones(
    session: AsyncSession,
    *,
    owner: AppUser | None = None,
    agency: Agency | None = None,
    codes: list[str] | None = None,
    after: tuple[date, int] | None = None,
    limit: int | None = None,
) -> list[tuple[Milestone, Contract, Notice]]:
    """Flagged milestones not yet handed in, of contracts in service (supervisors and
    dashboards), by due day; with ``limit``, at most that many after (due day, id) ``after``
    (ix_milestone_overdue reads them in that order, none of those handed in). With
    ``codes``, only those of the halls ``codes`` (``_overdue_in_halls``)."""
    conditions: list[sa.ColumnElement[bool]] = [
        col(Contract.status) == ContractStatus.in_service.value,
        col(Milestone.overdue_on).is_not(None),
        col(Milestone.status).in_(rules.WAITING_FOR_AGENCY),
    ]
    if owner is not None:
        conditions.append(col(Contract.owner_id) == owner.id)
    if agency is not None:
        conditions.append(col(Contract.agency_id) == agency.id)
    if after is not None:
        conditions.append(
            sa.tuple_(col(Milestone.due_on), col(Milestone.id))
            > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    stmt = sa.select(Milestone, Contract, Notice)
    if codes is None:
        stmt = stmt.where(*conditions)
    elif not codes:
        return []
    else:
        # From the chosen ids: each row then is a look-up by primary key.
        chosen = _overdue_in_halls(codes, conditions, limit)
        stmt = stmt.select_from(chosen).join(Milestone, col(Milestone.id) == chosen.c.id)
    stmt = (
        stmt.join(Contract, col(Contract.id) == Milestone.contract_id)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .order_by(col(Milestone.due_on), col(Milestone.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(m, c, n) for m, c, n in (await session.execute(stmt)).all()]


def _overdue_in_halls(
    codes: list[str], conditions: Sequence[sa.ColumnElement[bool]], limit: int | None
) -> sa.Subquery:
    """The ids of the first ``limit`` overdue milestones (by due day, id) meeting
    ``conditions`` in the halls ``codes``: one range of ix_milestone_overdue_hall per hall,
    each ordered and limited, merged (a Merge Append of ``UNION ALL``), so that a
    jurisdiction's page reads about a page of rows however many milestones the other halls
    have overdue. (``hall = ANY(...)`` on the notice walked every overdue milestone of the
    province, in due order, dropping those of other halls.) A milestone's hall is its
    notice's (copied when the contract is recorded)."""
    per_hall: list[sa.Select[Any]] = []
    for code in codes:
        branch: sa.Select[Any] = (
            sa.select(col(Milestone.id).label("id"), col(Milestone.due_on).label("due_on"))
            .join(Contract, col(Contract.id) == Milestone.contract_id)
            .where(col(Milestone.hall) == code, *conditions)
            .order_by(col(Milestone.due_on), col(Milestone.id))
        )
        per_hall.append(branch.limit(limit) if limit is not None else branch)
    merged = sa.union_all(*per_hall).subquery()
    chosen = sa.select(merged.c.id).order_by(merged.c.due_on, merged.c.id)
    return (chosen.limit(limit) if limit is not None else chosen).subquery()


async def final_dates(session: AsyncSession, notice_ids: Sequence[int]) -> dict[int, date]:
    """Notice id -> the China date of its latest ``award.final`` entry."""
    if not notice_ids:
        return {}
    rows = (
        await session.execute(
            # ``= ANY(:array)``: one parameter however many (an IN list stops at 32,767,
            # which the province's red flags pass on the seeded data set).
            sa.select(col(Selection.notice_id), col(Selection.final_seq)).where(
                col(Selection.notice_id) == sa.any_(sa.literal(list(notice_ids), type_=ARRAY(sa.Integer))),
                col(Selection.final_seq).is_not(None),
            )
        )
    ).all()
    seqs = {int(seq): notice_id for notice_id, seq in rows}
    if not seqs:
        return {}
    out: dict[int, date] = {}
    for seq, raw in (
        await session.execute(
            sa.select(col(LogEntry.seq), col(LogEntry.entry)).where(
                col(LogEntry.seq) == sa.any_(sa.literal(list(seqs), type_=ARRAY(sa.BigInteger)))
            )
        )
    ).all():
        out[seqs[int(seq)]] = protocol.parse_ts(json.loads(raw)["ts"]).astimezone(CHINA).date()
    return out


@dataclass
class Unsigned:
    """An award holder without a signed contract, and by when it must sign."""

    notice: Notice
    award: Award
    agency_name: str
    final_on: date
    sign_by: date
    overdue: bool
    proposed: Contract | None  # recorded by the owner, not yet confirmed


async def unsigned_awards(
    session: AsyncSession,
    settings: Settings,
    today: date,
    *,
    owner: AppUser | None = None,
    agency: Agency | None = None,
    codes: list[str] | None = None,
) -> list[Unsigned]:
    """Holders of final awards with no signed contract, overdue or not (in the halls
    ``codes`` only, unless it is None)."""
    stmt = _unsigned_statement(owner=owner, agency=agency, codes=codes)
    return await _unsigned_of(session, settings, today, list((await session.execute(stmt)).all()))


def _unsigned_statement(
    *, owner: AppUser | None = None, agency: Agency | None = None, codes: list[str] | None = None
) -> sa.Select[tuple[Award, Notice, str]]:
    """Holding awards of awarded notices with no signed contract, by notice and slot."""
    signed = sa.exists().where(col(Contract.award_id) == Award.id, col(Contract.status).in_(SIGNED))
    stmt = (
        sa.select(Award, Notice, col(Agency.name))
        .join(Notice, col(Notice.id) == Award.notice_id)
        .join(Agency, col(Agency.id) == Award.agency_id)
        .where(
            col(Award.status) == AwardStatus.holding.value,
            col(Notice.status) == NoticeStatus.awarded.value,
            ~signed,
        )
        .order_by(col(Notice.id), col(Award.slot))
    )
    if owner is not None:
        stmt = stmt.where(col(Notice.owner_id) == owner.id)
    if agency is not None:
        stmt = stmt.where(col(Award.agency_id) == agency.id)
    if codes is not None:
        stmt = stmt.where(halls_queries.in_halls(col(Notice.hall), codes))
    return stmt


async def _unsigned_of(
    session: AsyncSession, settings: Settings, today: date, rows: Sequence[Any]
) -> list[Unsigned]:
    """``_unsigned_statement``'s rows with their final days and proposed contracts; those
    whose award is not final yet are left out."""
    finals = await final_dates(session, [n.id for _, n, _ in rows if n.id is not None])
    proposed: dict[int, Contract] = {}
    if rows:
        stmt2 = sa.select(Contract).where(
            col(Contract.award_id).in_([a.id for a, _, _ in rows]),
            col(Contract.status) == ContractStatus.proposed.value,
        )
        proposed = {c.award_id: c for c in (await session.execute(stmt2)).scalars().all()}
    out = []
    for award, notice, name in rows:
        final_on = finals.get(notice.id) if notice.id is not None else None
        if final_on is None:
            continue
        out.append(
            Unsigned(
                notice=notice,
                award=award,
                agency_name=name,
                final_on=final_on,
                sign_by=rules.sign_by(final_on, settings.contract_days),
                overdue=rules.unsigned_overdue(
                    final_on=final_on, signed=False, today=today, contract_days=settings.contract_days
                ),
                proposed=proposed.get(award.id) if award.id is not None else None,
            )
        )
    return out


UNSIGNED_BATCH = 200  # rows read at a time while a page of overdue ones fills
SUPERVISION_PAGE = 50  # rows of each list on the supervisors' contracts page
_UNSIGNED_AFTER = re.compile(r"^(\d{1,10})\.(\d{1,4})$")
_MILESTONES_AFTER = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(\d{1,18})$")
NOT_A_PAGE = N_("This is not a link to a page of this list.")


def unsigned_after(text: str | None) -> tuple[int, int] | None:
    """The (notice id, slot) a page of overdue unsigned awards starts after, from its link
    (``123.0``); anything else is bad input."""
    if not text:
        return None
    match = _UNSIGNED_AFTER.match(text)
    if match is None:
        raise InvalidInput(NOT_A_PAGE, [FieldError("unsigned_after", NOT_A_PAGE)])
    return int(match.group(1)), int(match.group(2))


def milestones_after(text: str | None) -> tuple[date, int] | None:
    """The (due day, id) a page of overdue milestones starts after (``2026-12-01.45``)."""
    if not text:
        return None
    match = _MILESTONES_AFTER.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisoformat(match.group(1)), int(match.group(2))
    except ValueError:
        raise InvalidInput(NOT_A_PAGE, [FieldError("milestones_after", NOT_A_PAGE)]) from None


def _awarded_notices_after(codes: list[str] | None, after: int, limit: int) -> sa.Select[Any]:
    """The ids of the next ``limit`` awarded notices from id ``after`` on (in the halls
    ``codes`` only, unless None), in id order. In a jurisdiction, one index range per hall
    (ix_notice_status_hall_id) merged in id order (a Merge Append of ``UNION ALL``), so the
    statement reads about ``limit`` rows however large the jurisdiction; ``hall = ANY(...)``
    would read every awarded notice of it and sort them."""
    awarded = col(Notice.status) == NoticeStatus.awarded.value
    if codes is None:
        return (
            sa.select(col(Notice.id))
            .where(awarded, col(Notice.id) >= after)
            .order_by(col(Notice.id))
            .limit(limit)
        )
    per_hall: list[sa.Select[Any]] = [
        sa.select(col(Notice.id).label("id"))
        .where(awarded, col(Notice.hall) == code, col(Notice.id) >= after)
        # Each range ordered and limited itself: then the planner merges them (Merge
        # Append) and stops after ``limit``, where without it it read every range whole.
        .order_by(col(Notice.id))
        .limit(limit)
        for code in codes
    ]
    merged = sa.union_all(*per_hall).subquery()
    return sa.select(merged.c.id).order_by(merged.c.id).limit(limit)


async def overdue_unsigned_page(
    session: AsyncSession,
    settings: Settings,
    today: date,
    *,
    codes: list[str] | None = None,
    after: tuple[int, int] | None = None,
    limit: int = 50,
) -> tuple[list[Unsigned], tuple[int, int] | None]:
    """A page of ``overdue_unsigned`` (the supervisors' contracts page): at most ``limit``,
    after (notice id, slot) ``after``, and where the next page starts (None: none left).

    Most holders of a final award have signed, and whether one who has not is overdue
    depends on the day the award became final (a log entry's time), so neither can be an
    index range. The page walks the jurisdiction's awarded notices in id order instead,
    ``UNSIGNED_BATCH`` at a time (``_awarded_notices_after``), and keeps their unsigned
    overdue holders until it has enough: it reads in proportion to what it shows, however
    many notices the jurisdiction holds."""
    out: list[Unsigned] = []
    if codes == []:
        return out, None
    notice_from, cursor = (after[0], after) if after is not None else (0, None)
    while len(out) <= limit:
        ids = list(
            (await session.execute(_awarded_notices_after(codes, notice_from, UNSIGNED_BATCH))).scalars()
        )
        if not ids:
            break
        stmt = _unsigned_statement().where(
            col(Award.notice_id) == sa.any_(sa.literal(ids, type_=ARRAY(sa.Integer)))
        )
        if cursor is not None:
            stmt = stmt.where(
                sa.tuple_(col(Notice.id), col(Award.slot))
                > sa.tuple_(sa.literal(cursor[0]), sa.literal(cursor[1]))
            )
        rows = list((await session.execute(stmt)).all())
        out += [u for u in await _unsigned_of(session, settings, today, rows) if u.overdue]
        if len(ids) < UNSIGNED_BATCH:
            break
        notice_from, cursor = ids[-1] + 1, None
    if len(out) <= limit:
        return out, None
    last = out[limit - 1]
    return out[:limit], (int(last.notice.id or 0), int(last.award.slot))


async def overdue_unsigned(
    session: AsyncSession,
    settings: Settings,
    today: date,
    *,
    owner: AppUser | None = None,
    agency: Agency | None = None,
    codes: list[str] | None = None,
) -> list[Unsigned]:
    """Awards not signed within ``settings.contract_days`` of becoming final."""
    return [
        u
        for u in await unsigned_awards(session, settings, today, owner=owner, agency=agency, codes=codes)
        if u.overdue
    ]
