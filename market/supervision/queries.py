"""The read-only queries behind the supervisor console (/supervision): a notice's timeline,
an agency's and an owner organisation's history, contracts, search.

The queries only find rows to show, described by ``present.describe``; every change a
supervisor or administrator makes from the console goes through the domain's own service
(selection, ratings, agencies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from market.agencies.models import Agency
from market.contracts.models import Contract
from market.core.sql import like_pattern
from market.halls import queries as halls_queries
from market.log.models import LogEntry, LogEntryAgency
from market.log.queries import MAX_SEQ
from market.notices.models import Notice, NoticeRevision, NoticeStatus, OwnerOrg
from market.protocol import entry_types
from market.selection.models import Selection
from market.supervision.present import Description, china_ts, describe

HISTORY_LIMIT = 50
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    type: str
    ts: str
    notice_id: str | None
    description: Description

    @property
    def china_time(self) -> str:
        return china_ts(self.ts)


def _row(
    seq: int, kind: str, notice_id: str | None, entry: bytes, changes: Mapping[str, Any] | None = None
) -> TimelineRow:
    fields = json.loads(bytes(entry))
    return TimelineRow(
        seq=int(seq),
        type=kind,
        ts=str(fields.get("ts", "")),
        notice_id=notice_id,
        description=describe(fields, changes=changes),
    )


# The entries placing or withdrawing a bid writes. MSP/1's name the notice and the agency;
# MSP/2's ``bid.sealed`` names neither (its row has no notice id). Until a notice's bidding
# ends, the console shows none of them beside the notice or an agency: staff learn who bid
# on it, and how many, when everyone does (issue 18).
BID_ENTRY_TYPES = (entry_types.BID_ACCEPTED, entry_types.BID_WITHDRAWN, entry_types.BID_SEALED)


def not_sealed_bid() -> sa.ColumnElement[bool]:
    """A condition on ``log_entry``: not a bid entry of a notice still open for bids."""
    still_open = sa.select(col(Notice.public_id)).where(col(Notice.status) == NoticeStatus.open.value)
    return sa.or_(
        col(LogEntry.type).not_in(BID_ENTRY_TYPES),
        col(LogEntry.notice_id).is_(None),
        col(LogEntry.notice_id).not_in(still_open),
    )


async def notice_timeline(session: AsyncSession, notice: Notice) -> list[TimelineRow]:
    """Every log entry of the notice in seq order, amendments with their recorded changes;
    while it is open, without its bids' entries. An MSP/2 notice's sealed entries name no
    notice: once its bids are opened, the ones its opening claims join its timeline."""
    own = sa.and_(col(LogEntry.notice_id) == notice.public_id, not_sealed_bid())
    claimed = await opened_seqs(session, notice)
    stmt = (
        sa.select(col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id), col(LogEntry.entry))
        .where(sa.or_(own, col(LogEntry.seq).in_(claimed)) if claimed else own)
        .order_by(col(LogEntry.seq))
    )
    rows = (await session.execute(stmt)).all()
    revisions = {
        r.log_seq: r.changes
        for r in (
            await session.execute(sa.select(NoticeRevision).where(col(NoticeRevision.notice_id) == notice.id))
        )
        .scalars()
        .all()
    }
    return [_row(seq, kind, nid, entry, revisions.get(seq)) for seq, kind, nid, entry in rows]


async def opened_seqs(session: AsyncSession, notice: Notice) -> list[int]:
    """The seqs of the sealed entries (bids and withdrawals) that an MSP/2 notice's opening
    claims; none before its bids are opened."""
    if notice.opened_seq is None:
        return []
    entry = await session.get(LogEntry, notice.opened_seq)
    openings = json.loads(bytes(entry.entry)).get("openings") if entry is not None else None
    seqs: list[int] = []
    for o in openings if isinstance(openings, list) else []:
        seqs.append(int(o["seq"]))
        if isinstance(o.get("withdrawn"), dict):
            seqs.append(int(o["withdrawn"]["seq"]))
    return sorted(seqs)


# The entry names the agency in one of the fields MSP/1 and docs/contracts.md give it.
# Migration 0013's market_log_named_agencies extracts the same strings for log_entry_agency:
# change both together (tests/integration/log/test_agency_index.py holds them equal).
AGENCY_PATH = (
    "$ ? (@.agency_id == $a || @.replacement == $a || @.winners[*] == $a || @.alternates[*] == $a"
    " || @.candidates[*][0] == $a || @.excluded[*].agency_id == $a || @.bids[*].agency_id == $a"
    " || @.openings[*].bid.agency_id == $a)"
)


def not_a_bid_on_an_open_notice() -> sa.ColumnElement[bool]:
    """``not_sealed_bid`` asked per row: whether the entry's notice is open is one look-up
    by its unique id, where NOT IN first gathers every open notice (a number that grows
    with the marketplace). The same rows: notice.public_id is never NULL."""
    open_notice = sa.exists().where(
        col(Notice.public_id) == col(LogEntry.notice_id), col(Notice.status) == NoticeStatus.open.value
    )
    return sa.or_(
        col(LogEntry.type).not_in(BID_ENTRY_TYPES),
        col(LogEntry.notice_id).is_(None),
        sa.not_(open_notice),
    )


async def agency_history(
    session: AsyncSession, agency_id: str, *, before: int | None = None, limit: int = HISTORY_LIMIT
) -> tuple[list[TimelineRow], int | None]:
    """Entries naming the agency, newest first, and the seq to continue below (or None).
    Its bids on notices still open are left out (``not_sealed_bid``).

    The candidates come newest first from ``log_entry_agency`` (every agency an entry
    names, written by the append with AGENCY_PATH's rule: migration 0013), by key, so a
    page costs the same in a log of any size. The byte search for the quoted id and the
    JSON path still decide each candidate, as they decided every entry before."""
    needle = json.dumps(agency_id).encode("utf-8")
    doc = sa.cast(sa.func.convert_from(LogEntry.entry, "UTF8"), postgresql.JSONB)
    stmt = (
        sa.select(col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id), col(LogEntry.entry))
        .select_from(LogEntryAgency)
        .join(LogEntry, col(LogEntry.seq) == col(LogEntryAgency.seq))
        .where(
            col(LogEntryAgency.agency_id) == agency_id,
            sa.text("position(:needle IN log_entry.entry) > 0").bindparams(
                sa.bindparam("needle", needle, type_=sa.LargeBinary)
            ),
            sa.func.jsonb_path_exists(
                doc, sa.cast(AGENCY_PATH, postgresql.JSONPATH), sa.func.jsonb_build_object("a", agency_id)
            ),
            not_a_bid_on_an_open_notice(),
        )
        .order_by(col(LogEntryAgency.seq).desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(col(LogEntryAgency.seq) < max(0, min(before, MAX_SEQ)))
    found = (await session.execute(stmt)).all()
    rows = [_row(seq, kind, nid, entry) for seq, kind, nid, entry in found[:limit]]
    return rows, (rows[-1].seq if len(found) > limit and rows else None)


async def org_notices(session: AsyncSession, org: OwnerOrg) -> list[tuple[Notice, Selection | None]]:
    """The organisation's notices, newest first, each with its selection (if closed)."""
    stmt = (
        sa.select(Notice, Selection)
        .outerjoin(Selection, col(Selection.notice_id) == Notice.id)
        .where(sa.or_(col(Notice.org_id) == org.id, col(Notice.owner_id) == org.created_by))
        .order_by(col(Notice.id).desc())
    )
    return [(n, s) for n, s in (await session.execute(stmt)).all()]


async def org_history(
    session: AsyncSession,
    org: OwnerOrg,
    notice_ids: Sequence[str],
    *,
    before: int | None = None,
    limit: int = HISTORY_LIMIT,
) -> tuple[list[TimelineRow], int | None]:
    """Entries of the organisation's notices (without the bids on those still open) and
    its own registration, newest first.

    Each notice's newest ``limit + 1`` entries come from its own range of
    ix_log_entry_notice_seq (a LATERAL subquery per notice id), and the newest of those
    make the page: the statement reads the organisation's entries and no other. With
    ``notice_id IN (...) ORDER BY seq DESC`` the planner walked the whole log backwards
    from its newest entry for an organisation with many notices, stepping over every
    other notice's entries (6,261 at scale 1 for the largest, more with every entry the
    market adds); and the bids of open notices were checked against a list of every open
    notice (``not_a_bid_on_an_open_notice`` asks per row instead). The registration is
    still looked for among every ``owner.registered`` entry (none in the seeded data sets):
    the log keeps no column an index could find it by."""
    columns = (col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id), col(LogEntry.entry))
    below = [col(LogEntry.seq) < max(0, min(before, MAX_SEQ))] if before is not None else []
    doc = sa.cast(sa.func.convert_from(LogEntry.entry, "UTF8"), postgresql.JSONB)
    mine = sa.select(*columns).where(
        col(LogEntry.type) == entry_types.OWNER_REGISTERED, doc["owner_id"].astext == org.public_id, *below
    )
    branches: list[sa.Select[Any]] = [mine]
    if notice_ids:
        ids = (
            sa.func.unnest(sa.literal(list(notice_ids), type_=postgresql.ARRAY(sa.String)))
            .table_valued("id")
            .render_derived()
        )
        newest = (
            sa.select(*columns)
            .where(col(LogEntry.notice_id) == ids.c.id, not_a_bid_on_an_open_notice(), *below)
            .order_by(col(LogEntry.seq).desc())
            .limit(limit + 1)
            .lateral()
        )
        branches.append(sa.select(*newest.c).select_from(ids).join(newest, sa.true()))
    merged = sa.union_all(*branches).subquery()
    stmt = sa.select(*merged.c).order_by(merged.c.seq.desc()).limit(limit + 1)
    found = (await session.execute(stmt)).all()
    rows = [_row(seq, kind, nid, entry) for seq, kind, nid, entry in found[:limit]]
    return rows, (rows[-1].seq if len(found) > limit and rows else None)


