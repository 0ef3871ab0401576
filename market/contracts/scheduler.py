"""The daily look for overdue milestones, inside every server process: once at start, then
whenever China's date has changed (checked every ``interval`` seconds, at most an hour).

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
    ) -> None:
        self.db = db
        self.interval = min(max(interval, 1.0), MAX_INTERVAL)
        self.on_step = on_step
        self.today = today
        self.last_day: date | None = None

    async def run_once(self) -> int:
        day = self.today()
        async with self.db.transaction() as session:
            flagged = await service.flag_overdue_milestones(session, day)
        self.last_day = day
        if flagged and self.on_step is not None:
            self.on_step()
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
