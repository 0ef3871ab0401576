"""A server process's first look at the red flags carries on from the views kept today
(flags/alerting.FlagAlertTask.resume): every worker of every host started used to compute
every hall's view again while serving (issue 24: the HTTP benchmarks with the scheduler on
ran at 0.3-0.5 of their rate for minutes). Read as the operator who restarts servers and as
the supervisor who must still be told of a new flag: a restarted process computes again the
views with a change since, and every view when one is missing."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from httpx import AsyncClient
from sqlmodel import col

from market.core.config import Settings
from market.core.db import Database
from market.log import store as log_store
from market.supervision.flags.alerting import FlagAlertTask
from market.supervision.models import FlagView
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency
from tests.integration.supervision.test_flags_jurisdiction import (
    COUNTY,
    PREFECTURE,
    SIBLING,
    copy_notice,
    staff_at,
    template_notice,
)


async def computed(db: Database) -> dict[str, datetime]:
    async with db.transaction() as session:
        rows = (await session.execute(sa.select(col(FlagView.hall), col(FlagView.computed_at)))).all()
    return {hall: at for hall, at in rows}


async def test_a_restarted_process_computes_only_the_views_with_a_change(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    await staff_at(client, db, COUNTY)  # watched: its views are alerted, not only kept
    staff = await admin(client, db)
    agency = (await approved_agency(client, staff))[1]["id"]
    source = await template_notice(client)
    touched = await copy_notice(db, source, hall=COUNTY, agency=agency)

    await FlagAlertTask(db, settings).run_once()  # a first process: every view
    first = await computed(db)
    assert {"530000", PREFECTURE, COUNTY, SIBLING} <= first.keys()

    await FlagAlertTask(db, settings).run_once()  # restarted, nothing new: no view again
    assert await computed(db) == first

    async with db.transaction() as session:  # something happens to a notice of the county
        await log_store.append(session, type="notice.touched", fields={"notice_id": touched})
    await FlagAlertTask(db, settings).run_once()  # restarted again
    again = await computed(db)
    recomputed = {hall for hall in first if again[hall] != first[hall]}
    assert recomputed == {"530000", PREFECTURE, COUNTY}  # the county's chain, nothing else

    async with db.transaction() as session:  # a view not kept (a new hall, a lost row)
        await session.execute(sa.delete(FlagView).where(col(FlagView.hall) == SIBLING))
    await FlagAlertTask(db, settings).run_once()  # no resuming: the whole look, as before
    last = await computed(db)
    assert last.keys() == first.keys()
    # Every view behind the log's head is computed again; the county's chain, computed at the
    # head by the last process, is passed over.
    assert {hall for hall in first if last[hall] != again[hall]} == set(first) - {
        "530000",
        PREFECTURE,
        COUNTY,
    }