async def contracts_of_notices(
    session: AsyncSession, notice_db_ids: Iterable[int]
) -> list[tuple[Contract, Notice, Agency]]:
    """The contracts of the notices ``notice_db_ids``, newest first, with their notices and
    agencies: each notice's looked up in ix_contract_notice_id, then each row's notice and
    agency by primary key. ``OFFSET 0`` keeps the per-notice subquery apart: as a plain
    join (``notice_id IN (...)``) the planner answered an organisation with many notices
    (1,975 at scale 1) with a scan of every contract and a hash of every agency, reads
    that grow with the market rather than with the organisation."""
    ids = [i for i in notice_db_ids if i is not None]
    if not ids:
        return []
    wanted = (
        sa.func.unnest(sa.literal(ids, type_=postgresql.ARRAY(sa.Integer)))
        .table_valued("id")
        .render_derived()
    )
    per_notice = sa.select(Contract).where(col(Contract.notice_id) == wanted.c.id).offset(0).lateral()
    contract = aliased(Contract, per_notice)
    stmt = (
        sa.select(contract, Notice, Agency)
        .select_from(wanted)
        .join(per_notice, sa.true())
        .join(Notice, col(Notice.id) == contract.notice_id)
        .join(Agency, col(Agency.id) == contract.agency_id)
        .order_by(col(contract.id).desc())
    )
    return [(c, n, a) for c, n, a in (await session.execute(stmt)).all()]


