"""Accounts through the JSON API of api-v1.md."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from httpx import AsyncClient

from market.accounts.models import Role
from market.app import create_app
from market.core.db import Database
from market.security.tokens import issue_token
from tests.conftest import make_settings, serve_in_process
from tests.helpers import PASSWORD, bearer, create_staff, register, token_for, unique_email

SECRET = "test-secret-" + "x" * 40


async def test_register_returns_the_public_user(client: AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "昆明市水务局", "role": "owner"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == email and body["name"] == "昆明市水务局" and body["role"] == "owner"
    assert body["id"].startswith("U-")
    assert "password" not in json.dumps(body)


async def test_token_then_me(client: AsyncClient) -> None:
    user = await register(client, role="agency")
    response = await client.post("/api/v1/auth/token", json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"id": user["id"], "email": user["email"], "name": "Test agency", "role": "agency"}


async def test_login_is_case_insensitive_on_email(client: AsyncClient) -> None:
    user = await register(client)
    assert await token_for(client, user["email"].upper())


async def test_wrong_password_is_401_problem(client: AsyncClient) -> None:
    user = await register(client)
    response = await client.post(
        "/api/v1/auth/token", json={"email": user["email"], "password": "wrong password!"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 401 and problem["title"] and problem["detail"]


async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"email": "nobody@example.cn", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong e-mail address or password."


async def test_duplicate_email_is_409(client: AsyncClient) -> None:
    user = await register(client)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": user["email"].upper(), "password": PASSWORD, "name": "Again", "role": "agency"},
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["status"] == 409
    assert problem["errors"][0]["field"] == "email"


async def test_short_password_is_422_with_the_field(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": "short", "name": "X", "role": "owner"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert "password" in fields and "10" in fields["password"]


async def test_staff_roles_cannot_self_register(client: AsyncClient) -> None:
    for role in ("admin", "supervisor"):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": unique_email(), "password": PASSWORD, "name": "X", "role": role},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "role"


async def test_malformed_body_is_400_or_422_never_500(client: AsyncClient) -> None:
    bad_bodies: list[Any] = [b"{not json", b"[]", b'{"email": 5}', b'"text"']
    for body in bad_bodies:
        response = await client.post(
            "/api/v1/auth/register", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code in (400, 422), (body, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_bad_email_is_422(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "not-an-address", "password": PASSWORD, "name": "X", "role": "owner"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


async def test_me_without_token_is_401(client: AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_expired_token_is_refused(client: AsyncClient) -> None:
    user = await register(client)
    old = int(time.time()) - 10_000
    token = issue_token(secret=SECRET, subject=user["id"], role="owner", ttl=60, now=old)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_tampered_token_is_refused(client: AsyncClient) -> None:
    user = await register(client)
    token = await token_for(client, user["email"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert (
        await client.get("/api/v1/me", headers=bearer(f"{header}.{forged}.{signature}"))
    ).status_code == 401
    # A token signed with another secret is refused too.
    other = issue_token(secret="another secret " * 4, subject=user["id"], role="owner", ttl=600)
    assert (await client.get("/api/v1/me", headers=bearer(other))).status_code == 401


async def test_alg_none_token_is_refused(client: AsyncClient) -> None:
    user = await register(client)

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    unsigned = (
        b64({"alg": "none", "typ": "JWT"})
        + "."
        + b64({"sub": user["id"], "role": "owner", "iat": now, "exp": now + 600})
        + "."
    )
    assert (await client.get("/api/v1/me", headers=bearer(unsigned))).status_code == 401


async def test_token_of_a_user_whose_role_changed_is_refused(client: AsyncClient) -> None:
    user = await register(client)
    token = issue_token(secret=SECRET, subject=user["id"], role="admin", ttl=600)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_rate_limit_on_login_answers_429_with_retry_after(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    app = create_app(make_settings(database_url, tmp_path, auth_rate_limit=3), database=db)
    async with serve_in_process(app) as client:
        statuses = []
        for _ in range(4):
            response = await client.post(
                "/api/v1/auth/token", json={"email": "x@example.cn", "password": "whatever12"}
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["status"] == 429
        # Registration has its own budget, also limited.
        for _ in range(3):
            await client.post("/api/v1/auth/register", json={})
        assert (await client.post("/api/v1/auth/register", json={})).status_code == 429


async def test_staff_can_log_in_through_the_api(client: AsyncClient, db: Database) -> None:
    email = await create_staff(db, role=Role.supervisor)
    token = await token_for(client, email)
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["role"] == "supervisor"


async def test_bearer_api_posts_need_no_csrf_token(client: AsyncClient) -> None:
    # The register/token calls above already run without a CSRF token; a Bearer call with a
    # stale session cookie present is let through as well, since the Bearer token decides.
    user = await register(client)
    token = await token_for(client, user["email"])
    client.cookies.set("market_session", "stale")
    response = await client.post(
        "/api/v1/auth/token", json={"email": user["email"], "password": PASSWORD}, headers=bearer(token)
    )
    assert response.status_code == 200


async def test_cookie_authenticated_api_post_needs_csrf(client: AsyncClient) -> None:
    user = await register(client)
    token = await token_for(client, user["email"])
    client.cookies.set("market_session", token)
    response = await client.post("/api/v1/auth/token", json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
