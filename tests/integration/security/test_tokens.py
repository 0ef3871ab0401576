"""Forged, expired and confused tokens, and tokens of users who are gone, disabled or
changed role, through the HTTP surface: 401 on the API, the logged-out view on pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from market.security.auth import SESSION_COOKIE
from market.security.tokens import issue_token
from tests.forge import forge, new_rsa_key, public_pem, tamper
from tests.helpers import bearer, register, token_for

Forger = Callable[[Litestar, dict[str, Any]], str]


def claims_of(user: dict[str, Any], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": user["id"],
        "role": user["role"],
        "iat": now,
        "exp": now + 600,
        "ver": 0,
        "sid": "forged-session-id",
        **changes,
    }


def secret(app: Litestar) -> str:
    return str(app.state.settings.secret_key)


ATTACKS: dict[str, Forger] = {
    "tampered signature": lambda app, c: tamper(forge({"alg": "HS256"}, c, key=secret(app))),
    "role raised, signature kept": lambda app, c: ".".join(
        [
            *forge({"alg": "HS256"}, {**c, "role": "admin"}, key="x").split(".")[:2],
            forge({"alg": "HS256"}, c, key=secret(app)).split(".")[2],
        ]
    ),
    "expired": lambda app, c: issue_token(
        secret=secret(app), subject=c["sub"], role=c["role"], ttl=60, now=int(time.time()) - 3600
    ),
    "alg none": lambda app, c: forge({"alg": "none", "typ": "JWT"}, c, signature=b""),
    "HS256 keyed with the receipt public key": lambda app, c: forge(
        {"alg": "HS256"}, c, key=public_pem(app.state.receipts.private_key)
    ),
    "ES256 signed with the receipt key": lambda app, c: forge(
        {"alg": "ES256"}, c, key=app.state.receipts.private_key
    ),
    "RS256": lambda app, c: forge({"alg": "RS256"}, c, key=new_rsa_key()),
    "HS512 with the real secret": lambda app, c: forge({"alg": "HS512"}, c, key=secret(app)),
    "sub is a number": lambda app, c: forge({"alg": "HS256"}, {**c, "sub": 1}, key=secret(app)),
    "role is a list": lambda app, c: forge({"alg": "HS256"}, {**c, "role": ["admin"]}, key=secret(app)),
    "exp is a string": lambda app, c: forge({"alg": "HS256"}, {**c, "exp": str(c["exp"])}, key=secret(app)),
    "no exp": lambda app, c: forge(
        {"alg": "HS256"}, {k: v for k, v in c.items() if k != "exp"}, key=secret(app)
    ),
    "someone else's role": lambda app, c: forge({"alg": "HS256"}, {**c, "role": "admin"}, key=secret(app)),
    "a user who never existed": lambda app, c: forge(
        {"alg": "HS256"}, {**c, "sub": "U-999999"}, key=secret(app)
    ),
}


async def assert_refused(client: AsyncClient, token: str) -> None:
    response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    client.cookies.set(SESSION_COOKIE, token)
    try:
        account = await client.get("/account", headers={"Accept": "text/html"})
        assert account.status_code == 303 and account.headers["location"].startswith("/login?next=")
        home = await client.get("/", headers={"Accept": "text/html"})
        assert home.status_code == 200
        assert 'action="/logout"' not in home.text and 'href="/login"' in home.text  # the logged-out view
        # A cookie-authenticated API call with a bad cookie is a visitor's: 401, not an error.
        assert (await client.get("/api/v1/me")).status_code == 401
    finally:
        client.cookies.delete(SESSION_COOKIE)


async def test_the_control_a_real_token_is_accepted_both_ways(client: AsyncClient) -> None:
    user = await register(client)
    token = await token_for(client, user["email"])
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    client.cookies.set(SESSION_COOKIE, token)
    home = await client.get("/", headers={"Accept": "text/html"})
    assert 'action="/logout"' in home.text
    assert (await client.get("/account", headers={"Accept": "text/html"})).status_code == 200


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_forged_and_stale_tokens_are_refused(app: Litestar, client: AsyncClient, attack: str) -> None:
    user = await register(client)
    client.cookies.clear()
    await assert_refused(client, ATTACKS[attack](app, claims_of(user)))


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE app_user SET is_active = false WHERE public_id = :id",
        "UPDATE app_user SET role = 'agency' WHERE public_id = :id",
        "DELETE FROM app_user WHERE public_id = :id",
        "UPDATE app_user SET session_version = session_version + 1 WHERE public_id = :id",
    ],
    ids=["disabled", "role changed", "deleted", "sessions ended"],
)
async def test_a_valid_token_of_a_user_who_changed_is_refused(
    client: AsyncClient, connection: AsyncConnection, change: str
) -> None:
    user = await register(client, org=None)  # a bare account the test may delete
    token = await token_for(client, user["email"])
    client.cookies.clear()
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    await connection.execute(text(change), {"id": user["id"]})
    await assert_refused(client, token)
