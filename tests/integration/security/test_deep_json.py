"""Issue 19, item 12: a JSON body nested a thousand deep is bad input, not a server error:
every endpoint that reads JSON answers 400 with problem details (it used to be a 500 with
a traceback in the log, unauthenticated, on POST /api/v1/log/cosignatures)."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from tests.integration.notices.test_api import owner_user

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize(
    "path", ["/api/v1/log/cosignatures", "/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/notices"]
)
async def test_an_over_deep_json_body_is_400_not_500(client: AsyncClient, path: str, body: bytes) -> None:
    # (POST /api/v1/notices with an owner's token: the body is read after authentication)
    headers = await owner_user(client) if path == "/api/v1/notices" else {}
    response = await client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
