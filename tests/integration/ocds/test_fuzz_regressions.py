"""What the API fuzz test (tests/integration/security/test_api_fuzz.py) found in the OCDS
endpoint, kept as a plain test: the schema declared the package a string."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar


async def test_release_package_is_documented_as_the_json_object_it_is(
    client: AsyncClient, app: Litestar
) -> None:
    response = await client.get("/api/v1/ocds/releases")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), dict) and "releases" in response.json()
    assert "中介服务网上超市" in response.text  # still UTF-8, not \\u escapes
    documented = app.openapi_schema.to_schema()["paths"]["/api/v1/ocds/releases"]["get"]["responses"]["200"]
    assert documented["content"]["application/json"]["schema"]["type"] == "object"
