"""The daily look for overdue milestones, inside every server process: once at start, then
whenever China's date has changed (checked every ``interval`` seconds, at most an hour).

In batches of ``batch`` milestones, each in a transaction of its own with its log entries
(service.flag_overdue_batch): on a large hall one transaction flagging everything took 20 s
and 209 MB, and held the log's lock, so every bid, for that long. A batch that fails leaves
the batches before it committed; the next look goes on with what is still unflagged.

Several processes may run it at once: the milestones are claimed with ``FOR UPDATE SKIP
LOCKED`` and a flagged milestone is never flagged again, so each is logged once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from market.contracts import service
from market.core.clock import today_in_china
from market.core.db import log_failure

logger = logging.getLogger("market.contracts.scheduler")
MAX_INTERVAL = 3600.0


class OverdueTask:
    def __init__(
        self,
        db: Any,
        *,
        interval: float,
        on_step: Callable[[], None] | None = None,
        today: Callable[[], date] = today_in_china,
        batch: int = service.OVERDUE_BATCH,
    ) -> None:
        self.db = db
        self.interval = min(max(interval, 1.0), MAX_INTERVAL)
        self.on_step = on_step
        self.today = today
        self.batch = max(batch, 1)
        self.last_day: date | None = None

    async def run_once(self) -> int:
        """Flag every overdue milestone, a batch per transaction; how many were flagged."""
        day = self.today()
        flagged, after = 0, 0
        while True:
            async with self.db.transaction() as session:
                count, last = await service.flag_overdue_batch(session, day, after=after, limit=self.batch)
            flagged += count
            if count and self.on_step is not None:
                self.on_step()  # the checkpointer signs what each batch appended
            if last is None:
                break
            after = last
        self.last_day = day
        return flagged

    async def run(self) -> None:
        while True:
            if self.last_day != self.today():
                try:
                    flagged = await self.run_once()
                    if flagged:
                        logger.info("flagged %d overdue milestone(s)", flagged)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # tried again after ``interval``
                    log_failure(logger, "could not flag overdue milestones; trying again later", exc)
            await asyncio.sleep(self.interval)
