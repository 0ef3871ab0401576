"""Reading the jurisdiction tree: a few hundred rows at most, read whole."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.halls import rules
from market.halls.models import Jurisdiction


async def all_halls(session: AsyncSession) -> list[Jurisdiction]:
    """Every hall, in code order (the province first, each prefecture before its counties)."""
    return list((await session.execute(sa.select(Jurisdiction).order_by(col(Jurisdiction.code)))).scalars())


async def hall_codes(session: AsyncSession) -> list[str]:
    return list(
        (await session.execute(sa.select(col(Jurisdiction.code)).order_by(col(Jurisdiction.code)))).scalars()
    )


async def get_hall(session: AsyncSession, code: str) -> Jurisdiction | None:
    return await session.get(Jurisdiction, code)


async def codes_under(session: AsyncSession, scope: str) -> list[str] | None:
    """The hall codes ``scope`` reaches, for ``hall = ANY(...)`` in scoped queries; None
    when it reaches everything (the province: no filter at all)."""
    if scope == rules.PROVINCE:
        return None
    return rules.under(scope, await hall_codes(session))
