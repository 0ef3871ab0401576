"""Loading what the OCDS releases and the CSV downloads are made from (docs/ocds.md)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from market.agencies.models import Agency
from market.contracts.models import Contract, Milestone
from market.core.db import Database
from market.core.errors import DomainError, FieldError, InvalidInput
from market.core.i18n import N_
from market.core.money import yuan_decimal
from market.core.spreadsheet import to_csv
from market.halls import queries as hall_queries
from market.halls.models import Jurisdiction
from market.log.models import LogEntry
from market.notices.models import Notice, NoticeRevision, OwnerOrg
from market.ocds import mapping, store
from market.protocol import entry_types
from market.reference.models import Region, ServiceCategory
from market.selection.models import Award, Selection

PUBLISHED = ("open", "closed", "selected", "awarded", "failed", "cancelled")
HALL_CODE = re.compile(r"[0-9]{6}[0-9A-Z]{0,6}")  # the shape of a hall's code, checked before SQL
BID_ENTRY_TYPES = (entry_types.BID_ACCEPTED, entry_types.BID_WITHDRAWN, entry_types.BID_SEALED)

_M = TypeVar("_M", bound=SQLModel)


async def first_seq_since(session: AsyncSession, since: datetime) -> int | None:
    """The first log seq written at or after ``since``. Timestamps are set under the log's
    lock, so they grow with seq: a binary search over seq finds it in O(log n) reads."""
    size = (await session.execute(sa.select(sa.func.max(LogEntry.seq)))).scalar()
    if size is None:
        return None

    async def ts_at(seq: int) -> datetime:
        raw = (
            await session.execute(sa.select(col(LogEntry.entry)).where(col(LogEntry.seq) == seq))
        ).scalar_one()
        return datetime.fromisoformat(json.loads(bytes(raw))["ts"])

    lo, hi = 0, int(size) + 1  # answer in [lo, hi]; hi = nothing since
    while lo < hi:
        mid = (lo + hi) // 2
        if await ts_at(mid) >= since:
            hi = mid
        else:
            lo = mid + 1
    return lo if lo <= size else None


async def hall_scope(session: AsyncSession, code: str | None) -> tuple[mapping.Hall, list[str] | None] | None:
    """The ``hall`` parameter of the OCDS list and export, checked: None when not given;
    else the hall and the codes it reaches (None for the province: every notice). An
    unknown code is refused beside the parameter (422)."""
    code = (code or "").strip()
    if not code:
        return None
    hall = await hall_queries.get_hall(session, code) if HALL_CODE.fullmatch(code) else None
    if hall is None:
        raise InvalidInput(
            N_("Unknown hall."), [FieldError("hall", N_("Unknown hall: {code}."), {"code": code})]
        )
    return mapping.Hall(hall.code, hall.name_zh, hall.name_en), await hall_queries.codes_under(
        session, hall.code
    )


async def notice_page(
    session: AsyncSession,
    *,
    since: datetime | None,
    after: int | None,
    limit: int,
    halls: list[str] | None = None,
    notice_id: str | None = None,
) -> tuple[list[Notice], bool]:
    """Published notices in id order after ``after``, each with a log entry other than a
    bid's at or after ``since`` (and in one of ``halls``, when given); and whether more remain."""
    stmt = (
        select(Notice)
        .where(col(Notice.status).in_(PUBLISHED), col(Notice.published_at).is_not(None))
        .order_by(col(Notice.id))
        .limit(limit + 1)
    )
    if halls is not None:
        stmt = stmt.where(hall_queries.in_halls(col(Notice.hall), halls))
    if notice_id is not None:
        stmt = stmt.where(col(Notice.public_id) == notice_id)
    if after is not None:
        stmt = stmt.where(col(Notice.id) > after)
    if since is not None:
        start = await first_seq_since(session, since)
        if start is None:
            return [], False
        # A bid's entry is no news of the process (it makes no release), and counting it
        # here would tell who asks with ``since`` that someone bid on an open notice.
        stmt = stmt.where(
            sa.exists().where(
                col(LogEntry.notice_id) == Notice.public_id,
                col(LogEntry.seq) >= start,
                col(LogEntry.type).not_in(BID_ENTRY_TYPES),
            )
        )
    rows = list((await session.execute(stmt)).scalars().all())
    return rows[:limit], len(rows) > limit


async def _regions(session: AsyncSession) -> dict[str, str]:
    return {
        code: name
        for code, name in (await session.execute(sa.select(col(Region.code), col(Region.name_zh)))).all()
    }


def _org(row: Any, regions: dict[str, str]) -> mapping.Org:
    return mapping.Org(
        id=row.public_id,
        name=row.name,
        credit_code=row.credit_code,
        region=row.region,
        region_name=regions.get(row.region, ""),
    )


