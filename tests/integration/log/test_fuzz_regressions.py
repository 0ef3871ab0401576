"""What the API fuzz test (tests/integration/security/test_api_fuzz.py) found in the log's
endpoints, kept as plain tests: the schema says what the endpoint really answers."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar

from tests.helpers import register


async def test_entries_are_served_and_documented_as_json_lines(client: AsyncClient, app: Litestar) -> None:
    await register(client, org=None)
    response = await client.get("/api/v1/log/entries?start=0&end=1")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/jsonl")
    documented = app.openapi_schema.to_schema()["paths"]["/api/v1/log/entries"]["get"]["responses"]["200"]
    assert list(documented["content"]) == ["application/jsonl"]


async def test_cosigned_checkpoint_of_an_unknown_size_is_a_documented_404(
    client: AsyncClient, app: Litestar
) -> None:
    response = await client.get("/api/v1/log/cosignatures?size=999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
    responses = app.openapi_schema.to_schema()["paths"]["/api/v1/log/cosignatures"]["get"]["responses"]
    assert list(responses["404"]["content"]) == ["application/problem+json"]


async def test_a_cosigned_checkpoint_size_beyond_bigint_is_a_bad_parameter_not_a_500(
    client: AsyncClient,
) -> None:
    response = await client.get(f"/api/v1/log/cosignatures?size={2**70}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
