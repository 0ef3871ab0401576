"""Read-only queries of objections: a notice's, and those waiting for a supervisor."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.halls import queries as halls_queries
from market.notices.models import Notice
from market.selection.models import PENDING_OBJECTIONS, Objection


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


async def pending_count(session: AsyncSession, *, codes: list[str] | None = None) -> int:
    """How many objections wait for a decision (in the halls ``codes`` only, unless None):
    the console's count, without loading them (ix_objection_pending)."""
    stmt = (
        sa.select(sa.func.count()).select_from(Objection).where(col(Objection.status).in_(PENDING_OBJECTIONS))
    )
    if codes is not None:
        stmt = stmt.where(halls_queries.in_halls(col(Objection.hall), codes))
    return int((await session.execute(stmt)).scalar_one())


async def pending_objections(
    session: AsyncSession, *, limit: int = 100, codes: list[str] | None = None
) -> list[tuple[Objection, Notice]]:
    """For supervisors: objections waiting for a decision, oldest first; with ``codes``
    (``halls.queries.codes_under``), only those whose current hall is one of them: the
    objections the viewer may decide."""
    stmt = (
        sa.select(Objection, Notice)
        .join(Notice, col(Notice.id) == Objection.notice_id)
        .where(col(Objection.status).in_(PENDING_OBJECTIONS))
        .order_by(col(Objection.id))
        .limit(limit)
    )
    if codes is not None:
        stmt = stmt.where(halls_queries.in_halls(col(Objection.hall), codes))
    return [(o, n) for o, n in (await session.execute(stmt)).all()]
