"""The inputs of the red flags, read with a handful of set queries (GROUP BY where the flag
counts, one row per record where it compares), and ``all_flags`` over them.

The owner of a notice is its organisation when it names one, otherwise the owner's account.
An award is an agency holding a winner's place on a notice that was drawn or selected
directly (``selected`` or ``awarded``); a place given up or lost is not counted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from market import protocol
from market.accounts.models import AppUser
from market.agencies.models import Agency, AgencyOrgLink
from market.contracts.models import Contract, ContractStatus
from market.contracts.queries import final_dates
from market.core.clock import CHINA
from market.core.config import Settings
from market.halls import queries as halls
from market.halls import rules as hall_rules
from market.notices.models import Bid, BidStatus, Notice, NoticeRevision, NoticeStatus, OwnerOrg
from market.reference import catalogue, regions
from market.selection.models import Award, AwardStatus, Outcome, Selection
from market.supervision.flags import rules as F

AWARDED = (NoticeStatus.selected.value, NoticeStatus.awarded.value)
TZ = "Asia/Shanghai"
Codes = list[str] | None  # the halls a view reaches (halls.codes_under); None: the whole province


def _in(stmt: sa.Select[Any], codes: Codes) -> sa.Select[Any]:
    """Only the notices of the halls ``codes`` (``notice.hall = ANY(...)``, served by
    ix_notice_hall_id); everything when None."""
    return stmt if codes is None else stmt.where(halls.in_halls(col(Notice.hall), codes))


def _owner_columns() -> tuple[sa.ColumnElement[str], sa.ColumnElement[str]]:
    return sa.func.coalesce(col(OwnerOrg.public_id), col(AppUser.public_id)), sa.func.coalesce(
        col(OwnerOrg.name), col(AppUser.name)
    )


def _with_owner(stmt: sa.Select[Any]) -> sa.Select[Any]:
    return stmt.join(AppUser, col(AppUser.id) == col(Notice.owner_id)).outerjoin(
        OwnerOrg, col(OwnerOrg.id) == col(Notice.org_id)
    )


def _category_name(code: str) -> dict[str, str]:
    try:
        c = catalogue.category(code)
    except catalogue.UnknownCategory:
        return {"zh_Hans": code, "en": code}
    return {"zh_Hans": c.name_zh, "en": c.name_en}


def _region_name(code: str) -> dict[str, str]:
    try:
        r = regions.region(code)
    except regions.UnknownRegion:
        return {"zh_Hans": code, "en": code}
    return {"zh_Hans": r.name_zh, "en": r.name_en}


async def win_counts(
    session: AsyncSession,
    *,
    min_awards: int,
    codes: Codes = None,
    hall: tuple[str, dict[str, str]] | None = None,
) -> list[F.WinCount]:
    """Each agency's awards per service category and per area. Province-wide the areas are
    the prefectures; in a jurisdiction's view (``codes`` and ``hall``: its code and name)
    everything counts inside the jurisdiction, and the area is the jurisdiction itself, so
    an agency winning most of one county's awards is flagged there."""
    out: list[F.WinCount] = []
    scopes: dict[str, tuple[Any, Any]] = {"category": (col(Notice.category), _category_name)}
    if hall is None:
        scopes["region"] = (sa.func.substr(col(Notice.region), 1, 4).concat("00"), _region_name)
    else:
        scopes["hall"] = (None, lambda _code: hall[1])
    for scope, (key, name_of) in scopes.items():
        wins = sa.func.count(col(Award.id))
        if key is None:  # the jurisdiction as a whole: one group per agency
            assert hall is not None
            groups: list[Any] = [col(Award.agency_public_id), col(Agency.name)]
            key_column: Any = sa.literal_column("''")
            total = sa.func.sum(wins).over()
        else:
            groups = [key, col(Award.agency_public_id), col(Agency.name)]
            key_column = key
            total = sa.func.sum(wins).over(partition_by=key)
        inner = (
            _in(
                sa.select(
                    key_column.label("key"),
                    col(Award.agency_public_id).label("agency_id"),
                    col(Agency.name).label("agency_name"),
                    wins.label("wins"),
                    total.label("total"),
                    sa.func.array_agg(sa.distinct(col(Notice.public_id))).label("notices"),
                )
                .join(Notice, col(Notice.id) == col(Award.notice_id))
                .join(Agency, col(Agency.id) == col(Award.agency_id))
                .where(col(Award.status) == AwardStatus.holding.value, col(Notice.status).in_(AWARDED)),
                codes,
            )
            .group_by(*groups)
            .subquery()
        )
        stmt = sa.select(inner).where(inner.c.total >= min_awards).order_by(inner.c.key, inner.c.agency_id)
        for r in (await session.execute(stmt)).mappings():
            code = r["key"] if key is not None else hall[0]  # type: ignore[index]
            out.append(
                F.WinCount(
                    scope=scope,
                    key=code,
                    scope_name=name_of(code),
                    agency_id=r["agency_id"],
                    agency_name=r["agency_name"],
                    wins=int(r["wins"]),
                    total=int(r["total"]),
                    notices=tuple(sorted(r["notices"])),
                )
            )
    return out


