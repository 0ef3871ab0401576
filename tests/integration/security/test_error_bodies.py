"""No error answer shows a stack trace, SQL or an exception's class or text: unexpected
exceptions and database errors (JSON and HTML), and the ordinary 400, 404, 405 and 422
answers. Text with a NUL character, which PostgreSQL refuses, is the client's mistake
(422), not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.exc import ProgrammingError

from tests.helpers import bearer, register, token_for

SECRET_SQL = "SELECT password_hash FROM app_user WHERE email = 'root@example.cn'"
# What a leaked exception would bring along.
LEAKS = [
    "Traceback",
    'File "',
    "line ",
    "SELECT",
    "password_hash",
    "app_user",
    "sqlalchemy",
    "asyncpg",
    "psycopg",
    "RuntimeError",
    "ProgrammingError",
    "Exception",
    "simulated fault",
    "/work/",
    "site-packages",
    ".py",
]


def assert_no_leak(response: Any) -> None:
    body = response.text
    leaked = [word for word in LEAKS if word in body]
    assert leaked == [], (response.status_code, leaked, body[:400])


def failing(exc: BaseException) -> Any:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return broken


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError(f"simulated fault in {SECRET_SQL}"),
        ProgrammingError(
            SECRET_SQL, {"email": "root@example.cn"}, Exception('relation "app_user" does not exist')
        ),
        KeyError("password_hash"),
    ],
    ids=["unexpected exception", "database error", "KeyError"],
)
async def test_a_500_shows_no_trace_sql_or_class_name(
    client: AsyncClient, monkeypatch: Any, exc: BaseException
) -> None:
    user = await register(client)
    token = await token_for(client, user["email"])
    monkeypatch.setattr("market.accounts.service.count_by_role", failing(exc))  # the home page
    monkeypatch.setattr("market.accounts.service.get_by_public_id", failing(exc))  # /api/v1/me
    page = await client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert_no_leak(page)
    api = await client.get("/api/v1/me", headers=bearer(token))
    assert api.status_code == 500 and api.headers["content-type"].startswith("application/problem+json")
    assert set(api.json()) == {"type", "title", "status", "detail", "instance"}
    assert_no_leak(api)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/v1/no/such/thing", {}, 404),
        ("GET", "/no/such/page", {"headers": {"Accept": "text/html"}}, 404),
        ("GET", "/api/v1/notices/N-999999", {}, 404),
        ("DELETE", "/api/v1/categories", {}, 405),
        ("PATCH", "/login", {"headers": {"Accept": "text/html"}}, 405),
        (
            "POST",
            "/api/v1/auth/token",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
        ),
        ("POST", "/api/v1/auth/token", {"json": {"email": ["x"], "password": {"a": 1}}}, 422),
        ("GET", "/api/v1/notices?limit=abc", {}, 400),
        ("GET", "/api/v1/log/entries?start=-1&end=99999999999999999999", {}, 400),
        ("GET", "/log/entries/99999999999999999999", {"headers": {"Accept": "text/html"}}, 404),
        ("GET", "/api/v1/agencies/AG-1/documents/99999999999999999999", {}, 401),
    ],
)
async def test_ordinary_errors_show_no_internals(
    client: AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status, response.text[:300]
    assert_no_leak(response)
    if path.startswith("/api/"):
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_text_with_a_nul_character_is_invalid_input_not_a_500(client: AsyncClient) -> None:
    for path in ("/api/v1/agencies?q=%00", "/api/v1/notices?q=a%00b"):
        response = await client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert "U+0000" in response.json()["detail"]
        assert_no_leak(response)
    page = await client.get("/agencies?q=%00", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert page.status_code == 422 and "U+0000" in page.text
    assert_no_leak(page)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "nul@example.cn", "password": "correct horse 1", "name": "a\u0000b", "role": "owner"},
    )
    assert response.status_code == 422, response.text
