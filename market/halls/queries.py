"""Reading the jurisdiction tree: a few hundred rows at most, read whole."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.halls import rules
from market.halls.models import Jurisdiction
from market.notices.models import Notice


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


def in_halls(column: Any, codes: list[str]) -> sa.ColumnElement[bool]:
    """``column = ANY(:codes)``: one array parameter, so the statement stays the same
    whatever the scope and an index on the hall column serves it."""
    return column == sa.any_(sa.literal(codes, type_=ARRAY(sa.String)))


async def hall_names(session: AsyncSession) -> dict[str, str]:
    """Every hall's Chinese name by code, for lists that show each row's hall."""
    rows = await session.execute(sa.select(col(Jurisdiction.code), col(Jurisdiction.name_zh)))
    return {code: name for code, name in rows.all()}


async def hall_notices(
    session: AsyncSession, codes: list[str] | None, *, statuses: tuple[str, ...], limit: int
) -> list[Notice]:
    """The newest notices in ``statuses`` of the halls ``codes`` (None: every hall), for a
    hall's page. Each (status, hall) pair's newest ``limit`` come from the index on (status,
    hall, id) (on (status, id) for every hall), then the newest of those: at most limit x
    statuses x halls index entries, however many notices there are. (``status IN (...) AND
    hall = ANY(...) ORDER BY id DESC`` walked the primary key from the newest notice,
    discarding every one of another status or hall; an index serves the order only where
    its leading columns equal a bound value, hence one branch per pair.)"""
    branches = [
        sa.select(col(Notice.id))
        .where(col(Notice.status) == status, *([col(Notice.hall) == hall] if hall is not None else []))
        .order_by(col(Notice.id).desc())
        .limit(limit)
        for status in statuses
        for hall in (codes if codes is not None else [None])
    ]
    if not branches:
        return []
    newest = sa.union_all(*branches).subquery()
    picked = sa.select(newest.c.id).order_by(newest.c.id.desc()).limit(limit)
    stmt = sa.select(Notice).where(col(Notice.id).in_(picked)).order_by(col(Notice.id).desc())
    return list((await session.execute(stmt)).scalars())


async def top_halls(session: AsyncSession) -> list[Jurisdiction]:
    """The province and its prefectures, in code order: the home page's list of halls."""
    stmt = (
        sa.select(Jurisdiction)
        .where(col(Jurisdiction.kind).in_(("province", "prefecture")))
        .order_by(col(Jurisdiction.code))
    )
    return list((await session.execute(stmt)).scalars())