async def pair_wins(session: AsyncSession, *, repeats: int, codes: Codes = None) -> list[F.PairWins]:
    owner_id, owner_name = _owner_columns()
    day = sa.cast(sa.func.timezone(TZ, col(Award.created_at)), sa.Date)
    stmt = _with_owner(
        sa.select(
            owner_id.label("owner_id"),
            owner_name.label("owner_name"),
            col(Award.agency_public_id).label("agency_id"),
            col(Agency.name).label("agency_name"),
            sa.func.array_agg(
                sa.func.to_char(day, "YYYY-MM-DD").concat(" ").concat(col(Notice.public_id))
            ).label("wins"),
        )
        .select_from(Award)
        .join(Notice, col(Notice.id) == col(Award.notice_id))
        .join(Agency, col(Agency.id) == col(Award.agency_id))
    )
    stmt = (
        _in(stmt, codes)
        .where(col(Award.status) == AwardStatus.holding.value, col(Notice.status).in_(AWARDED))
        .group_by(owner_id, owner_name, col(Award.agency_public_id), col(Agency.name))
        .having(sa.func.count(col(Award.id)) >= max(repeats, 1))
        .order_by(owner_id, col(Award.agency_public_id))
    )
    out = []
    for r in (await session.execute(stmt)).mappings():
        wins = []
        for item in r["wins"]:
            day_text, _, notice_id = item.partition(" ")
            wins.append((date.fromisoformat(day_text), notice_id))
        out.append(
            F.PairWins(
                owner_id=r["owner_id"],
                owner_name=r["owner_name"],
                agency_id=r["agency_id"],
                agency_name=r["agency_name"],
                wins=tuple(sorted(wins)),
            )
        )
    return out


async def owner_notices(
    session: AsyncSession, *, min_notices: int, codes: Codes = None
) -> list[F.OwnerNotices]:
    owner_id, owner_name = _owner_columns()
    direct = col(Selection.outcome) == Outcome.direct.value
    stmt = _with_owner(
        sa.select(
            owner_id.label("owner_id"),
            owner_name.label("owner_name"),
            sa.func.count(col(Notice.id)).label("published"),
            sa.func.array_agg(col(Notice.public_id)).filter(direct).label("direct"),
        ).select_from(Notice)
    )
    stmt = (
        _in(stmt, codes)
        .outerjoin(Selection, col(Selection.notice_id) == col(Notice.id))
        .where(col(Notice.published_at).is_not(None))
        .group_by(owner_id, owner_name)
        .having(
            sa.func.count(col(Notice.id)) >= min_notices, sa.func.count(col(Notice.id)).filter(direct) > 0
        )
        .order_by(owner_id)
    )
    return [
        F.OwnerNotices(
            owner_id=r["owner_id"],
            owner_name=r["owner_name"],
            published=int(r["published"]),
            direct=tuple(sorted(r["direct"] or ())),
        )
        for r in (await session.execute(stmt)).mappings()
    ]


async def priced_notices(session: AsyncSession, *, codes: Codes = None) -> list[F.PricedNotice]:
    stmt = (
        sa.select(col(Notice.public_id), col(Notice.title), col(Selection.closed_seq), col(Selection.bids))
        .join(Selection, col(Selection.notice_id) == col(Notice.id))
        .where(col(Notice.method) == "lowest_price")
        .order_by(col(Notice.id))
    )
    out = []
    for notice_id, title, seq, bids in (await session.execute(_in(stmt, codes))).all():
        priced = tuple(
            F.PricedBid(bid_id=b["bid_id"], agency_id=b["agency_id"], price_fen=int(b["price_fen"]))
            for b in bids or ()
            if isinstance(b, dict) and b.get("price_fen") is not None
        )
        if len(priced) >= 2:
            out.append(F.PricedNotice(notice_id=notice_id, title=title, closed_seq=int(seq), bids=priced))
    return out


