"""Public identifiers (``U-000001``, ``AG-000123``...), drawn from PostgreSQL sequences so
that they are dense, never reused and safe under concurrency."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

PUBLIC_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def format_public_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


async def next_public_id(session: AsyncSession, *, prefix: str, sequence: str) -> str:
    number = (await session.execute(sa.select(sa.func.nextval(sequence)))).scalar_one()
    return format_public_id(prefix, int(number))
