"""What the API fuzz test (tests/integration/security/test_api_fuzz.py) found first, kept
as a plain test on the notices API: every refusal was an undocumented status (401, 403,
404, 409, 422), and the one documented error, 400, had Litestar's own shape
(``status_code``, ``detail``, ``extra`` as application/json) instead of the RFC 9457
problem the app answers. market/web/openapi.py now declares them all."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response
from litestar import Litestar

from tests.integration.agencies.test_api import agency_user
from tests.integration.notices.test_api import draft, notice_body, owner_user


def _documented_problem(schema: dict[str, Any], method: str, path: str, response: Response) -> None:
    """The answer is a problem whose status the operation declares, with the Problem schema."""
    declared = schema["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in declared, (method, path, status, sorted(declared))
    assert list(declared[status]["content"]) == ["application/problem+json"]
    ref = declared[status]["content"]["application/problem+json"]["schema"]["$ref"]
    problem = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert set(problem["required"]) <= set(body) <= set(problem["properties"])
    assert body["status"] == response.status_code


async def test_every_refusal_of_the_notices_api_is_a_documented_problem(
    client: AsyncClient, app: Litestar
) -> None:
    schema = app.openapi_schema.to_schema()
    owner = await owner_user(client)
    anonymous = await client.post("/api/v1/notices", json=notice_body())
    assert anonymous.status_code == 401
    _documented_problem(schema, "post", "/api/v1/notices", anonymous)
    wrong_role = await client.post("/api/v1/notices", json=notice_body(), headers=await agency_user(client))
    assert wrong_role.status_code == 403
    _documented_problem(schema, "post", "/api/v1/notices", wrong_role)
    invalid = await client.post("/api/v1/notices", json=notice_body(budget_fen=-1), headers=owner)
    assert invalid.status_code == 422 and invalid.json()["errors"]
    _documented_problem(schema, "post", "/api/v1/notices", invalid)
    missing = await client.get("/api/v1/notices/N-999999")
    assert missing.status_code == 404
    _documented_problem(schema, "get", "/api/v1/notices/{notice_id}", missing)
    notice = await draft(client, owner)
    assert (await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)).status_code == 200
    twice = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)
    assert twice.status_code == 409
    _documented_problem(schema, "post", "/api/v1/notices/{notice_id}/publish", twice)
    malformed = await client.get("/api/v1/notices?limit=many")
    assert malformed.status_code == 400
    _documented_problem(schema, "get", "/api/v1/notices", malformed)


async def test_a_budget_filter_beyond_bigint_is_a_bad_parameter_not_a_500(client: AsyncClient) -> None:
    # Found by the stateful fuzz run: budget_min=32589158477190044730 reached PostgreSQL.
    for name in ("budget_min", "budget_max"):
        response = await client.get(f"/api/v1/notices?{name}={2**70}")
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert name in [e["field"] for e in response.json()["errors"]]
    assert (await client.get(f"/api/v1/notices?budget_min={10**12}")).status_code == 200


async def test_numbers_beyond_their_columns_in_a_notice_body_are_invalid_input_not_a_500(
    client: AsyncClient,
) -> None:
    owner = await owner_user(client)
    for field in ("budget_fen", "min_candidates", "winners", "service_days"):
        response = await client.post("/api/v1/notices", json=notice_body(**{field: 2**70}), headers=owner)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    notice = await draft(client, owner)
    assert (await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)).status_code == 200
    amend = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"budget_fen": 2**70}, headers=owner
    )
    assert amend.status_code == 422, amend.text