async def contract_amounts(session: AsyncSession, *, codes: Codes = None) -> list[F.ContractAmount]:
    stmt = (
        sa.select(
            col(Contract.public_id),
            col(Notice.public_id),
            col(Agency.public_id),
            col(Agency.name),
            col(Contract.amount_fen),
            col(Notice.budget_fen),
            col(Contract.recorded_seq),
        )
        .join(Notice, col(Notice.id) == col(Contract.notice_id))
        .join(Agency, col(Agency.id) == col(Contract.agency_id))
        .where(
            col(Contract.status) != ContractStatus.declined.value,
            col(Contract.amount_fen) > col(Notice.budget_fen),
        )
        .order_by(col(Contract.id))
    )
    return [
        F.ContractAmount(
            contract_id=c,
            notice_id=n,
            agency_id=a,
            agency_name=name,
            amount_fen=int(amount),
            budget_fen=int(budget),
            recorded_seq=int(seq),
        )
        for c, n, a, name, amount, budget, seq in (await session.execute(_in(stmt, codes))).all()
    ]


async def signings(session: AsyncSession, *, codes: Codes = None) -> list[F.Signing]:
    """Every holder of a final award, with its live contract if there is one."""
    live = sa.and_(
        col(Contract.award_id) == col(Award.id),
        col(Contract.status).not_in((ContractStatus.declined.value, ContractStatus.set_aside.value)),
    )
    stmt = (
        sa.select(
            col(Notice.id),
            col(Notice.public_id),
            col(Award.agency_public_id),
            col(Agency.name),
            col(Selection.final_seq),
            col(Contract.public_id),
            col(Contract.confirmed_at),
            col(Contract.signed_seq),
        )
        .select_from(Award)
        .join(Notice, col(Notice.id) == col(Award.notice_id))
        .join(Selection, col(Selection.notice_id) == col(Notice.id))
        .join(Agency, col(Agency.id) == col(Award.agency_id))
        .outerjoin(Contract, live)
        .where(
            col(Award.status) == AwardStatus.holding.value,
            col(Notice.status) == NoticeStatus.awarded.value,
            col(Selection.final_seq).is_not(None),
        )
        .order_by(col(Notice.id), col(Award.slot))
    )
    rows = (await session.execute(_in(stmt, codes))).all()
    finals = await final_dates(session, sorted({r[0] for r in rows}))
    out = []
    for (
        notice_pk,
        notice_id,
        agency_id,
        agency_name,
        final_seq,
        contract_id,
        confirmed_at,
        signed_seq,
    ) in rows:
        final_on = finals.get(notice_pk)
        if final_on is None:
            continue
        out.append(
            F.Signing(
                notice_id=notice_id,
                agency_id=agency_id,
                agency_name=agency_name,
                final_on=final_on,
                final_seq=int(final_seq),
                contract_id=contract_id,
                confirmed_on=confirmed_at.astimezone(CHINA).date() if confirmed_at else None,
                signed_seq=int(signed_seq) if signed_seq is not None else None,
            )
        )
    return out


def _ts(value: object) -> datetime | None:
    return protocol.parse_ts(value) if isinstance(value, str) else None


async def amended_notices(session: AsyncSession, *, codes: Codes = None) -> list[F.AmendedNotice]:
    stmt = (
        sa.select(
            col(Notice.public_id),
            col(Notice.title),
            col(Notice.bid_deadline),
            col(NoticeRevision.created_at),
            col(NoticeRevision.log_seq),
            col(NoticeRevision.changes),
        )
        .join(NoticeRevision, col(NoticeRevision.notice_id) == col(Notice.id))
        .order_by(col(Notice.id), col(NoticeRevision.id))
    )
    grouped: dict[str, tuple[str, datetime, list[F.Amendment]]] = {}
    for notice_id, title, deadline, at, seq, changes in (await session.execute(_in(stmt, codes))).all():
        moved = (changes or {}).get("bid_deadline")
        before = _ts(moved[0]) if isinstance(moved, list) and moved else None
        grouped.setdefault(notice_id, (title, deadline, []))[2].append(
            F.Amendment(at=at, log_seq=int(seq), deadline_before=before)
        )
    return [
        F.AmendedNotice(notice_id=k, title=t, deadline=d, amendments=tuple(a))
        for k, (t, d, a) in grouped.items()
    ]


