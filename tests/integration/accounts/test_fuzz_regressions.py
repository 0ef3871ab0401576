"""What the API fuzz test (tests/integration/security/test_api_fuzz.py) would otherwise
find in the log-in endpoint: its refusal of a wrong password, and its rate limit, are
statuses the schema declares."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar

from tests.helpers import register


async def test_wrong_password_and_rate_limit_are_documented_problems(
    client: AsyncClient, app: Litestar
) -> None:
    user = await register(client)
    wrong = await client.post(
        "/api/v1/auth/token", json={"email": user["email"], "password": "not the password"}
    )
    assert wrong.status_code == 401 and wrong.headers["content-type"].startswith("application/problem+json")
    responses = app.openapi_schema.to_schema()["paths"]["/api/v1/auth/token"]["post"]["responses"]
    for status in ("401", "422", "429"):
        assert list(responses[status]["content"]) == ["application/problem+json"], status
