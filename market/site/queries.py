"""Hand-written SQL of the home page: the agencies holding the latest results' awards."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

# One statement for the whole list (not one per result): ``ix_award_notice_id`` serves it.
HOLDERS = sa.text(
    """
    SELECT w.notice_id, a.name
    FROM award w JOIN agency a ON a.id = w.agency_id
    WHERE w.notice_id = ANY(CAST(:ids AS integer[])) AND w.status = 'holding'
    ORDER BY w.notice_id, w.slot
    """
)


async def holders(session: AsyncSession, notice_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The names of the agencies holding each notice's awards, in award order."""
    if not notice_ids:
        return {}
    out: dict[int, list[str]] = {}
    for notice_id, name in (await session.execute(HOLDERS, {"ids": notice_ids})).all():
        out.setdefault(int(notice_id), []).append(str(name))
    return {k: tuple(v) for k, v in out.items()}
