"""The scheduler inside every server process: closes notices whose deadline has passed,
draws once the beacon is there, and makes awards final when publicity ends.

Several processes may run it on one database: each step claims its notice with
``FOR UPDATE SKIP LOCKED`` and is idempotent on the notice's status, so a notice is never
closed or drawn twice, and one that a crashed process left half-way is simply due again
(its transaction rolled back, so there is no half).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from market.selection import service
from market.selection.service import Context

BATCH = 50  # steps per wake-up, so a backlog is worked off without starving the loop
log = logging.getLogger("market.scheduler")


class Scheduler:
    def __init__(self, db: Any, ctx: Context, *, interval: float, on_step: Callable[[], None] | None = None) -> None:
        self.db = db
        self.ctx = ctx
        self.interval = interval
        self.on_step = on_step

    async def run_once(self) -> list[str]:
        """Do every step that is due now (up to BATCH); returns the notices worked on."""
        done: list[str] = []
        while len(done) < BATCH:
            async with self.db.transaction() as session:
                worked = await service.run_due(session, self.ctx)
            if worked is None:
                break
            done.append(worked)
            if self.on_step is not None:
                self.on_step()
        return done

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The failed step rolled back and stays due; say so and try again later
                # rather than stop closing every other notice.
                log.exception("scheduler step failed")
            await asyncio.sleep(self.interval)
