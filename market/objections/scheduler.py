"""Escalation of undecided objections, inside every server process: every ``interval``
seconds, each objection still pending ``days`` days after its filing (or after its last
escalation) goes to the hall above (``objection.escalated``; docs/selection.md).

Small batches, each escalation in its own short transaction, by the database's clock.
Several processes may run it at once: an objection is claimed with ``FOR UPDATE SKIP
LOCKED`` and its escalation moves the time it is next due, so it is escalated once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from market.core.db import log_failure
from market.objections import service

logger = logging.getLogger("market.objections.scheduler")
BATCH = 20  # escalations per wake-up
MAX_INTERVAL = 3600.0


class EscalationTask:
    def __init__(
        self,
        db: Any,
        *,
        days: int,
        interval: float,
        on_step: Callable[[], None] | None = None,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.days = days
        self.interval = min(max(interval, 1.0), MAX_INTERVAL)
        self.on_step = on_step
        self.batch = batch

    async def run_once(self) -> list[str]:
        """Escalate what is due (up to ``batch``); the objections escalated."""
        done: list[str] = []
        while len(done) < self.batch:
            async with self.db.transaction() as session:
                escalated = await service.escalate_one(session, days=self.days)
            if escalated is None:
                break
            done.append(escalated)
        if done and self.on_step is not None:
            self.on_step()
        return done

    async def run(self) -> None:
        while True:
            try:
                done = await self.run_once()
                if done:
                    logger.info("escalated %d undecided objection(s): %s", len(done), ", ".join(done))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # tried again after ``interval``
                log_failure(logger, "could not escalate undecided objections; trying again later", exc)
            await asyncio.sleep(self.interval)
