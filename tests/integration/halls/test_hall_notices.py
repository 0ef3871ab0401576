"""A hall's open notices and results (halls/queries.hall_notices, one index branch per
status and hall) are exactly what ``status IN (...) AND hall = ANY(...) ORDER BY id DESC``
answered, for every hall (the province, prefectures, counties, a park) and page size."""

from __future__ import annotations

import sqlalchemy as sa
from httpx import AsyncClient
from sqlmodel import col

from market.core.db import Database
from market.halls import queries, rules
from market.halls import service as halls
from market.notices.models import Notice
from tests.integration.notices.test_region_filter import PARK, spread


async def test_each_hall_lists_what_the_single_statement_listed(client: AsyncClient, db: Database) -> None:
    await spread(client, db)
    async with db.transaction() as session:
        codes = await queries.hall_codes(session)
        assert PARK in codes
        seen = 0
        for hall in codes:
            scope = await queries.codes_under(session, hall)
            assert scope is None or hall == rules.PROVINCE or scope == rules.under(hall, codes)
            for statuses in (halls.OPEN_STATUSES, halls.RESULT_STATUSES, ("cancelled", "open")):
                for limit in (1, 3, 10):
                    stmt = sa.select(col(Notice.public_id)).where(col(Notice.status).in_(statuses))
                    if scope is not None:
                        stmt = stmt.where(queries.in_halls(col(Notice.hall), scope))
                    expected = list(
                        (await session.execute(stmt.order_by(col(Notice.id).desc()).limit(limit))).scalars()
                    )
                    got = await queries.hall_notices(session, scope, statuses=statuses, limit=limit)
                    assert [n.public_id for n in got] == expected, (hall, statuses, limit)
                    seen += len(expected)
        assert await queries.hall_notices(session, [], statuses=halls.OPEN_STATUSES, limit=10) == []
    assert seen > len(codes)  # most halls hold notices in these statuses
