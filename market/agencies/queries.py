"""Read-only queries the agency pages need beyond service.py: the admin's search over
agencies in any status."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from market.agencies.models import Agency
from market.agencies.service import Profile, load_profile

SEARCH_LIMIT = 50


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def find_agencies(session: AsyncSession, *, q: str, limit: int = SEARCH_LIMIT) -> list[Profile]:
    """Agencies in any status whose name contains ``q``, or whose credit code or public id
    is ``q``; newest first, with their private details (for staff only)."""
    term = q.strip()
    if not term:
        return []
    stmt = (
        sa.select(Agency)
        .where(
            sa.or_(
                Agency.name.ilike(_like(term), escape="\\"),
                Agency.credit_code == term.upper(),
                Agency.public_id == term.upper(),
            )
        )
        .order_by(Agency.id.desc())
        .limit(limit)
    )
    agencies = (await session.execute(stmt)).scalars().all()
    return [await load_profile(session, agency, private=True) for agency in agencies]
