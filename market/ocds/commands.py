"""``market ocds export`` and ``market ocds backfill`` as the CLI runs them (market/cli.py
parses the arguments). Both read a page of processes per transaction, committed before
the next page: neither holds a release row uncommitted while a change to its notice would
wait for it (market/ocds/store.keep_changed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from market.core.db import Database
from market.ocds import mapping, service

_T = TypeVar("_T")


def run(url: str, work: Callable[[Database], Awaitable[_T]]) -> _T:
    """Run ``work(db)`` against ``url``; it opens the transactions it needs."""

    async def main() -> _T:
        db = Database.from_url(url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def export(
    db: Database, *, prefix: str, base_url: str, since: datetime | None, hall: str | None
) -> tuple[mapping.Hall | None, list[dict[str, Any]], str]:
    """The hall asked for (None: every notice), every release, and the package's
    publishedDate (read first: a change committed meanwhile is then fetched again by a
    harvester's next ``since``, never missed)."""
    async with db.transaction() as session:
        scope = await service.hall_scope(session, hall)  # --hall: one hall, rolled up
        published = await service.data_date(session)
    found = await service.all_releases(
        db, prefix=prefix, base_url=base_url, since=since, halls=scope[1] if scope is not None else None
    )
    return (scope[0] if scope is not None else None), found, published


async def backfill(db: Database, *, page: int = 200) -> tuple[int, int]:
    """Store the current releases of every published process not stored yet (data from
    before the table, or a release a commit gave up, docs/ocds.md): the number of
    processes looked at and of releases stored."""
    after: int | None = None
    processes = stored = 0
    while True:
        async with db.transaction() as session:
            count, kept, after = await service.keep_page(session, after=after, limit=page)
        processes += count
        stored += kept
        if after is None:
            return processes, stored