async def disputed_contract_count(session: AsyncSession, codes: list[str] | None = None) -> int:
    """Contracts declined because their terms do not follow the award, waiting for a
    supervisor (decided on /supervision/contracts, through the contracts service); only
    those of notices in the halls ``codes`` unless it is None."""
    stmt = sa.select(sa.func.count()).select_from(Contract).where(col(Contract.status) == "disputed")
    if codes is not None:
        stmt = stmt.join(Notice, col(Notice.id) == Contract.notice_id).where(
            halls_queries.in_halls(col(Notice.hall), codes)
        )
    return int((await session.execute(stmt)).scalar_one())


async def contracts_of_agency(
    session: AsyncSession, agency: Agency, codes: list[str] | None = None
) -> list[tuple[Contract, Notice]]:
    """The agency's contracts (on notices in the halls ``codes`` only, unless it is None)."""
    stmt = (
        sa.select(Contract, Notice)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .where(col(Contract.agency_id) == agency.id)
        .order_by(col(Contract.id).desc())
    )
    if codes is not None:
        stmt = stmt.where(halls_queries.in_halls(col(Notice.hall), codes))
    return [(c, n) for c, n in (await session.execute(stmt)).all()]


async def get_org(session: AsyncSession, public_id: str) -> OwnerOrg | None:
    return (
        await session.execute(sa.select(OwnerOrg).where(col(OwnerOrg.public_id) == public_id))
    ).scalar_one_or_none()


