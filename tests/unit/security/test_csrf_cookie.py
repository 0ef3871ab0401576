"""The CSRF cookie handed out on safe requests (market/security/csrf.py writes it itself,
for speed): byte for byte what Litestar's own middleware and Cookie would have set."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.datastructures import Cookie
from litestar.utils.scope.state import ScopeState

from market.security.csrf import CSRF_COOKIE, csrf_middleware_factory


def scope_for(path: str, method: str = "GET", cookie: str | None = None) -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers, "state": {}}


async def answer(secure: bool, scope: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], str | None]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["token"] = ScopeState.from_scope(scope).csrf_token
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    middleware = csrf_middleware_factory("s" * 32, secure=secure)(app)
    await middleware(scope, receive, send)
    return list(sent[0]["headers"]), seen["token"]


@pytest.mark.parametrize("secure", [False, True])
async def test_a_page_without_the_cookie_gets_the_one_litestar_would_set(secure: bool) -> None:
    headers, token = await answer(secure, scope_for("/notices"))
    cookies = [v.decode() for k, v in headers if k == b"set-cookie"]
    assert token and len(cookies) == 1
    expected = Cookie(key=CSRF_COOKIE, value=token, path="/", secure=secure, httponly=False, samesite="lax").to_header(header="")
    assert cookies[0] == expected
    assert (b"content-type", b"text/html") in headers


async def test_a_browser_that_has_the_cookie_keeps_its_token_and_gets_no_new_cookie() -> None:
    headers, token = await answer(False, scope_for("/notices", cookie=f"{CSRF_COOKIE}=abc123; market_lang=en"))
    assert token == "abc123"
    assert not [v for k, v in headers if k == b"set-cookie"]


async def test_each_cookie_less_visitor_gets_a_fresh_token() -> None:
    (_, first), (_, second) = await answer(False, scope_for("/agencies")), await answer(False, scope_for("/agencies"))
    assert first != second
