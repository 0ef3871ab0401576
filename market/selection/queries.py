"""Read-only queries of the selection: a notice's result and awards, an agency's awards, the
selection record, and the hand-written SQL that tells the live draw page a notice changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.agencies.models import Agency
from market.core.errors import Conflict
from market.core.i18n import N_
from market.log.queries import ts_of
from market.notices.models import Notice
from market.selection import rules
from market.selection.models import Award, AwardStatus, Selection

# Bids do not count: a polled stream that sent the panel again on each bid would tell its
# watchers when someone bid, and how often (issue 18).
NOT_A_BID = " AND type NOT IN ('bid.accepted', 'bid.withdrawn', 'bid.sealed')"
LAST_SEQ = "SELECT max(seq) FROM log_entry WHERE notice_id = :n" + NOT_A_BID


async def last_seq(session: AsyncSession, notice: Notice) -> int | None:
    """The newest log entry about this notice: it changes with every step the service takes."""
    return await newest_seq(session, notice.public_id)


async def newest_seq(session: AsyncSession, notice_public_id: str) -> int | None:
    row = await session.execute(sa.text(LAST_SEQ), {"n": notice_public_id})
    value = row.scalar_one_or_none()
    return int(value) if value is not None else None


# The draw page's timeline and its event stream: the same entries as LAST_SEQ counts, so
# that neither says when someone bid (issue 18); newest first for the LIMIT, turned around.
TIMELINE = (
    "SELECT seq, type, entry FROM log_entry WHERE notice_id = :n"
    + NOT_A_BID
    + " ORDER BY seq DESC LIMIT :limit"
)


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    type: str
    ts: str  # as written in the entry (UTC)


async def timeline(session: AsyncSession, notice_public_id: str, *, limit: int) -> list[TimelineEntry]:
    """The notice's newest ``limit`` log entries, oldest first, bids left out: what the
    draw page lists and its event stream sends (docs/selection.md, "The live draw page and
    its event stream")."""
    rows = (await session.execute(sa.text(TIMELINE), {"n": notice_public_id, "limit": limit})).all()
    return [
        TimelineEntry(seq=int(seq), type=str(kind), ts=ts_of(bytes(entry)))
        for seq, kind, entry in reversed(rows)
    ]


async def selection_of(session: AsyncSession, notice: Notice) -> Selection:
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


async def awards_of(session: AsyncSession, agency: Agency) -> list[tuple[Award, Notice]]:
    """An agency's awards, held or ended, newest first (its dashboard)."""
    stmt = (
        sa.select(Award, Notice)
        .join(Notice, col(Notice.id) == Award.notice_id)
        .where(col(Award.agency_id) == agency.id)
        .order_by(col(Award.id).desc())
    )
    return [(a, n) for a, n in (await session.execute(stmt)).all()]


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
