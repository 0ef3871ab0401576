"""CSRF on every cookie-authenticated unsafe request, generated from the app's route table:
for each unsafe method of each route, a logged-in browser session without the token (or
with a wrong one) gets 403 and nothing is written. A new route is covered without anyone
adding it here. Bearer-token API calls stay exempt."""

from __future__ import annotations

import re
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from market.accounts.models import Role
from market.core.db import Database
from market.security.auth import SESSION_COOKIE
from market.security.csrf import CSRF_COOKIE
from tests.helpers import PASSWORD, bearer, create_staff, csrf_from, token_for

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PARAM = re.compile(r"\{(\w+):(\w+)\}")


def unsafe_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) for every unsafe method of every HTTP route."""
    found = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", ())):
            if method in UNSAFE:
                path = PARAM.sub(lambda m: "1" if m.group(2) == "int" else f"X-{m.group(1)}", route.path)
                found.append((method, path))
    return found


async def writes(connection: AsyncConnection) -> int:
    """Rows inserted, updated or deleted so far in this test's transaction, in any table:
    every request of the test runs inside it, so any write by any handler shows here."""
    result = await connection.execute(
        text("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables")
    )
    return int(result.scalar_one())


def raw_client(app: Litestar) -> AsyncClient:
    """A client without a cookie jar: each request carries exactly the headers given."""
    return AsyncClient(
        transport=ASGITransport(app=app, client=("127.0.0.1", 50001)), base_url="http://testserver.local"
    )


async def send(client: AsyncClient, method: str, path: str, headers: list[tuple[str, str]]) -> Any:
    if path.startswith("/api/"):
        return await client.request(method, path, json={}, headers=headers)
    return await client.request(method, path, data={"reason": "x"}, headers=headers)


def refused_as_csrf(response: Any) -> bool:
    return response.status_code == 403 and "CSRF" in response.text


@pytest.fixture
async def session_cookie(client: AsyncClient, db: Database) -> tuple[str, str]:
    """An administrator's valid session token and a CSRF cookie the server handed out."""
    email = await create_staff(db, role=Role.admin)
    token = await token_for(client, email)
    page = await client.get("/login")
    csrf_cookie = page.cookies[CSRF_COOKIE]
    assert csrf_from(page.text)
    return token, csrf_cookie


async def test_the_route_table_has_the_unsafe_routes_we_expect(app: Litestar) -> None:
    routes = unsafe_routes(app)
    assert len(routes) >= 70  # the generator found the table, not an empty list
    assert ("POST", "/logout") in routes and ("DELETE", "/api/v1/notices/X-notice_id") in routes


@pytest.mark.parametrize("variant", ["no token", "wrong token", "no csrf cookie", "split cookie header"])
async def test_every_unsafe_route_refuses_a_cookie_session_without_the_csrf_token(
    app: Litestar, connection: AsyncConnection, session_cookie: tuple[str, str], variant: str
) -> None:
    token, csrf_cookie = session_cookie
    cookie = f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}={csrf_cookie}"
    headers: list[tuple[str, str]] = {
        "no token": [("cookie", cookie)],
        "wrong token": [("cookie", cookie), ("x-csrftoken", "0" * len(csrf_cookie))],
        "no csrf cookie": [("cookie", f"{SESSION_COOKIE}={token}"), ("x-csrftoken", csrf_cookie)],
        # HTTP/2 may split cookies over several headers; the exemption must read them as
        # the log-in does, or a session would ride along unchecked.
        "split cookie header": [("cookie", f"{SESSION_COOKIE}={token}"), ("cookie", "lang=en")],
    }[variant]
    before = await writes(connection)
    passed = []
    async with raw_client(app) as client:
        for method, path in unsafe_routes(app):
            response = await send(client, method, path, headers)
            if not refused_as_csrf(response):
                passed.append(f"{method} {path} -> {response.status_code}")
    assert passed == []
    assert await writes(connection) == before


async def test_with_the_token_the_same_session_gets_through(
    app: Litestar, session_cookie: tuple[str, str]
) -> None:
    """The control: the refusals above are the CSRF check, not the session being bad."""
    token, csrf_cookie = session_cookie
    cookie = f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}={csrf_cookie}"
    async with raw_client(app) as client:
        me = await client.get("/api/v1/me", headers=[("cookie", cookie)])
        assert me.status_code == 200 and me.json()["role"] == "admin"
        # The token a page gives this session (bound to it: market/security/csrf.py).
        csrf_token = csrf_from((await client.get("/login", headers=[("cookie", cookie)])).text)
        response = await client.post(
            "/api/v1/agencies/A-000000/suspend",
            json={"reason": "x"},
            headers=[("cookie", cookie), ("x-csrftoken", csrf_token)],
        )
        assert response.status_code == 404  # reached the handler: no such agency
        response = await client.post(
            "/logout", data={"_csrf_token": csrf_token}, headers=[("cookie", cookie)]
        )
        assert response.status_code == 303


async def test_bearer_calls_are_exempt_and_never_fall_back_to_the_cookie(
    client: AsyncClient, db: Database
) -> None:
    email = await create_staff(db, role=Role.admin)
    token = await token_for(client, email)
    client.cookies.set(SESSION_COOKIE, token)
    # No CSRF token, but a Bearer token: the call is the API client's own, not the browser's.
    response = await client.post(
        "/api/v1/agencies/A-000000/suspend", json={"reason": "x"}, headers=bearer(token)
    )
    assert response.status_code == 404
    # A bad Bearer token beside a good cookie is refused; the cookie does not step in.
    response = await client.post(
        "/api/v1/agencies/A-000000/suspend", json={"reason": "x"}, headers=bearer("garbage")
    )
    assert response.status_code == 401
    response = await client.get("/api/v1/me", headers=bearer(token + "x"))
    assert response.status_code == 401
    # Cookie-less API calls (log-in, registration) need no CSRF token either.
    client.cookies.clear()
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
