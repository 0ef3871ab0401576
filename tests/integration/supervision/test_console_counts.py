"""The console's home counts the objections waiting for a decision within the viewer's
reach (a count, not the rows): one filed in the county counts there and in its prefecture,
not in the sibling county, and no longer once decided."""

from __future__ import annotations

import re

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import owner_user
from tests.integration.supervision.test_flags_jurisdiction import COUNTY, PREFECTURE, SIBLING
from tests.integration.supervision.test_scope_objections import decide, drawn_with_objection, staff_at

EN = {"Accept-Language": "en"}


async def pending_on_home(client: AsyncClient, headers: dict[str, str]) -> int:
    page = await client.get("/supervision/", headers={**headers, **EN})
    assert page.status_code == 200, page.text
    found = re.search(
        r'href="/supervision/objections">Objections to decide</a> <span class="count">(\d+)</span>', page.text
    )
    assert found is not None, page.text
    return int(found.group(1))


async def test_the_home_counts_pending_objections_within_reach(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    _, county = await staff_at(client, db, COUNTY)
    _, sibling = await staff_at(client, db, SIBLING)
    _, prefecture = await staff_at(client, db, PREFECTURE)
    _, province = await staff_at(client, db, "530000")
    r, objection = await drawn_with_objection(client, staff, await owner_user(client))
    assert [await pending_on_home(client, h) for h in (county, prefecture, province, sibling)] == [1, 1, 1, 0]
    assert (await decide(client, r.notice_id, objection, county)).status_code == 200
    assert [await pending_on_home(client, h) for h in (county, prefecture, province)] == [0, 0, 0]
