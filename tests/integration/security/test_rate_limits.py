"""Log-in and registration limits, through the API and the pages: 429 with Retry-After
and a message that says how long to wait. X-Forwarded-For is believed only as far as
MARKET_TRUSTED_PROXIES says."""

from __future__ import annotations

from pathlib import Path

import pytest
from httpx import AsyncClient

from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import csrf_from

LIMIT = 3


async def page_form(client: AsyncClient, path: str) -> dict[str, str]:
    return {"_csrf_token": csrf_from((await client.get(path)).text)}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/token", {"email": "x@example.cn", "password": "whatever123"}),
        ("/api/v1/auth/register", {}),
    ],
)
async def test_the_api_answers_429_with_retry_after_and_a_problem(
    database_url: str, tmp_path: Path, db: Database, path: str, body: dict[str, str]
) -> None:
    app = create_app(
        make_settings(database_url, tmp_path, auth_rate_limit=LIMIT, auth_rate_window=60), database=db
    )
    async with serve_in_process(app) as client:
        for _ in range(LIMIT):
            assert (await client.post(path, json=body)).status_code in (401, 422)
        response = await client.post(path, json=body)
    assert response.status_code == 429
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 429 and f"try again in {wait} s" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "fields"),
    [("/login", {"email": "x@example.cn", "password": "whatever123"}), ("/register", {"email": "bad"})],
)
async def test_the_pages_answer_429_with_retry_after_and_say_how_long(
    database_url: str, tmp_path: Path, db: Database, path: str, fields: dict[str, str]
) -> None:
    app = create_app(
        make_settings(database_url, tmp_path, auth_rate_limit=LIMIT, auth_rate_window=60), database=db
    )
    async with serve_in_process(app) as client:
        form = {**await page_form(client, path), **fields}
        for _ in range(LIMIT):
            assert (await client.post(path, data=form)).status_code in (401, 422)
        response = await client.post(
            path, data=form, headers={"Accept": "text/html", "Accept-Language": "zh-CN"}
        )
        english = await client.post(path, data=form, headers={"Accept": "text/html", "Accept-Language": "en"})
    assert response.status_code == 429 and response.headers["content-type"].startswith("text/html")
    wait = int(response.headers["retry-after"])
    assert f"请 {wait} 秒后再试" in response.text
    assert english.status_code == 429 and "Too many attempts from this address" in english.text


async def test_forwarded_for_is_ignored_by_default(database_url: str, tmp_path: Path, db: Database) -> None:
    """Without trusted proxies a client cannot dodge the limit by inventing addresses."""
    app = create_app(make_settings(database_url, tmp_path, auth_rate_limit=LIMIT), database=db)
    async with serve_in_process(app) as client:
        statuses = [
            (
                await client.post(
                    "/api/v1/auth/token", json={}, headers={"X-Forwarded-For": f"203.0.113.{i}"}
                )
            ).status_code
            for i in range(LIMIT + 1)
        ]
    assert statuses[-1] == 429


async def test_behind_one_trusted_proxy_clients_are_counted_by_the_address_it_saw(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    app = create_app(
        make_settings(database_url, tmp_path, auth_rate_limit=LIMIT, trusted_proxies=1), database=db
    )
    async with serve_in_process(app) as client:

        async def attempt(forwarded: str) -> int:
            return (
                await client.post("/api/v1/auth/token", json={}, headers={"X-Forwarded-For": forwarded})
            ).status_code

        # The client writes its own entries on the left; the proxy appends what it saw.
        assert [await attempt(f"10.9.9.{i}, 198.51.100.7") for i in range(LIMIT + 1)][-1] == 429
        # Another client behind the same proxy has its own budget.
        assert await attempt("198.51.100.8") == 422


def test_the_real_server_does_not_let_forwarded_for_from_loopback_rename_the_client(
    committed_database_url: str, tmp_path: Path
) -> None:
    """Issue 19, item 7: under `market serve` itself (uvicorn), a client on loopback naming a
    fresh X-Forwarded-For address per attempt is still one client: uvicorn's own proxy-header
    handling, which trusts 127.0.0.1 by default and rewrites the client, is off, and only
    MARKET_TRUSTED_PROXIES (0 here) decides."""
    import httpx

    from tests.live import running_server

    with (
        running_server(
            committed_database_url, tmp_path / "data", MARKET_AUTH_RATE_LIMIT=str(LIMIT)
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        statuses = [
            client.post(
                "/api/v1/auth/token",
                json={"email": "nobody@example.cn", "password": "x" * 12},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(LIMIT + 2)
        ]
    assert statuses[-1] == 429 and statuses.count(429) >= 2, statuses


@pytest.mark.committing
async def test_an_account_that_fails_too_often_waits_whatever_address_it_comes_from(
    committed_database_url: str, tmp_path: Path
) -> None:
    """Issue 19, item 7: per-account backoff. A botnet trying one password per address
    against one account meets no address limit; the account's own failures make every
    further attempt wait (429 with Retry-After), its right password included, until the
    wait is over; another account is not affected, and a success starts afresh. On a
    database where commits are real: a failure is counted outside the request's
    transaction, which the 401 rolls back (issue 23)."""
    from market.security.ratelimit import FailureBackoff
    from tests.helpers import PASSWORD, register
    from tests.integration.security.shared_app import app_on, sql

    url = committed_database_url
    async with (
        app_on(url, tmp_path, auth_rate_limit=1000, trusted_proxies=1) as app,
        serve_in_process(app) as client,
    ):
        app.state.login_backoff = FailureBackoff(app.state.limits, free=3)
        victim, other = await register(client, role="owner"), await register(client, role="owner")

        async def attempt(email: str, password: str, address: str) -> int:
            response = await client.post(
                "/api/v1/auth/token",
                json={"email": email, "password": password},
                headers={"X-Forwarded-For": address},
            )
            return response.status_code

        statuses = [
            await attempt(victim["email"], f"guess-{i}-long-enough", f"203.0.113.{i}") for i in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429], statuses
        refused = await client.post(
            "/api/v1/auth/token", json={"email": victim["email"].upper(), "password": PASSWORD}
        )
        assert (
            refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        )  # the right password waits too
        assert "for this account" in refused.json()["detail"]
        assert await attempt(other["email"], PASSWORD, "203.0.113.99") == 200  # nobody else waits
        # The wait (1 s after the third failure) is over: the database's clock decides.
        await sql(url, "UPDATE login_failure SET last_at = last_at - interval '2 s'")
        assert await attempt(victim["email"], PASSWORD, "203.0.113.50") == 200
        assert await attempt(victim["email"], "wrong-but-long-enough", "203.0.113.51") == 401  # afresh
