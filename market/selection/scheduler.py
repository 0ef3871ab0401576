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
import time
from collections.abc import Callable
from typing import Any

from market.core.db import is_unavailable, log_failure, timed_out
from market.selection import service
from market.selection.service import Context

BATCH = 50  # steps per wake-up, so a backlog is worked off without starving the loop
BACKOFF = 30.0  # seconds a notice whose step failed is set aside before it is tried again
MAX_WAIT = 2.0  # seconds between looks at most while the database keeps failing
# How long after a deadline the scheduler wakes to close it: the database's clock decides
# whether it has passed, so a wake-up a hair early would find nothing due.
PAST_DEADLINE = 0.01
logger = logging.getLogger("market.scheduler")


class Scheduler:
    def __init__(
        self, db: Any, ctx: Context, *, interval: float, on_step: Callable[[], None] | None = None
    ) -> None:
        self.db = db
        self.ctx = ctx
        self.interval = interval
        self.on_step = on_step
        self.backing_off: dict[str, float] = {}  # notice id -> monotonic time it may be tried again

    def _set_aside(self) -> list[str]:
        now = time.monotonic()
        self.backing_off = {n: until for n, until in self.backing_off.items() if until > now}
        return list(self.backing_off)

    async def run_once(self) -> list[str]:
        """Do every step that is due now (up to BATCH); returns the notices worked on.
        A step that fails rolls back, and its notice is set aside for BACKOFF seconds, so
        one notice that keeps failing (a bug, a relay answering garbage) cannot keep every
        other notice from closing."""
        done: list[str] = []
        while len(done) < BATCH:
            claimed: str | None = None
            try:
                async with self.db.transaction() as session:
                    notice = await service.claim_due(session, exclude=self._set_aside())
                    if notice is None:
                        break
                    claimed = notice.public_id
                    await service.step(session, notice, self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database going away is no fault of the notice: not set aside, it is
                # simply due again (its transaction rolled back) once the database is back.
                if claimed is None or is_unavailable(exc):
                    raise
                if kind := timed_out(exc):  # MARKET_TASK_*: busy or slow, not a bug
                    logger.warning(
                        "scheduler step for notice %s hit the %s timeout; trying it again in %.0f s",
                        claimed,
                        kind,
                        BACKOFF,
                    )
                else:
                    logger.exception(
                        "scheduler step for notice %s failed; trying it again in %.0f s", claimed, BACKOFF
                    )
                self.backing_off[claimed] = time.monotonic() + BACKOFF
                continue
            done.append(claimed)
            if self.on_step is not None:
                self.on_step()
        return done

    async def pause(self) -> float:
        """Seconds until the next look: the interval, or less when an open notice's
        deadline comes sooner. People watch the draw page from the deadline on (issue 24:
        deadline to result); waiting for the next look cost up to a whole interval."""
        async with self.db.transaction() as session:
            upcoming = await service.next_deadline_in(session)
        if upcoming is None or upcoming >= self.interval:
            return self.interval
        return max(0.0, upcoming) + PAST_DEADLINE

    async def run(self) -> None:
        failures = 0
        while True:
            pause = self.interval
            try:
                await self.run_once()
                pause = await self.pause()
                if failures:
                    logger.warning("scheduler is back after %d failed look(s)", failures)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database is unreachable or the claim itself failed: say so, wait a
                # little longer each time (up to MAX_WAIT), and look again; never die.
                failures += 1
                log_failure(logger, f"scheduler could not look for due notices (look {failures})", exc)
            await asyncio.sleep(
                min(self.interval * 2**failures, max(self.interval, MAX_WAIT)) if failures else pause
            )
