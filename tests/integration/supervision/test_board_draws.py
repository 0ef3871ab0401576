"""The board's draws of the day are read by each selection's latest step (migration 0017):
they are exactly the draws closed or decided today, the old two-range condition's, in the
board's order (the latest step, then the notice), whatever mix of closing and outcome
times the day holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from httpx import AsyncClient
from sqlmodel import col

from market.accounts.models import AppUser
from market.core.db import Database
from market.notices.models import Notice
from market.selection.models import Selection
from market.supervision.web_live import board_context, today_bounds
from tests.integration.supervision.test_alerts import staff, user_id
from tests.integration.supervision.test_flags_jurisdiction import COUNTY, copy_notice, template_notice


async def add_selection(
    db: Database, public_id: str, closed_at: datetime, outcome_at: datetime | None
) -> None:
    async with db.transaction() as session:
        notice_id = (
            await session.execute(sa.select(col(Notice.id)).where(col(Notice.public_id) == public_id))
        ).scalar_one()
        session.add(
            Selection(
                notice_id=notice_id,
                closed_seq=1,
                closed_at=closed_at,
                secret="0" * 64,
                bids=[],
                candidates=[],
                excluded=[],
                eligible="0" * 64,
                outcome="drawn" if outcome_at is not None else "waiting",
                outcome_at=outcome_at,
            )
        )


async def old_draws(db: Database, start: datetime, end: datetime, among: set[str]) -> list[str]:
    """The board's condition before migration 0017: closed today or decided today."""
    today = sa.or_(
        sa.and_(col(Selection.closed_at) >= start, col(Selection.closed_at) < end),
        sa.and_(col(Selection.outcome_at) >= start, col(Selection.outcome_at) < end),
    )
    async with db.transaction() as session:
        rows = await session.execute(
            sa.select(col(Notice.public_id))
            .join(Selection, col(Selection.notice_id) == col(Notice.id))
            .where(today, col(Notice.public_id).in_(among))
            .order_by(sa.func.coalesce(col(Selection.outcome_at), col(Selection.closed_at)), col(Notice.id))
        )
        return list(rows.scalars())


async def test_the_days_draws_are_those_closed_or_decided_today_in_order(
    client: AsyncClient, db: Database
) -> None:
    source = await template_notice(client)
    start, end = today_bounds()
    hour = timedelta(hours=1)
    now = min(datetime.now(start.tzinfo), end - timedelta(minutes=1))
    # (closed at, decided at): every side of the day's two edges, and ties on the latest step
    cases = [
        (start - 30 * hour, start - 29 * hour),  # both yesterday or before: not today
        (start - 2 * hour, None),  # closed yesterday, still waiting: not today
        (start - 2 * hour, start + timedelta(seconds=1)),  # closed yesterday, decided today
        (start - 2 * hour, start),  # decided at the day's first instant
        (start - timedelta(microseconds=1), start - timedelta(microseconds=1)),  # the last instant before
        (start, None),  # closed at the first instant, waiting
        (start + hour, start + hour),  # closed and decided at once
        (start + hour, None),
        (start + hour, now),
        (start + 2 * hour, start + 2 * hour),
    ]
    ids = []
    for closed_at, outcome_at in cases:
        public_id = await copy_notice(db, source, hall=COUNTY, status="selected")
        await add_selection(db, public_id, closed_at, outcome_at)
        ids.append(public_id)

    email = await staff(db, COUNTY)
    async with db.transaction() as session:
        viewer = (
            await session.execute(sa.select(AppUser).where(col(AppUser.id) == await user_id(db, email)))
        ).scalar_one()
        context = await board_context(session, viewer)
    shown = [n.public_id for n, _ in context["draws"] if n.public_id in ids]

    expected = await old_draws(db, start, end, set(ids))
    assert shown == expected
    assert set(shown) == {ids[i] for i in (2, 3, 5, 6, 7, 8, 9)}
