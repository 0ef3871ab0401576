"""Review of issue 23: the log's entries are read from the standby (STANDBY_ROUTES), and a
witness asks for them from the size it learned on the primary (its checkpoint). A standby
behind by more than what is asked must not answer "start is beyond the log, which has N
entries" (a 400 with a size that is false): the primary is asked instead, as for a 404."""

from __future__ import annotations

import pytest

from tests.integration.db.test_read_replica import Pair, app_for, pair, running  # noqa: F401 (fixture)
from tests.integration.notices.test_api import published

pytestmark = pytest.mark.committing


async def test_entries_beyond_the_standbys_log_come_from_the_primary(pair: Pair) -> None:
    app = app_for(pair)
    async with running(app) as client:
        behind = int((await client.get("/api/v1/log/entries?start=0&end=0")).headers["x-log-size"])
        await published(client, pair.owner, title="副本尚未收到的公告")
        await published(client, pair.owner, title="副本尚未收到的公告二")
        size = int((await client.get("/api/v1/log/checkpoint")).text.splitlines()[1])  # the note's size line
        assert size >= behind + 2
        response = await client.get(f"/api/v1/log/entries?start={behind + 1}&end={size}")
        assert response.status_code == 200, response.text
        assert len(response.content.splitlines()) == size - behind - 1
        # A request beyond the primary's log too is still refused, by the primary.
        assert (await client.get(f"/api/v1/log/entries?start={size + 5}&end={size + 6}")).status_code == 400
