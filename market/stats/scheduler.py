"""The statistics' summary kept current, inside every server process: a refresh at start,
then one every ``interval`` seconds (MARKET_STATS_INTERVAL), each in a transaction of its
own (summary.refresh: the halls the log names since the last one, everything once a China
day). Several processes may run it at once: the refresh's advisory lock lets one through
and the others skip their turn, so the work is done once per interval, not once per host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from market.core.clock import utcnow
from market.core.db import log_failure
from market.stats import summary

logger = logging.getLogger("market.stats.scheduler")
MAX_INTERVAL = 3600.0


class StatsTask:
    def __init__(self, db: Any, *, interval: float, now: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.interval = min(max(interval, 1.0), MAX_INTERVAL)
        self.now = now

    async def run_once(self) -> summary.Refreshed | None:
        async with self.db.transaction() as session:
            return await summary.refresh(session, now=self.now())

    async def run(self) -> None:
        while True:
            try:
                done = await self.run_once()
                if done is not None and (done.full or done.halls or done.agencies):
                    logger.info(
                        "statistics refreshed: %s, %d row(s) written, up to log entry %d",
                        "everything" if done.full else f"{done.halls} hall(s)",
                        done.rows,
                        done.log_seq,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # tried again after ``interval``; the pages show the last summary
                log_failure(logger, "could not refresh the statistics; trying again later", exc)
            await asyncio.sleep(self.interval)