async def bid_counts(session: AsyncSession, *, min_bids: int, codes: Codes = None) -> list[F.BidCounts]:
    """Bids and withdrawals per notice whose bidding has ended: while a notice is open, how
    many have bid on it is sealed from staff too (issue 18)."""
    withdrawn = sa.func.count(col(Bid.id)).filter(col(Bid.status) == BidStatus.withdrawn.value)
    stmt = (
        sa.select(col(Notice.public_id), col(Notice.title), sa.func.count(col(Bid.id)), withdrawn)
        .join(Bid, col(Bid.notice_id) == col(Notice.id))
        .where(col(Notice.status).not_in((NoticeStatus.draft.value, NoticeStatus.open.value)))
        .group_by(col(Notice.id), col(Notice.public_id), col(Notice.title))
        .having(sa.func.count(col(Bid.id)) >= min_bids, withdrawn > 0)
        .order_by(col(Notice.id))
    )
    return [
        F.BidCounts(notice_id=n, title=t, total=int(total), withdrawn=int(w))
        for n, t, total, w in (await session.execute(_in(stmt, codes))).all()
    ]


def _digits(column: Mapped[str]) -> sa.ColumnElement[str]:
    """A telephone number's digits, so 0871-6123 4567 and 087161234567 compare equal, when
    there are at least 7 (fewer: an extension, a typo), else NULL, which equals nothing."""
    digits = sa.func.regexp_replace(column, "[^0-9]", "", "g")
    return sa.case((sa.func.length(digits) >= 7, digits), else_=sa.null())


async def holders_and_owners(session: AsyncSession, *, codes: Codes = None) -> list[F.HolderAndOwner]:
    """Every agency holding an award beside the organisation whose notice it is, with what
    they might share (compared in rules.related_parties)."""
    linked = sa.exists().where(
        col(AgencyOrgLink.agency_id) == col(Agency.id), col(AgencyOrgLink.org_id) == col(OwnerOrg.id)
    )
    same_phone = sa.func.coalesce(
        _digits(col(Agency.contact_phone)) == _digits(col(OwnerOrg.contact_phone)), False
    )
    stmt = (
        sa.select(
            col(Notice.public_id),
            col(Agency.public_id),
            col(Agency.name),
            col(OwnerOrg.public_id),
            col(OwnerOrg.name),
            col(Agency.credit_code) == col(OwnerOrg.credit_code),
            linked,
            same_phone,
        )
        .select_from(Award)
        .join(Notice, col(Notice.id) == col(Award.notice_id))
        .join(Agency, col(Agency.id) == col(Award.agency_id))
        .join(OwnerOrg, col(OwnerOrg.id) == col(Notice.org_id))
        .where(
            col(Award.status) == AwardStatus.holding.value,
            col(Notice.status).in_(AWARDED),
            sa.or_(col(Agency.credit_code) == col(OwnerOrg.credit_code), linked, same_phone),
        )
        .order_by(col(Notice.id), col(Agency.public_id))
    )
    return [
        F.HolderAndOwner(
            notice_id=n,
            agency_id=a,
            agency_name=name,
            owner_id=o,
            owner_name=oname,
            same_credit_code=bool(same),
            linked=bool(link),
            same_phone=bool(phone),
        )
        for n, a, name, o, oname, same, link, phone in (await session.execute(_in(stmt, codes))).all()
    ]


async def load_inputs(
    session: AsyncSession,
    settings: Settings,
    *,
    codes: Codes = None,
    hall: tuple[str, dict[str, str]] | None = None,
) -> F.Inputs:
    return F.Inputs(
        wins=await win_counts(session, min_awards=settings.flag_min_awards, codes=codes, hall=hall),
        pairs=await pair_wins(session, repeats=settings.flag_pair_repeats, codes=codes),
        owners=await owner_notices(session, min_notices=settings.flag_min_notices, codes=codes),
        priced=await priced_notices(session, codes=codes),
        amounts=await contract_amounts(session, codes=codes),
        signings=await signings(session, codes=codes),
        amended=await amended_notices(session, codes=codes),
        bid_counts=await bid_counts(session, min_bids=settings.flag_min_bids, codes=codes),
        holders=await holders_and_owners(session, codes=codes),
    )


async def all_flags(
    session: AsyncSession, settings: Settings, today: date, *, hall: str = hall_rules.PROVINCE
) -> list[F.Flag]:
    """Every red flag today in ``hall``'s view, most severe first: province-wide for the
    province; otherwise over the notices of the halls ``hall`` reaches, each rule applied to
    that jurisdiction's own records (a share counted among its own awards)."""
    codes = await halls.codes_under(session, hall)
    if codes is None:
        return F.evaluate(await load_inputs(session, settings), settings, today)
    found = await halls.get_hall(session, hall)
    name = (
        {"zh_Hans": found.name_zh, "en": found.name_en}
        if found is not None
        else {"zh_Hans": hall, "en": hall}
    )
    return F.evaluate(await load_inputs(session, settings, codes=codes, hall=(hall, name)), settings, today)
