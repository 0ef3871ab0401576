from __future__ import annotations

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.selection.helpers import close, open_round


async def test_lottery_with_five_candidates_draws_one_winner(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=5, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    assert record["status"] == "selected"
    assert len(record["candidates"]) == 5
    assert len(record["winners"]) == 1 and len(record["alternates"]) == 4
    assert record["fairness"] == "operator"
    again = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=r.owner)
    assert again.json() == record
