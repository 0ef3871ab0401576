"""Ratings (评价), the agency's reply, a supervisor's voiding, the credit score's inputs and
the automatic suspension after repeated declines.

Every change writes its log entry (docs/contracts.md) in the same transaction. Free texts
(comment, reply) are on the pages; the log binds them by SHA-256. The credit formula itself
is pure (rules.py); this module only gathers its events from the tables. The suspension
itself is the agencies' transition (agencies.service.suspend_automatically).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser, Role
from market.agencies import service as agencies
from market.agencies.models import Agency
from market.contracts import queries as contracts
from market.contracts import rules as contract_rules
from market.contracts.models import Contract, ContractStatus, Milestone
from market.core.clock import CHINA, utcnow
from market.core.config import Settings
from market.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from market.core.i18n import N_
from market.core.ids import next_public_id
from market.halls import service as halls
from market.log import store as log
from market.log.models import LogEntry
from market.notices.models import Notice
from market.protocol import entry_types
from market.ratings import rules
from market.ratings.models import DIMENSIONS, Rating, RatingInput
from market.selection.models import Award, AwardStatus

RATING_SEQUENCE = "rating_public_seq"
RATEABLE = (ContractStatus.completed.value, ContractStatus.stopped.value)


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def _digest(text: str) -> str:
    return protocol.sha256_hex(text.encode("utf-8"))


def scores_of(rating: Rating) -> dict[str, int]:
    return {d: int(getattr(rating, d)) for d in DIMENSIONS}


# -- reading ------------------------------------------------------------------------------------


async def get_rating(session: AsyncSession, rating_id: str, *, lock: bool = False) -> Rating:
    stmt = sa.select(Rating).where(col(Rating.public_id) == rating_id)
    if lock:
        stmt = stmt.with_for_update()
    rating = (await session.execute(stmt)).scalar_one_or_none()
    if rating is None:
        raise NotFound(N_("No such rating."))
    return rating


async def rating_of_contract(session: AsyncSession, contract: Contract) -> Rating | None:
    return (
        await session.execute(sa.select(Rating).where(col(Rating.contract_id) == contract.id))
    ).scalar_one_or_none()


@dataclass
class RatingView:
    """A rating as pages and the API show it, with the ids people know it by."""

    rating: Rating
    contract_id: str
    notice_id: str
    notice_title: str


async def ratings_of(session: AsyncSession, agency: Agency) -> list[RatingView]:
    """The agency's ratings, newest first, voided ones included (they stay visible)."""
    stmt = (
        sa.select(Rating, col(Contract.public_id), col(Notice.public_id), col(Notice.title))
        .join(Contract, col(Contract.id) == Rating.contract_id)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .where(col(Rating.agency_id) == agency.id)
        .order_by(col(Rating.id).desc())
    )
    return [
        RatingView(rating=r, contract_id=c, notice_id=n, notice_title=t)
        for r, c, n, t in (await session.execute(stmt)).all()
    ]


# -- who may rate, reply, void -------------------------------------------------------------------


def may_rate(contract: Contract, user: AppUser | None) -> bool:
    """The contract's owner rates the agency (once it is completed or stopped: RATEABLE)."""
    return user is not None and contract.owner_id == user.id


def require_may_rate(contract: Contract, user: AppUser) -> None:
    if not may_rate(contract, user):
        raise Forbidden(N_("Only the contract's owner can rate the agency."))


def may_reply(agency: Agency, user: AppUser | None) -> bool:
    """The rated agency's own account answers its ratings."""
    return user is not None and user.role == Role.agency and agency.owner_id == user.id


def require_may_reply(agency: Agency, user: AppUser) -> None:
    if not may_reply(agency, user):
        raise Forbidden(N_("Only the rated agency can reply."))


def may_void(user: AppUser | None) -> bool:
    """Whether the user voids ratings at all (a supervisor); which ones:
    ``require_may_void_rating`` (the rated contract's notice's hall)."""
    return user is not None and user.role == Role.supervisor


def require_may_void(user: AppUser) -> None:
    if not may_void(user):
        raise Forbidden(N_("Only a supervisor can void a rating."))


