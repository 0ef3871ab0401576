"""The scheduler wakes at an open notice's deadline when it comes before its next look
(issue 24, deadline to result), and keeps its interval otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from market.app import create_app
from market.core.db import Database
from market.selection.api import context
from market.selection.scheduler import PAST_DEADLINE, Scheduler
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin
from tests.integration.selection.helpers import open_round, wait_until


@pytest.mark.committing
async def test_the_scheduler_wakes_at_a_deadline_sooner_than_its_next_look(
    committed_database_url: str, tmp_path: Path
) -> None:
    db = Database.from_url(committed_database_url, pool_size=4, max_overflow=0)
    app = create_app(make_settings(committed_database_url, tmp_path), database=db)
    try:
        async with serve_in_process(app) as client:
            scheduler = Scheduler(db, context(app.state), interval=30.0)
            assert await scheduler.pause() == 30.0  # no open notice: the interval
            staff = await admin(client, db)
            r = await open_round(client, staff, bidders=1, due_in=8.0)
            pause = await scheduler.pause()
            until = (r.deadline - datetime.now(UTC)).total_seconds()
            # Until the deadline (and a hair past it), not the 30 s interval.
            assert until - 0.5 < pause <= until + PAST_DEADLINE + 0.01, (pause, until)
            assert (
                await Scheduler(db, context(app.state), interval=1.0).pause() == 1.0
            )  # the look comes first
            await wait_until(r.deadline)
            assert await scheduler.run_once() == [r.notice_id]
            assert await scheduler.pause() == 30.0  # closed: nothing to wake for
    finally:
        await db.dispose()