# -- search ----------------------------------------------------------------------------------------


@dataclass
class SearchResults:
    query: str
    notices: list[Notice] = field(default_factory=list)
    agencies: list[Agency] = field(default_factory=list)
    owners: list[OwnerOrg] = field(default_factory=list)
    entries: list[TimelineRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.notices or self.agencies or self.owners or self.entries)


SEQ_QUERY = re.compile(r"^#?(\d{1,18})$")


async def search(
    session: AsyncSession, query: str, *, limit: int = SEARCH_LIMIT, codes: list[str] | None = None
) -> SearchResults:
    """Notices by id or title words, agencies by id, name or credit code, owner
    organisations likewise, and a log entry by seq (``123`` or ``#123``; not a bid on a notice
    still open). With ``codes`` (``halls.queries.codes_under``), only the notices and owner
    organisations of those halls; agencies are everyone's to see."""
    q = query.strip()[:200]
    out = SearchResults(query=q)
    if not q:
        return out
    upper = q.upper()
    words = [w for w in q.split() if w]
    title_match = sa.and_(*[col(Notice.title).ilike(like_pattern(w), escape="\\") for w in words])
    notices = (
        sa.select(Notice)
        .where(sa.or_(col(Notice.public_id) == upper, title_match), col(Notice.status) != "draft")
        .order_by(col(Notice.id).desc())
        .limit(limit)
    )
    if codes is not None:
        notices = notices.where(halls_queries.in_halls(col(Notice.hall), codes))
    out.notices = list((await session.execute(notices)).scalars().all())
    agencies = (
        sa.select(Agency)
        .where(
            sa.or_(
                col(Agency.public_id) == upper,
                col(Agency.credit_code) == upper,
                col(Agency.name).ilike(like_pattern(q), escape="\\"),
            )
        )
        .order_by(col(Agency.id).desc())
        .limit(limit)
    )
    out.agencies = list((await session.execute(agencies)).scalars().all())
    owners = (
        sa.select(OwnerOrg)
        .where(
            sa.or_(
                col(OwnerOrg.public_id) == upper,
                col(OwnerOrg.credit_code) == upper,
                col(OwnerOrg.name).ilike(like_pattern(q), escape="\\"),
            )
        )
        .order_by(col(OwnerOrg.id).desc())
        .limit(limit)
    )
    if codes is not None:
        owners = owners.where(halls_queries.in_halls(col(OwnerOrg.hall), codes))
    out.owners = list((await session.execute(owners)).scalars().all())
    if match := SEQ_QUERY.match(q):
        seq = int(match.group(1))
        if seq <= MAX_SEQ:
            row = (
                await session.execute(
                    sa.select(
                        col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id), col(LogEntry.entry)
                    ).where(col(LogEntry.seq) == seq, not_sealed_bid())
                )
            ).one_or_none()
            if row is not None:
                out.entries = [_row(*row)]
    return out