async def _rows_in(session: AsyncSession, model: type[_M], column: Any, values: Collection[Any]) -> list[_M]:
    """The rows of ``model`` whose ``column`` is one of ``values``; no query when there are none."""
    if not values:
        return []
    return list((await session.execute(select(model).where(col(column).in_(values)))).scalars().all())


async def processes(session: AsyncSession, notices: Sequence[Notice]) -> list[mapping.Process]:
    """The rows of each notice's contracting process, in a handful of queries per page."""
    if not notices:
        return []
    ids = [n.id for n in notices]
    public = [n.public_id for n in notices]
    regions = await _regions(session)
    categories = {c.code: c.name_zh for c in (await session.execute(select(ServiceCategory))).scalars().all()}
    org_ids = {n.org_id for n in notices if n.org_id is not None}
    orgs = {o.id: _org(o, regions) for o in await _rows_in(session, OwnerOrg, OwnerOrg.id, org_ids)}
    hall_codes = {n.hall for n in notices if n.hall is not None}
    halls = {
        h.code: mapping.Hall(h.code, h.name_zh, h.name_en)
        for h in await _rows_in(session, Jurisdiction, Jurisdiction.code, hall_codes)
    }
    # An open notice has no selection, award or contract yet: publishing (the commonest
    # change kept at commit, market/ocds/store.py) skips those queries.
    later = [n.id for n in notices if n.status != "open"]
    selections = {s.notice_id: s for s in await _rows_in(session, Selection, Selection.notice_id, later)}
    awards: dict[int, list[Award]] = {}
    for a in await _rows_in(session, Award, Award.notice_id, later):
        awards.setdefault(a.notice_id, []).append(a)
    revisions: dict[int, list[NoticeRevision]] = {}
    for r in await _rows_in(session, NoticeRevision, NoticeRevision.notice_id, ids):
        revisions.setdefault(r.notice_id, []).append(r)
    contracts = await _rows_in(session, Contract, Contract.notice_id, later)
    milestones: dict[int, list[Milestone]] = {}
    for m in await _rows_in(session, Milestone, Milestone.contract_id, [c.id for c in contracts]):
        milestones.setdefault(m.contract_id, []).append(m)
    events: dict[str, list[mapping.Event]] = {}
    stmt2 = (
        sa.select(col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id), col(LogEntry.entry))
        .where(col(LogEntry.notice_id).in_(public))
        .order_by(col(LogEntry.seq))
    )
    for seq, kind, nid, raw in (await session.execute(stmt2)).all():
        fields = json.loads(bytes(raw))
        events.setdefault(nid, []).append(
            mapping.Event(
                seq=int(seq),
                type=kind,
                ts=datetime.fromisoformat(fields["ts"]),
                contract_id=fields.get("contract_id"),
            )
        )
    # Every agency a process names: bidders at closing and award holders.
    agency_public: set[str] = set()
    for s in selections.values():
        agency_public.update(b["agency_id"] for b in s.bids)
    agency_ids = {a.agency_id for rows in awards.values() for a in rows} | {c.agency_id for c in contracts}
    found = (
        (
            await session.execute(
                select(Agency).where(
                    sa.or_(col(Agency.public_id).in_(agency_public), col(Agency.id).in_(agency_ids))
                )
            )
        )
        .scalars()
        .all()
        if agency_public or agency_ids
        else []
    )
    agencies = {a.public_id: _org(a, regions) for a in found}
    by_id = {a.id: a.public_id for a in found}
    award_by_id = {a.id: a for rows in awards.values() for a in rows}

    out = []
    for n in notices:
        assert n.id is not None  # notices read from the database
        mine = awards.get(n.id, [])
        out.append(
            mapping.Process(
                notice=n,
                category_name=categories.get(n.category, n.category),
                buyer=orgs.get(n.org_id) if n.org_id is not None else None,
                hall=halls.get(n.hall) if n.hall is not None else None,
                events=events.get(n.public_id, []),
                selection=selections.get(n.id),
                awards=mine,
                agencies=agencies,
                contracts=[
                    mapping.ContractRows(
                        contract=c,
                        milestones=milestones.get(c.id, []) if c.id is not None else [],
                        award=award_by_id[c.award_id],
                        agency=agencies[by_id[c.agency_id]],
                    )
                    for c in contracts
                    if c.notice_id == n.id
                ],
                revisions=revisions.get(n.id, []),
                holders=[
                    a.agency_public_id for a in sorted(mine, key=lambda a: a.slot) if a.status == "holding"
                ],
            )
        )
    return out