async def rated_hall(session: AsyncSession, rating: Rating) -> str | None:
    """The hall of the rated contract's notice: where the rating may be voided from."""
    stmt = (
        sa.select(col(Notice.hall))
        .join(Contract, col(Contract.notice_id) == Notice.id)
        .where(col(Contract.id) == rating.contract_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def require_may_void_rating(session: AsyncSession, user: AppUser, rating: Rating) -> None:
    """A supervisor whose jurisdiction reaches the rated contract's notice's hall."""
    require_may_void(user)
    halls.require_reach(user, await rated_hall(session, rating))


# -- rating, replying, voiding ----------------------------------------------------------------


def check_scores(data: RatingInput) -> dict[str, int]:
    """Each dimension a whole number from 1 to 5; the first one that is not is named."""
    scores: dict[str, int] = {}
    for dimension in DIMENSIONS:
        value = getattr(data, dimension)
        if type(value) is not int or not 1 <= value <= 5:
            raise InvalidInput(
                N_("Each score is a whole number from 1 to 5."),
                [FieldError(dimension, N_("Give a whole number from 1 to 5."))],
            )
        scores[dimension] = value
    return scores


async def rate(session: AsyncSession, *, user: AppUser, contract_id: str, data: RatingInput) -> Rating:
    """The contract's owner rates the agency once, after completion or stop (``rating.given``)."""
    contract = await contracts.get_contract(session, contract_id, lock=True)
    require_may_rate(contract, user)
    if contract.status not in RATEABLE:
        raise Conflict(N_("A contract can be rated once it is completed or stopped."))
    if await rating_of_contract(session, contract) is not None:
        raise Conflict(N_("This contract has already been rated."))
    scores = check_scores(data)
    comment = agencies.check_publishable(data.comment.strip(), "comment")
    agency = await session.get(Agency, contract.agency_id)
    notice = await session.get(Notice, contract.notice_id)
    assert agency is not None and notice is not None
    public_id = await next_public_id(session, prefix="RT", sequence=RATING_SEQUENCE)
    entry = await log.append(
        session,
        type=entry_types.RATING_GIVEN,
        fields={
            "notice_id": notice.public_id,
            "contract_id": contract.public_id,
            "rating_id": public_id,
            "agency_id": agency.public_id,
            "scores": scores,
            "comment_sha256": _digest(comment),
        },
    )
    assert contract.id is not None and agency.id is not None
    rating = Rating(
        public_id=public_id,
        contract_id=contract.id,
        agency_id=agency.id,
        comment=comment,
        seq=entry.seq,
        # mypy checks a dict's values against every keyword; these are the five int scores
        **scores,  # type: ignore[arg-type]
    )
    session.add(rating)
    await session.flush()
    return rating


async def reply(session: AsyncSession, *, user: AppUser, rating_id: str, text: str) -> Rating:
    """The rated agency answers once (``rating.replied``)."""
    rating = await get_rating(session, rating_id, lock=True)
    agency = await session.get(Agency, rating.agency_id)
    assert agency is not None
    require_may_reply(agency, user)
    if rating.reply is not None:
        raise Conflict(N_("This rating has already been answered."))
    text = agencies.check_publishable(text.strip(), "reply")
    if len(text) < 2:
        raise InvalidInput(N_("Write a reply."), [FieldError("reply", N_("Write a reply."))])
    await log.append(
        session,
        type=entry_types.RATING_REPLIED,
        fields={"rating_id": rating.public_id, "agency_id": agency.public_id, "reply_sha256": _digest(text)},
    )
    rating.reply, rating.replied_at = text, utcnow()
    await session.flush()
    return rating


async def void(session: AsyncSession, *, user: AppUser, rating_id: str, reason: str) -> Rating:
    """A supervisor voids a rating with a published reason (``rating.voided``): it stays
    visible, marked, and no longer counts."""
    require_may_void(user)
    rating = await get_rating(session, rating_id, lock=True)
    await require_may_void_rating(session, user, rating)
    if rating.voided_at is not None:
        raise Conflict(N_("This rating has already been voided."))
    reason = agencies.check_publishable(reason.strip(), "reason")
    if len(reason) < 5:
        raise InvalidInput(
            N_("Give a reason of at least 5 characters; it is published."),
            [FieldError("reason", N_("Give a reason of at least 5 characters; it is published."))],
        )
    agency = await session.get(Agency, rating.agency_id)
    assert agency is not None
    await log.append(
        session,
        type=entry_types.RATING_VOIDED,
        fields={"rating_id": rating.public_id, "agency_id": agency.public_id, "reason": reason},
    )
    rating.void_reason, rating.voided_at, rating.voided_by = reason, utcnow(), user.id
    await session.flush()
    return rating


# -- the credit score's events ----------------------------------------------------------------


@dataclass
class Standing:
    """What the directory and the profile show about an agency's record."""

    events: list[rules.CreditEvent] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    contracts_completed: int = 0

    def credit(self, today: date) -> rules.CreditScore:
        return rules.score(self.events, today)

    def summary(self) -> dict[str, Any]:
        """Count and averages per dimension of the ratings that count (not voided)."""
        counted = [r for r in self.ratings if r.voided_at is None]
        averages: dict[str, float | None] = {}
        for d in DIMENSIONS:
            averages[d] = round(sum(getattr(r, d) for r in counted) / len(counted), 2) if counted else None
        overall = (
            round(sum(float(rules.average(list(scores_of(r).values()))) for r in counted) / len(counted), 2)
            if counted
            else None
        )
        return {
            "count": len(counted),
            "voided": len(self.ratings) - len(counted),
            "average": overall,
            "averages": averages,
        }


async def _final_dates(session: AsyncSession, notice_ids: Sequence[str]) -> dict[str, date]:
    """Each notice's latest ``award.final`` day (China time), read from the log itself."""
    if not notice_ids:
        return {}
    stmt = (
        sa.select(col(LogEntry.notice_id), col(LogEntry.entry))
        .where(col(LogEntry.type) == entry_types.AWARD_FINAL, col(LogEntry.notice_id).in_(list(notice_ids)))
        .order_by(col(LogEntry.seq))
    )
    out: dict[str, date] = {}
    for notice_id, entry in (await session.execute(stmt)).all():
        out[str(notice_id)] = china_date(protocol.parse_ts(json.loads(bytes(entry))["ts"]))
    return out


async def standings(
    session: AsyncSession, agencies_: Sequence[Agency], *, today: date, contract_days: int
) -> dict[int, Standing]:
    """Credit events and ratings of many agencies at once (a directory page): five queries
    however many agencies.

    Events: ratings (voided ones marked), awards declined and awards disqualified (on their
    end day), milestones the scheduler flagged overdue (on ``overdue_on``), and awards still
    held with the owner's contract left unconfirmed by the agency past the signing window
    (market.contracts.rules.unsigned_counts_against_agency; dated the day after the
    agency's last day to sign).
    """
    ids = [a.id for a in agencies_ if a.id is not None]
    out: dict[int, Standing] = {i: Standing() for i in ids}
    if not ids:
        return out
    for r in (
        (
            await session.execute(
                sa.select(Rating).where(col(Rating.agency_id).in_(ids)).order_by(col(Rating.id))
            )
        )
        .scalars()
        .all()
    ):
        out[r.agency_id].ratings.append(r)
        out[r.agency_id].events.append(
            rules.CreditEvent(
                "rating",
                china_date(r.rated_at),
                r.public_id,
                scores=tuple(scores_of(r).values()),
                voided=r.voided_at is not None,
            )
        )
    awards = (
        await session.execute(
            sa.select(Award, col(Notice.public_id))
            .join(Notice, col(Notice.id) == Award.notice_id)
            .where(col(Award.agency_id).in_(ids))
            .order_by(col(Award.id))
        )
    ).all()
    held: list[tuple[Award, str]] = []
    for award, notice_id in awards:
        if award.status == AwardStatus.declined and award.ended_at is not None:
            out[award.agency_id].events.append(
                rules.CreditEvent("decline", china_date(award.ended_at), notice_id)
            )
        elif award.status == AwardStatus.disqualified and award.ended_at is not None:
            out[award.agency_id].events.append(
                rules.CreditEvent("disqualified", china_date(award.ended_at), notice_id)
            )
        elif award.status == AwardStatus.holding:
            held.append((award, notice_id))
    contracts = (
        (await session.execute(sa.select(Contract).where(col(Contract.agency_id).in_(ids)))).scalars().all()
    )
    signed_on_award: dict[int, date] = {}
    recorded_on_award: dict[int, date] = {}
    disputed_awards: set[int] = set()
    for c in contracts:
        if c.status == ContractStatus.completed:
            out[c.agency_id].contracts_completed += 1
        if c.confirmed_at is not None:
            signed_on_award[c.award_id] = china_date(c.confirmed_at)
        if c.status not in (ContractStatus.declined, ContractStatus.set_aside):
            recorded_on_award[c.award_id] = china_date(c.created_at)
        if c.disputed_at is not None:
            disputed_awards.add(c.award_id)
    finals = await _final_dates(session, sorted({n for _, n in held}))
    for award, notice_id in held:
        final_on = finals.get(notice_id)
        if final_on is None:
            continue
        key = award.id or 0
        if contract_rules.unsigned_counts_against_agency(
            final_on=final_on,
            recorded_on=recorded_on_award.get(key),
            signed_on=signed_on_award.get(key),
            disputed=key in disputed_awards,
            today=today,
            contract_days=contract_days,
        ):
            last_day = max(
                contract_rules.sign_by(final_on, contract_days),
                recorded_on_award[key] + timedelta(days=contract_rules.AGENCY_DAYS_TO_CONFIRM),
            )
            out[award.agency_id].events.append(
                rules.CreditEvent("overdue", last_day + timedelta(days=1), f"{notice_id}/{award.slot}")
            )
    overdue = (
        await session.execute(
            sa.select(Milestone, col(Contract.public_id), col(Contract.agency_id))
            .join(Contract, col(Contract.id) == Milestone.contract_id)
            .where(col(Contract.agency_id).in_(ids), col(Milestone.overdue_on).is_not(None))
        )
    ).all()
    for m, contract_id, agency_id in overdue:
        out[agency_id].events.append(
            rules.CreditEvent("overdue", m.overdue_on, f"{contract_id}#{m.position}")
        )
    return out


async def standing_of(session: AsyncSession, agency: Agency, *, today: date, contract_days: int) -> Standing:
    return (await standings(session, [agency], today=today, contract_days=contract_days))[agency.id]  # type: ignore[index]


async def credit_events(
    session: AsyncSession, agency: Agency, today: date, *, contract_days: int = 30
) -> list[rules.CreditEvent]:
    return (await standing_of(session, agency, today=today, contract_days=contract_days)).events


async def credit_of(
    session: AsyncSession, agency: Agency, today: date, *, contract_days: int = 30
) -> rules.CreditScore:
    return rules.score(await credit_events(session, agency, today, contract_days=contract_days), today)


# -- the automatic rule ------------------------------------------------------------------------


async def decline_dates(session: AsyncSession, agency: Agency) -> list[date]:
    """The days the agency's awards ended as declined. A decline because the contract's
    terms do not follow the award is not among them: it leaves the award held and the
    contract ``disputed`` until a supervisor decides, and only a finding that the terms
    were fine turns it into a declined award (docs/contracts.md)."""
    stmt = sa.select(col(Award.ended_at)).where(
        col(Award.agency_id) == agency.id,
        col(Award.status) == AwardStatus.declined.value,
        col(Award.ended_at).is_not(None),
    )
    return [china_date(t) for t in (await session.execute(stmt)).scalars().all() if t is not None]


async def apply_automatic_rules(
    session: AsyncSession, agency: Agency, settings: Settings, today: date
) -> bool:
    """After a decline: the agencies' service decides whether the declines of ``agency``
    suspend it (agencies.service.suspend_automatically, the rule in agencies/rules.py) and
    makes the transition. Returns whether it did."""
    return await agencies.suspend_automatically(
        session,
        agency_id=agency.public_id,
        decline_dates=await decline_dates(session, agency),
        settings=settings,
        today=today,
    )
