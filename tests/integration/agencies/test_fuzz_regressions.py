"""Integer ids beyond what their INTEGER columns hold reached PostgreSQL as a driver
error, a 500 (found probing the class of bug the API fuzz test found in the notices
list); they are bad parameters (400), on the API and on the review page."""

from __future__ import annotations

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin, agency_user, create

BEYOND_INTEGER = 2**40


async def test_document_and_qualification_ids_beyond_integer_are_bad_parameters(
    client: AsyncClient, db: Database
) -> None:
    agency = await create(client, await agency_user(client))
    staff = await admin(client, db)
    base = f"/api/v1/agencies/{agency['id']}"
    document = await client.get(f"{base}/documents/{BEYOND_INTEGER}", headers=staff)
    review = await client.post(
        f"{base}/qualifications/{BEYOND_INTEGER}/review", json={"decision": "approve"}, headers=staff
    )
    for response in (document, review):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"{base}/documents/999999", headers=staff)).status_code == 404
