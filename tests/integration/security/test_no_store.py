"""Issue 19, item 9: an authenticated answer (the caller's own agency, bids with their
prices and salts, account, messages) carries ``Cache-Control: no-store``, so that neither a
shared proxy nor the browser's cache keeps it for the next person at that computer; public
answers keep their own caching."""

from __future__ import annotations

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency, owner_user, published


async def test_every_authenticated_answer_is_no_store(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    notice = await published(client, await owner_user(client))
    agency_h, _ = await approved_agency(client, staff)
    assert (
        await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)
    ).status_code == 201
    for path in (
        "/api/v1/agencies/mine",
        f"/api/v1/notices/{notice['id']}/bids/mine",
        "/api/v1/me",
        "/api/v1/me/messages",
        "/agency/bids",
        f"/notices/{notice['id']}",
    ):
        response = await client.get(path, headers=agency_h)
        assert response.status_code == 200, (path, response.text)
        assert response.headers.get("cache-control") == "no-store", path
    # A public answer is not changed by who asks, and keeps its own policy.
    key = await client.get("/api/v1/log/receipt-key", headers=agency_h)
    assert key.headers["cache-control"].startswith("public")
    anonymous = await client.get(f"/api/v1/notices/{notice['id']}")
    assert anonymous.headers.get("cache-control") != "no-store"