async def process_releases(
    session: AsyncSession,
    *,
    prefix: str,
    base_url: str,
    since: datetime | None,
    after: int | None,
    limit: int,
    halls: list[str] | None = None,
    notice_id: str | None = None,
    whole: bool = False,
) -> tuple[list[list[dict[str, Any]]], int | None]:
    """One page of releases (of ``limit`` processes) dated at or after ``since``, grouped by
    process (a record each), and the notice id the next page starts after (None at the end);
    ``halls``: only these halls' notices (a hall rolled up), None: all; ``whole``: every
    release of a process that changed since ``since``, not only the later ones (records).
    Every release each process ever had is served, oldest first, with the current ones not
    stored yet (market/ocds/store.py).

    Those are inserted by the last statement, and the caller commits at once: this is an
    anonymous read, and a release row it held uncommitted would make the commit hook of a
    change to that notice wait while it holds the log's lock (keep_changed bounds that
    wait, and gives up the change's release rather than the change)."""
    notices, more = await notice_page(
        session, since=since, after=after, limit=limit, halls=halls, notice_id=notice_id
    )
    current = store.rows(await processes(session, notices))
    stored = await store.kept(session, [n.id for n in notices if n.id is not None])
    known = {key for found in stored.values() for key, _, _ in found}
    unkept = store.by_key([r for r in current if r["key"] not in known])
    for r in unkept:
        stored.setdefault(r["notice_id"], []).append((r["key"], r["seq"], r["body"]))
    cut = since.replace(microsecond=0) if since is not None and not whole else None
    out: list[list[dict[str, Any]]] = []
    for n in notices:
        assert n.id is not None  # notices read from the database
        bodies = sorted(stored.get(n.id, []), key=lambda k: (k[1], k[0]))  # by seq, then key
        found = [store.fill(b, prefix=prefix, base_url=base_url) for _, _, b in bodies]
        found = [r for r in found if cut is None or datetime.fromisoformat(r["date"]) >= cut]
        if found:
            out.append(found)
    await store.insert(session, unkept)
    return out, (notices[-1].id if more and notices else None)


async def keep_page(session: AsyncSession, *, after: int | None, limit: int) -> tuple[int, int, int | None]:
    """Store the current releases not stored yet of one page of ``limit`` processes after
    notice ``after`` (the backfill): how many processes, how many releases stored, and the
    notice id the next page starts after (None at the end). The insert is the last
    statement: the caller commits at once."""
    notices, more = await notice_page(session, since=None, after=after, limit=limit)
    current = store.rows(await processes(session, notices))
    known = await store.stored_keys(session, [r["key"] for r in current])
    stored = await store.insert(session, store.by_key([r for r in current if r["key"] not in known]))
    return len(notices), stored, (notices[-1].id if more and notices else None)


async def data_date(session: AsyncSession) -> str:
    """The time of the log's last entry other than a bid's: what a package's
    ``publishedDate`` says, so the same data is served as the same bytes (the time of the
    request would differ). A bid makes no release, and counting it would tell anyone
    that someone bid on an open notice."""
    raw = (
        await session.execute(
            sa.select(col(LogEntry.entry))
            .where(col(LogEntry.type).not_in(BID_ENTRY_TYPES))
            .order_by(col(LogEntry.seq).desc())
            .limit(1)
        )
    ).scalar()
    if raw is None:
        return "1970-01-01T00:00:00Z"  # nothing published yet
    return mapping.rfc3339(datetime.fromisoformat(json.loads(bytes(raw))["ts"]))


def publishing_settings(prefix: str) -> None:
    """Refuse to publish open data without a registered ocid prefix (production, unset)."""
    if not prefix:
        raise DomainError(
            detail=N_(
                "Open data is not published: set MARKET_OCID_PREFIX to the ocid prefix registered with the Open Contracting Partnership."
            ),
            status=503,
            title="Service Unavailable",
        )


def notice_of_ocid(prefix: str, ocid: str | None) -> str | None:
    """The notice id an ``ocid`` parameter names; an ocid of another prefix is refused."""
    value = (ocid or "").strip()
    if not value:
        return None
    if not value.startswith(prefix) or not value[len(prefix) :]:
        raise InvalidInput(
            N_("Unknown ocid."),
            [FieldError("ocid", N_("Not an ocid of this marketplace: {ocid}."), {"ocid": value})],
        )
    return value[len(prefix) :]


