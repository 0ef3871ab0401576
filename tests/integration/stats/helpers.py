"""The statistics' summary brought up to date in a test, as the server's task would."""

from __future__ import annotations

from datetime import datetime

from market.core.clock import utcnow
from market.core.db import Database
from market.stats import summary


async def refresh(db: Database, *, full: bool = False, now: datetime | None = None) -> summary.Refreshed:
    """One refresh, committed (into the test's outer transaction, rolled back at its end)."""
    async with db.sessionmaker() as session:
        done = await summary.refresh(session, now=now or utcnow(), full=full)
        await session.commit()
    assert done is not None  # one connection: its own advisory lock is always granted
    return done
