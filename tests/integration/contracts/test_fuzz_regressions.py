"""What the API fuzz test (tests/integration/security/test_api_fuzz.py) found in the
contracts API, kept as a plain test."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar


async def test_contracts_of_an_unknown_agency_are_a_documented_404(
    client: AsyncClient, app: Litestar
) -> None:
    response = await client.get("/api/v1/contracts?agency_id=AG-999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    responses = app.openapi_schema.to_schema()["paths"]["/api/v1/contracts"]["get"]["responses"]
    assert "404" in responses and list(responses["404"]["content"]) == ["application/problem+json"]