async def all_releases(
    db: Database,
    *,
    prefix: str,
    base_url: str,
    since: datetime | None = None,
    halls: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every release (of ``halls``' notices, when given), for the export."""
    out: list[dict[str, Any]] = []
    async for page in release_pages(db, prefix=prefix, base_url=base_url, since=since, halls=halls):
        out += page
    return out


async def release_pages(
    db: Database,
    *,
    prefix: str,
    base_url: str,
    since: datetime | None = None,
    halls: list[str] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every release, a page of 200 processes at a time (the bulk download streams them).
    Each page is read in a transaction of its own, committed before the page is handed
    on: a slow reader of the download holds no transaction, and no release row."""
    after: int | None = None
    while True:
        async with db.transaction() as session:
            by_process, after = await process_releases(
                session, prefix=prefix, base_url=base_url, since=since, after=after, limit=200, halls=halls
            )
        yield [r for found in by_process for r in found]
        if after is None:
            return


# -- CSV ---------------------------------------------------------------------------------------------


def _day(value: Any) -> str:
    return value.isoformat() if value is not None else ""


async def notices_csv(session: AsyncSession, *, prefix: str) -> bytes:
    notices = list(
        (
            await session.execute(
                select(Notice)
                .where(col(Notice.status).in_(PUBLISHED), col(Notice.published_at).is_not(None))
                .order_by(col(Notice.id))
            )
        )
        .scalars()
        .all()
    )
    org_ids = {n.org_id for n in notices if n.org_id is not None}
    orgs = {o.id: o for o in await _rows_in(session, OwnerOrg, OwnerOrg.id, org_ids)}
    header = [
        "ocid",
        "notice_id",
        "title",
        "buyer_id",
        "buyer",
        "category",
        "region",
        "method",
        "status",
        "budget_yuan",
        "winners",
        "published_at",
        "bid_deadline",
    ]
    rows = []
    for n in notices:
        org = orgs.get(n.org_id) if n.org_id is not None else None
        rows.append(
            [
                mapping.ocid(prefix, n.public_id),
                n.public_id,
                n.title,
                org.public_id if org else "",
                org.name if org else "",
                n.category,
                n.region,
                n.method,
                n.status,
                yuan_decimal(n.budget_fen),
                n.winners,
                mapping.rfc3339(n.published_at) if n.published_at else "",
                mapping.rfc3339(n.bid_deadline),
            ]
        )
    return to_csv(header, rows)


async def awards_csv(session: AsyncSession, *, prefix: str) -> bytes:
    stmt = (
        sa.select(Award, Notice, Agency, Selection)
        .join(Notice, Notice.id == Award.notice_id)  # type: ignore[arg-type]
        .join(Agency, Agency.id == Award.agency_id)  # type: ignore[arg-type]
        .join(Selection, Selection.notice_id == Award.notice_id)  # type: ignore[arg-type]
        .order_by(col(Award.notice_id), col(Award.since_seq), col(Award.slot))
    )
    header = [
        "ocid",
        "notice_id",
        "award_id",
        "place",
        "status",
        "agency_id",
        "agency",
        "credit_code",
        "method",
        "bid_price_yuan",
        "awarded_at",
        "final",
        "log_seq",
    ]
    rows = []
    for award, notice, agency, selection in (await session.execute(stmt)).all():
        price = next((b.get("price_fen") for b in selection.bids if b["agency_id"] == agency.public_id), None)
        final = selection.final_seq is not None
        rows.append(
            [
                mapping.ocid(prefix, notice.public_id),
                notice.public_id,
                mapping.award_id(notice.public_id, award),
                award.slot + 1,  # places from 1, as in the releases
                mapping._award_status(award, final),
                agency.public_id,
                agency.name,
                agency.credit_code,
                notice.method,
                yuan_decimal(price),
                mapping.rfc3339(award.created_at),
                "yes" if final and award.status == "holding" else "no",
                award.since_seq,
            ]
        )
    return to_csv(header, rows)


async def contracts_csv(session: AsyncSession, *, prefix: str) -> bytes:
    stmt = (
        sa.select(Contract, Notice, Agency, Award)
        .join(Notice, Notice.id == Contract.notice_id)  # type: ignore[arg-type]
        .join(Agency, Agency.id == Contract.agency_id)  # type: ignore[arg-type]
        .join(Award, Award.id == Contract.award_id)  # type: ignore[arg-type]
        .order_by(col(Contract.id))
    )
    header = [
        "ocid",
        "contract_id",
        "notice_id",
        "award_id",
        "agency_id",
        "agency",
        "status",
        "amount_yuan",
        "budget_yuan",
        "signed_on",
        "start_on",
        "due_on",
        "completed_at",
        "stopped_at",
    ]
    rows = []
    for c, notice, agency, award in (await session.execute(stmt)).all():
        rows.append(
            [
                mapping.ocid(prefix, notice.public_id),
                c.public_id,
                notice.public_id,
                mapping.award_id(notice.public_id, award),
                agency.public_id,
                agency.name,
                c.status,
                yuan_decimal(c.amount_fen),
                yuan_decimal(notice.budget_fen),
                _day(c.signed_on),
                _day(c.start_on),
                _day(c.due_on),
                mapping.rfc3339(c.completed_at) if c.completed_at else "",
                mapping.rfc3339(c.stopped_at) if c.stopped_at else "",
            ]
        )
    return to_csv(header, rows)


CSV_TABLES = {"notices": notices_csv, "awards": awards_csv, "contracts": contracts_csv}
